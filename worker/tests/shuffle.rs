//! The batch-shuffle experiment: one entry per order, nonzero but small for LeNet, deterministic, and the orders are
//! permutations of one batch.
use forgebench_shared::data::{self, Split};
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::jobs::ShuffleSpec;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::{code_version, Provenance};
use forgebench_worker::shuffle;
use tch::Device;

fn provenance() -> Provenance {
    Provenance {
        code_version: code_version(),
        profile: DeviceProfile::cpu("test"),
        fingerprint: forgebench_worker::fingerprint::collect(),
        seeds: vec![("seed".into(), 1)],
    }
}

fn spec(model: ModelKind, shuffles: usize) -> ShuffleSpec {
    ShuffleSpec {
        model,
        dataset: DatasetKind::Mnist,
        batch_size: 100,
        eta: 0.01,
        shuffles,
        seed: 1,
    }
}

#[test]
fn lenet_shuffles_give_small_nonzero_errors() {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let sp = spec(ModelKind::Lenet5, 6);
    let r = shuffle::run(&sp, &ds, Device::Cpu, provenance()).unwrap();
    assert_eq!(r.errors.len(), 6);
    assert_eq!(r.summary.l2.n, 6);
    assert!(
        r.errors.iter().any(|e| e.l2 > 0.0),
        "no shuffle changed the LeNet update: {:?}",
        r.errors
    );
    assert!(
        r.summary.l2.max < 1e-4,
        "shuffle error {} is not benign-sized (< 1e-4)",
        r.summary.l2.max
    );
    assert!(r.summary.rel.max < 1e-4, "relative shuffle error {}", r.summary.rel.max);
    let again = shuffle::run(&sp, &ds, Device::Cpu, provenance()).unwrap();
    assert_eq!(again.errors, r.errors, "the experiment is not deterministic");
}

#[test]
fn shuffles_are_permutations_of_one_batch() {
    let sp = spec(ModelKind::Logreg, 3);
    let batch = shuffle::batch_indices(&sp, 1000);
    assert_eq!(batch.len(), 100);
    let (a, b) = (shuffle::shuffled(&sp, &batch, 0), shuffle::shuffled(&sp, &batch, 1));
    assert_ne!(a, batch);
    assert_ne!(a, b);
    let (mut sa, mut sb) = (a.clone(), batch.clone());
    sa.sort();
    sb.sort();
    assert_eq!(sa, sb, "shuffle 0 is not a permutation of the batch");
}

#[test]
fn mismatched_model_and_data_is_refused() {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let mut sp = spec(ModelKind::Vggmini, 2);
    sp.dataset = DatasetKind::Mnist;
    let err = shuffle::run(&sp, &ds, Device::Cpu, provenance()).unwrap_err();
    assert!(err.to_string().contains("takes cifar10 inputs"), "{err}");
}
