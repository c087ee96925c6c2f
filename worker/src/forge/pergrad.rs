//! Per-example gradients: row j of the result is grad_theta of the cross-entropy of example j alone, so that the
//! gradient of the mean loss over any subset S is the mean of its rows. Logistic regression has them in closed form,
//! LeNet by one batched backward pass to the pre-activations (see `pergrad_lenet`); the loop of one backward pass
//! per example is the reference both are tested against. VGGmini has none: BatchNorm couples the batch.
use super::pergrad_lenet;
use crate::error::{Result, WorkerError};
use crate::models;
use crate::update::{gradient, Batch};
use forgebench_shared::experiment::ModelKind;
use tch::{Kind, Tensor};

/// Examples per batched pass: bounds the memory of LeNet's [chunk, 120, 400] outer products.
const CHUNK: i64 = 250;

/// Per-example gradients `[n, P]` (theta's kind) of the examples `x` (`[n, c, h, w]`) with labels `y` (`[n]`).
pub fn per_example(model: ModelKind, theta: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let n = x.size()[0];
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = CHUNK.min(n - start);
        let (xc, yc) = (x.narrow(0, start, len), y.narrow(0, start, len));
        parts.push(match model {
            ModelKind::Logreg | ModelKind::LogregBias => logreg(model, theta, &xc, &yc)?,
            ModelKind::Lenet5 => pergrad_lenet::grads(theta, &xc, &yc)?,
            ModelKind::Vggmini => {
                return Err(WorkerError::Invalid(
                    "vggmini has no per-example gradients: BatchNorm couples the examples of a batch".into(),
                ))
            }
        });
        start += len;
    }
    Ok(Tensor::f_cat(&parts, 0)?)
}

/// Closed form for logistic regression: grad_W = (softmax(W x + c) - onehot(y)) x^T and grad_c = the bracket.
fn logreg(model: ModelKind, theta: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let kind = theta.kind();
    let xf = x.flatten(1, -1).to_kind(kind);
    let p = models::forward(model, theta, x).softmax(-1, kind);
    let delta = p - y.one_hot(10).to_kind(kind);
    let gw = (delta.unsqueeze(2) * xf.unsqueeze(1)).view([n, -1]);
    Ok(match model {
        ModelKind::LogregBias => Tensor::cat(&[gw, delta], 1),
        _ => gw,
    })
}

/// The reference: one backward pass per example (works for every separable model, slowly).
pub fn per_example_loop(model: ModelKind, theta: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let n = x.size()[0];
    let rows = (0..n)
        .map(|j| {
            gradient(
                model,
                theta,
                &Batch {
                    x: x.narrow(0, j, 1),
                    y: y.narrow(0, j, 1),
                },
            )
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::f_stack(&rows, 0)?)
}

/// `[n, P]` gradients as f64 (the kind every inner product is taken in).
pub fn to_f64(g: &Tensor) -> Result<Tensor> {
    Ok(g.f_to_kind(Kind::Double)?)
}
