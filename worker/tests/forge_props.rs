//! Propositions 1 and 2 for logistic regression.
mod forge_common;

use forge_common::mnist;
use forgebench_shared::experiment::ModelKind;
use forgebench_worker::forge::{prop1, prop2};
use forgebench_worker::models::draw_theta;
use tch::{Kind, Tensor};

#[test]
fn prop2_batch_reproduces_the_gradient_and_differs_from_the_real_batch() {
    let ds = mnist();
    for b in [10, 100] {
        let out = prop2::construct(&ds, b, 0.01, 5, tch::Device::Cpu).unwrap();
        assert_eq!(
            out.rank, 9,
            "b={b}: G should have rank 9 (rows sum to zero), got {}",
            out.rank
        );
        assert!(
            out.error_f32.l2 < 1e-6,
            "b={b}: f32 verification error {:e} not below 1e-6",
            out.error_f32.l2
        );
        assert!(
            out.error_f64.l2 < 1e-12,
            "b={b}: f64 verification error {:e} not below 1e-12",
            out.error_f64.l2
        );
        assert!(
            out.batch_distance > 1.0,
            "b={b}: forged batch only {:e} from the real one",
            out.batch_distance
        );
        let row_sums = out.y.sum_dim_intlist(-1, false, Kind::Double);
        let off = (row_sums - 1.0).abs().max().double_value(&[]);
        assert!(off < 1e-12, "b={b}: label rows do not sum to one (off by {off:e})");
    }
}

#[test]
fn prop1_detector_flags_a_scalar_multiple_and_passes_an_unrelated_example() {
    let ds = mnist();
    let w: Vec<f64> = draw_theta(ModelKind::Logreg, 2, 0).into_iter().map(f64::from).collect();
    let (i, label) = (17, usize::from(ds.label(17)));
    let x: Vec<f64> = ds.example(i).iter().map(|&v| f64::from(v)).collect();
    let (xp, yp) = prop1::forge_scaled(&w, &x, label, 1.7);
    // The forgery is exact: (s(W x') - y') x'^T = (s(W x) - e_y) x^T.
    let wt = Tensor::from_slice(&w).view([10, 784]);
    let grad = |x: &[f64], y: &Tensor| {
        let xt = Tensor::from_slice(x).view([1, 784]);
        (xt.matmul(&wt.tr()).softmax(-1, Kind::Double) - y).tr().matmul(&xt)
    };
    let onehot =
        Tensor::from_slice(&(0..10).map(|k| f64::from(u8::from(k == label))).collect::<Vec<_>>()).view([1, 10]);
    let diff = (grad(&xp, &Tensor::from_slice(&yp).view([1, 10])) - grad(&x, &onehot))
        .abs()
        .max()
        .double_value(&[]);
    assert!(diff < 1e-12, "scaled forgery off by {diff:e}");
    let xp32: Vec<f32> = xp.iter().map(|&v| v as f32).collect();
    let c = prop1::scalar_multiple(&xp32, ds.example(i), prop1::DEFAULT_TOL).expect("c * x is flagged");
    assert!((c - 1.7).abs() < 1e-5, "recovered scalar {c}, expected 1.7");
    assert_eq!(
        prop1::detect(&xp32, &ds, prop1::DEFAULT_TOL).map(|(j, _)| j),
        Some(i),
        "detector misses the source"
    );
    let other = (0..ds.n).find(|&j| ds.label(j) != ds.label(i)).unwrap();
    assert_eq!(
        prop1::scalar_multiple(ds.example(other), ds.example(i), prop1::DEFAULT_TOL),
        None,
        "unrelated flagged"
    );
    assert_eq!(
        prop1::detect(ds.example(other), &ds, prop1::DEFAULT_TOL),
        None,
        "a real example is flagged as forged"
    );
}
