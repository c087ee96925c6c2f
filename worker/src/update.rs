//! The update kernel: (model, theta, batch, eta, precision) -> theta - eta * grad of the mean cross-entropy.
use crate::error::Result;
use crate::models;
use crate::tensors;
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::{ModelKind, Precision};
use tch::{Device, Kind, Tensor};

/// A mini-batch as tensors: inputs `[b, c, h, w]` and int64 class labels `[b]`.
pub struct Batch {
    /// Inputs.
    pub x: Tensor,
    /// Labels.
    pub y: Tensor,
}

impl Batch {
    /// Gathers `indices` of `ds` (in that order) onto `device` in `precision`.
    pub fn gather(ds: &Dataset, indices: &[usize], device: Device, precision: Precision) -> Result<Batch> {
        let (x, y) = ds.gather(indices);
        let shape: Vec<i64> = std::iter::once(indices.len())
            .chain(ds.shape.iter().copied())
            .map(|d| d as i64)
            .collect();
        let x = Tensor::from_slice(&x)
            .f_view(shape.as_slice())?
            .f_to_kind(tensors::kind(precision))?
            .f_to_device(device)?;
        let y = Tensor::from_slice(&y).f_to_kind(Kind::Int64)?.f_to_device(device)?;
        Ok(Batch { x, y })
    }
}

/// The result of one SGD step.
pub struct Update {
    /// theta - eta * grad.
    pub theta_next: Tensor,
    /// eta * grad (what the step subtracts).
    pub step: Tensor,
}

/// Mean cross-entropy of `model` at `theta` on hard labels.
pub fn loss(model: ModelKind, theta: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    cross_entropy(&models::forward(model, theta, x), y)
}

/// Mean cross-entropy of `logits` (`[b, classes]`) against integer labels `y`, as the update kernel takes it.
pub fn cross_entropy(logits: &Tensor, y: &Tensor) -> Result<Tensor> {
    Ok(logits
        .f_log_softmax(-1, None::<Kind>)?
        .f_nll_loss(y, None::<Tensor>, tch::Reduction::Mean, -100)?)
}

/// Mean cross-entropy on soft labels `q` (rows of class weights): -mean_i sum_k q_ik log p_ik.
pub fn loss_soft(model: ModelKind, theta: &Tensor, x: &Tensor, q: &Tensor) -> Result<Tensor> {
    cross_entropy_soft(&models::forward(model, theta, x), q)
}

/// Mean cross-entropy of `logits` against rows of class weights `q`.
pub fn cross_entropy_soft(logits: &Tensor, q: &Tensor) -> Result<Tensor> {
    Ok((logits.f_log_softmax(-1, None::<Kind>)? * q)
        .f_sum_dim_intlist(-1, false, None::<Kind>)?
        .f_mean(None::<Kind>)?
        .f_neg()?)
}

/// grad of the mean cross-entropy with respect to theta (a flat vector like theta).
pub fn gradient(model: ModelKind, theta: &Tensor, batch: &Batch) -> Result<Tensor> {
    let th = theta.f_detach()?.f_set_requires_grad(true)?;
    let l = loss(model, &th, &batch.x, &batch.y)?;
    let mut g = Tensor::f_run_backward(&[&l], &[&th], false, false)?;
    Ok(g.remove(0))
}

/// One SGD step. theta's kind sets the precision (the batch must match it).
pub fn sgd_update(model: ModelKind, theta: &Tensor, batch: &Batch, eta: f64) -> Result<Update> {
    let _guard = tch::no_grad_guard();
    let g = tch::with_grad(|| gradient(model, theta, batch))?;
    let step = g.f_mul_scalar(eta)?;
    let theta_next = theta.f_sub(&step)?;
    Ok(Update { theta_next, step })
}

#[cfg(test)]
mod tests;
