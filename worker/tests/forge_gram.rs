//! Fast candidate scoring: per-example gradients against one backward pass per example, and Gram scoring against
//! naive scoring (a real backward pass per candidate) on small cases.
mod forge_common;

use forge_common::{logged_step, mnist};
use forgebench_shared::experiment::{ModelKind, Precision};
use forgebench_shared::rng::PortableRng;
use forgebench_worker::forge::gram::Gram;
use forgebench_worker::forge::greedy::Pool;
use forgebench_worker::forge::naive::Exact;
use forgebench_worker::forge::pergrad::{per_example, per_example_loop};
use forgebench_worker::update::Batch;
use tch::{Device, Kind};

#[test]
fn per_example_gradients_match_the_backward_loop() {
    let ds = mnist();
    for model in [ModelKind::Logreg, ModelKind::LogregBias, ModelKind::Lenet5] {
        let (target, _) = logged_step(model, &ds, 4, 1, Precision::F64);
        let idx: Vec<usize> = (100..107).collect();
        let batch = Batch::gather(&ds, &idx, Device::Cpu, Precision::F64).unwrap();
        let fast = per_example(model, &target.theta, &batch.x, &batch.y).unwrap();
        let slow = per_example_loop(model, &target.theta, &batch.x, &batch.y).unwrap();
        assert_eq!(fast.size(), slow.size(), "{model}: shapes differ");
        let diff = (&fast - &slow).abs().max().double_value(&[]);
        let scale = slow.abs().max().double_value(&[]);
        assert!(
            diff <= 1e-12 * scale.max(1.0),
            "{model}: batched {diff:e} away from the loop (scale {scale:e})"
        );
        assert!(scale > 0.0, "{model}: all-zero gradients");
    }
}

#[test]
fn gram_scoring_picks_the_same_batch_as_naive_scoring() {
    let ds = mnist();
    for model in [ModelKind::Logreg, ModelKind::Lenet5] {
        let b = 5;
        let (target, exclude) = logged_step(model, &ds, b, 7, Precision::F32);
        let mut rng = PortableRng::new(21);
        let pool = Pool::build(model, &target, &ds, &exclude, 40, b, &mut rng, Device::Cpu).unwrap();
        assert!(
            pool.indices.iter().all(|i| !exclude.contains(i)),
            "pool holds a point of the excluded batch"
        );
        let cands: Vec<Vec<usize>> = (0..60).map(|_| rng.sample_indices(40, b)).collect();
        let gram: Vec<f64> = cands.iter().map(|c| pool.gram.error_sq(c).sqrt()).collect();
        let exact = Exact::new(model, &target, Device::Cpu).unwrap();
        let data: Vec<Vec<usize>> = cands.iter().map(|c| pool.data_indices(c)).collect();
        let naive = exact.scores(&ds, &data).unwrap();
        let argmin = |v: &[f64]| (0..v.len()).min_by(|&i, &j| v[i].total_cmp(&v[j])).unwrap();
        assert_eq!(argmin(&gram), argmin(&naive), "{model}: gram {gram:?}\nnaive {naive:?}");
        for (g, e) in gram.iter().zip(&naive) {
            assert!(
                (g - e).abs() <= 1e-4 * e,
                "{model}: Gram predicts {g:e}, the backward pass gives {e:e}"
            );
        }
    }
}

#[test]
fn gram_expansion_equals_the_direct_distance() {
    // On synthetic gradients the expanded form must equal ||d - c sum g_j||^2 computed directly.
    let mut rng = PortableRng::new(5);
    let (n, p, b) = (12, 30, 4);
    let g = tch::Tensor::from_slice(&rng.normal_f64(n * p)).view([n as i64, p as i64]);
    let d = tch::Tensor::from_slice(&rng.normal_f64(p));
    let gram = Gram::new(&g, &d, 0.1, b).unwrap();
    let s = [1usize, 4, 7, 11];
    let idx = tch::Tensor::from_slice(&s.iter().map(|&j| j as i64).collect::<Vec<_>>());
    let direct = (&d - g.index_select(0, &idx).sum_dim_intlist(0, false, Kind::Double) * (0.1 / b as f64))
        .square()
        .sum(Kind::Double)
        .double_value(&[]);
    let got = gram.error_sq(&s);
    assert!(
        (got - direct).abs() <= 1e-12 * direct,
        "expanded {got:e} vs direct {direct:e}"
    );
}
