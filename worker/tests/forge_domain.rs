//! The search for a forgery inside the data domain: its end batches obey the domain (pixels in [0, 1], label rows
//! on the simplex, then one-hot), their reported errors equal an independent recomputation, and the walk ends
//! lower than simply projecting its start into the domain.
mod forge_common;

use forge_common::mnist;
use forgebench_shared::experiment::{ModelKind, Precision};
use forgebench_shared::jobs::AdamSpec;
use forgebench_worker::forge::domain::{self, Problem};
use forgebench_worker::forge::{adam, prop2, simplex};
use forgebench_worker::models::draw_theta;
use forgebench_worker::update::{gradient, loss_soft, Batch};
use tch::{Device, Kind, Tensor};

/// ||eta (g(x, y) - g_B)||_2 in f64, computed here without the search's code.
fn error_f64(model: ModelKind, theta: &Tensor, real: &Batch, x: &Tensor, y: &Tensor, eta: f64) -> f64 {
    let theta = theta.to_kind(Kind::Double);
    let real = Batch {
        x: real.x.to_kind(Kind::Double),
        y: real.y.shallow_clone(),
    };
    let gb = tch::with_grad(|| gradient(model, &theta, &real)).unwrap();
    let th = theta.detach().set_requires_grad(true);
    let g = tch::with_grad(|| {
        let l = loss_soft(model, &th, &x.to_kind(Kind::Double), &y.to_kind(Kind::Double)).unwrap();
        Tensor::run_backward(&[&l], &[&th], false, false).remove(0)
    });
    ((g - gb) * eta).square().sum(Kind::Double).sqrt().double_value(&[])
}

fn assert_in_domain(what: &str, x: &Tensor, y: &Tensor, one_hot: bool) {
    let (lo, hi) = (x.min().double_value(&[]), x.max().double_value(&[]));
    assert!(
        lo >= 0.0 && hi <= 1.0,
        "{what}: pixels span [{lo}, {hi}], not inside [0, 1]"
    );
    let neg = y.min().double_value(&[]);
    let sums = y.sum_dim_intlist(-1, false, Kind::Double);
    let off = (sums - 1.0).abs().max().double_value(&[]);
    assert!(
        neg >= 0.0 && off <= 1e-12,
        "{what}: a label row has entry {neg} or sums 1 off by {off:e}"
    );
    if one_hot {
        let ones = y.eq(1.0).sum(Kind::Int64).int64_value(&[]);
        assert_eq!(ones, y.size()[0], "{what}: {ones} one-hot rows of {}", y.size()[0]);
    }
}

#[test]
fn prop2_walk_ends_inside_the_domain_below_the_projected_start() {
    let ds = mnist();
    let (b, eta) = (20, 0.01);
    let out = prop2::construct(&ds, b, eta, 5, Device::Cpu).unwrap();
    assert!(out.outside_unit > 0.0, "the exact construction should leave the domain");
    let p = Problem::new(ModelKind::Logreg, &out.theta, &out.real, eta).unwrap();
    let pool = domain::pool(&ds, 300, Device::Cpu).unwrap();
    let s = domain::search(&p, "prop2", &out.x, &out.y, 600, &pool).unwrap();
    assert_in_domain("soft", &s.soft_x, &s.soft_y, false);
    assert_in_domain("one-hot", &s.hard_x, &s.hard_y, true);
    let r = &s.report;
    assert_eq!(
        r.path.len(),
        12,
        "start, 10 relaxed stages and the domain: {:?}",
        r.path
    );
    assert_eq!(r.path.last().unwrap().violation, 0.0, "the walk ends inside the domain");
    assert!(
        r.path.windows(2).all(|w| w[1].violation < w[0].violation),
        "{:?}",
        r.path
    );
    assert!(
        !r.soft.one_hot && r.hard.one_hot,
        "one-hot flags: {} {}",
        r.soft.one_hot,
        r.hard.one_hot
    );
    for (what, x, y, f) in [
        ("soft", &s.soft_x, &s.soft_y, &r.soft),
        ("one-hot", &s.hard_x, &s.hard_y, &r.hard),
    ] {
        let mine = error_f64(ModelKind::Logreg, &out.theta, &out.real, x, y, eta);
        let rel = (mine - f.error_f64.l2).abs() / mine;
        assert!(rel < 1e-9, "{what}: reported {:e}, recomputed {mine:e}", f.error_f64.l2);
        // The nearest forged-real pair, by explicit differences rather than the search's Gram form.
        let (xf, rf) = (x.flatten(1, -1), out.real.x.flatten(1, -1).to_kind(Kind::Double));
        let pairs = (xf.unsqueeze(1) - rf.unsqueeze(0))
            .square()
            .sum_dim_intlist(-1, false, Kind::Double)
            .sqrt();
        let nearest = pairs.min().double_value(&[]);
        assert!(
            (nearest - f.nearest_real).abs() < 1e-6,
            "{what}: nearest {nearest} reported {}",
            f.nearest_real
        );
        assert!(f.nearest_real <= f.nearest_real_median, "{what}: {f:?}");
    }
    // Projecting the exact forgery into the domain, and nothing more, is the baseline the walk must beat.
    let (cx, cy) = (out.x.clamp(0.0, 1.0), simplex::project(&out.y));
    let projected = error_f64(ModelKind::Logreg, &out.theta, &out.real, &cx, &cy, eta);
    assert!(
        r.soft.error_f64.l2 < projected / 10.0,
        "the walk ends at {:e}, the projected start is {projected:e}",
        r.soft.error_f64.l2
    );
    assert!(r.real_neighbour_distance.is_finite() && r.real_neighbour_distance > 0.0);
}

#[test]
fn adam_walk_from_lenet5_best_iterate_stays_in_the_domain() {
    let ds = mnist();
    let spec = AdamSpec {
        model: ModelKind::Lenet5,
        dataset: forgebench_shared::experiment::DatasetKind::Mnist,
        batch_size: 4,
        eta: 0.01,
        iterations: 10,
        seed: 2,
        projected: false,
        schedule: Default::default(),
        domain_iterations: 0,
        optimiser: Default::default(),
    };
    let theta = Tensor::from_slice(&draw_theta(ModelKind::Lenet5, 2, 0));
    let real = Batch::gather(&ds, &[3, 4, 5, 6], Device::Cpu, Precision::F32).unwrap();
    let a = adam::forge(&spec, &theta, &real).unwrap();
    let p = Problem::new(ModelKind::Lenet5, &theta, &real, spec.eta).unwrap();
    let pool = domain::pool(&ds, 50, Device::Cpu).unwrap();
    let s = domain::search(&p, "adam-best", &a.x, &a.y, 36, &pool).unwrap();
    assert_in_domain("soft", &s.soft_x, &s.soft_y, false);
    assert_in_domain("one-hot", &s.hard_x, &s.hard_y, true);
    let mine = error_f64(ModelKind::Lenet5, &theta, &real, &s.hard_x, &s.hard_y, spec.eta);
    let got = s.report.hard.error_f64.l2;
    assert!(
        (mine - got).abs() <= 1e-9 * mine,
        "reported {got:e}, recomputed {mine:e}"
    );
}
