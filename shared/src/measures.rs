//! Error measures of the literature, side by side and always in f64.
//!
//! Papers report forging and reproduction errors as L2 (Thudi et al.), L2 squared, or L2 squared divided by the
//! parameter count (Kong et al.); this module computes them together and converts one into another.
//!
//! A NaN or an infinity in an error is a finding (a diverged run, a broken kernel), so nothing here drops one:
//! maxima and summaries propagate NaN ([`nan_max`], [`Summary::of`]) and [`json`] keeps them in JSON.
pub mod json;

use serde::{Deserialize, Serialize};

/// The largest of `values`, NaN if any is NaN, `None` if there are none. `f64::max` returns the other operand of a
/// NaN, so `reduce(f64::max)` would report the largest finite error of a run that produced a NaN.
pub fn nan_max(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values.into_iter().reduce(max_of_two)
}

fn max_of_two(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// All measures of one difference vector `a - b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErrorMeasures {
    /// ||a - b||_2.
    #[serde(with = "json")]
    pub l2: f64,
    /// ||a - b||_2^2.
    #[serde(with = "json")]
    pub l2_sq: f64,
    /// ||a - b||_2^2 / dim.
    #[serde(with = "json")]
    pub l2_sq_per_dim: f64,
    /// max |a_i - b_i| (NaN if any difference is NaN).
    #[serde(with = "json")]
    pub linf: f64,
    /// ||a - b||_2 / ||reference||_2 (0 when the reference is 0), the relative gap.
    #[serde(with = "json")]
    pub rel: f64,
}

/// Computes every measure of `a - b`; `reference` gives the denominator of the relative gap (the update).
pub fn measures<T: Copy + Into<f64>>(a: &[T], b: &[T], reference: Option<&[T]>) -> ErrorMeasures {
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    let mut sq = 0.0f64;
    let mut linf = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        let d = (*x).into() - (*y).into();
        sq += d * d;
        linf = max_of_two(linf, d.abs());
    }
    let ref_norm = reference.map(norm2).unwrap_or(0.0);
    let l2 = sq.sqrt();
    ErrorMeasures {
        l2,
        l2_sq: sq,
        l2_sq_per_dim: if a.is_empty() { 0.0 } else { sq / a.len() as f64 },
        linf,
        // `== 0.0`, not `> 0.0`: a NaN reference must give a NaN gap, not a 0.
        rel: if ref_norm == 0.0 { 0.0 } else { l2 / ref_norm },
    }
}

/// ||v||_2 in f64.
pub fn norm2<T: Copy + Into<f64>>(v: &[T]) -> f64 {
    v.iter().map(|x| (*x).into().powi(2)).sum::<f64>().sqrt()
}

/// A measure as the literature reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// L2 norm.
    L2,
    /// Squared L2 norm.
    L2Sq,
    /// Squared L2 norm over the dimension.
    L2SqPerDim,
}

impl std::str::FromStr for Measure {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "l2" => Ok(Measure::L2),
            "l2sq" | "l2_sq" => Ok(Measure::L2Sq),
            "l2sq/dim" | "l2_sq_per_dim" | "l2sqdim" => Ok(Measure::L2SqPerDim),
            _ => Err(format!("unknown measure {s:?} (expected l2, l2sq or l2sq/dim)")),
        }
    }
}

/// Converts `value` from one measure to another for a parameter vector of dimension `dim`.
/// Example: Kong et al.'s 1e-6 in L2^2/dim on VGGmini (5,747,210 parameters) is an L2 of about 2.398.
pub fn convert(value: f64, from: Measure, to: Measure, dim: usize) -> f64 {
    let l2_sq = match from {
        Measure::L2 => value * value,
        Measure::L2Sq => value,
        Measure::L2SqPerDim => value * dim as f64,
    };
    match to {
        Measure::L2 => l2_sq.sqrt(),
        Measure::L2Sq => l2_sq,
        Measure::L2SqPerDim => l2_sq / dim as f64,
    }
}

/// Mean, median, min and max of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    #[serde(with = "json")]
    pub mean: f64,
    /// Median (mean of the middle two for even n).
    #[serde(with = "json")]
    pub median: f64,
    /// Smallest value.
    #[serde(with = "json")]
    pub min: f64,
    /// Largest value.
    #[serde(with = "json")]
    pub max: f64,
}

impl Summary {
    /// Summarises `values`; an empty sample gives zeros with n = 0. A NaN anywhere makes mean, median, min and max
    /// all NaN: a sample with a NaN has no meaningful order statistic, and a finite one would hide the NaN.
    pub fn of(values: &[f64]) -> Summary {
        if values.is_empty() {
            return Summary {
                n: 0,
                mean: 0.0,
                median: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        if values.iter().any(|v| v.is_nan()) {
            return Summary {
                n: values.len(),
                mean: f64::NAN,
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Summary {
            n,
            mean: v.iter().sum::<f64>() / n as f64,
            median,
            min: v[0],
            max: v[n - 1],
        }
    }
}

/// Summaries of every measure over a set of per-item measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeasureSummary {
    /// L2.
    pub l2: Summary,
    /// L2^2.
    pub l2_sq: Summary,
    /// L2^2/dim.
    pub l2_sq_per_dim: Summary,
    /// Linf.
    pub linf: Summary,
    /// Relative gap.
    pub rel: Summary,
}

impl MeasureSummary {
    /// Summarises a list of per-item measures.
    pub fn of(items: &[ErrorMeasures]) -> MeasureSummary {
        let col = |f: fn(&ErrorMeasures) -> f64| Summary::of(&items.iter().map(f).collect::<Vec<_>>());
        MeasureSummary {
            l2: col(|m| m.l2),
            l2_sq: col(|m| m.l2_sq),
            l2_sq_per_dim: col(|m| m.l2_sq_per_dim),
            linf: col(|m| m.linf),
            rel: col(|m| m.rel),
        }
    }
}

impl Summary {
    /// Pools summaries of disjoint samples: n adds up, the mean is n-weighted, min and max are exact. A median does
    /// not pool: it is kept when one sample is non-empty and NaN otherwise (read "not available" rather than an
    /// order statistic that was never computed). A NaN mean or max in any part makes the pooled one NaN.
    pub fn pool(parts: &[Summary]) -> Summary {
        let parts: Vec<&Summary> = parts.iter().filter(|p| p.n > 0).collect();
        match parts.as_slice() {
            [] => Summary::of(&[]),
            [one] => **one,
            many => {
                let n: usize = many.iter().map(|p| p.n).sum();
                let nan = |f: fn(&Summary) -> f64| many.iter().any(|p| f(p).is_nan());
                let fold = |f: fn(&Summary) -> f64, g: fn(f64, f64) -> f64, init: f64| {
                    if nan(f) {
                        f64::NAN
                    } else {
                        many.iter().map(|p| f(p)).fold(init, g)
                    }
                };
                Summary {
                    n,
                    mean: many.iter().map(|p| p.mean * p.n as f64).sum::<f64>() / n as f64,
                    median: f64::NAN,
                    min: fold(|p| p.min, f64::min, f64::INFINITY),
                    max: fold(|p| p.max, f64::max, f64::NEG_INFINITY),
                }
            }
        }
    }
}

impl MeasureSummary {
    /// Pools every measure with [`Summary::pool`].
    pub fn pool(parts: &[MeasureSummary]) -> MeasureSummary {
        let col = |f: fn(&MeasureSummary) -> Summary| Summary::pool(&parts.iter().map(f).collect::<Vec<_>>());
        MeasureSummary {
            l2: col(|m| m.l2),
            l2_sq: col(|m| m.l2_sq),
            l2_sq_per_dim: col(|m| m.l2_sq_per_dim),
            linf: col(|m| m.linf),
            rel: col(|m| m.rel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kong_vggmini_conversion() {
        let l2 = convert(1e-6, Measure::L2SqPerDim, Measure::L2, 5_747_210);
        assert!((l2 - 2.3973).abs() < 1e-3, "got {l2}, expected about 2.398");
        let back = convert(l2, Measure::L2, Measure::L2SqPerDim, 5_747_210);
        assert!((back - 1e-6).abs() < 1e-18, "got {back}");
    }

    #[test]
    fn measures_side_by_side() {
        let a = [1.0f32, 2.0, 3.0, 4.0];
        let b = [1.0f32, 2.0, 3.0, 2.0];
        let m = measures(&a, &b, Some(&a));
        assert_eq!(m.l2, 2.0);
        assert_eq!(m.l2_sq, 4.0);
        assert_eq!(m.l2_sq_per_dim, 1.0);
        assert_eq!(m.linf, 2.0);
        assert!((m.rel - 2.0 / 30f64.sqrt()).abs() < 1e-15, "{}", m.rel);
    }

    #[test]
    fn summary_median() {
        let s = Summary::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.mean, s.median, s.min, s.max), (4.0, 2.5, 1.0, 10.0));
    }

    #[test]
    fn pooled_summaries_equal_the_summary_of_the_union() {
        let a = [1.0, 4.0, 2.0];
        let b = [8.0, 0.5];
        let union: Vec<f64> = a.iter().chain(&b).copied().collect();
        let pooled = Summary::pool(&[Summary::of(&a), Summary::of(&b), Summary::of(&[])]);
        let whole = Summary::of(&union);
        assert_eq!((pooled.n, pooled.min, pooled.max), (whole.n, whole.min, whole.max));
        assert!(
            (pooled.mean - whole.mean).abs() < 1e-15,
            "{} vs {}",
            pooled.mean,
            whole.mean
        );
        assert!(pooled.median.is_nan(), "a median does not pool");
        assert_eq!(Summary::pool(&[Summary::of(&a), Summary::of(&[])]), Summary::of(&a));
        assert!(Summary::pool(&[Summary::of(&a), Summary::of(&[f64::NAN])]).max.is_nan());
    }
}
