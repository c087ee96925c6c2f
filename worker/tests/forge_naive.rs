//! Naive scoring (a real backward pass per candidate): on LeNet it picks the batch Gram scoring picks and its local
//! search reaches the Gram local search's batch. VGGmini's surrogate scoring, once every candidate is re-scored
//! exactly, picks naive scoring's batch; a 1-step VGGmini PoL log forges end to end with it and every reported error
//! is the one a verifier recomputes.
mod forge_common;

use forge_common::{logged_step, mnist};
use forgebench_shared::data::bundled_dir;
use forgebench_shared::experiment::{DatasetKind, ModelKind, Precision};
use forgebench_shared::jobs::{ForgeScenario, ForgeSpec, PolSpec, SearchNorm};
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::{code_version, Provenance};
use forgebench_shared::rng::PortableRng;
use forgebench_worker::forge::log::forge_log;
use forgebench_worker::forge::naive::Exact;
use forgebench_worker::forge::naive_step::forge_step_naive;
use forgebench_worker::forge::step::{forge_step, Scoring, SearchParams};
use forgebench_worker::forge::StepTarget;
use forgebench_worker::{datasets, pol, tensors};
use tch::Device;

fn params(b: usize, pool: usize, candidates: usize, local_moves: usize, norm: SearchNorm) -> SearchParams {
    SearchParams {
        batch_size: b,
        pool,
        candidates,
        keep: 4,
        local_moves,
        norm,
        greedy_deadline: None,
        local_deadline: None,
        scoring: None,
    }
}

#[test]
fn scoring_follows_per_example_separability() {
    assert_eq!(Scoring::for_model(ModelKind::Lenet5), Scoring::Gram);
    assert_eq!(Scoring::for_model(ModelKind::Logreg), Scoring::Gram);
    assert_eq!(Scoring::for_model(ModelKind::Vggmini), Scoring::Surrogate);
    assert_eq!(Scoring::Naive.name(), "naive");
}

#[test]
fn naive_greedy_picks_the_same_batch_as_gram_scoring_on_lenet() {
    let ds = mnist();
    let (target, exclude) = logged_step(ModelKind::Lenet5, &ds, 5, 11, Precision::F32);
    for norm in [SearchNorm::L2, SearchNorm::Linf] {
        let p = params(5, 30, 40, 0, norm);
        let run = |naive: bool| {
            let mut rng = PortableRng::new(8);
            let (m, d) = (ModelKind::Lenet5, Device::Cpu);
            if naive {
                forge_step_naive(m, &target, &ds, &exclude, &p, &mut rng, d, 0).unwrap()
            } else {
                forge_step(m, &target, &ds, &exclude, &p, &mut rng, d, 0).unwrap()
            }
        };
        let (gram, naive) = (run(false), run(true));
        assert_eq!(naive.step.candidates_scored, 40, "{norm:?}");
        assert_eq!(
            naive.step.batch, gram.step.batch,
            "{norm:?}: naive and Gram scoring chose different batches"
        );
        assert_eq!(
            naive.step.greedy, gram.step.greedy,
            "{norm:?}: same batch, different exact error"
        );
        assert!(
            naive.step.batch.iter().all(|i| !exclude.contains(i)),
            "{norm:?}: reuses an original sample"
        );
    }
}

#[test]
fn naive_local_search_matches_gram_local_search_on_lenet() {
    let ds = mnist();
    let (target, exclude) = logged_step(ModelKind::Lenet5, &ds, 4, 12, Precision::F32);
    let p = params(4, 12, 10, 3, SearchNorm::L2);
    let (mut r1, mut r2) = (PortableRng::new(2), PortableRng::new(2));
    let gram = forge_step(ModelKind::Lenet5, &target, &ds, &exclude, &p, &mut r1, Device::Cpu, 0).unwrap();
    let naive = forge_step_naive(ModelKind::Lenet5, &target, &ds, &exclude, &p, &mut r2, Device::Cpu, 0).unwrap();
    let local = naive.step.local.expect("naive local search ran");
    assert!(naive.step.moves > 0, "no improving swap from a random greedy start");
    assert!(
        local.l2 < naive.step.greedy.l2,
        "local {:e} not below greedy {:e}",
        local.l2,
        naive.step.greedy.l2
    );
    assert!(
        naive.local_trace.windows(2).all(|w| w[1] < w[0]),
        "{:?}",
        naive.local_trace
    );
    assert_eq!(naive.local_trace.len(), naive.step.moves + 1);
    assert_eq!(naive.step.moves, gram.step.moves, "different move counts");
    assert_eq!(
        naive.step.batch, gram.step.batch,
        "naive and Gram local search ended on different batches"
    );
    assert_eq!(Some(local), gram.step.local, "same batch, different exact error");
}

#[test]
fn vggmini_pol_log_forges_with_surrogate_scoring() {
    let ds = datasets::train(DatasetKind::Cifar10, &bundled_dir()).expect("bundled CIFAR-10 subset loads");
    let pol_spec = PolSpec {
        model: ModelKind::Vggmini,
        dataset: DatasetKind::Cifar10,
        batch_size: 4,
        eta: 0.01,
        steps: 1,
        checkpoint_every: 1,
        seed: 3,
        arithmetic: Default::default(),
    };
    let prov = Provenance {
        code_version: code_version(),
        profile: DeviceProfile::cpu("test"),
        fingerprint: forgebench_worker::fingerprint::collect(),
        seeds: vec![("seed".into(), 3)],
    };
    let dir = std::env::temp_dir().join(format!("fb-forge-naive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vgg.safetensors");
    pol::train(&pol_spec, &ds, Device::Cpu, prov.clone(), &path).unwrap();
    let log = pol::read(&path).unwrap();
    let spec = ForgeSpec {
        pol: pol_spec,
        pool: 8,
        candidates: 3,
        first_step: 0,
        step_count: 1,
        local_moves: 1,
        seed: 0,
        norm: SearchNorm::L2,
        scenario: ForgeScenario::EveryStep,
    };
    let (report, forged) = forge_log(&spec, &log, &ds, Device::Cpu, prov, None).unwrap();
    assert_eq!(report.scoring, Some(Scoring::Surrogate));
    assert_eq!(report.steps.len(), 1);
    let step = &report.steps[0];
    assert_eq!(step.candidates_scored, 3);
    let original = log.batch(0);
    assert!(
        step.batch.iter().all(|i| !original.contains(i)),
        "forged batch reuses an original sample"
    );
    assert_eq!(
        forged.batch(0),
        step.batch,
        "forged log does not carry the chosen batch"
    );
    let local = step.local.expect("local search ran");
    assert!(
        step.greedy.l2.is_finite() && step.greedy.l2 > 0.0,
        "greedy error {:e}",
        step.greedy.l2
    );
    assert!(
        local.l2 <= step.greedy.l2,
        "local {:e} above greedy {:e}",
        local.l2,
        step.greedy.l2
    );
    // The reported error is the one a verifier recomputes from the forged log.
    let target = StepTarget {
        theta: tensors::from_f32(forged.checkpoint(0), Device::Cpu),
        theta_next: tensors::from_f32(forged.checkpoint(1), Device::Cpu),
        eta: 0.01,
    };
    let exact = Exact::new(ModelKind::Vggmini, &target, Device::Cpu).unwrap();
    assert_eq!(exact.measure(&ds, &forged.batch(0)).unwrap(), local);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn vggmini_surrogate_pick_rescored_exactly_equals_naive_pick() {
    let ds = datasets::train(DatasetKind::Cifar10, &bundled_dir()).expect("bundled CIFAR-10 subset loads");
    let (target, exclude) = logged_step(ModelKind::Vggmini, &ds, 4, 5, Precision::F32);
    // keep = M: every candidate the surrogate ranks is re-scored exactly, so both must pick the same batch.
    let mut p = params(4, 12, 5, 0, SearchNorm::L2);
    p.keep = 5;
    let run = |scoring| {
        let mut p = p.clone();
        p.scoring = Some(scoring);
        let mut rng = PortableRng::new(21);
        forge_step(ModelKind::Vggmini, &target, &ds, &exclude, &p, &mut rng, Device::Cpu, 0).unwrap()
    };
    let (naive, surrogate) = (run(Scoring::Naive), run(Scoring::Surrogate));
    assert_eq!(
        surrogate.step.batch, naive.step.batch,
        "surrogate {:?} vs naive {:?}",
        surrogate.step, naive.step
    );
    assert_eq!(
        surrogate.step.greedy, naive.step.greedy,
        "the same batch has the same exact error"
    );
    // Gram scoring is refused for VGGmini, the surrogate for LeNet-5.
    let mut q = p.clone();
    q.scoring = Some(Scoring::Gram);
    let mut rng = PortableRng::new(1);
    let err = forge_step(ModelKind::Vggmini, &target, &ds, &exclude, &q, &mut rng, Device::Cpu, 0).unwrap_err();
    assert!(err.to_string().contains("no per-example gradients"), "{err}");
    let mnist = mnist();
    let (lt, lx) = logged_step(ModelKind::Lenet5, &mnist, 4, 5, Precision::F32);
    q.scoring = Some(Scoring::Surrogate);
    let err = forge_step(ModelKind::Lenet5, &lt, &mnist, &lx, &q, &mut rng, Device::Cpu, 0).unwrap_err();
    assert!(err.to_string().contains("the surrogate scores VGGmini"), "{err}");
    // An Linf search of VGGmini scores naively by default: the sketch keeps no coordinates.
    assert_eq!(
        Scoring::for_search(ModelKind::Vggmini, SearchNorm::Linf),
        Scoring::Naive
    );
    assert_eq!(
        Scoring::for_search(ModelKind::Vggmini, SearchNorm::L2),
        Scoring::Surrogate
    );
}
