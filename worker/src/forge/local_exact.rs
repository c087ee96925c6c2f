//! Local search for surrogate scoring: the Gram products of the surrogate propose swaps (the few with the largest
//! predicted decrease), and a swap is made only when a real backward pass confirms that the exact error falls; the
//! trace therefore holds exact errors, and the search never ends above its start.
use super::gram::Gram;
use super::local::LocalResult;
use crate::error::Result;
use std::time::Instant;

/// Proposals tried per move before the search stops (each costs one exact backward pass).
pub const TRIES: usize = 16;

/// The `tries` swaps (batch position, pool point, predicted change) with the largest predicted decrease.
fn proposals(gram: &Gram, s: &[usize], in_s: &[bool], tries: usize) -> Vec<(usize, usize, f64)> {
    let (n, c) = (gram.n, gram.c);
    let r: Vec<f64> = (0..n).map(|j| s.iter().map(|&k| gram.kk(j, k)).sum()).collect();
    let term_q: Vec<f64> = (0..n)
        .map(|q| -2.0 * c * gram.a[q] + c * c * (2.0 * r[q] + gram.kk(q, q)))
        .collect();
    let mut best: Vec<(usize, usize, f64)> = Vec::with_capacity(tries + 1);
    for (pos, &p) in s.iter().enumerate() {
        let base = 2.0 * c * gram.a[p] + c * c * (gram.kk(p, p) - 2.0 * r[p]);
        for q in (0..n).filter(|&q| !in_s[q]) {
            let delta = base + term_q[q] - 2.0 * c * c * gram.kk(p, q);
            if delta < 0.0 && (best.len() < tries || delta < best[best.len() - 1].2) {
                let at = best.partition_point(|b| b.2 <= delta);
                best.insert(at, (pos, q, delta));
                best.truncate(tries);
            }
        }
    }
    best
}

/// Best-improvement swaps from `start`, each confirmed by `exact` (the exact L2 error of a batch of pool
/// positions), within `max_moves` moves and an optional deadline.
pub fn local_search_verified(
    gram: &Gram,
    start: &[usize],
    max_moves: usize,
    deadline: Option<Instant>,
    mut exact: impl FnMut(&[usize]) -> Result<f64>,
) -> Result<LocalResult> {
    let mut s = start.to_vec();
    let mut in_s = vec![false; gram.n];
    for &j in &s {
        in_s[j] = true;
    }
    let mut current = exact(&s)?;
    let mut trace = vec![current * current];
    let (mut moves, mut evaluated) = (0, 0);
    let mut bar = crate::progress::Progress::new("verified local search: moves", max_moves);
    'moves: while moves < max_moves && deadline.is_none_or(|d| Instant::now() < d) {
        evaluated += s.len() * (gram.n - s.len());
        for (pos, q, _) in proposals(gram, &s, &in_s, TRIES) {
            let mut trial = s.clone();
            trial[pos] = q;
            let e = exact(&trial)?;
            if e < current {
                in_s[s[pos]] = false;
                in_s[q] = true;
                (s, current) = (trial, e);
                moves += 1;
                trace.push(e * e);
                bar.update(moves);
                continue 'moves;
            }
        }
        break;
    }
    Ok(LocalResult {
        batch: s,
        trace,
        moves,
        evaluated,
    })
}
