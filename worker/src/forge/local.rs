//! Local search beyond greedy: from a start batch S, repeatedly make the best swap of one member p for one pool
//! point q outside S, until no swap improves or the move or time budget is spent.
//!
//! With r_j = sum_{k in S} K_jk kept for every pool point, the change of the squared error of a swap is
//!   delta(p, q) = 2c (a_p - a_q) + c^2 (2 r_q - 2 r_p + K_pp + K_qq - 2 K_pq),
//! O(1) per candidate swap; an accepted swap updates r in O(n). Every accepted move strictly lowers the predicted
//! error, so the search never ends above its start.
use super::gram::Gram;
use std::time::Instant;

/// Outcome of a local search.
#[derive(Debug, Clone)]
pub struct LocalResult {
    /// Final batch (pool positions).
    pub batch: Vec<usize>,
    /// Predicted squared L2 error after each accepted move; entry 0 is the start.
    pub trace: Vec<f64>,
    /// Accepted moves.
    pub moves: usize,
    /// Candidate swaps evaluated.
    pub evaluated: usize,
}

/// Best-improvement swap search from `start` within `max_moves` moves and an optional deadline.
pub fn local_search(gram: &Gram, start: &[usize], max_moves: usize, deadline: Option<Instant>) -> LocalResult {
    let (n, c) = (gram.n, gram.c);
    let mut s = start.to_vec();
    let mut in_s = vec![false; n];
    for &j in &s {
        in_s[j] = true;
    }
    let mut r: Vec<f64> = (0..n).map(|j| s.iter().map(|&k| gram.kk(j, k)).sum()).collect();
    let (mut a_sum, mut q_sum) = gram.sums(&s);
    let mut trace = vec![gram.error_sq_from(a_sum, q_sum)];
    // Improvements below this are rounding noise of the expanded form, not progress.
    let tol = gram.d_sq * 1e-13;
    let (mut moves, mut evaluated) = (0, 0);
    while moves < max_moves && deadline.is_none_or(|d| Instant::now() < d) {
        let term_q: Vec<f64> = (0..n)
            .map(|q| -2.0 * c * gram.a[q] + c * c * (2.0 * r[q] + gram.kk(q, q)))
            .collect();
        let mut best = (0.0, usize::MAX, usize::MAX);
        for (pos, &p) in s.iter().enumerate() {
            let base = 2.0 * c * gram.a[p] + c * c * (gram.kk(p, p) - 2.0 * r[p]);
            let row = &gram.k[p * n..(p + 1) * n];
            for q in 0..n {
                if in_s[q] {
                    continue;
                }
                let delta = base + term_q[q] - 2.0 * c * c * row[q];
                if delta < best.0 {
                    best = (delta, pos, q);
                }
            }
            evaluated += n - s.len();
        }
        let (delta, pos, q) = best;
        if pos == usize::MAX || delta > -tol {
            break;
        }
        let p = s[pos];
        q_sum += (delta - 2.0 * c * (gram.a[p] - gram.a[q])) / (c * c);
        a_sum += gram.a[q] - gram.a[p];
        for (j, rj) in r.iter_mut().enumerate() {
            *rj += gram.kk(j, q) - gram.kk(j, p);
        }
        s[pos] = q;
        in_s[p] = false;
        in_s[q] = true;
        moves += 1;
        trace.push(gram.error_sq_from(a_sum, q_sum));
    }
    LocalResult {
        batch: s,
        trace,
        moves,
        evaluated,
    }
}
