//! The surrogate-scoring benchmark on VGGmini: one logged step (theta drawn from the seed, a real batch of b), a
//! pool of n points. It measures the surrogate's one-time cost (the pool's BatchNorm statistics and n sketched
//! per-example gradients), candidates per second of surrogate and of naive scoring (a real backward pass each), the
//! rank agreement of the two on a sample of candidates (Spearman's rho), greedy search with each at the same wall-
//! clock budget judged by its exact error, and the time of verified local-search moves.
use super::greedy;
use super::naive::Exact;
use super::step::{forge_step, Scoring, SearchParams};
use super::surrogate;
use super::StepTarget;
use crate::error::Result;
use crate::models::draw_theta;
use crate::update::{sgd_update, Batch};
use crate::{datasets, tensors};
use clap::Args;
use forgebench_shared::experiment::{DatasetKind, ModelKind, Precision};
use forgebench_shared::jobs::SearchNorm;
use forgebench_shared::rng::PortableRng;
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Benchmark parameters.
#[derive(Debug, Clone, Args)]
pub struct SurrogateArgs {
    /// Batch size b.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Pool size n.
    #[arg(long, default_value_t = 500)]
    pub pool: usize,
    /// Candidates scored by the surrogate for its rate.
    #[arg(long, default_value_t = 20_000)]
    pub candidates: usize,
    /// Candidates scored both ways (naive rate and rank agreement).
    #[arg(long, default_value_t = 20)]
    pub sample: usize,
    /// Wall-clock budget of each greedy search, set-up included (seconds).
    #[arg(long, default_value_t = 300.0)]
    pub budget_s: f64,
    /// Verified local-search moves timed after the surrogate greedy search.
    #[arg(long, default_value_t = 3)]
    pub local_moves: usize,
    /// Seed of theta, the logged batch, the pool and the candidates.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct SurrogateReport {
    /// Batch size b.
    pub batch_size: usize,
    /// Pool size n.
    pub pool: usize,
    /// libtorch intra-op threads.
    pub threads: i32,
    /// Sketch buckets.
    pub sketch_dim: i64,
    /// Seconds to build the surrogate of the pool.
    pub setup_s: f64,
    /// Surrogate candidates per second.
    pub surrogate_per_s: f64,
    /// Naive candidates per second.
    pub naive_per_s: f64,
    /// surrogate_per_s / naive_per_s.
    pub scoring_ratio: f64,
    /// Spearman's rho between surrogate and exact scores on the sample.
    pub spearman: f64,
    /// Whether the sample's exact best is the surrogate's best.
    pub same_best: bool,
    /// Greedy with naive scoring: candidates and exact L2.
    pub naive_greedy: (usize, f64),
    /// Greedy with the surrogate: candidates ranked, how many of its best were re-scored exactly, and the exact L2
    /// of its pick.
    pub surrogate_greedy: (usize, usize, f64),
    /// Verified local moves made, their seconds and the exact L2 after them.
    pub local: (usize, f64, f64),
    /// Seconds per verified move (NaN when none was made).
    pub seconds_per_move: f64,
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    for (rank, &i) in idx.iter().enumerate() {
        r[i] = rank as f64;
    }
    r
}

/// Spearman's rank correlation (no ties expected among continuous scores; NaN for fewer than two).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let d2: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

/// Runs the benchmark on CIFAR-10 under `data_dir`.
pub fn run(args: &SurrogateArgs, data_dir: &Path, device: tch::Device) -> Result<SurrogateReport> {
    let model = ModelKind::Vggmini;
    let ds = datasets::train(DatasetKind::Cifar10, data_dir)?;
    let b = args.batch_size;
    let theta = tensors::from_f32(&draw_theta(model, args.seed, 0), device);
    let idx = PortableRng::derived(args.seed, "bench-batch", 0).sample_indices(ds.n, b);
    let real = Batch::gather(&ds, &idx, device, Precision::F32)?;
    let u = sgd_update(model, &theta, &real, 0.01)?;
    let target = StepTarget {
        theta,
        theta_next: u.theta_next,
        eta: 0.01,
    };
    let exclude: HashSet<usize> = idx.into_iter().collect();
    // Scoring rates and rank agreement on one pool.
    let mut rng = PortableRng::derived(args.seed, "bench-pool", 0);
    let pool = greedy::draw_pool(&ds, &exclude, args.pool, &mut rng)?;
    let t = Instant::now();
    let batch = Batch::gather(&ds, &pool, device, Precision::F32)?;
    let (_, gram) = surrogate::gram(&target, &batch.x, &batch.y, b, 0)?;
    let setup_s = t.elapsed().as_secs_f64();
    let cands: Vec<Vec<usize>> = (0..args.candidates).map(|_| rng.sample_indices(args.pool, b)).collect();
    let t = Instant::now();
    let scores: Vec<f64> = cands.iter().map(|c| gram.error_sq(c)).collect();
    let surrogate_per_s = args.candidates as f64 / t.elapsed().as_secs_f64();
    let exact = Exact::new(model, &target, device)?;
    let sample = &cands[..args.sample.min(cands.len())];
    let t = Instant::now();
    let data = |c: &[usize]| -> Vec<usize> { c.iter().map(|&p| pool[p]).collect() };
    let exact_scores: Vec<f64> = sample
        .iter()
        .map(|c| Ok(exact.measure(&ds, &data(c))?.l2))
        .collect::<Result<_>>()?;
    let naive_per_s = sample.len() as f64 / t.elapsed().as_secs_f64();
    let sur: Vec<f64> = scores[..sample.len()].iter().map(|v| v.sqrt()).collect();
    let argmin = |v: &[f64]| (0..v.len()).min_by(|&i, &j| v[i].total_cmp(&v[j]));
    let same_best = !sur.is_empty() && argmin(&sur) == argmin(&exact_scores);
    // Greedy at equal wall time (deadlines are absolute, so the surrogate's set-up counts against its budget).
    let greedy = |scoring: Scoring, m: usize, keep: usize, moves: usize| -> Result<_> {
        let params = SearchParams {
            batch_size: b,
            pool: args.pool,
            candidates: m,
            keep,
            local_moves: moves,
            norm: SearchNorm::L2,
            greedy_deadline: Some(Instant::now() + Duration::from_secs_f64(args.budget_s)),
            local_deadline: None,
            scoring: Some(scoring),
        };
        let mut rng = PortableRng::derived(args.seed, "bench-greedy", 0);
        forge_step(model, &target, &ds, &exclude, &params, &mut rng, device, 0)
    };
    let naive = greedy(Scoring::Naive, usize::MAX / 2, 1, 0)?;
    // The surrogate ranks `candidates` in moments; the budget left after its set-up goes to re-scoring its best
    // exactly, as many as naive scoring would score in that time.
    let keep = (((args.budget_s - setup_s) * naive_per_s).floor() as usize).clamp(1, args.candidates);
    let sur_run = greedy(Scoring::Surrogate, args.candidates, keep, args.local_moves)?;
    let local_l2 = sur_run.step.local.map_or(f64::NAN, |e| e.l2);
    // The local phase's time: what the run took beyond its greedy phase (set-up, ranking, `keep` exact passes).
    let greedy_s = setup_s + keep as f64 / naive_per_s;
    let local_s = (sur_run.setup_seconds + sur_run.search_seconds - greedy_s).max(0.0);
    let moves = sur_run.step.moves;
    Ok(SurrogateReport {
        batch_size: b,
        pool: args.pool,
        threads: tch::get_num_threads(),
        sketch_dim: surrogate::SKETCH_DIM,
        setup_s,
        surrogate_per_s,
        naive_per_s,
        scoring_ratio: surrogate_per_s / naive_per_s,
        spearman: spearman(&sur, &exact_scores),
        same_best,
        naive_greedy: (naive.step.candidates_scored, naive.step.greedy.l2),
        surrogate_greedy: (sur_run.step.candidates_scored, keep, sur_run.step.greedy.l2),
        local: (moves, local_s, local_l2),
        seconds_per_move: if moves > 0 { local_s / moves as f64 } else { f64::NAN },
    })
}
