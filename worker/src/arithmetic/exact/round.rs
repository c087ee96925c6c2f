//! Rounding f64 values to f32 with the writer's record of each value that lies near a rounding boundary.
//!
//! A boundary is the midpoint of two adjacent f32 values. The writer rounds to nearest and records, for every value
//! within `threshold` gaps of a boundary (a gap: the distance between those two f32 values), whether it went to the
//! upper or the lower one. A verifier whose f64 value differs from the writer's by less than `threshold` gaps has
//! the same nearest boundary there, applies the recorded side, and rounds every other value to nearest: both sides
//! are then on the same side of every boundary, so their f32 results agree bit for bit.
use std::fmt;

/// One recorded value: its index in the rounded tensor, and whether the writer took the upper f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Flat index into the tensor.
    pub index: u64,
    /// True: the upper of the two f32 values beside the boundary.
    pub up: bool,
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
    /// The verifier's value at a recorded index is not near a boundary: the writer's f64 result differed by far
    /// more than the threshold, or the record is not the writer's honest rounding.
    NotNearBoundary {
        /// The index.
        index: u64,
        /// The verifier's value.
        value: f64,
        /// Its distance from the nearest boundary, in gaps.
        gaps: f64,
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
            ReplayError::NotNearBoundary { index, value, gaps } => write!(
                f,
                "record at index {index}, where the value {value:e} lies {gaps:.3e} gaps from a rounding boundary"
            ),
            ReplayError::Unordered { index } => write!(f, "record at index {index} out of order"),
        }
    }
}

/// The f32 neighbour of `r` on the side of `v` (`v` is not `r`).
fn neighbour(r: f32, v: f64) -> f32 {
    if v > r as f64 {
        r.next_up()
    } else {
        r.next_down()
    }
}

/// The nearest boundary to `v` and the gap there: `None` when `v` is exactly an f32 value, is not finite, or
/// rounds past the largest f32 (no boundary to be near).
fn boundary(v: f64) -> Option<(f32, f32, f64)> {
    let r = v as f32;
    if !v.is_finite() || !r.is_finite() || r as f64 == v {
        return None;
    }
    let n = neighbour(r, v);
    if !n.is_finite() {
        return None;
    }
    let (lo, hi) = if r < n { (r, n) } else { (n, r) };
    Some((lo, hi, hi as f64 - lo as f64))
}

/// Distance of `v` from the boundary between `lo` and `hi`, in gaps.
fn gaps_from(v: f64, lo: f32, hi: f32, gap: f64) -> f64 {
    // lo + hi is exact in f64 (two f32 values of adjacent exponents), and so is the halving.
    (v - (lo as f64 + hi as f64) * 0.5).abs() / gap
}

/// Writer: `v` rounded to nearest, with the records of the values within `threshold` gaps of a boundary.
pub fn round_write(v: &[f64], threshold: f64, out: &mut Vec<f32>) -> Vec<Record> {
    out.clear();
    out.reserve(v.len());
    let mut recs = Vec::new();
    for (i, &x) in v.iter().enumerate() {
        let r = x as f32;
        if let Some((lo, hi, gap)) = boundary(x) {
            if gaps_from(x, lo, hi, gap) <= threshold {
                recs.push(Record {
                    index: i as u64,
                    up: r == hi,
                });
            }
        }
        out.push(r);
    }
    recs
}

/// Verifier: `v` rounded to nearest except at the recorded indices, where the writer's side is taken. A record is
/// accepted only where the verifier's own value lies within `check` gaps of a boundary, so a prover's freedom is
/// one bit per value that is genuinely near one.
pub fn round_replay(v: &[f64], recs: &[Record], check: f64, out: &mut Vec<f32>) -> Result<(), ReplayError> {
    out.clear();
    out.extend(v.iter().map(|&x| x as f32));
    let mut last: Option<u64> = None;
    for rec in recs {
        if last.is_some_and(|l| rec.index <= l) {
            return Err(ReplayError::Unordered { index: rec.index });
        }
        last = Some(rec.index);
        let x = *v.get(rec.index as usize).ok_or(ReplayError::OutOfRange {
            index: rec.index,
            len: v.len(),
        })?;
        let far = |gaps| ReplayError::NotNearBoundary {
            index: rec.index,
            value: x,
            gaps,
        };
        let (lo, hi, gap) = boundary(x).ok_or(far(0.5))?;
        let gaps = gaps_from(x, lo, hi, gap);
        if gaps > check {
            return Err(far(gaps));
        }
        out[rec.index as usize] = if rec.up { hi } else { lo };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_values_near_a_boundary_and_replay_reproduces_the_writer() {
        let one = 1.0f32;
        let mid = (one as f64 + one.next_up() as f64) / 2.0;
        let gap = one.next_up() as f64 - 1.0;
        // Just above and just below the midpoint of (1, next_up(1)), then far from any boundary, then exact.
        let writer = [mid + 1e-6 * gap, mid - 1e-6 * gap, 1.0 + 0.25 * gap, 2.0];
        let mut w = Vec::new();
        let recs = round_write(&writer, 1e-4, &mut w);
        assert_eq!(
            recs,
            vec![Record { index: 0, up: true }, Record { index: 1, up: false }]
        );
        assert_eq!(w, vec![one.next_up(), one, one, 2.0]);
        // The verifier's values sit on the other side of the boundary at both recorded indices.
        let verifier = [mid - 1e-6 * gap, mid + 1e-6 * gap, 1.0 + 0.25 * gap + 1e-9 * gap, 2.0];
        let mut v = Vec::new();
        round_replay(&verifier, &recs, 2e-4, &mut v).unwrap();
        assert_eq!(v, w);
        // Without the records it would disagree at both.
        let plain: Vec<f32> = verifier.iter().map(|&x| x as f32).collect();
        assert_ne!(plain, w);
    }

    #[test]
    fn replay_refuses_a_record_far_from_a_boundary() {
        let gap = 1.0f32.next_up() as f64 - 1.0;
        let mut v = Vec::new();
        let e = round_replay(&[1.0 + 0.25 * gap], &[Record { index: 0, up: true }], 2e-4, &mut v).unwrap_err();
        assert!(matches!(e, ReplayError::NotNearBoundary { index: 0, .. }), "{e}");
        let e = round_replay(&[1.0], &[Record { index: 3, up: true }], 2e-4, &mut v).unwrap_err();
        assert_eq!(e, ReplayError::OutOfRange { index: 3, len: 1 });
    }

    #[test]
    fn boundaries_across_a_power_of_two_and_below_zero() {
        // Between next_down(2) and 2 the gap is the smaller one; negative values mirror positive ones.
        let lo = 2.0f32.next_down();
        let mid = (lo as f64 + 2.0) / 2.0;
        let gap = 2.0 - lo as f64;
        for x in [mid + 1e-7 * gap, -(mid + 1e-7 * gap)] {
            let mut w = Vec::new();
            let recs = round_write(&[x], 1e-4, &mut w);
            assert_eq!(recs.len(), 1, "{x:e}");
            assert_eq!(recs[0].up, x > 0.0, "{x:e}");
            assert_eq!(w[0], (x as f32), "{x:e}");
        }
    }
}
