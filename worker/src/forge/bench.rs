//! The Gram-scoring benchmark: one logged step (theta drawn from the seed, a real batch of b), a pool of n points;
//! the one-time cost (per-example gradients, K and a), candidates per second of Gram and of naive scoring (a real
//! forward and backward pass per candidate), and local search against greedy at the same wall-clock budget.
use super::greedy::{self, Pool};
use super::local::local_search;
use super::naive::Exact;
use super::pergrad;
use super::StepTarget;
use crate::error::Result;
use crate::models::draw_theta;
use crate::update::{sgd_update, Batch};
use crate::{datasets, tensors};
use clap::Args;
use forgebench_shared::experiment::{ModelKind, Precision};
use forgebench_shared::rng::PortableRng;
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Benchmark parameters.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Model (a separable one: logreg, logreg-bias, lenet5).
    #[arg(long, default_value = "lenet5")]
    pub model: ModelKind,
    /// Batch size b.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Pool size n.
    #[arg(long, default_value_t = 1000)]
    pub pool: usize,
    /// Candidates M scored with Gram.
    #[arg(long, default_value_t = 10_000)]
    pub candidates: usize,
    /// Candidates scored naively (the naive total for M is extrapolated from their rate).
    #[arg(long, default_value_t = 300)]
    pub naive_candidates: usize,
    /// Wall-clock budget (seconds after the pool set-up) of the greedy-versus-local comparison.
    #[arg(long, default_value_t = 10.0)]
    pub budget_s: f64,
    /// Greedy candidates before local search starts, in the comparison.
    #[arg(long, default_value_t = 1000)]
    pub local_start_candidates: usize,
    /// Seed of theta, the logged batch, the pool and the candidates.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Model.
    pub model: ModelKind,
    /// Batch size b.
    pub batch_size: usize,
    /// Pool size n.
    pub pool: usize,
    /// libtorch intra-op threads.
    pub threads: i32,
    /// Seconds for the n per-example gradients.
    pub pergrad_seconds: f64,
    /// Seconds for K = G G^T and a = G d in f64.
    pub gram_seconds: f64,
    /// Candidates scored with Gram (M).
    pub gram_candidates: usize,
    /// Gram scoring rate.
    pub gram_candidates_per_s: f64,
    /// Candidates scored naively.
    pub naive_candidates: usize,
    /// Naive scoring rate.
    pub naive_candidates_per_s: f64,
    /// Gram rate / naive rate.
    pub steady_state_ratio: f64,
    /// One-time cost + M / Gram rate.
    pub gram_total_s_for_m: f64,
    /// M / naive rate (extrapolated from `naive_candidates`).
    pub naive_total_s_for_m: f64,
    /// naive total / Gram total.
    pub total_ratio: f64,
    /// Wall-clock budget of the comparison.
    pub budget_s: f64,
    /// Greedy alone within the budget: candidates scored and exact L2 of its best.
    pub greedy_only_candidates: usize,
    /// Exact L2 of greedy's best.
    pub greedy_only_l2: f64,
    /// Greedy start then local search within the same budget.
    pub local_start_l2: f64,
    /// Local-search moves made.
    pub local_moves: usize,
    /// Exact L2 after local search.
    pub local_l2: f64,
}

fn best_exact(
    exact: &Exact,
    ds: &forgebench_shared::data::Dataset,
    pool: &Pool,
    g: &greedy::Greedy,
) -> Result<(f64, Vec<usize>)> {
    let mut best = (f64::INFINITY, Vec::new());
    for c in &g.best {
        let e = exact.measure(ds, &pool.data_indices(c))?.l2;
        if e < best.0 {
            best = (e, c.clone());
        }
    }
    Ok(best)
}

/// Runs the benchmark on the training set under `data`.
pub fn run(a: &BenchArgs, data: &Path, device: tch::Device) -> Result<BenchReport> {
    let ds = datasets::train(a.model.default_dataset(), data)?;
    let theta = tensors::from_f32(&draw_theta(a.model, a.seed, 0), device);
    let idx = PortableRng::derived(a.seed, "bench-batch", 0).sample_indices(ds.n, a.batch_size);
    let u = sgd_update(
        a.model,
        &theta,
        &Batch::gather(&ds, &idx, device, Precision::F32)?,
        0.01,
    )?;
    let target = StepTarget {
        theta,
        theta_next: u.theta_next,
        eta: 0.01,
    };
    let exclude: HashSet<usize> = idx.into_iter().collect();
    let mut rng = PortableRng::derived(a.seed, "bench-pool", 0);
    // The pool as `Pool::build` draws it, with the two halves of the set-up timed separately.
    let allowed: Vec<usize> = (0..ds.n).filter(|i| !exclude.contains(i)).collect();
    let indices: Vec<usize> = rng
        .sample_indices(allowed.len(), a.pool)
        .into_iter()
        .map(|p| allowed[p])
        .collect();
    let pb = Batch::gather(&ds, &indices, device, Precision::F32)?;
    let t = Instant::now();
    let g = pergrad::per_example(a.model, &target.theta, &pb.x, &pb.y)?;
    let pergrad_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let gram = super::gram::Gram::new(&g, &target.step_f64()?, 0.01, a.batch_size)?;
    let gram_seconds = t.elapsed().as_secs_f64();
    let pool = Pool { indices, g, gram };
    let (n, b) = (a.pool, a.batch_size);
    let t = Instant::now();
    let gs = greedy::search(n, b, a.candidates, 4, &mut rng, None, |s| Ok(pool.gram.error_sq(s)))?;
    let gram_rate = gs.scored as f64 / t.elapsed().as_secs_f64();
    let exact = Exact::new(a.model, &target, device)?;
    let naive: Vec<Vec<usize>> = (0..a.naive_candidates)
        .map(|_| pool.data_indices(&rng.sample_indices(n, b)))
        .collect();
    let t = Instant::now();
    exact.scores(&ds, &naive)?;
    let naive_rate = a.naive_candidates as f64 / t.elapsed().as_secs_f64();
    let m = a.candidates as f64;
    let gram_total = pergrad_seconds + gram_seconds + m / gram_rate;
    let naive_total = m / naive_rate;
    // Same budget: greedy alone until the deadline, or a short greedy start then local search until the deadline.
    let budget = Duration::from_secs_f64(a.budget_s);
    let deadline = Instant::now() + budget;
    let g_only = greedy::search(n, b, usize::MAX, 4, &mut rng, Some(deadline), |s| {
        Ok(pool.gram.error_sq(s))
    })?;
    let (greedy_only_l2, _) = best_exact(&exact, &ds, &pool, &g_only)?;
    let deadline = Instant::now() + budget;
    let start = greedy::search(n, b, a.local_start_candidates, 4, &mut rng, Some(deadline), |s| {
        Ok(pool.gram.error_sq(s))
    })?;
    let (local_start_l2, start_batch) = best_exact(&exact, &ds, &pool, &start)?;
    let r = local_search(&pool.gram, &start_batch, usize::MAX, Some(deadline));
    let local_l2 = exact.measure(&ds, &pool.data_indices(&r.batch))?.l2;
    Ok(BenchReport {
        model: a.model,
        batch_size: b,
        pool: n,
        threads: tch::get_num_threads(),
        pergrad_seconds,
        gram_seconds,
        gram_candidates: gs.scored,
        gram_candidates_per_s: gram_rate,
        naive_candidates: a.naive_candidates,
        naive_candidates_per_s: naive_rate,
        steady_state_ratio: gram_rate / naive_rate,
        gram_total_s_for_m: gram_total,
        naive_total_s_for_m: naive_total,
        total_ratio: naive_total / gram_total,
        budget_s: a.budget_s,
        greedy_only_candidates: g_only.scored,
        greedy_only_l2,
        local_start_l2,
        local_moves: r.moves,
        local_l2,
    })
}
