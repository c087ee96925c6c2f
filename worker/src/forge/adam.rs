//! Optimisation forging, the paper's Algorithm 1: Adam (alpha 0.5, betas (0.9, 0.999), eps 1e-8) over a synthetic
//! batch (inputs x' and soft labels y', unconstrained) minimising ||eta grad L(x', y'; theta) - eta grad L(B; theta)||_2
//! by double backpropagation; the error is recorded at every iteration and the best iterate is kept (a forger keeps
//! the best batch it saw, not the last). The projected variant clamps x' to [0, 1] and projects y' onto the simplex
//! after every step, which keeps the batch in the data domain.
use super::simplex;
use crate::error::Result;
use crate::tensors;
use crate::update::{gradient, loss_soft, Batch};
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::jobs::AdamSpec;
use forgebench_shared::measures::{measures, ErrorMeasures};
use forgebench_shared::rng::PortableRng;
use tch::{Kind, Tensor};

/// Adam's step size alpha.
pub const ALPHA: f64 = 0.5;
/// Adam's first-moment decay.
pub const BETA1: f64 = 0.9;
/// Adam's second-moment decay.
pub const BETA2: f64 = 0.999;
/// Adam's epsilon.
pub const EPS: f64 = 1e-8;

/// The forged batch and its error history.
pub struct AdamOutcome {
    /// ||eta (g' - g_B)||_2 before each step, then after the last (length I + 1).
    pub curve_l2: Vec<f64>,
    /// Final measures of theta - eta g' against theta - eta g_B.
    pub final_error: ErrorMeasures,
    /// The iterate with the lowest curve value (0 = the start batch, I = the last), what a forger keeps.
    pub best_iteration: usize,
    /// The best iterate's measures, computed as [`AdamOutcome::final_error`] is.
    pub best_error: ErrorMeasures,
    /// The best iterate's inputs, like the real batch's.
    pub x: Tensor,
    /// The best iterate's soft labels `[b, 10]`.
    pub y: Tensor,
}

pub(crate) struct Moments {
    m: Tensor,
    v: Tensor,
}

impl Moments {
    pub(crate) fn new(p: &Tensor) -> Moments {
        Moments {
            m: p.zeros_like(),
            v: p.zeros_like(),
        }
    }
    /// One Adam step of size `alpha` on `p` with gradient `g` at iteration `t` (1-based).
    pub(crate) fn step(&mut self, p: &Tensor, g: &Tensor, t: i32, alpha: f64) -> Tensor {
        self.m = &self.m * BETA1 + g * (1.0 - BETA1);
        self.v = &self.v * BETA2 + g.square() * (1.0 - BETA2);
        let mhat = &self.m / (1.0 - BETA1.powi(t));
        let vhat = &self.v / (1.0 - BETA2.powi(t));
        p - mhat / (vhat.sqrt() + EPS) * alpha
    }
}

/// The start batch of a run with `seed`: uniform pixels in [0, 1] and labels uniform then normalised, drawn from
/// the portable generator (so every optimiser and device starts from the same batch).
pub(crate) fn start_batch(seed: u64, real: &Batch, kind: Kind, device: tch::Device) -> (Tensor, Tensor) {
    let shape = real.x.size();
    let b = shape[0];
    let numel: i64 = shape.iter().product();
    let mut rng = PortableRng::derived(seed, "adam-start", 0);
    let x = Tensor::from_slice(&rng.uniform_f32(numel as usize, 0.0, 1.0)).view(shape.as_slice());
    let y = Tensor::from_slice(&rng.uniform_f32(b as usize * 10, 0.0, 1.0)).view([b, 10]);
    let (x, y) = (x.to_kind(kind).to_device(device), y.to_kind(kind).to_device(device));
    let y = &y / y.sum_dim_intlist(-1, true, kind);
    (x, y)
}

/// ||eta g(x, y) - target||_2 at theta `th` (which requires grad) and its gradients with respect to x and y, by
/// double backpropagation: (grad x, grad y, value).
pub(crate) fn objective(
    model: ModelKind,
    th: &Tensor,
    x: &Tensor,
    y: &Tensor,
    eta: f64,
    target: &Tensor,
) -> Result<(Tensor, Tensor, f64)> {
    tch::with_grad(|| {
        let xv = x.f_detach()?.f_set_requires_grad(true)?;
        let yv = y.f_detach()?.f_set_requires_grad(true)?;
        let l = loss_soft(model, th, &xv, &yv)?;
        let g = Tensor::f_run_backward(&[&l], &[th], true, true)?.remove(0);
        let obj = (g * eta - target).f_square()?.f_sum(Kind::Double)?.f_sqrt()?;
        let mut grads = Tensor::f_run_backward(&[&obj], &[&xv, &yv], false, false)?;
        let gy = grads.remove(1);
        Ok((grads.remove(0), gy, obj.f_double_value(&[])?))
    })
}

/// Runs Algorithm 1 as `spec` says (iterations, projection, step-size schedule; its seed draws the start batch) at
/// `theta` against the real batch `real`.
pub fn forge(spec: &AdamSpec, theta: &Tensor, real: &Batch) -> Result<AdamOutcome> {
    let (model, eta, iterations, projected, schedule) =
        (spec.model, spec.eta, spec.iterations, spec.projected, spec.schedule);
    let (kind, device) = (theta.kind(), theta.device());
    let target = gradient(model, theta, real)?.f_mul_scalar(eta)?.f_detach()?;
    let (mut x, mut y) = start_batch(spec.seed, real, kind, device);
    let (mut mx, mut my) = (Moments::new(&x), Moments::new(&y));
    let th = theta.f_detach()?.f_set_requires_grad(true)?;
    let mut curve = Vec::with_capacity(iterations + 1);
    // The best iterate so far: (curve value, iteration, x, y). Kept as copies so later steps cannot move it.
    let mut best: Option<(f64, usize, Tensor, Tensor)> = None;
    for t in 1..=iterations {
        let (gx, gy, obj) = objective(model, &th, &x, &y, eta, &target)?;
        curve.push(obj);
        if best.as_ref().is_none_or(|b| obj < b.0) {
            best = Some((obj, t - 1, x.copy(), y.copy()));
        }
        let _guard = tch::no_grad_guard();
        let alpha = ALPHA * schedule.factor(t);
        x = mx.step(&x, &gx, t as i32, alpha);
        y = my.step(&y, &gy, t as i32, alpha);
        if projected {
            x = x.clamp(0.0, 1.0);
            y = simplex::project(&y);
        }
    }
    let final_error = error(model, theta, &x, &y, eta, &target)?;
    curve.push(final_error.l2);
    // The last iterate is the best unless an earlier one's curve value is lower; NaN never counts as lower.
    let (best_iteration, best_error, x, y) = match best {
        Some((v, i, bx, by)) if v < final_error.l2 => {
            let e = error(model, theta, &bx, &by, eta, &target)?;
            (i, e, bx, by)
        }
        _ => (iterations, final_error, x, y),
    };
    Ok(AdamOutcome {
        curve_l2: curve,
        final_error,
        best_iteration,
        best_error,
        x,
        y,
    })
}

/// Measures theta - eta g(x', y') against theta - eta g_B (= theta - target), in f64 over the model's precision.
pub fn error(
    model: ModelKind,
    theta: &Tensor,
    x: &Tensor,
    y: &Tensor,
    eta: f64,
    target: &Tensor,
) -> Result<ErrorMeasures> {
    let th = theta.f_detach()?.f_set_requires_grad(true)?;
    let g = tch::with_grad(|| -> Result<Tensor> {
        let l = loss_soft(model, &th, x, y)?;
        Ok(Tensor::f_run_backward(&[&l], &[&th], false, false)?.remove(0))
    })?;
    let _guard = tch::no_grad_guard();
    let forged = tensors::to_f64(&theta.f_sub(&g.f_mul_scalar(eta)?)?)?;
    let real = tensors::to_f64(&theta.f_sub(target)?)?;
    Ok(measures(&forged, &real, Some(&tensors::to_f64(target)?)))
}
