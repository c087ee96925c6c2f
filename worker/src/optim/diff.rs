//! The optimisers' updates as differentiable functions of the gradient, for optimisation forging: the forger's
//! objective is the distance between the logged theta_{i+1} and the update a synthetic batch's gradient would make,
//! and Adam needs its derivative with respect to the batch. The formulas are `torch.optim`'s; the rounding is not
//! its kernels' (these are whole-vector ops): a forged batch is always measured with [`super::step`], as a verifier
//! replays it.
use super::OptState;
use crate::error::Result;
use forgebench_shared::optim::Optimizer;
use tch::Tensor;

/// theta_{i+1} after one step of `opt` at `theta` with gradient `grad` (which may carry a graph) from `state`
/// (unchanged), learning rate `lr`.
pub fn next_theta(opt: &Optimizer, theta: &Tensor, grad: &Tensor, state: &OptState, lr: f64) -> Result<Tensor> {
    Ok(match *opt {
        Optimizer::Plain => theta.f_sub(&grad.f_mul_scalar(lr)?)?,
        Optimizer::Sgd {
            momentum,
            dampening,
            nesterov,
            weight_decay,
        } => {
            let mut d = grad.shallow_clone();
            if weight_decay != 0.0 {
                d = d.f_add(&theta.f_mul_scalar(weight_decay)?)?;
            }
            if momentum != 0.0 {
                // PyTorch's first step clones d into the buffer; later ones decay it.
                let buf = if state.step == 0 {
                    d.shallow_clone()
                } else {
                    state.buffers[0]
                        .f_mul_scalar(momentum)?
                        .f_add(&d.f_mul_scalar(1.0 - dampening)?)?
                };
                d = if nesterov {
                    d.f_add(&buf.f_mul_scalar(momentum)?)?
                } else {
                    buf
                };
            }
            theta.f_sub(&d.f_mul_scalar(lr)?)?
        }
        Optimizer::Adam {
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
        } => {
            let mut g = grad.shallow_clone();
            let mut th = theta.shallow_clone();
            if decoupled {
                th = th.f_mul_scalar(1.0 - lr * weight_decay)?;
            } else if weight_decay != 0.0 {
                g = g.f_add(&theta.f_mul_scalar(weight_decay)?)?;
            }
            let t = (state.step + 1) as i32;
            let m = state.buffers[0]
                .f_mul_scalar(beta1)?
                .f_add(&g.f_mul_scalar(1.0 - beta1)?)?;
            let v = state.buffers[1]
                .f_mul_scalar(beta2)?
                .f_add(&g.f_square()?.f_mul_scalar(1.0 - beta2)?)?;
            let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
            // sqrt(v + tiny) keeps the derivative finite where a coordinate's second moment is 0.
            let denom = v
                .f_add_scalar(1e-30)?
                .f_sqrt()?
                .f_div_scalar(bc2.sqrt())?
                .f_add_scalar(eps)?;
            th.f_sub(&m.f_div(&denom)?.f_mul_scalar(lr / bc1)?)?
        }
    })
}
