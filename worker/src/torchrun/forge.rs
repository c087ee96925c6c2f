//! Forging one step of a PyTorch user's run against its own model and optimiser. The step's start is the run's
//! checkpoint (theta_i and the optimiser's state), its target the next checkpoint; every candidate is scored as a
//! verifier replays it (the module's gradient, then the optimiser's own kernel), so the errors reported are the
//! ones a verifier would see. Search draws its pool outside the logged batch (a forger claims those examples were
//! never used); optimisation forging (the paper's Algorithm 1) moves a synthetic batch by Adam through the module's
//! double backward and the optimiser's differentiable update.
use super::{verify, Checkpoint, TorchRun};
use crate::error::{Result, WorkerError};
use crate::forge::adam::{Moments, ALPHA};
use crate::forge::greedy::{self, draw_pool};
use crate::forge::naive_step::local_search_exact;
use crate::forge::simplex;
use crate::models::Net;
use crate::optim::{self, diff, OptState};
use crate::tensors;
use forgebench_shared::data::Dataset;
use forgebench_shared::measures::{measures, ErrorMeasures};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::rng::PortableRng;
use forgebench_shared::torch_forge::{SearchArm, SyntheticArm, TorchForgeReport};
use forgebench_shared::torchrun::{ParamInfo, Transform};
use std::collections::HashSet;
use tch::{Device, Kind, Tensor};

/// What to run against which step.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The step i to forge (checkpoints at i and i + 1 must exist).
    pub step: usize,
    /// Pool size n of the searches (0: no search).
    pub pool: usize,
    /// Greedy candidates M.
    pub candidates: usize,
    /// Local search's accepted swaps at most (0: none).
    pub local_moves: usize,
    /// Adam iterations of optimisation forging (0: none).
    pub synthetic_iterations: usize,
    /// Keep the synthetic batch in the data's range and its labels on the simplex.
    pub projected: bool,
    /// Seed of the pool, the candidates and the synthetic start.
    pub seed: u64,
}

/// One step's replay from its checkpoint, with the logged theta_{i+1} to measure against.
struct Step<'a> {
    net: &'a Net,
    run: &'a TorchRun,
    ds: &'a Dataset,
    params: Vec<ParamInfo>,
    start: &'a Checkpoint,
    next: Vec<f64>,
    logged_step: Vec<f64>,
    lr: f64,
    device: Device,
}

impl Step<'_> {
    fn theta(&self) -> Tensor {
        tensors::from_f32(&self.start.theta, self.device)
    }
    fn state(&self) -> OptState {
        OptState {
            step: self.start.optimizer_steps,
            buffers: self
                .start
                .state
                .iter()
                .map(|b| tensors::from_f32(b, self.device))
                .collect(),
        }
    }
    /// The optimiser's kernel applied to `grad` at theta_i, measured against the logged theta_{i+1}.
    fn error_of(&self, theta: &Tensor, grad: &Tensor) -> Result<ErrorMeasures> {
        optim::step(
            &self.run.optimizer,
            &self.params,
            theta,
            grad,
            &mut self.state(),
            self.lr,
        )?;
        let got = tensors::to_f64(theta)?;
        Ok(measures(&got, &self.next, Some(&self.logged_step)))
    }
    /// The error of the training examples `indices` (hard labels, the run's transform).
    fn measure(&self, indices: &[usize]) -> Result<ErrorMeasures> {
        let batch = verify::batch(self.ds, indices, self.run.dataset.transform, self.device)?;
        let theta = self.theta();
        let grad = self.net.gradient(&theta, &batch)?;
        self.error_of(&theta, &grad)
    }
    /// The error of a synthetic batch (inputs `x`, soft labels `q`).
    fn measure_soft(&self, x: &Tensor, q: &Tensor) -> Result<ErrorMeasures> {
        let theta = self.theta();
        let grad = self.net.soft_gradient(&theta, x, q, false)?;
        self.error_of(&theta, &grad)
    }
}

fn checkpoint_at(run: &TorchRun, at: usize, k: usize) -> Result<&Checkpoint> {
    run.checkpoints.iter().find(|c| c.step == at).ok_or_else(|| {
        let have: Vec<String> = run.checkpoints.iter().map(|c| c.step.to_string()).collect();
        WorkerError::Invalid(format!(
            "{}: forging step {k} needs checkpoints at steps {k} and {}, but the log holds steps [{}] (log every \
             step to forge any of them)",
            run.folder.display(),
            k + 1,
            have.join(", ")
        ))
    })
}

/// Runs `plan`'s attacks on `run`'s step with `net` on `device`.
pub fn forge(
    run: &TorchRun,
    net: &Net,
    ds: &Dataset,
    device: Device,
    plan: &Plan,
    provenance: Provenance,
) -> Result<TorchForgeReport> {
    let k = plan.step;
    let logged = run.batches.get(k).ok_or_else(|| {
        WorkerError::Invalid(format!(
            "{}: step {k} is past the log's last step {}",
            run.folder.display(),
            run.batches.len().saturating_sub(1)
        ))
    })?;
    let (start, end) = (checkpoint_at(run, k, k)?, checkpoint_at(run, k + 1, k)?);
    let next: Vec<f64> = end.theta.iter().map(|&v| f64::from(v)).collect();
    let logged_step = start
        .theta
        .iter()
        .zip(&end.theta)
        .map(|(&a, &b)| f64::from(a) - f64::from(b))
        .collect();
    let step = Step {
        net,
        run,
        ds,
        params: net.params(),
        start,
        next,
        logged_step,
        lr: run.lr[k],
        device,
    };
    let benign = step.measure(logged)?;
    let b = logged.len();
    let mut rng = PortableRng::derived(plan.seed, "torch-forge", k as u64);
    let (mut greedy_arm, mut local_arm) = (None, None);
    if plan.pool > 0 && plan.candidates > 0 {
        let exclude: HashSet<usize> = logged.iter().copied().collect();
        let pool = draw_pool(ds, &exclude, plan.pool, &mut rng)?;
        if b > pool.len() {
            return Err(WorkerError::Invalid(format!(
                "a pool of {} cannot hold a batch of {b}",
                pool.len()
            )));
        }
        let data = |s: &[usize]| -> Vec<usize> { s.iter().map(|&p| pool[p]).collect() };
        let mut best: Option<ErrorMeasures> = None;
        let found = greedy::search(pool.len(), b, plan.candidates, 1, &mut rng, None, |s| {
            let e = step.measure(&data(s))?;
            let v = if e.l2.is_nan() { f64::INFINITY } else { e.l2 };
            if best.as_ref().is_none_or(|x| v < x.l2) {
                best = Some(e);
            }
            Ok(v)
        })?;
        let (Some(err), Some(s)) = (best, found.best.first()) else {
            return Err(WorkerError::Invalid("greedy search scored no candidate".into()));
        };
        greedy_arm = Some(SearchArm {
            error: err,
            batch: data(s),
            evaluated: found.scored,
            moves: 0,
        });
        if plan.local_moves > 0 {
            let (r, e) = local_search_exact(pool.len(), s, err, plan.local_moves, None, |c| step.measure(&data(c)))?;
            local_arm = Some(SearchArm {
                error: e,
                batch: data(&r.batch),
                evaluated: r.evaluated,
                moves: r.moves,
            });
        }
    }
    let synthetic = if plan.synthetic_iterations > 0 {
        Some(synthetic(&step, logged, plan)?)
    } else {
        None
    };
    Ok(TorchForgeReport {
        log: run.folder.display().to_string(),
        layout: run.layout.clone(),
        model: net.identity(),
        optimizer: run.optimizer.clone(),
        dataset: run.dataset.clone(),
        step: k,
        lr: step.lr,
        batch_size: b,
        benign,
        greedy: greedy_arm,
        local: local_arm,
        synthetic,
        pool: plan.pool,
        seed: plan.seed,
        provenance,
    })
}

/// The range a synthetic input may take: the transform's image of [0, 1].
fn input_range(t: Transform) -> (f64, f64) {
    match t {
        Transform::Scaled => (0.0, 1.0),
        Transform::Normalize05 => (-1.0, 1.0),
    }
}

/// Algorithm 1 against the run's optimiser: Adam on (x', q') minimising ||theta_{i+1}(x', q') - logged||_2.
fn synthetic(step: &Step, logged: &[usize], plan: &Plan) -> Result<SyntheticArm> {
    let real = verify::batch(step.ds, logged, step.run.dataset.transform, step.device)?;
    let theta = step.theta();
    let classes = step.net.classes(&theta, &real.x)?;
    let shape = real.x.size();
    let b = shape[0];
    let (lo, hi) = input_range(step.run.dataset.transform);
    let mut rng = PortableRng::derived(plan.seed, "torch-forge-synthetic", plan.step as u64);
    let numel = shape.iter().product::<i64>() as usize;
    let mut x = Tensor::from_slice(&rng.uniform_f32(numel, lo, hi))
        .view(shape.as_slice())
        .to_device(step.device);
    let q = Tensor::from_slice(&rng.uniform_f32((b * classes) as usize, 0.0, 1.0))
        .view([b, classes])
        .to_device(step.device);
    let mut q = &q / q.sum_dim_intlist(-1, true, Kind::Float);
    let target = Tensor::from_slice(&step.next).to_device(step.device);
    let state = step.state();
    let (mut mx, mut mq) = (Moments::new(&x), Moments::new(&q));
    let mut curve = Vec::with_capacity(plan.synthetic_iterations + 1);
    let mut best: Option<(f64, usize, Tensor, Tensor)> = None;
    for t in 1..=plan.synthetic_iterations {
        let (gx, gq, obj) = tch::with_grad(|| -> Result<(Tensor, Tensor, f64)> {
            let xv = x.f_detach()?.f_set_requires_grad(true)?;
            let qv = q.f_detach()?.f_set_requires_grad(true)?;
            let g = step.net.soft_gradient(&theta, &xv, &qv, true)?;
            let th = diff::next_theta(&step.run.optimizer, &theta, &g, &state, step.lr)?;
            let obj = th
                .f_to_kind(Kind::Double)?
                .f_sub(&target)?
                .f_square()?
                .f_sum(Kind::Double)?
                .f_sqrt()?;
            let mut grads = Tensor::f_run_backward(&[&obj], &[&xv, &qv], false, false)?;
            let gq = grads.remove(1);
            Ok((grads.remove(0), gq, obj.f_double_value(&[])?))
        })?;
        curve.push(obj);
        if best.as_ref().is_none_or(|b| obj < b.0) {
            best = Some((obj, t - 1, x.copy(), q.copy()));
        }
        let _guard = tch::no_grad_guard();
        x = mx.step(&x, &gx, t as i32, ALPHA);
        q = mq.step(&q, &gq, t as i32, ALPHA);
        if plan.projected {
            x = x.clamp(lo, hi);
            q = simplex::project(&q);
        }
    }
    let last = step.measure_soft(&x, &q)?;
    curve.push(last.l2);
    let (best_iteration, error) = match best {
        Some((v, i, bx, bq)) if v < last.l2 => (i, step.measure_soft(&bx, &bq)?),
        _ => (plan.synthetic_iterations, last),
    };
    Ok(SyntheticArm {
        iterations: plan.synthetic_iterations,
        projected: plan.projected,
        curve_l2: curve,
        best_iteration,
        error,
    })
}
