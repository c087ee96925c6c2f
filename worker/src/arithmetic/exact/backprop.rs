//! Forward and backward through a model's operation sequence ([`super::ops`]) one operation at a time, every result
//! passed through a site callback: the exact arm rounds there, a trace records there. The arithmetic is theta's
//! kind (f64 for the exact arm, f32 for a trace of the f32 arm).
use super::graph::{ops, Op};
use crate::error::{Result, WorkerError};
use crate::models;
use crate::update::{cross_entropy, cross_entropy_soft, Batch};
use forgebench_shared::experiment::ModelKind;
use tch::Tensor;

/// A site: named result in, the value to carry on with out.
pub type Site<'a> = dyn FnMut(String, &Tensor) -> Result<Tensor> + 'a;

/// The labels of a batch: class indices, or rows of class weights (a forger's soft labels).
#[derive(Clone, Copy)]
pub enum Labels<'a> {
    /// int64 `[b]`.
    Hard(&'a Tensor),
    /// `[b, classes]` in theta's kind.
    Soft(&'a Tensor),
}

impl Labels<'_> {
    /// The mean cross-entropy of `logits` against these labels, as the update kernel and the soft-label attacks
    /// take it.
    fn loss(self, logits: &Tensor) -> Result<Tensor> {
        match self {
            Labels::Hard(y) => cross_entropy(logits, y),
            Labels::Soft(q) => cross_entropy_soft(logits, q),
        }
    }
}

/// The gradient of the mean cross-entropy with respect to each parameter tensor, in layout order. Sites, in order:
/// each inexact operation's output ("fc1.forward"), the loss's gradient ("loss.backward"), then backwards through
/// the operations each parameter's gradient ("fc1.backward.weight") and the gradient passed on ("fc1.backward").
pub fn gradients(model: ModelKind, theta: &Tensor, batch: &Batch, site: &mut Site) -> Result<Vec<Tensor>> {
    gradients_of(model, theta, &batch.x, Labels::Hard(&batch.y), site)
}

/// [`gradients`] for inputs `x` and any labels.
pub fn gradients_of(
    model: ModelKind,
    theta: &Tensor,
    x: &Tensor,
    labels: Labels,
    site: &mut Site,
) -> Result<Vec<Tensor>> {
    let params = models::param_views(model, theta);
    let graph = ops(model);
    let _guard = tch::no_grad_guard();
    let of = |o: &Op| -> Vec<Tensor> { o.params.iter().map(|&i| params[i].detach()).collect() };
    let mut acts = vec![x.shallow_clone()];
    for o in &graph {
        let out = (o.apply)(acts.last().expect("input"), &of(o));
        let out = if o.exact {
            out
        } else {
            site(format!("{}.forward", o.name), &out)?
        };
        acts.push(out);
    }
    let logits = acts.pop().expect("logits").set_requires_grad(true);
    let g = tch::with_grad(|| -> Result<Tensor> {
        let l = labels.loss(&logits)?;
        Ok(Tensor::f_run_backward(&[&l], &[&logits], false, false)?.remove(0))
    })?;
    let mut g = site("loss.backward".into(), &g)?;
    let layout = models::layout(model);
    let mut grads: Vec<Option<Tensor>> = (0..layout.len()).map(|_| None).collect();
    for (i, o) in graph.iter().enumerate().rev() {
        let want_input = i > 0;
        if o.params.is_empty() && !want_input {
            continue;
        }
        let input = acts[i].detach().set_requires_grad(want_input);
        let ps: Vec<Tensor> = of(o).into_iter().map(|p| p.set_requires_grad(true)).collect();
        let mut wrt: Vec<&Tensor> = ps.iter().collect();
        if want_input {
            wrt.push(&input);
        }
        // d/dz sum(f(z) * g) is the vector-Jacobian product J^T g, and autograd forms it with g exactly.
        let mut gs = tch::with_grad(|| -> Result<Vec<Tensor>> {
            let s = (o.apply)(&input, &ps).f_mul(&g)?.f_sum(theta.kind())?;
            Ok(Tensor::f_run_backward(&[&s], &wrt, false, false)?)
        })?;
        let g_input = if want_input { gs.pop() } else { None };
        for (&j, gp) in o.params.iter().zip(gs) {
            let what = layout[j].name.rsplit('.').next().unwrap_or("param");
            grads[j] = Some(site(format!("{}.backward.{what}", o.name), &gp)?);
        }
        if let Some(gi) = g_input {
            g = if o.exact {
                gi
            } else {
                site(format!("{}.backward", o.name), &gi)?
            };
        }
    }
    layout
        .iter()
        .zip(grads)
        .map(|(spec, g)| g.ok_or_else(|| WorkerError::Invalid(format!("no gradient reached {}", spec.name))))
        .collect()
}
