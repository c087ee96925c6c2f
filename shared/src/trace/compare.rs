//! Two traces of the same step, compared site by site in f64.
use super::Trace;
use crate::error::{Result, SharedError};
use crate::experiment::Arithmetic;
use crate::rounding::{self, REL_GAPS, TOLERANCE_UNITS};
use serde::{Deserialize, Serialize};

/// How one site differs between two traces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteDiff {
    /// The site.
    pub site: String,
    /// Values at the site.
    pub values: usize,
    /// Values that differ.
    pub differing: usize,
    /// L2 of the difference.
    pub l2: f64,
    /// Largest absolute difference.
    pub linf: f64,
    /// L2 of the difference over L2 of the first trace's values (0 when those are all 0).
    pub rel: f64,
    /// Largest difference in gaps between adjacent f32 values at the first trace's value.
    pub max_gaps: f64,
    /// Largest difference in units of the site's f64 resolution: Linf / (2^-52 x the site's largest magnitude).
    /// Summation-order noise is a small multiple of it, whatever the value it lands on.
    pub linf_f64_units: f64,
    /// Largest difference over the exact arm's writer tolerance at that value (the larger of 1024 units of the site's
    /// f64 resolution and 1e-3 gaps): under 1, the rounding records cover every difference at the site.
    pub over_tolerance: f64,
}

/// A comparison of two traces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The arm both traces are of.
    pub arithmetic: Arithmetic,
    /// The first site whose values differ, if any.
    pub first_differing: Option<String>,
    /// Every site, in order.
    pub sites: Vec<SiteDiff>,
}

/// The gap between `v`'s f32 value and the next one away from zero.
fn gap(v: f64) -> f64 {
    let r = v as f32;
    if !r.is_finite() {
        return f64::INFINITY;
    }
    rounding::gap(r)
}

/// Compares `a` and `b` (same arm, same sites); an error names the first mismatch of shape.
pub fn compare(a: &Trace, b: &Trace) -> Result<Explanation> {
    if a.arithmetic != b.arithmetic || a.sites.len() != b.sites.len() {
        return Err(SharedError::Invalid(format!(
            "traces of different steps: {} arm with {} sites against {} arm with {} sites",
            a.arithmetic,
            a.sites.len(),
            b.arithmetic,
            b.sites.len()
        )));
    }
    let mut sites = Vec::with_capacity(a.sites.len());
    for ((na, va), (nb, vb)) in a.sites.iter().zip(&b.sites) {
        if na != nb || va.len() != vb.len() {
            return Err(SharedError::Invalid(format!(
                "site {na} ({} values) against site {nb} ({} values)",
                va.len(),
                vb.len()
            )));
        }
        let (mut sq, mut norm, mut linf, mut gaps, mut differing) = (0.0, 0.0, 0.0f64, 0.0f64, 0);
        let scale = va.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let abs_tol = rounding::tolerance(va, TOLERANCE_UNITS);
        let mut over = 0.0f64;
        for (&x, &y) in va.iter().zip(vb) {
            let d = (x - y).abs();
            if x.to_bits() != y.to_bits() {
                differing += 1;
            }
            sq += d * d;
            norm += x * x;
            linf = linf.max(d);
            if d > 0.0 {
                gaps = gaps.max(d / gap(x));
                over = over.max(d / abs_tol.max(REL_GAPS * gap(x)));
            }
        }
        sites.push(SiteDiff {
            site: na.clone(),
            values: va.len(),
            differing,
            l2: sq.sqrt(),
            linf,
            rel: if norm > 0.0 { (sq / norm).sqrt() } else { 0.0 },
            max_gaps: gaps,
            over_tolerance: over,
            linf_f64_units: if scale > 0.0 {
                linf / (f64::EPSILON * scale)
            } else {
                0.0
            },
        });
    }
    Ok(Explanation {
        arithmetic: a.arithmetic,
        first_differing: sites.iter().find(|s| s.differing > 0).map(|s| s.site.clone()),
        sites,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_first_differing_site_and_measures_in_gaps() {
        let t = |v: Vec<f64>| Trace {
            arithmetic: Arithmetic::Exact,
            sites: vec![("a.forward".into(), vec![1.0, 2.0]), ("b.forward".into(), v)],
        };
        let g = 1.0f32.next_up() as f64 - 1.0;
        let e = compare(&t(vec![1.0, 3.0]), &t(vec![1.0 + 0.5 * g, 3.0])).unwrap();
        assert_eq!(e.first_differing.as_deref(), Some("b.forward"));
        let s = &e.sites[1];
        assert_eq!((s.differing, s.values), (1, 2));
        assert!((s.max_gaps - 0.5).abs() < 1e-12, "{}", s.max_gaps);
        assert!((s.l2 - 0.5 * g).abs() < 1e-20);
        assert_eq!(e.sites[0].differing, 0);
        let other = Trace {
            arithmetic: Arithmetic::F32,
            sites: vec![],
        };
        assert!(compare(&t(vec![]), &other).is_err());
    }
}
