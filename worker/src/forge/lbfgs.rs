//! Optimisation forging with L-BFGS in place of Adam: the same synthetic batch, start and objective as
//! Algorithm 1 (||eta g(x', y') - eta g_B||_2, by double backpropagation), minimised as half its square by limited-
//! memory BFGS (Nocedal and Wright, Algorithm 7.4: the two-loop recursion over the last 10 curvature pairs) with a
//! backtracking Armijo line search. Every objective evaluation, line-search trials included, is a point of the
//! curve, and a run of I iterations makes I + 1 of them, as many as Adam's curve holds (I steps and the last
//! batch), so that the curves compare at equal cost; the best batch evaluated is kept, as a forger would. A line
//! search that fails along the quasi-Newton direction is retried once along steepest descent before the run stops.
//! The projected variant projects each trial point into the domain (pixels clamped to [0, 1], labels onto the
//! simplex) before evaluating it.
use super::adam::{error, objective, start_batch, AdamOutcome};
use super::simplex;
use crate::error::Result;
use crate::update::{gradient, Batch};
use forgebench_shared::jobs::AdamSpec;
use std::collections::VecDeque;
use tch::{Kind, Tensor};

/// Curvature pairs kept.
pub const HISTORY: usize = 10;
/// Armijo's sufficient-decrease constant.
const C1: f64 = 1e-4;
/// Without curvature information, the first trial moves the largest coordinate by this much (a pixel scale).
const FIRST_MOVE: f64 = 0.1;
/// Halvings of one line search before giving up.
const MAX_HALVINGS: usize = 40;

struct Shapes {
    x: Vec<i64>,
    y: Vec<i64>,
    nx: i64,
}

impl Shapes {
    fn split(&self, z: &Tensor) -> (Tensor, Tensor) {
        let x = z.narrow(0, 0, self.nx).view(self.x.as_slice());
        let y = z.narrow(0, self.nx, z.size()[0] - self.nx).view(self.y.as_slice());
        (x, y)
    }
}

fn dot(a: &Tensor, b: &Tensor) -> f64 {
    (a * b).sum(Kind::Double).double_value(&[])
}

/// -H g by the two-loop recursion, H_0 = (s.y / y.y) I from the newest pair.
fn direction(g: &Tensor, hist: &VecDeque<(Tensor, Tensor, f64)>) -> Tensor {
    let mut q = g.copy();
    let mut alphas = Vec::with_capacity(hist.len());
    for (s, y, rho) in hist.iter().rev() {
        let a = rho * dot(s, &q);
        q -= y * a;
        alphas.push(a);
    }
    if let Some((s, y, _)) = hist.back() {
        q *= dot(s, y) / dot(y, y);
    }
    for ((s, y, rho), a) in hist.iter().zip(alphas.into_iter().rev()) {
        let b = rho * dot(y, &q);
        q += s * (a - b);
    }
    -q
}

/// Runs L-BFGS forging as `spec` says (its iterations are the evaluation budget) at `theta` against `real`.
pub fn forge(spec: &AdamSpec, theta: &Tensor, real: &Batch) -> Result<AdamOutcome> {
    let (model, eta) = (spec.model, spec.eta);
    let target = gradient(model, theta, real)?.f_mul_scalar(eta)?.f_detach()?;
    let (x0, y0) = start_batch(spec.seed, real, theta.kind(), theta.device());
    let shapes = Shapes {
        x: x0.size(),
        y: y0.size(),
        nx: x0.numel() as i64,
    };
    let th = theta.f_detach()?.f_set_requires_grad(true)?;
    let project = |z: Tensor| -> Tensor {
        if !spec.projected {
            return z;
        }
        let (x, y) = shapes.split(&z);
        Tensor::cat(
            &[x.clamp(0.0, 1.0).flatten(0, -1), simplex::project(&y).flatten(0, -1)],
            0,
        )
    };
    // (f, grad of f^2 / 2) at z.
    let eval = |z: &Tensor| -> Result<(f64, Tensor)> {
        let (x, y) = shapes.split(z);
        let (gx, gy, f) = objective(model, &th, &x, &y, eta, &target)?;
        let _guard = tch::no_grad_guard();
        Ok((f, Tensor::cat(&[gx.flatten(0, -1), gy.flatten(0, -1)], 0) * f))
    };
    let _guard = tch::no_grad_guard();
    // The start batch lies in the domain already (as Adam's does): it is not projected, so both start alike.
    let mut z = Tensor::cat(&[x0.flatten(0, -1), y0.flatten(0, -1)], 0);
    let (mut f, mut g) = eval(&z)?;
    let mut evals = 1;
    let mut curve = vec![f];
    let mut best = (f, 0usize, z.copy());
    let mut hist: VecDeque<(Tensor, Tensor, f64)> = VecDeque::with_capacity(HISTORY);
    let budget = spec.iterations + 1;
    let mut retried = false;
    'outer: while evals < budget {
        let mut d = direction(&g, &hist);
        // Not a descent direction (or NaN): start again from steepest descent.
        if dot(&g, &d).partial_cmp(&0.0) != Some(std::cmp::Ordering::Less) {
            hist.clear();
            d = -&g;
        }
        let mut t = if hist.is_empty() {
            FIRST_MOVE / d.abs().max().double_value(&[]).max(f64::MIN_POSITIVE)
        } else {
            1.0
        };
        let mut halvings = 0;
        let (z_new, f_new, g_new) = loop {
            let trial = project(&z + &d * t);
            let (ft, gt) = eval(&trial)?;
            evals += 1;
            curve.push(ft);
            if ft < best.0 {
                best = (ft, curve.len() - 1, trial.copy());
            }
            let decrease = dot(&g, &(&trial - &z));
            if ft.is_finite() && 0.5 * ft * ft <= 0.5 * f * f + C1 * decrease {
                break (trial, ft, gt);
            }
            t *= 0.5;
            halvings += 1;
            if evals >= budget {
                break 'outer;
            }
            if halvings > MAX_HALVINGS {
                if hist.is_empty() || retried {
                    break 'outer;
                }
                // Forget the curvature pairs and try steepest descent from here.
                hist.clear();
                retried = true;
                continue 'outer;
            }
        };
        retried = false;
        let s = &z_new - &z;
        let yv = &g_new - &g;
        let sy = dot(&s, &yv);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&yv, &yv).sqrt() {
            if hist.len() == HISTORY {
                hist.pop_front();
            }
            hist.push_back((s, yv, 1.0 / sy));
        }
        (z, f, g) = (z_new, f_new, g_new);
    }
    // The last accepted iterate is the run's end (a rejected trial after it is not).
    let (x, y) = shapes.split(&z);
    let final_error = error(model, theta, &x, &y, eta, &target)?;
    // Curve values against curve values: the final measure rounds differently.
    let (best_iteration, best_error, x, y) = if best.0 < f {
        let (bx, by) = shapes.split(&best.2);
        (best.1, error(model, theta, &bx, &by, eta, &target)?, bx, by)
    } else {
        let at = curve.iter().rposition(|v| *v == f).unwrap_or(0);
        (at, final_error, x, y)
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
