//! Search forging with naive scoring, for models whose batch gradient is not a mean of per-example gradients
//! (VGGmini: BatchNorm normalises each example with its batch's statistics, so no Gram expansion exists). Every
//! candidate batch, and every candidate swap of the local search, is scored by a real forward and backward pass of
//! the update kernel and measured in f64 exactly as a verifier would; the scores are therefore already exact and
//! need no re-scoring.
//!
//! Cost: greedy spends M backward passes of b examples per step. Local search is the same best-improvement search
//! as the Gram one, but each move scans all b (n - b) swaps with a backward pass each (40,000 passes per move at
//! b = 100, n = 500), so it is bounded by its move budget and the step's local deadline, which is also checked
//! between swaps: a scan cut short still applies the best improving swap it found.
use super::greedy::{self, draw_pool};
use super::local::LocalResult;
use super::naive::Exact;
use super::step::{norm_of, SearchParams, StepOutcome};
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
use tch::Device;

/// Forges step `index` like `forge_step`, but scores every candidate with a real backward pass. Draws the pool and
/// the candidates from `rng` exactly as the Gram path does, so on a separable model both examine the same batches.
#[allow(clippy::too_many_arguments)]
pub fn forge_step_naive(
    model: ModelKind,
    target: &StepTarget,
    ds: &Dataset,
    exclude: &HashSet<usize>,
    params: &SearchParams,
    rng: &mut PortableRng,
    device: Device,
    index: usize,
) -> Result<StepOutcome> {
    let t0 = Instant::now();
    let (n, b, m) = (params.pool, params.batch_size, params.candidates);
    let pool = draw_pool(ds, exclude, n, rng)?;
    if b == 0 || b > n {
        return Err(WorkerError::Invalid(format!(
            "batch size {b} must lie in 1..={n} (the pool size)"
        )));
    }
    let exact = Exact::new(model, target, device)?;
    let setup_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let data = |s: &[usize]| -> Vec<usize> { s.iter().map(|&p| pool[p]).collect() };
    let measure = |s: &[usize]| exact.measure(ds, &data(s));
    // `greedy::search` keeps the first of equal scores, so the best measures are replaced only on a strict decrease;
    // NaN ranks last in both.
    let mut best: Option<ErrorMeasures> = None;
    let found = greedy::search(n, b, m, 1, rng, params.greedy_deadline, |s| {
        let e = measure(s)?;
        let v = norm_of(&e, params.norm);
        let v = if v.is_nan() { f64::INFINITY } else { v };
        if best.as_ref().is_none_or(|x| v < norm_of(x, params.norm)) {
            best = Some(e);
        }
        Ok(v)
    })?;
    let (greedy_err, greedy_batch) = match (best, found.best.first()) {
        (Some(e), Some(s)) => (e, s.clone()),
        _ => {
            return Err(WorkerError::Invalid(
                "greedy search scored no candidate (M = 0?)".into(),
            ))
        }
    };
    let (mut local, mut moves, mut local_trace, mut batch) = (None, 0, Vec::new(), greedy_batch.clone());
    if params.local_moves > 0 && params.norm == SearchNorm::L2 {
        let (r, e) = local_search_exact(
            n,
            &greedy_batch,
            greedy_err,
            params.local_moves,
            params.local_deadline,
            measure,
        )?;
        local = Some(e);
        (moves, local_trace, batch) = (r.moves, r.trace, r.batch);
    }
    let step = ForgedStep {
        step: index,
        greedy: greedy_err,
        local,
        batch: data(&batch),
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

/// Best-improvement swap search over pool positions `0..n` from `start` (measured as `start_err`), scoring each swap
/// with `measure`, within `max_moves` accepted moves and an optional deadline. Returns the result (its trace holds
/// exact squared L2 errors) and the final batch's measures; a swap is accepted only if it strictly lowers the L2
/// error, so the search never ends above its start.
pub fn local_search_exact(
    n: usize,
    start: &[usize],
    start_err: ErrorMeasures,
    max_moves: usize,
    deadline: Option<Instant>,
    mut measure: impl FnMut(&[usize]) -> Result<ErrorMeasures>,
) -> Result<(LocalResult, ErrorMeasures)> {
    let mut s = start.to_vec();
    let mut in_s = vec![false; n];
    for &j in &s {
        in_s[j] = true;
    }
    let mut cur = start_err;
    let mut trace = vec![cur.l2_sq];
    let (mut moves, mut evaluated) = (0, 0);
    let late = || deadline.is_some_and(|d| Instant::now() >= d);
    let mut cut = false;
    while moves < max_moves && !cut && !late() {
        let mut best: Option<(ErrorMeasures, usize, usize)> = None;
        'scan: for pos in 0..s.len() {
            for q in (0..n).filter(|&q| !in_s[q]) {
                if late() {
                    cut = true;
                    break 'scan;
                }
                let mut cand = s.clone();
                cand[pos] = q;
                let e = measure(&cand)?;
                evaluated += 1;
                if e.l2 < best.as_ref().map_or(cur.l2, |b| b.0.l2) {
                    best = Some((e, pos, q));
                }
            }
        }
        let Some((e, pos, q)) = best else { break };
        in_s[s[pos]] = false;
        in_s[q] = true;
        s[pos] = q;
        trace.push(e.l2_sq);
        cur = e;
        moves += 1;
    }
    let result = LocalResult {
        batch: s,
        trace,
        moves,
        evaluated,
    };
    Ok((result, cur))
}
