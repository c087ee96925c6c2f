//! Forging one logged step: pool, greedy search, exact re-score of the best few, then optional local search. Models
//! whose batch gradient is a mean of per-example gradients are scored through the Gram products; VGGmini through
//! the Gram products of its surrogate (`surrogate`), every local move then confirmed exactly; any model can be
//! scored by a real backward pass per candidate (`naive_step`).
use super::greedy::{self, Pool};
use super::local::local_search;
use super::local_exact;
use super::naive::Exact;
use super::naive_step::forge_step_naive;
use super::StepTarget;
use crate::error::{Result, WorkerError};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::jobs::SearchNorm;
use forgebench_shared::measures::ErrorMeasures;
use forgebench_shared::results::ForgedStep;
use forgebench_shared::rng::PortableRng;
use std::collections::HashSet;
use std::time::Instant;
use tch::{Device, Kind};

/// How hard a step is searched.
#[derive(Debug, Clone)]
pub struct SearchParams {
    /// Batch size b of the forged batch.
    pub batch_size: usize,
    /// Pool size n.
    pub pool: usize,
    /// Candidates M.
    pub candidates: usize,
    /// Greedy candidates re-scored exactly.
    pub keep: usize,
    /// Local-search move budget (0: greedy only; L2 only).
    pub local_moves: usize,
    /// Norm minimised.
    pub norm: SearchNorm,
    /// Wall-clock limit of the greedy phase.
    pub greedy_deadline: Option<Instant>,
    /// Wall-clock limit of the local phase.
    pub local_deadline: Option<Instant>,
    /// How candidates are scored (None: [`Scoring::for_model`]).
    pub scoring: Option<Scoring>,
}

/// A forged step with its timings.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// The report entry.
    pub step: ForgedStep,
    /// Seconds for the pool: its per-example gradients and Gram products (Gram scoring), or its draw alone (naive).
    pub setup_seconds: f64,
    /// Seconds of candidate scoring and local search (exact re-scores included).
    pub search_seconds: f64,
    /// Squared L2 error after each local move (entry 0: the greedy start), predicted (Gram) or exact (naive).
    pub local_trace: Vec<f64>,
}

pub use forgebench_shared::results::Scoring;

/// The searched norm of a measured error.
pub(super) fn norm_of(m: &ErrorMeasures, norm: SearchNorm) -> f64 {
    match norm {
        SearchNorm::L2 => m.l2,
        SearchNorm::Linf => m.linf,
    }
}

/// Forges step `index` (theta_i -> theta_{i+1}) with a batch drawn from `ds` outside `exclude`, scored as
/// `params.scoring` says (by default as [`Scoring::for_model`] does).
#[allow(clippy::too_many_arguments)]
pub fn forge_step(
    model: ModelKind,
    target: &StepTarget,
    ds: &Dataset,
    exclude: &HashSet<usize>,
    params: &SearchParams,
    rng: &mut PortableRng,
    device: Device,
    index: usize,
) -> Result<StepOutcome> {
    let scoring = params.scoring.unwrap_or(Scoring::for_search(model, params.norm));
    let t0 = Instant::now();
    let pool = match scoring {
        Scoring::Naive => return forge_step_naive(model, target, ds, exclude, params, rng, device, index),
        Scoring::Gram if !model.per_example_separable() => {
            return Err(WorkerError::Invalid(format!(
                "{model} has no per-example gradients for Gram scoring (BatchNorm couples the batch): score it \
                 naively or by the surrogate"
            )))
        }
        Scoring::Gram => Pool::build(model, target, ds, exclude, params.pool, params.batch_size, rng, device)?,
        Scoring::Surrogate if model != ModelKind::Vggmini => {
            return Err(WorkerError::Invalid(format!(
                "the surrogate scores VGGmini, not {model} (whose own per-example gradients are exact)"
            )))
        }
        Scoring::Surrogate if params.norm == SearchNorm::Linf => {
            return Err(WorkerError::Invalid(
                "the surrogate's sketch keeps inner products, not coordinates: it scores L2 searches only".into(),
            ))
        }
        Scoring::Surrogate => Pool::build_surrogate(target, ds, exclude, params, rng, device, index)?,
    };
    let setup_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let (n, b, m, keep) = (params.pool, params.batch_size, params.candidates, params.keep.max(1));
    let found = match params.norm {
        SearchNorm::L2 => greedy::search(n, b, m, keep, rng, params.greedy_deadline, |s| {
            Ok(pool.gram.error_sq(s))
        })?,
        SearchNorm::Linf => {
            let g64 = pool.g.f_to_kind(Kind::Double)?;
            let d64 = target.step_f64()?;
            let c = pool.gram.c;
            greedy::search(n, b, m, keep, rng, params.greedy_deadline, |s| {
                greedy::linf_score(&g64, &d64, c, s)
            })?
        }
    };
    let exact = Exact::new(model, target, device)?;
    let mut best: Option<(ErrorMeasures, Vec<usize>)> = None;
    for cand in &found.best {
        let e = exact.measure(ds, &pool.data_indices(cand))?;
        if best
            .as_ref()
            .is_none_or(|(b, _)| norm_of(&e, params.norm) < norm_of(b, params.norm))
        {
            best = Some((e, cand.clone()));
        }
    }
    let (greedy_err, greedy_batch) =
        best.ok_or_else(|| WorkerError::Invalid("greedy search scored no candidate (M = 0?)".into()))?;
    let (mut local, mut moves, mut local_trace, mut batch) = (None, 0, Vec::new(), greedy_batch.clone());
    if params.local_moves > 0 && params.norm == SearchNorm::L2 {
        let r = if scoring == Scoring::Surrogate {
            // The surrogate proposes; a real backward pass decides each move.
            let exact_l2 = |s: &[usize]| Ok(exact.measure(ds, &pool.data_indices(s))?.l2);
            local_exact::local_search_verified(
                &pool.gram,
                &greedy_batch,
                params.local_moves,
                params.local_deadline,
                exact_l2,
            )?
        } else {
            local_search(&pool.gram, &greedy_batch, params.local_moves, params.local_deadline)
        };
        local = Some(exact.measure(ds, &pool.data_indices(&r.batch))?);
        (moves, local_trace, batch) = (r.moves, r.trace, r.batch);
    }
    let step = ForgedStep {
        step: index,
        greedy: greedy_err,
        local,
        batch: pool.data_indices(&batch),
        candidates_scored: found.scored,
        moves,
        exact_arm: None,
    };
    Ok(StepOutcome {
        step,
        setup_seconds,
        search_seconds: t1.elapsed().as_secs_f64(),
        local_trace,
    })
}
