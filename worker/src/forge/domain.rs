//! Forging inside the data domain (the paper's open problem): from an out-of-domain forgery, a walk into the domain
//! that at each allowed violation v keeps the batch within v of it (pixels in [-v, 1 + v], label rows within v of
//! the simplex) while Adam, projected after every step, minimises the update error. v shrinks geometrically from
//! the start's own violation to 0; at v = 0 the batch is in the domain with soft labels, and a last stage makes the
//! labels one-hot (each row's largest entry) and re-optimises the inputs alone. Everything runs in f64; the end
//! points are then measured in f32 as well, as a verifier recomputes them.
use super::adam::{self, Moments};
use super::simplex;
use crate::error::Result;
use crate::update::{gradient, Batch};
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::jobs::StepSchedule;
use forgebench_shared::results::{DomainForgery, DomainPoint, DomainReport};
use tch::{Kind, Tensor};

/// Relaxed stages before v = 0; v falls from the start's violation by a factor 1e-4 over them.
const STAGES: usize = 10;
/// The smallest relaxed violation, relative to the start's.
const LAST_RELATIVE: f64 = 1e-4;
/// Adam's step size at the start of a stage, per unit of the stage's pixel range (1 + 2v); it decays to 0 along a
/// cosine within the stage, so that each stage settles.
const ALPHA: f64 = 0.02;

/// The problem: the model, theta_i, the real batch and eta, all in f64.
pub struct Problem {
    model: ModelKind,
    theta: Tensor,
    /// theta as a leaf that requires grad, for the objective's double backpropagation.
    th: Tensor,
    target: Tensor,
    eta: f64,
    real: Batch,
    theta32: Tensor,
    target32: Tensor,
}

impl Problem {
    /// `theta` and `real` in any precision; the target eta g_B is computed in f64 and in f32.
    pub fn new(model: ModelKind, theta: &Tensor, real: &Batch, eta: f64) -> Result<Problem> {
        let theta = theta.f_to_kind(Kind::Double)?.f_detach()?;
        let real = Batch {
            x: real.x.f_to_kind(Kind::Double)?,
            y: real.y.shallow_clone(),
        };
        let target = (gradient(model, &theta, &real)? * eta).f_detach()?;
        let theta32 = theta.f_to_kind(Kind::Float)?;
        let real32 = Batch {
            x: real.x.f_to_kind(Kind::Float)?,
            y: real.y.shallow_clone(),
        };
        let target32 = (gradient(model, &theta32, &real32)? * eta).f_detach()?;
        let th = theta.f_detach()?.f_set_requires_grad(true)?;
        Ok(Problem {
            model,
            theta,
            th,
            target,
            eta,
            real,
            theta32,
            target32,
        })
    }

    /// ||eta g(x, y) - eta g_B||_2 and its gradients with respect to x and y (Algorithm 1's objective).
    fn objective(&self, x: &Tensor, y: &Tensor) -> Result<(f64, Tensor, Tensor)> {
        let (gx, gy, obj) = adam::objective(self.model, &self.th, x, y, self.eta, &self.target)?;
        Ok((obj, gx, gy))
    }

    fn measure(&self, x: &Tensor, y: &Tensor) -> Result<DomainForgery> {
        let f = |t: &Tensor| t.to_kind(Kind::Float);
        let error_f64 = adam::error(self.model, &self.theta, x, y, self.eta, &self.target)?;
        let error_f32 = adam::error(self.model, &self.theta32, &f(x), &f(y), self.eta, &self.target32)?;
        let one_hot = y.eq(0.0).logical_or(&y.eq(1.0)).all().int64_value(&[]) == 1
            && y.sum_dim_intlist(-1, false, Kind::Double)
                .eq(1.0)
                .all()
                .int64_value(&[])
                == 1;
        Ok(DomainForgery {
            error_f32,
            error_f64,
            pixel_violation: pixel_violation(x),
            label_violation: simplex::violation(y),
            one_hot,
            nearest_real: nearest(x, &self.real.x),
            nearest_real_median: median_nearest(x, &self.real.x),
            exact_arm: Some(exact_arm(self.model, &self.theta, &self.real, x, y, self.eta)?),
        })
    }
}

/// The forged batch (`x`, soft labels `y`) against the exact verifier, beside `real` at `theta` (any precision).
pub fn exact_arm(
    model: ModelKind,
    theta: &Tensor,
    real: &Batch,
    x: &Tensor,
    y: &Tensor,
    eta: f64,
) -> Result<forgebench_shared::results::ExactArmCheck> {
    use crate::arithmetic::exact::{attack, Labels};
    let theta = crate::tensors::to_f32(theta)?;
    attack::check(
        model,
        &theta,
        (&real.x, Labels::Hard(&real.y)),
        (x, Labels::Soft(y)),
        eta,
    )
}

/// The largest distance of a pixel from [0, 1].
pub fn pixel_violation(x: &Tensor) -> f64 {
    let below = (-x).clamp_min(0.0).max().double_value(&[]);
    let above = (x - 1.0).clamp_min(0.0).max().double_value(&[]);
    below.max(above)
}

/// Pairwise L2 distances between the rows of `a` and of `b` (inputs flattened), through the Gram form so that a
/// [1000, 1000] table never holds the [1000, 1000, 784] differences.
fn distances(a: &Tensor, b: &Tensor) -> Tensor {
    let (a, b) = (
        a.flatten(1, -1).to_kind(Kind::Double),
        b.flatten(1, -1).to_kind(Kind::Double),
    );
    let na = a.square().sum_dim_intlist(-1, true, Kind::Double);
    let nb = b.square().sum_dim_intlist(-1, true, Kind::Double).tr();
    (na + nb - a.matmul(&b.tr()) * 2.0).clamp_min(0.0).sqrt()
}

/// The smallest L2 distance from a row of `a` to a row of `b`.
pub fn nearest(a: &Tensor, b: &Tensor) -> f64 {
    distances(a, b).min().double_value(&[])
}

/// The median over the rows of `a` of the distance to the nearest row of `b`.
pub fn median_nearest(a: &Tensor, b: &Tensor) -> f64 {
    median(Vec::<f64>::try_from(&distances(a, b).min_dim(1, false).0).unwrap_or_default())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median over the rows of `real` of the distance to the nearest row of `pool` that is not the same input.
pub fn neighbour_distance(real: &Tensor, pool: &Tensor) -> f64 {
    let d = distances(real, pool);
    // The same image sits at distance 0, up to the Gram form's rounding: count it as absent.
    let d = d.masked_fill(&d.lt(1e-3), f64::INFINITY);
    median(Vec::<f64>::try_from(&d.min_dim(1, false).0).unwrap_or_default())
}

/// The violation of a batch: the larger of [`pixel_violation`] and the label rows' distance from the simplex.
pub fn violation(x: &Tensor, y: &Tensor) -> f64 {
    pixel_violation(x).max(simplex::violation(y))
}

/// Projects onto the set within `v` of the domain (exact: a clamp, and for each label row the point of the
/// v-neighbourhood of the simplex nearest to it).
fn project(x: &Tensor, y: &Tensor, v: f64) -> (Tensor, Tensor) {
    let x = x.clamp(-v, 1.0 + v);
    let p = simplex::project(y);
    let d = y - &p;
    let n = d.square().sum_dim_intlist(-1, true, Kind::Double).sqrt();
    let scale = (n.clamp_min(v) / v.max(f64::MIN_POSITIVE)).reciprocal();
    let y = if v > 0.0 { p + d * scale } else { p };
    (x, y)
}

/// Projected Adam for `n` iterations at violation `v`; labels are held fixed when `labels_fixed`. Returns the best
/// iterate and its error.
fn stage(p: &Problem, x: &Tensor, y: &Tensor, v: f64, n: usize, labels_fixed: bool) -> Result<(Tensor, Tensor, f64)> {
    let (mut x, mut y) = project(x, y, v);
    let (mut mx, mut my) = (Moments::new(&x), Moments::new(&y));
    let alpha0 = ALPHA * (1.0 + 2.0 * v);
    let mut best: Option<(f64, Tensor, Tensor)> = None;
    for t in 1..=n {
        let (obj, gx, gy) = p.objective(&x, &y)?;
        if best.as_ref().is_none_or(|b| obj < b.0) {
            best = Some((obj, x.copy(), y.copy()));
        }
        let _guard = tch::no_grad_guard();
        let alpha = alpha0 * StepSchedule::CosineRestarts { period: n }.factor(t);
        let nx = mx.step(&x, &gx, t as i32, alpha);
        let ny = if labels_fixed {
            y.shallow_clone()
        } else {
            my.step(&y, &gy, t as i32, alpha)
        };
        (x, y) = project(&nx, &ny, v);
    }
    let (obj, _, _) = p.objective(&x, &y)?;
    match best {
        Some((b, bx, by)) if b < obj => Ok((bx, by, b)),
        _ => Ok((x, y, obj)),
    }
}

/// The search's report and its two end batches' inputs (on the device).
pub struct DomainOutcome {
    /// What it found.
    pub report: DomainReport,
    /// Inputs of the best batch in the domain with soft labels.
    pub soft_x: Tensor,
    /// Its labels.
    pub soft_y: Tensor,
    /// Inputs of the best batch in the domain with one-hot labels.
    pub hard_x: Tensor,
    /// Its labels.
    pub hard_y: Tensor,
}

/// Inputs of up to `n` examples of `ds` (its first), in f64 on `device`: the pool [`search`] measures distances
/// between real inputs in.
pub fn pool(ds: &forgebench_shared::data::Dataset, n: usize, device: tch::Device) -> Result<Tensor> {
    let idx: Vec<usize> = (0..ds.n.min(n)).collect();
    Ok(Batch::gather(ds, &idx, device, forgebench_shared::experiment::Precision::F64)?.x)
}

/// Walks from `(x0, y0)` into the domain with `iterations` Adam steps in all; `pool` (inputs of the data set) gives
/// the scale of distances between real inputs.
pub fn search(
    p: &Problem,
    start: &str,
    x0: &Tensor,
    y0: &Tensor,
    iterations: usize,
    pool: &Tensor,
) -> Result<DomainOutcome> {
    let (x0, y0) = (x0.to_kind(Kind::Double), y0.to_kind(Kind::Double));
    let v0 = violation(&x0, &y0);
    // A start within rounding of the domain (a projected run's batch) walks nowhere: it only polishes at v = 0.
    let mut levels: Vec<f64> = if v0 > 1e-12 {
        (1..=STAGES)
            .map(|k| v0 * LAST_RELATIVE.powf(k as f64 / STAGES as f64))
            .collect()
    } else {
        Vec::new()
    };
    levels.push(0.0);
    // The relaxed stages, the stage at v = 0 and the one-hot stage share the iterations.
    let per = (iterations / (levels.len() + 1)).max(1);
    let (start_error, _, _) = p.objective(&x0, &y0)?;
    let mut path = vec![DomainPoint {
        violation: v0,
        error_l2: start_error,
    }];
    let (mut x, mut y) = (x0, y0);
    let mut bar = crate::progress::Progress::new("domain search: stages", levels.len() + 1);
    for (k, &v) in levels.iter().enumerate() {
        bar.update(k);
        let (bx, by, e) = stage(p, &x, &y, v, per, false)?;
        path.push(DomainPoint {
            violation: v,
            error_l2: e,
        });
        (x, y) = (bx, by);
    }
    let soft = p.measure(&x, &y)?;
    let hard_y = y.argmax(-1, false).one_hot(y.size()[1]).to_kind(Kind::Double);
    bar.update(levels.len());
    let (hx, hy, _) = stage(p, &x, &hard_y, 0.0, per, true)?;
    bar.update(levels.len() + 1);
    let hard = p.measure(&hx, &hy)?;
    let report = DomainReport {
        start: start.into(),
        iterations: per * (levels.len() + 1),
        path,
        soft,
        hard,
        real_neighbour_distance: neighbour_distance(&p.real.x, pool),
    };
    Ok(DomainOutcome {
        report,
        soft_x: x,
        soft_y: y,
        hard_x: hx,
        hard_y: hy,
    })
}
