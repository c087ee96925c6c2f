//! Detectability: a forged PoL log whose forged step errs above the calibrated threshold fails verification at that
//! step and passes at the others; the attack's ratio to benign noise and its verdict agree.
mod forge_common;

use forge_common::mnist;
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::jobs::{ForgeScenario, ForgeSpec, PolSpec, SearchNorm};
use forgebench_shared::measures::ErrorMeasures;
use forgebench_shared::profile::ambient_profile;
use forgebench_shared::tables::{AttackRow, Cell, CrossDeviceMatrix, DeviceLabel, MatrixKey};
use forgebench_worker::forge::{detect, log::forge_log};
use forgebench_worker::pol;
use tch::Device;

/// A one-device matrix whose largest benign L2 is `l2` (as a `matrix` run on a CPU would record).
fn matrix(l2: f64, b: usize) -> CrossDeviceMatrix {
    let e = ErrorMeasures {
        l2,
        l2_sq: l2 * l2,
        l2_sq_per_dim: l2 * l2 / 7840.0,
        linf: l2,
        rel: 0.0,
    };
    let label = DeviceLabel {
        profile: ambient_profile("cpu-test", |_| None),
        fingerprint: forgebench_worker::fingerprint::collect(),
    };
    CrossDeviceMatrix {
        key: MatrixKey {
            experiment: "reproduction".into(),
            model: ModelKind::Logreg,
            dataset: DatasetKind::Mnist,
            batch_size: b,
            arithmetic: Default::default(),
        },
        devices: vec![label],
        cells: vec![vec![Some(Cell::of(&[e]))]],
    }
}

#[test]
fn a_forged_step_above_the_calibrated_threshold_fails_verification_there() {
    let ds = mnist();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pol.safetensors");
    let spec = PolSpec {
        model: ModelKind::Logreg,
        dataset: DatasetKind::Mnist,
        batch_size: 10,
        eta: 0.01,
        steps: 4,
        checkpoint_every: 1,
        seed: 3,
        arithmetic: Default::default(),
    };
    let prov = || forgebench_shared::provenance::Provenance {
        code_version: "test".into(),
        profile: ambient_profile("cpu-test", |_| None),
        fingerprint: forgebench_worker::fingerprint::collect(),
        seeds: vec![],
    };
    pol::train(&spec, &ds, Device::Cpu, prov(), &path).unwrap();
    let log = pol::read(&path).unwrap();
    let fspec = ForgeSpec {
        pol: spec.clone(),
        pool: 200,
        candidates: 300,
        first_step: 2,
        step_count: 1,
        local_moves: 20,
        seed: 1,
        norm: SearchNorm::L2,
        scenario: ForgeScenario::EveryStep,
    };
    let (report, forged) = forge_log(&fspec, &log, &ds, Device::Cpu, prov(), None).unwrap();
    assert_eq!(report.steps.len(), 1);
    let err = report.steps[0].local.expect("local search ran").l2;
    assert_ne!(forged.batch(2), log.batch(2), "step 2's batch was not replaced");
    assert_eq!(forged.batch(1), log.batch(1), "an unforged step changed");
    let forged_path = dir.path().join("forged.safetensors");
    pol::write(&forged, &forged_path).unwrap();
    // Benign noise far below the forging error, as the paper measures (logreg cross-device errors ~1e-9).
    let benign = 1e-8;
    let m = matrix(benign, 10);
    let eps = pol::calibrate(&m, &spec, pol::DEFAULT_MARGIN).unwrap();
    assert!(
        err > eps.value,
        "the forged step's error {err:e} is not above epsilon {:e}",
        eps.value
    );
    let v = pol::verify(&pol::read(&forged_path).unwrap(), &ds, Device::Cpu, prov(), eps.clone()).unwrap();
    assert_eq!(v.failed_intervals, vec![2], "per-interval errors {:?}", v.per_interval);
    let gap = (v.per_interval[2].l2 - err).abs();
    assert!(
        gap <= 1e-6 * err,
        "verifier sees {:e}, forger measured {err:e}",
        v.per_interval[2].l2
    );
    let mut row = row_stub(err);
    row.benign_l2 = Some(detect::benign_l2(&m, &row).unwrap());
    let j = detect::judge(row, pol::DEFAULT_MARGIN);
    assert_eq!(j.detected, Some(true), "{j:?}");
    assert!(j.ratio.unwrap() > pol::DEFAULT_MARGIN, "ratio {:?}", j.ratio);
    assert_eq!(j.threshold, Some(eps.value));
}

fn row_stub(err: f64) -> AttackRow {
    AttackRow {
        step_errors_l2: Vec::new(),
        attack: "local-search".into(),
        model: ModelKind::Logreg,
        dataset: DatasetKind::Mnist,
        batch_size: 10,
        error_l2: err,
        parameters: "n=200, M=300, moves<=20".into(),
        benign_l2: None,
        exact_arm: None,
    }
}
