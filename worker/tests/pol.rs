//! Proof-of-Learning logs: safetensors round trip, exact replay on the writer's profile, a replaced batch caught at
//! exactly its step, and refusal of other data. Calibration, export and the CLI are in `pol_tools.rs`.
mod pol_common;

use forgebench_shared::data::{self, Split};
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_worker::models::draw_theta;
use forgebench_worker::pol::{self, Epsilon};
use pol_common::{mnist, provenance, spec, tmp};
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;
use std::io::Read;
use std::path::PathBuf;
use tch::Device;

#[test]
fn pol_log_round_trips_through_safetensors() {
    let ds = mnist();
    let sp = spec(ModelKind::Logreg, 20, 5, 2);
    let path = tmp("roundtrip.safetensors");
    let manifest = pol::train(&sp, &ds, Device::Cpu, provenance(), &path).unwrap();
    let log = pol::read(&path).unwrap();
    assert_eq!(log.manifest, manifest);
    assert_eq!(log.checkpoint_steps(), vec![0, 2, 4, 5]);
    assert_eq!(log.checkpoint_count(), 4);
    assert_eq!(
        log.checkpoint(0),
        draw_theta(ModelKind::Logreg, 5, 0).as_slice(),
        "checkpoint 0 is not theta_0"
    );
    assert_ne!(log.checkpoint(3), log.checkpoint(0), "training did not move theta");
    let schedule = pol::schedule(&sp, ds.n);
    for (step, idx) in schedule.iter().enumerate() {
        assert_eq!(&log.batch(step), idx, "step {step}");
    }
    // The standard reader sees the documented tensors.
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let c = st.tensor("checkpoints").unwrap();
    assert_eq!((c.dtype(), c.shape()), (Dtype::F32, &[4usize, 7840][..]));
    let ix = st.tensor("batch_indices").unwrap();
    assert_eq!((ix.dtype(), ix.shape()), (Dtype::I64, &[5usize, 20][..]));
    let side: pol::PolManifest =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap()).unwrap();
    assert_eq!(side, manifest);
}

#[test]
fn replaced_batch_fails_at_that_step_and_passes_at_every_other() {
    let ds = mnist();
    for model in [ModelKind::Logreg, ModelKind::Lenet5] {
        let sp = spec(model, 16, 5, 1);
        let path = tmp(&format!("{model}-honest.safetensors"));
        pol::train(&sp, &ds, Device::Cpu, provenance(), &path).unwrap();
        let honest = pol::verify(
            &pol::read(&path).unwrap(),
            &ds,
            Device::Cpu,
            provenance(),
            Epsilon::exact(),
        )
        .unwrap();
        assert!(
            honest.passed,
            "{model}: honest log failed at {:?}",
            honest.failed_intervals
        );
        assert_eq!(honest.per_interval.len(), 5);
        assert!(
            honest.per_interval.iter().all(|e| e.l2 == 0.0),
            "{model}: replay not exact: {:?}",
            honest.per_interval
        );

        let j = 2;
        let mut log = pol::read(&path).unwrap();
        let b = sp.batch_size;
        for i in &mut log.indices[j * b..(j + 1) * b] {
            *i = (*i + 1) % ds.n as i64;
        }
        let forged = tmp(&format!("{model}-forged.safetensors"));
        pol::write(&log, &forged).unwrap();
        let eps = 1e-6;
        let r = pol::verify(
            &pol::read(&forged).unwrap(),
            &ds,
            Device::Cpu,
            provenance(),
            Epsilon::given(eps),
        )
        .unwrap();
        assert!(!r.passed, "{model}: a replaced batch passed");
        assert_eq!(r.failed_intervals, vec![j], "{model}: errors {:?}", r.per_interval);
        let bad = r.per_interval[j].l2;
        assert!(
            bad > 1e3 * eps,
            "{model}: replaced batch gave L2 {bad}, expected far above epsilon {eps}"
        );
        for (i, e) in r.per_interval.iter().enumerate().filter(|(i, _)| *i != j) {
            assert_eq!(
                e.l2, 0.0,
                "{model}: interval {i} should replay exactly, got L2 {}",
                e.l2
            );
        }
    }
}

fn gunzip(path: PathBuf) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn verifier_refuses_a_log_from_other_data() {
    let ds = mnist();
    let path = tmp("other-data.safetensors");
    pol::train(
        &spec(ModelKind::Logreg, 10, 2, 1),
        &ds,
        Device::Cpu,
        provenance(),
        &path,
    )
    .unwrap();
    // The same MNIST subset with one label changed, as raw IDX files.
    let dir = tmp("other-mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let src = data::bundled_dir().join("mnist");
    let mut labels = gunzip(src.join("train-labels-idx1-ubyte.gz"));
    labels[8] = (labels[8] + 1) % 10;
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        gunzip(src.join("train-images-idx3-ubyte.gz")),
    )
    .unwrap();
    let other = data::load(DatasetKind::Mnist, &dir, Split::Train).unwrap();
    assert_ne!(other.sha256, ds.sha256);
    let err = pol::verify(
        &pol::read(&path).unwrap(),
        &other,
        Device::Cpu,
        provenance(),
        Epsilon::exact(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("refusing") && msg.contains(&ds.sha256),
        "unexpected error: {msg}"
    );
}
