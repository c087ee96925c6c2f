//! Optimisation forging (Algorithm 1, and L-BFGS on its objective): the error falls from its start, the kept batch
//! is the best iterate, and the projected variant stays in the data domain.
mod forge_common;

use forge_common::mnist;
use forgebench_shared::experiment::DatasetKind;
use forgebench_shared::experiment::{ModelKind, Precision};
use forgebench_shared::jobs::{AdamSpec, ForgeOptimiser, StepSchedule};
use forgebench_worker::forge::{adam, lbfgs, simplex};
use forgebench_worker::models::draw_theta;
use forgebench_worker::update::Batch;
use tch::{Device, Tensor};

fn spec(iterations: usize, projected: bool, schedule: StepSchedule) -> AdamSpec {
    AdamSpec {
        model: ModelKind::Lenet5,
        dataset: DatasetKind::Mnist,
        batch_size: 8,
        eta: 0.01,
        iterations,
        seed: 1,
        projected,
        schedule,
        domain_iterations: 0,
        optimiser: Default::default(),
    }
}

#[test]
fn adam_lowers_the_error_and_projection_stays_in_domain() {
    let ds = mnist();
    let real = Batch::gather(&ds, &(0..8).collect::<Vec<_>>(), Device::Cpu, Precision::F32).unwrap();
    let theta = Tensor::from_slice(&draw_theta(ModelKind::Lenet5, 3, 0));
    for projected in [false, true] {
        let out = adam::forge(&spec(30, projected, StepSchedule::Constant), &theta, &real).unwrap();
        assert_eq!(out.curve_l2.len(), 31, "one error per iteration plus the final one");
        let (first, last) = (out.curve_l2[0], out.final_error.l2);
        assert!(
            last < 0.5 * first,
            "projected={projected}: error {first:e} -> {last:e}, not halved in 30 steps"
        );
        // The best iterate is the lowest point of the curve (up to how the curve and the final measure round) and
        // never worse than the last; its measures are recomputed, not copied from the curve.
        let lowest = out.curve_l2.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(
            out.best_error.l2 <= out.final_error.l2,
            "best {:e} above last {:e}",
            out.best_error.l2,
            out.final_error.l2
        );
        let at = out.curve_l2[out.best_iteration];
        assert!(
            at <= lowest * (1.0 + 1e-6),
            "best at {} ({at:e}) is not the curve's lowest {lowest:e}",
            out.best_iteration
        );
        let again = adam::error(ModelKind::Lenet5, &theta, &out.x, &out.y, 0.01, &target(&theta, &real));
        assert_eq!(
            again.unwrap().l2,
            out.best_error.l2,
            "the kept batch's error is the best error"
        );
        if projected {
            let (lo, hi) = (out.x.min().double_value(&[]), out.x.max().double_value(&[]));
            assert!(lo >= 0.0 && hi <= 1.0, "projected inputs leave [0, 1]: [{lo}, {hi}]");
            let v = simplex::violation(&out.y);
            assert!(v < 1e-6, "projected labels off the simplex by {v:e}");
        }
    }
}

fn target(theta: &Tensor, real: &Batch) -> Tensor {
    forgebench_worker::update::gradient(ModelKind::Lenet5, theta, real)
        .unwrap()
        .f_mul_scalar(0.01)
        .unwrap()
}

#[test]
fn cosine_restarts_change_the_path_and_keep_the_best() {
    let ds = mnist();
    let real = Batch::gather(&ds, &(0..8).collect::<Vec<_>>(), Device::Cpu, Precision::F32).unwrap();
    let theta = Tensor::from_slice(&draw_theta(ModelKind::Lenet5, 3, 0));
    let run = |s| adam::forge(&spec(20, false, s), &theta, &real).unwrap();
    let (plain, cosine) = (
        run(StepSchedule::Constant),
        run(StepSchedule::CosineRestarts { period: 5 }),
    );
    assert_eq!(
        plain.curve_l2[..2],
        cosine.curve_l2[..2],
        "the first step has the full alpha in both"
    );
    assert_ne!(
        plain.curve_l2[2..],
        cosine.curve_l2[2..],
        "later steps are smaller with the cosine schedule"
    );
    assert!(cosine.best_error.l2 <= cosine.final_error.l2);
    // Never worse than where it started: the start batch is a candidate too.
    let start = cosine.curve_l2[0];
    assert!(
        cosine.best_error.l2 <= start * (1.0 + 1e-6),
        "best {:e} above the start {start:e}",
        cosine.best_error.l2
    );
}

#[test]
fn simplex_projection_is_exact_on_known_cases() {
    let q = Tensor::from_slice(&[0.2f64, 0.3, 0.5, 2.0, 0.0, 0.0, -1.0, 0.5, 0.5]).view([3, 3]);
    let p = simplex::project(&q);
    let want = Tensor::from_slice(&[0.2f64, 0.3, 0.5, 1.0, 0.0, 0.0, 0.0, 0.5, 0.5]).view([3, 3]);
    let diff = (&p - &want).abs().max().double_value(&[]);
    assert!(diff < 1e-15, "projection {p:?} differs from {want:?} by {diff:e}");
}

#[test]
fn lbfgs_starts_where_adam_does_keeps_its_budget_and_its_best() {
    let ds = mnist();
    let real = Batch::gather(&ds, &(0..8).collect::<Vec<_>>(), Device::Cpu, Precision::F32).unwrap();
    let theta = Tensor::from_slice(&draw_theta(ModelKind::Lenet5, 3, 0));
    for projected in [false, true] {
        let mut s = spec(40, projected, StepSchedule::Constant);
        let adam_start = adam::forge(&spec(1, projected, StepSchedule::Constant), &theta, &real)
            .unwrap()
            .curve_l2[0];
        s.optimiser = ForgeOptimiser::Lbfgs;
        let out = lbfgs::forge(&s, &theta, &real).unwrap();
        let c = &out.curve_l2;
        // Adam's first curve value is taken before its first step, at the batch both draw from the seed.
        assert_eq!(c[0], adam_start, "projected={projected}: the same start batch as Adam");
        assert_eq!(
            c.len(),
            41,
            "one curve point per evaluation, as many as Adam's curve holds"
        );
        let lowest = c.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(lowest < 0.5 * c[0], "projected={projected}: {c:?}");
        assert_eq!(c[out.best_iteration], lowest, "the best is the lowest evaluation");
        assert!(out.best_error.l2 <= out.final_error.l2 * (1.0 + 1e-6));
        let again = adam::error(ModelKind::Lenet5, &theta, &out.x, &out.y, 0.01, &target(&theta, &real)).unwrap();
        assert_eq!(again.l2, out.best_error.l2, "the kept batch's error is the best error");
        if projected {
            let (lo, hi) = (out.x.min().double_value(&[]), out.x.max().double_value(&[]));
            assert!(lo >= 0.0 && hi <= 1.0, "projected inputs leave [0, 1]: [{lo}, {hi}]");
            assert!(simplex::violation(&out.y) < 1e-6);
        }
    }
}
