//! Greedy search forging (Thudi et al. 2022; Kong et al. 2023): draw a pool of n points from D' = D \ U, draw M
//! random candidate batches of size b from it, and keep the candidates that best reproduce the logged step. Scores
//! come from the Gram products (L2) or from summed per-example gradient rows (Linf, which does not expand); the
//! few best are re-scored exactly by the caller. Models without per-example gradients score each candidate with a
//! real backward pass instead (`naive_step`), through the same pool draw and candidate stream.
use super::gram::Gram;
use super::pergrad;
use super::StepTarget;
use crate::error::{Result, WorkerError};
use crate::update::Batch;
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::rng::PortableRng;
use std::collections::HashSet;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// A step's pool: n training indices outside U, their per-example gradients and the Gram products.
pub struct Pool {
    /// Training-set indices of the pool points (pool position -> data index).
    pub indices: Vec<usize>,
    /// Per-example gradients `[n, P]` in theta's kind (for the surrogate: their sketches, `[n, 4096]` in f64).
    pub g: Tensor,
    /// Gram products for batch size b.
    pub gram: Gram,
}

impl Pool {
    /// Draws `n` points of `ds` outside `exclude` and computes their gradients at theta_i.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        model: ModelKind,
        target: &StepTarget,
        ds: &Dataset,
        exclude: &HashSet<usize>,
        n: usize,
        b: usize,
        rng: &mut PortableRng,
        device: Device,
    ) -> Result<Pool> {
        let indices = draw_pool(ds, exclude, n, rng)?;
        let precision = target.precision();
        let batch = Batch::gather(ds, &indices, device, precision)?;
        let g = pergrad::per_example(model, &target.theta, &batch.x, &batch.y)?;
        let gram = Gram::new(&g, &target.step_f64()?, target.eta, b)?;
        Ok(Pool { indices, g, gram })
    }

    /// Draws the pool as [`Pool::build`] does and scores it by VGGmini's surrogate (see `surrogate`); the sketch is
    /// seeded by the step `index`.
    pub fn build_surrogate(
        target: &StepTarget,
        ds: &Dataset,
        exclude: &HashSet<usize>,
        params: &super::step::SearchParams,
        rng: &mut PortableRng,
        device: Device,
        index: usize,
    ) -> Result<Pool> {
        if params.batch_size == 0 || params.batch_size > params.pool {
            return Err(WorkerError::Invalid(format!(
                "batch size {} must lie in 1..={} (the pool size)",
                params.batch_size, params.pool
            )));
        }
        let indices = draw_pool(ds, exclude, params.pool, rng)?;
        let precision = target.precision();
        let batch = Batch::gather(ds, &indices, device, precision)?;
        let (g, gram) = super::surrogate::gram(target, &batch.x, &batch.y, params.batch_size, index as u64)?;
        Ok(Pool { indices, g, gram })
    }

    /// Data indices of a batch of pool positions.
    pub fn data_indices(&self, s: &[usize]) -> Vec<usize> {
        s.iter().map(|&p| self.indices[p]).collect()
    }
}

/// Draws `n` distinct training indices of `ds` outside `exclude` (pool position -> data index). Gram and naive
/// scoring draw their pools, and then their candidates, from the same stream, so one seed gives both the same search.
pub fn draw_pool(ds: &Dataset, exclude: &HashSet<usize>, n: usize, rng: &mut PortableRng) -> Result<Vec<usize>> {
    let allowed: Vec<usize> = (0..ds.n).filter(|i| !exclude.contains(i)).collect();
    if n > allowed.len() {
        return Err(WorkerError::Invalid(format!(
            "pool of {n} requested but only {} examples lie outside the excluded set",
            allowed.len()
        )));
    }
    Ok(rng
        .sample_indices(allowed.len(), n)
        .into_iter()
        .map(|p| allowed[p])
        .collect())
}

/// The best candidates of a greedy search, best first.
#[derive(Debug, Clone)]
pub struct Greedy {
    /// Pool positions of the kept candidates.
    pub best: Vec<Vec<usize>>,
    /// Their predicted scores (squared L2, or Linf), ascending.
    pub scores: Vec<f64>,
    /// Candidates scored.
    pub scored: usize,
}

/// Scores up to `m` random candidates of `b` positions out of `n` (stopping early at `deadline`), keeping the
/// `keep` lowest scores.
pub fn search(
    n: usize,
    b: usize,
    m: usize,
    keep: usize,
    rng: &mut PortableRng,
    deadline: Option<Instant>,
    mut score: impl FnMut(&[usize]) -> Result<f64>,
) -> Result<Greedy> {
    let mut out = Greedy {
        best: Vec::new(),
        scores: Vec::new(),
        scored: 0,
    };
    for i in 0..m {
        if i % 32 == 0 && i > 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let cand = rng.sample_indices(n, b);
        let s = score(&cand)?;
        out.scored += 1;
        let pos = out.scores.partition_point(|&x| x <= s);
        if pos < keep {
            out.scores.insert(pos, s);
            out.best.insert(pos, cand);
            out.scores.truncate(keep);
            out.best.truncate(keep);
        }
    }
    Ok(out)
}

/// Linf score of a batch from gradient rows: max_p |d_p - c sum_{j in S} G_jp| (f64).
pub fn linf_score(g64: &Tensor, d64: &Tensor, c: f64, s: &[usize]) -> Result<f64> {
    let idx = Tensor::from_slice(&s.iter().map(|&j| j as i64).collect::<Vec<_>>()).to_device(g64.device());
    let sum = g64.f_index_select(0, &idx)?.f_sum_dim_intlist(0, false, None::<Kind>)?;
    Ok(d64
        .f_sub(&sum.f_mul_scalar(c)?)?
        .f_abs()?
        .f_max()?
        .f_double_value(&[])?)
}
