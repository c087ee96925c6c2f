//! Which intervals of a Proof-of-Learning log a verifier replays (Jia et al. 2021, section 6): all of them, the Q
//! per epoch with the largest updates (the union over L1, L2, Linf and cosine distance between consecutive
//! checkpoints; Q = 2, as the public code), or k drawn at random. Replaying fewer intervals costs less and catches
//! a forged step only when its interval is chosen; the report says which were replayed and which failed.
use crate::rng::PortableRng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The public code's Q.
pub const DEFAULT_Q: usize = 2;

/// A verification strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Strategy {
    /// Every interval.
    Full,
    /// Per epoch, the `q` intervals with the largest update under each distance, their union.
    TopQ {
        /// Intervals per distance and epoch.
        q: usize,
    },
    /// `k` intervals drawn without replacement by the portable RNG from `seed`.
    Random {
        /// How many.
        k: usize,
        /// The draw's seed.
        seed: u64,
    },
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Full => write!(f, "full replay"),
            Strategy::TopQ { q } => write!(f, "top-{q} per epoch under L1, L2, Linf and cosine distance"),
            Strategy::Random { k, seed } => write!(f, "{k} random intervals (seed {seed})"),
        }
    }
}

/// L1, L2, Linf and cosine distance between two checkpoints, in f64.
pub fn distances(a: &[f32], b: &[f32]) -> [f64; 4] {
    let (mut l1, mut l2, mut linf, mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        let d = (x - y).abs();
        l1 += d;
        l2 += d * d;
        linf = linf.max(d);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let cos = if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        1.0 - dot / (na.sqrt() * nb.sqrt())
    };
    [l1, l2.sqrt(), linf, cos]
}

/// The intervals (indices into `updates`, ascending) that `strategy` replays. `updates[i]` holds interval i's
/// [`distances`], `epoch[i]` the epoch it starts in.
pub fn select(strategy: Strategy, updates: &[[f64; 4]], epoch: &[usize]) -> Vec<usize> {
    let n = updates.len();
    let mut chosen: Vec<usize> = match strategy {
        Strategy::Full => (0..n).collect(),
        Strategy::Random { k, seed } => {
            let mut all: Vec<usize> = (0..n).collect();
            PortableRng::derived(seed, "pol-strategy", 0).shuffle(&mut all);
            all.truncate(k.min(n));
            all
        }
        Strategy::TopQ { q } => {
            let mut out = Vec::new();
            let epochs: std::collections::BTreeSet<usize> = epoch.iter().copied().collect();
            for e in epochs {
                let members: Vec<usize> = (0..n).filter(|&i| epoch[i] == e).collect();
                // `metric` picks a column of each row, not an element of `updates`.
                #[allow(clippy::needless_range_loop)]
                for metric in 0..4 {
                    let mut m = members.clone();
                    // Largest first; NaN (a broken update) counts as the largest, and ties keep step order.
                    m.sort_by(|&a, &b| {
                        let (x, y) = (updates[a][metric], updates[b][metric]);
                        y.partial_cmp(&x)
                            .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()).reverse())
                            .then(a.cmp(&b))
                    });
                    out.extend(m.into_iter().take(q));
                }
            }
            out
        }
    };
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_q_takes_the_union_of_each_distances_largest_per_epoch() {
        // Interval 1 is largest in L1 and L2, interval 3 in Linf, interval 0 in cosine; epoch 1 holds 4 and 5.
        let u = [
            [1.0, 1.0, 0.1, 0.9],
            [5.0, 5.0, 0.2, 0.1],
            [2.0, 2.0, 0.3, 0.2],
            [1.5, 1.5, 0.9, 0.3],
            [1.0, 1.0, 1.0, 1.0],
            [2.0, 2.0, 2.0, 2.0],
        ];
        let epoch = [0, 0, 0, 0, 1, 1];
        assert_eq!(select(Strategy::TopQ { q: 1 }, &u, &epoch), vec![0, 1, 3, 5]);
        assert_eq!(select(Strategy::TopQ { q: 2 }, &u, &epoch), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(select(Strategy::Full, &u, &epoch).len(), 6);
        let r = select(Strategy::Random { k: 3, seed: 9 }, &u, &epoch);
        assert_eq!(r.len(), 3);
        assert_eq!(
            r,
            select(Strategy::Random { k: 3, seed: 9 }, &u, &epoch),
            "the draw is repeatable"
        );
        assert_eq!(select(Strategy::Random { k: 10, seed: 9 }, &u, &epoch).len(), 6);
    }

    #[test]
    fn distances_are_the_four_measures() {
        let d = distances(&[1.0, 0.0], &[0.0, 1.0]);
        assert_eq!(d[0], 2.0);
        assert!((d[1] - 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(d[2], 1.0);
        assert_eq!(d[3], 1.0);
    }
}
