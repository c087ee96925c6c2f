//! The batch-shuffle experiment (the paper's Figure 4): the same SGD update computed with the examples of one batch
//! in different orders. Mathematically the mean gradient does not depend on the order; in floating point the
//! summation order changes the rounding, and this measures by how much.
//!
//! theta is `draw_theta(model, seed, 0)`; the batch is `b` distinct training indices from the stream
//! (seed, "shuffle-batch", 0); shuffle i permutes it with the stream (seed, "shuffle", i). Each shuffled update's
//! theta_next is compared with the unshuffled one, in f64; `rel` is relative to the unshuffled step eta * grad.
use crate::error::{Result, WorkerError};
use crate::models::{draw_theta, Net};
use crate::tensors;
use crate::update::Batch;
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::Precision;
use forgebench_shared::jobs::ShuffleSpec;
use forgebench_shared::measures::{measures, ErrorMeasures, MeasureSummary};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::results::ShuffleReport;
use forgebench_shared::rng::PortableRng;
use tch::Tensor;

/// The batch of the experiment (unshuffled order).
pub fn batch_indices(spec: &ShuffleSpec, n: usize) -> Vec<usize> {
    batch_of(spec.seed, spec.batch_size, n)
}

/// `b` distinct indices of `0..n` from the stream (seed, "shuffle-batch", 0).
pub fn batch_of(seed: u64, b: usize, n: usize) -> Vec<usize> {
    PortableRng::derived(seed, "shuffle-batch", 0).sample_indices(n, b)
}

/// Shuffle `i` of `batch`.
pub fn shuffled(spec: &ShuffleSpec, batch: &[usize], i: usize) -> Vec<usize> {
    order_of(spec.seed, batch, i)
}

/// Shuffle `i` of `batch` under `seed`: the stream (seed, "shuffle", i).
pub fn order_of(seed: u64, batch: &[usize], i: usize) -> Vec<usize> {
    let mut v = batch.to_vec();
    PortableRng::derived(seed, "shuffle", i as u64).shuffle(&mut v);
    v
}

/// The plain SGD update of `net` at `theta` on `batch`: theta_next and the step eta * grad.
fn update(net: &Net, theta: &Tensor, batch: &Batch, eta: f64) -> Result<(Tensor, Tensor)> {
    let _guard = tch::no_grad_guard();
    let g = tch::with_grad(|| net.gradient(theta, batch))?;
    let step = g.f_mul_scalar(eta)?;
    Ok((theta.f_sub(&step)?, step))
}

/// Each of `shuffles` orders of `idx` against the unshuffled update of `net` at `theta`.
pub fn errors(
    net: &Net,
    theta: &Tensor,
    ds: &Dataset,
    idx: &[usize],
    (eta, shuffles, seed): (f64, usize, u64),
) -> Result<Vec<ErrorMeasures>> {
    let device = theta.device();
    let (base_next, base_step) = update(net, theta, &Batch::gather(ds, idx, device, Precision::F32)?, eta)?;
    let base_next = tensors::to_f32(&base_next)?;
    let step_norm = forgebench_shared::measures::norm2(&tensors::to_f32(&base_step)?);
    let mut errors = Vec::with_capacity(shuffles);
    for i in 0..shuffles {
        let order = order_of(seed, idx, i);
        let (next, _) = update(net, theta, &Batch::gather(ds, &order, device, Precision::F32)?, eta)?;
        let mut e = measures(&tensors::to_f32(&next)?, &base_next, None);
        e.rel = if step_norm > 0.0 { e.l2 / step_norm } else { 0.0 };
        errors.push(e);
    }
    Ok(errors)
}

/// Runs the experiment on `device`.
pub fn run(spec: &ShuffleSpec, ds: &Dataset, device: tch::Device, provenance: Provenance) -> Result<ShuffleReport> {
    if spec.dataset != ds.kind || spec.model.default_dataset() != ds.kind {
        return Err(WorkerError::Invalid(format!(
            "shuffle: model {} takes {} inputs; the spec names {} and {} was loaded",
            spec.model,
            spec.model.default_dataset(),
            spec.dataset,
            ds.kind
        )));
    }
    check(spec.batch_size, spec.shuffles, ds.n)?;
    let theta = tensors::from_f32(&draw_theta(spec.model, spec.seed, 0), device);
    let idx = batch_indices(spec, ds.n);
    let errors = errors(
        &Net::Builtin(spec.model),
        &theta,
        ds,
        &idx,
        (spec.eta, spec.shuffles, spec.seed),
    )?;
    Ok(ShuffleReport {
        spec: spec.clone(),
        provenance,
        summary: MeasureSummary::of(&errors),
        errors,
    })
}

/// 2 <= b <= n and at least one shuffle.
pub fn check(b: usize, shuffles: usize, n: usize) -> Result<()> {
    if b < 2 || b > n || shuffles == 0 {
        return Err(WorkerError::Invalid(format!(
            "shuffle: needs 2 <= b <= {n} and shuffles >= 1, got b={b}, shuffles={shuffles}"
        )));
    }
    Ok(())
}
