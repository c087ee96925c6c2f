//! The batch-shuffle experiment (the paper's Figure 4): the same SGD update computed with the examples of one batch
//! in different orders. Mathematically the mean gradient does not depend on the order; in floating point the
//! summation order changes the rounding, and this measures by how much.
//!
//! theta is `draw_theta(model, seed, 0)`; the batch is `b` distinct training indices from the stream
//! (seed, "shuffle-batch", 0); shuffle i permutes it with the stream (seed, "shuffle", i). Each shuffled update's
//! theta_next is compared with the unshuffled one, in f64; `rel` is relative to the unshuffled step eta * grad.
use crate::error::{Result, WorkerError};
use crate::models::draw_theta;
use crate::tensors;
use crate::update::{sgd_update, Batch};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::Precision;
use forgebench_shared::jobs::ShuffleSpec;
use forgebench_shared::measures::{measures, MeasureSummary};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::results::ShuffleReport;
use forgebench_shared::rng::PortableRng;

/// The batch of the experiment (unshuffled order).
pub fn batch_indices(spec: &ShuffleSpec, n: usize) -> Vec<usize> {
    PortableRng::derived(spec.seed, "shuffle-batch", 0).sample_indices(n, spec.batch_size)
}

/// Shuffle `i` of `batch`.
pub fn shuffled(spec: &ShuffleSpec, batch: &[usize], i: usize) -> Vec<usize> {
    let mut v = batch.to_vec();
    PortableRng::derived(spec.seed, "shuffle", i as u64).shuffle(&mut v);
    v
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
    if spec.batch_size < 2 || spec.batch_size > ds.n || spec.shuffles == 0 {
        return Err(WorkerError::Invalid(format!(
            "shuffle: needs 2 <= b <= {} and shuffles >= 1, got b={}, shuffles={}",
            ds.n, spec.batch_size, spec.shuffles
        )));
    }
    let theta = tensors::from_f32(&draw_theta(spec.model, spec.seed, 0), device);
    let idx = batch_indices(spec, ds.n);
    let base = sgd_update(
        spec.model,
        &theta,
        &Batch::gather(ds, &idx, device, Precision::F32)?,
        spec.eta,
    )?;
    let base_next = tensors::to_f32(&base.theta_next)?;
    let base_step = tensors::to_f32(&base.step)?;
    let step_norm = forgebench_shared::measures::norm2(&base_step);
    let mut errors = Vec::with_capacity(spec.shuffles);
    for i in 0..spec.shuffles {
        let order = shuffled(spec, &idx, i);
        let u = sgd_update(
            spec.model,
            &theta,
            &Batch::gather(ds, &order, device, Precision::F32)?,
            spec.eta,
        )?;
        let mut e = measures(&tensors::to_f32(&u.theta_next)?, &base_next, None);
        e.rel = if step_norm > 0.0 { e.l2 / step_norm } else { 0.0 };
        errors.push(e);
    }
    Ok(ShuffleReport {
        spec: spec.clone(),
        provenance,
        summary: MeasureSummary::of(&errors),
        errors,
    })
}
