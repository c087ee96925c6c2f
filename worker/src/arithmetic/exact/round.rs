//! Rounding f64 values to f32 with the writer's record of each value a verifier might round differently.
//!
//! Summation order moves a site's f64 values by a few units of the site's f64 resolution, 2^-52 times its largest
//! magnitude (measured between the CPU profiles: at most 18 units, except where BatchNorm amplifies it). The
//! writer's tolerance at a value is the larger of `units` such units and [`REL_GAPS`] gaps. Two kinds of value are
//! recorded:
//! - a value within the tolerance of a rounding boundary (the midpoint of two adjacent f32 values): which side the
//!   writer took, one bit;
//! - a nonzero value so small that adjacent f32 values lie closer than twice the tolerance: the writer's f32 value
//!   itself, since a verifier's value may lie several f32 values away.
//!
//! Exact zeros are not recorded. In these models they are structural, sums whose every term is exactly 0 (the
//! weight gradients of units a ReLU switched off: a quarter of LeNet-5's fc1 weight gradient), and so exactly 0
//! on every device; recording them would multiply the records' size by ten. A zero reached by cancellation on one
//! device and not on another would fail verification at its site, and the verifier names it.
//!
//! A verifier whose values lie within the tolerance of the writer's applies the records and rounds every other
//! value to nearest; both then agree bit for bit. It accepts a record only where its own value is consistent with
//! it (within twice its own tolerance), so a prover's freedom is confined to values that are genuinely ambiguous.
use std::fmt;

/// What the writer did with one recorded value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Side {
    /// Took the lower of the two f32 values beside a boundary.
    Down,
    /// Took the upper one.
    Up,
    /// A value among f32 values closer than the tolerance: this one.
    Pinned(f32),
}

/// One recorded value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// Flat index into the site's tensor.
    pub index: u64,
    /// What the writer took.
    pub side: Side,
}

/// Why a verifier could not apply a record.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayError {
    /// A record names an index past the tensor's end.
    OutOfRange {
        /// The index.
        index: u64,
        /// The tensor's length.
        len: usize,
    },
    /// The verifier's value at a recorded index is not consistent with the record: the writer's f64 result
    /// differed by more than the tolerance, or the record is not the writer's honest rounding.
    Inconsistent {
        /// The index.
        index: u64,
        /// The verifier's value.
        value: f64,
        /// Its distance from the recorded boundary or value.
        distance: f64,
        /// The tolerance it exceeds.
        tolerance: f64,
    },
    /// Records out of order or repeated (the packed form is strictly increasing).
    Unordered {
        /// The index.
        index: u64,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::OutOfRange { index, len } => write!(f, "record at index {index} of a tensor of {len}"),
            ReplayError::Inconsistent {
                index,
                value,
                distance,
                tolerance,
            } => write!(
                f,
                "record at index {index}, where this device's value {value:e} lies {distance:e} from what the \
                 record claims, beyond the tolerance {tolerance:e}"
            ),
            ReplayError::Unordered { index } => write!(f, "record at index {index} out of order"),
        }
    }
}

pub use forgebench_shared::rounding::{gap, tolerance, REL_GAPS};

/// The boundary nearest to `v` as (lower f32, upper f32); `None` when `v` is an f32 value or not finite.
fn boundary(v: f64) -> Option<(f32, f32)> {
    let r = v as f32;
    if !v.is_finite() || !r.is_finite() || r as f64 == v {
        return None;
    }
    let n = if v > r as f64 { r.next_up() } else { r.next_down() };
    if !n.is_finite() {
        return None;
    }
    Some(if r < n { (r, n) } else { (n, r) })
}

fn midpoint(lo: f32, hi: f32) -> f64 {
    // lo + hi is exact in f64 (two adjacent f32 values), and so is the halving.
    (lo as f64 + hi as f64) * 0.5
}

/// Writer: `v` rounded to nearest into `out`, with the records of the values within `tol` of ambiguity.
pub fn round_write(v: &[f64], tol: f64, out: &mut Vec<f32>) -> Vec<Record> {
    out.clear();
    out.reserve(v.len());
    let mut recs = Vec::new();
    for (i, &x) in v.iter().enumerate() {
        let r = x as f32;
        out.push(r);
        if !x.is_finite() || tol == 0.0 || x == 0.0 {
            continue;
        }
        let side = if gap(r) <= 2.0 * tol {
            Some(Side::Pinned(r))
        } else {
            boundary(x)
                .filter(|&(lo, hi)| (x - midpoint(lo, hi)).abs() <= tol.max(REL_GAPS * (hi as f64 - lo as f64)))
                .map(|(_, hi)| if r == hi { Side::Up } else { Side::Down })
        };
        if let Some(side) = side {
            recs.push(Record { index: i as u64, side });
        }
    }
    recs
}

/// Verifier: `v` rounded to nearest into `out` except at the recorded indices, where the writer's choice is taken
/// if the verifier's value is within `check` of it. Returns how many records decided a value (took what rounding
/// the verifier's own value to nearest would not have).
pub fn round_replay(v: &[f64], recs: &[Record], check: f64, out: &mut Vec<f32>) -> Result<usize, ReplayError> {
    out.clear();
    out.extend(v.iter().map(|&x| x as f32));
    let mut last: Option<u64> = None;
    let mut decided = 0;
    for rec in recs {
        if last.is_some_and(|l| rec.index <= l) {
            return Err(ReplayError::Unordered { index: rec.index });
        }
        last = Some(rec.index);
        let x = *v.get(rec.index as usize).ok_or(ReplayError::OutOfRange {
            index: rec.index,
            len: v.len(),
        })?;
        let inconsistent = |distance, tolerance| ReplayError::Inconsistent {
            index: rec.index,
            value: x,
            distance,
            tolerance,
        };
        let take = match rec.side {
            Side::Pinned(p) => {
                let (d, t) = ((x - p as f64).abs(), check + gap(p));
                if d > t || d.is_nan() {
                    return Err(inconsistent(d, t));
                }
                p
            }
            Side::Up | Side::Down => {
                let (lo, hi) = boundary(x).ok_or_else(|| inconsistent(f64::INFINITY, check))?;
                let d = (x - midpoint(lo, hi)).abs();
                let allowed = check.max(2.0 * REL_GAPS * (hi as f64 - lo as f64));
                if d > allowed {
                    return Err(inconsistent(d, allowed));
                }
                if rec.side == Side::Up {
                    hi
                } else {
                    lo
                }
            }
        };
        if take.to_bits() != out[rec.index as usize].to_bits() {
            decided += 1;
        }
        out[rec.index as usize] = take;
    }
    Ok(decided)
}

/// Whether a record can make a verifier whose value is `v` take `target`, when it accepts records within `check`
/// (see [`round_replay`]): what a prover who writes its own records can reach.
pub fn reachable(v: f64, target: f32, check: f64) -> bool {
    if (v as f32).to_bits() == target.to_bits() {
        return true;
    }
    if (v - target as f64).abs() <= check + gap(target) && gap(target) <= check {
        return true;
    }
    match boundary(v) {
        Some((lo, hi)) => {
            (v - midpoint(lo, hi)).abs() <= check.max(2.0 * REL_GAPS * (hi as f64 - lo as f64))
                && (target.to_bits() == lo.to_bits() || target.to_bits() == hi.to_bits())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP1: f64 = 1.1920928955078125e-7;

    #[test]
    fn records_values_near_a_boundary_and_replay_reproduces_the_writer() {
        let one = 1.0f32;
        let mid = 1.0 + GAP1 / 2.0;
        let tol = 1e-6 * GAP1;
        // Just above and just below the midpoint of (1, next_up(1)), then far from any boundary, then exact.
        let writer = [mid + 0.1 * tol, mid - 0.1 * tol, 1.0 + 0.25 * GAP1, 2.0];
        let mut w = Vec::new();
        let recs = round_write(&writer, tol, &mut w);
        let sides: Vec<_> = recs.iter().map(|r| (r.index, r.side)).collect();
        assert_eq!(sides, vec![(0, Side::Up), (1, Side::Down)]);
        assert_eq!(w, vec![one.next_up(), one, one, 2.0]);
        // The verifier's values sit on the other side of the boundary at both recorded indices.
        let verifier = [mid - 0.1 * tol, mid + 0.1 * tol, 1.0 + 0.25 * GAP1 + 0.1 * tol, 2.0];
        let mut v = Vec::new();
        assert_eq!(
            round_replay(&verifier, &recs, 2.0 * tol, &mut v).unwrap(),
            2,
            "both records decide"
        );
        assert_eq!(v, w);
        let plain: Vec<f32> = verifier.iter().map(|&x| x as f32).collect();
        assert_ne!(plain, w, "without the records the verifier would disagree");
    }

    #[test]
    fn values_below_the_tolerances_resolution_are_pinned() {
        // A site of scale 1 whose second value cancelled to 1e-12 here and to 7e-13 on another device; its third,
        // an exact zero, is not recorded.
        let tol = 1024.0 * f64::EPSILON;
        let mut w = Vec::new();
        let recs = round_write(&[1.0, 1e-12, 0.0], tol, &mut w);
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!((recs[0].index, recs[0].side), (1, Side::Pinned(1e-12f32)));
        let mut v = Vec::new();
        let n = round_replay(&[1.0, 7e-13, 0.0], &recs, 2.0 * tol, &mut v).unwrap();
        assert_eq!((v, n), (w, 1));
    }

    #[test]
    fn replay_refuses_a_record_its_own_value_contradicts() {
        let mut v = Vec::new();
        let tol = 1e-6 * GAP1;
        let up = Record {
            index: 0,
            side: Side::Up,
        };
        let e = round_replay(&[1.0 + 0.25 * GAP1], &[up], tol, &mut v).unwrap_err();
        assert!(matches!(e, ReplayError::Inconsistent { index: 0, .. }), "{e}");
        let pin = Record {
            index: 0,
            side: Side::Pinned(0.5),
        };
        assert!(round_replay(&[1.0], &[pin], tol, &mut v).is_err());
        let e = round_replay(
            &[1.0],
            &[Record {
                index: 3,
                side: Side::Up,
            }],
            tol,
            &mut v,
        )
        .unwrap_err();
        assert_eq!(e, ReplayError::OutOfRange { index: 3, len: 1 });
    }

    #[test]
    fn boundaries_across_a_power_of_two_and_below_zero() {
        // Between next_down(2) and 2 the gap is the smaller one; negative values mirror positive ones.
        let lo = 2.0f32.next_down();
        let mid = (lo as f64 + 2.0) / 2.0;
        let g = 2.0 - lo as f64;
        for x in [mid + 1e-7 * g, -(mid + 1e-7 * g)] {
            let mut w = Vec::new();
            let recs = round_write(&[x], 1e-4 * g, &mut w);
            assert_eq!(recs.len(), 1, "{x:e}");
            assert_eq!(recs[0].side, if x > 0.0 { Side::Up } else { Side::Down }, "{x:e}");
            assert_eq!(w[0], x as f32, "{x:e}");
        }
    }
}
