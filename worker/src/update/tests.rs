//! Tests of the update kernel: f32 against f64, and plain SGD against a hand-written logistic-regression gradient.
use super::*;
use crate::models::draw_theta;
use forgebench_shared::rng::PortableRng;

fn synthetic_batch(b: usize, precision: Precision) -> Batch {
    let mut rng = PortableRng::new(3);
    let x = rng.uniform_f32(b * 784, 0.0, 1.0);
    let y: Vec<i64> = (0..b).map(|_| rng.below(10) as i64).collect();
    Batch {
        x: Tensor::from_slice(&x)
            .view([b as i64, 1, 28, 28])
            .to_kind(tensors::kind(precision)),
        y: Tensor::from_slice(&y),
    }
}

#[test]
fn f32_update_matches_f64_reference() {
    for model in [ModelKind::Logreg, ModelKind::Lenet5] {
        let theta = draw_theta(model, 11, 0);
        let t32 = Tensor::from_slice(&theta);
        let u32 = sgd_update(model, &t32, &synthetic_batch(32, Precision::F32), 0.01).unwrap();
        let u64 = sgd_update(
            model,
            &t32.to_kind(Kind::Double),
            &synthetic_batch(32, Precision::F64),
            0.01,
        )
        .unwrap();
        let a = tensors::to_f64(&u32.step).unwrap();
        let b = tensors::to_f64(&u64.step).unwrap();
        let m = forgebench_shared::measures::measures(&a, &b, Some(&b));
        assert!(
            m.rel < 1e-5,
            "{model}: relative error of the f32 step {} (L2 {}) not below 1e-5",
            m.rel,
            m.l2
        );
        assert!(
            m.l2 > 0.0,
            "{model}: f32 and f64 agree exactly, the f64 path is not exercised"
        );
    }
}

#[test]
fn logreg_gradient_matches_closed_form() {
    // grad_W = (softmax(W x) - onehot(y)) x^T / b for logistic regression without bias.
    let b = 8;
    let batch = synthetic_batch(b, Precision::F64);
    let theta = Tensor::from_slice(&draw_theta(ModelKind::Logreg, 5, 0)).to_kind(Kind::Double);
    let g = gradient(ModelKind::Logreg, &theta, &batch).unwrap();
    let x = batch.x.view([b as i64, 784]);
    let w = theta.view([10, 784]);
    let p = x.matmul(&w.tr()).softmax(-1, Kind::Double);
    let onehot = batch.y.one_hot(10).to_kind(Kind::Double);
    let expected = (p - onehot).tr().matmul(&x) / b as f64;
    let diff = (g.view([10, 784]) - &expected).abs().max().double_value(&[]);
    assert!(diff < 1e-12, "autograd and closed form differ by {diff}");
}
