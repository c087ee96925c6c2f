//! Proposition 2 for logistic regression without bias: an exact forgery of a batch gradient. With G^T the
//! [784, 10] gradient (rows g_i, one per pixel), r its numerical rank and V_r its top-r right singular vectors:
//! C' = R V_r^T ([b, 10], R random) has rank r, G's row space and zero row sums (G's rows sum to zero over the
//! classes); each pixel column x'_i in R^b solves C'^T x'_i = b g_i (consistent, as g_i lies in span V_r; the
//! minimum-norm solution is taken); labels are y'_j = v s'_j - c'_j with s'_j = softmax(W x'_j) and v = 1, so that
//! the soft-label cross-entropy's gradient is (1/b) sum_j c'_j x'_j^T = G.
use super::simplex;
use crate::error::{Result, WorkerError};
use crate::models::draw_theta;
use crate::tensors;
use crate::update::{gradient, loss_soft, Batch};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::{ModelKind, Precision};
use forgebench_shared::measures::{measures, ErrorMeasures};
use forgebench_shared::rng::PortableRng;
use tch::{Device, Kind, Tensor};

/// The forged batch and what it achieves.
pub struct Prop2Outcome {
    /// Numerical rank of G.
    pub rank: usize,
    /// Singular values below this count as zero: max(784, 10) * f64 eps * sigma_max (numpy's matrix_rank rule).
    pub tolerance: f64,
    /// Forged inputs `[b, 1, 28, 28]` (f64).
    pub x: Tensor,
    /// Forged soft labels `[b, 10]` (f64).
    pub y: Tensor,
    /// The real batch (f64), on the device.
    pub real: Batch,
    /// theta (f64), on the device.
    pub theta: Tensor,
    /// theta - eta G' against theta - eta G, all in f32.
    pub error_f32: ErrorMeasures,
    /// The same in f64.
    pub error_f64: ErrorMeasures,
    /// Fraction of forged pixels outside [0, 1].
    pub outside_unit: f64,
    /// Largest distance of a forged label row from the simplex.
    pub simplex_violation: f64,
    /// ||X' - X_B||_2.
    pub batch_distance: f64,
}

fn update_error(theta: &Tensor, real: &Batch, x: &Tensor, y: &Tensor, eta: f64) -> Result<ErrorMeasures> {
    let model = ModelKind::Logreg;
    let g = tch::with_grad(|| gradient(model, theta, real))?;
    let th = theta.f_detach()?.f_set_requires_grad(true)?;
    let gf = tch::with_grad(|| -> Result<Tensor> {
        let l = loss_soft(model, &th, x, y)?;
        Ok(Tensor::f_run_backward(&[&l], &[&th], false, false)?.remove(0))
    })?;
    let _guard = tch::no_grad_guard();
    let real_next = tensors::to_f64(&(theta - g * eta))?;
    let forged_next = tensors::to_f64(&(theta - gf * eta))?;
    Ok(measures(&forged_next, &real_next, None))
}

/// Builds the Proposition 2 forgery of a real batch of `b` MNIST examples at a theta drawn from `seed`, computing
/// on `device` (the worker's own, so the result is labelled with the device that ran it); the forged batch it
/// returns is on the CPU.
pub fn construct(ds: &Dataset, b: usize, eta: f64, seed: u64, device: Device) -> Result<Prop2Outcome> {
    if b == 0 || b > ds.n {
        return Err(WorkerError::Invalid(format!(
            "prop2: batch size {b} must lie in 1..={}",
            ds.n
        )));
    }
    let _guard = tch::no_grad_guard();
    let model = ModelKind::Logreg;
    let theta = Tensor::from_slice(&draw_theta(model, seed, 0))
        .to_kind(Kind::Double)
        .to_device(device);
    let idx = PortableRng::derived(seed, "prop2-batch", 0).sample_indices(ds.n, b);
    let real = Batch::gather(ds, &idx, device, Precision::F64)?;
    let g = tch::with_grad(|| gradient(model, &theta, &real))?.view([10, 784]);
    let gt = g.tr();
    let (_u, s, v) = gt.f_svd(true, true)?;
    let sv = Vec::<f64>::try_from(&s)?;
    let tolerance = 784.0 * f64::EPSILON * sv.first().copied().unwrap_or(0.0);
    let rank = sv.iter().filter(|&&x| x > tolerance).count();
    if rank == 0 {
        return Err(WorkerError::Invalid(
            "prop2: the batch gradient is zero, nothing to forge".into(),
        ));
    }
    let vr = v.narrow(1, 0, rank as i64).tr(); // [r, 10]
    let mut rng = PortableRng::derived(seed, "prop2-combination", 0);
    let r = Tensor::from_slice(&rng.normal_f64(b * rank))
        .view([b as i64, rank as i64])
        .to_device(device);
    let c = r.matmul(&vr); // [b, 10], zero row sums
                           // C'^T X' = b G with C'^T = V_r R^T: in V_r's coordinates R^T X' = V_r^T b G, whose minimum-norm solution
                           // R (R^T R)^{-1} V_r^T b G avoids inverting C', which is singular along the all-ones direction.
    let rhs = vr.matmul(&(&g * b as f64)); // [r, 784]
    let x_flat = r.matmul(&Tensor::f_linalg_solve(&r.tr().matmul(&r), &rhs, true)?); // [b, 784]
    let probs = x_flat.matmul(&theta.view([10, 784]).tr()).softmax(-1, Kind::Double);
    let y = probs - &c;
    let x = x_flat.view([b as i64, 1, 28, 28]);
    let error_f64 = update_error(&theta, &real, &x, &y, eta)?;
    let f = |t: &Tensor| t.to_kind(Kind::Float);
    let real32 = Batch {
        x: f(&real.x),
        y: real.y.shallow_clone(),
    };
    let error_f32 = update_error(&f(&theta), &real32, &f(&x), &f(&y), eta)?;
    let outside = (x.lt(0.0).logical_or(&x.gt(1.0)))
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]);
    let batch_distance = (&x - &real.x).square().sum(Kind::Double).sqrt().double_value(&[]);
    Ok(Prop2Outcome {
        rank,
        tolerance,
        simplex_violation: simplex::violation(&y),
        x: x.to_device(Device::Cpu),
        y: y.to_device(Device::Cpu),
        real,
        theta,
        error_f32,
        error_f64,
        outside_unit: outside,
        batch_distance,
    })
}
