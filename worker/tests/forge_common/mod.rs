//! Shared set-up of the forging tests: a real logged step on the bundled MNIST subset.
#![allow(dead_code)]
use forgebench_shared::data::{bundled_dir, Dataset};
use forgebench_shared::experiment::{DatasetKind, ModelKind, Precision};
use forgebench_shared::rng::PortableRng;
use forgebench_worker::forge::StepTarget;
use forgebench_worker::models::draw_theta;
use forgebench_worker::update::{sgd_update, Batch};
use std::collections::HashSet;
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

/// The bundled MNIST training subset.
pub fn mnist() -> Arc<Dataset> {
    forgebench_worker::datasets::train(DatasetKind::Mnist, &bundled_dir()).expect("bundled MNIST subset loads")
}

/// A logged step: theta drawn from `seed`, a real batch of `b`, theta_next from a real update.
/// Returns the target and the original batch (to exclude from pools).
pub fn logged_step(
    model: ModelKind,
    ds: &Dataset,
    b: usize,
    seed: u64,
    precision: Precision,
) -> (StepTarget, HashSet<usize>) {
    let kind = if precision == Precision::F64 {
        Kind::Double
    } else {
        Kind::Float
    };
    let theta = Tensor::from_slice(&draw_theta(model, seed, 0)).to_kind(kind);
    let idx = PortableRng::derived(seed, "test-batch", 0).sample_indices(ds.n, b);
    let batch = Batch::gather(ds, &idx, Device::Cpu, precision).expect("gather");
    let u = sgd_update(model, &theta, &batch, 0.01).expect("update");
    (
        StepTarget {
            theta,
            theta_next: u.theta_next,
            eta: 0.01,
        },
        idx.into_iter().collect(),
    )
}
