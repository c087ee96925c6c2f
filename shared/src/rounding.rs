//! The exact arm's tolerance, as pure f64 arithmetic: the writer (in the worker) records the rounding direction of
//! every value within it of an f32 rounding boundary, and a comparison of two traces (anywhere) measures
//! differences against it.

/// The writer's tolerance at a site, in units of the site's f64 resolution (2^-52 times its largest magnitude):
/// 1024 units, against at most 18 units of summation-order difference measured between the CPU profiles in every
/// site of the three built-in models but one that amplifies it (BatchNorm over a channel of small variance, which
/// the relative part of the tolerance, [`REL_GAPS`], covers).
pub const TOLERANCE_UNITS: f64 = 1024.0;

/// The relative part of every tolerance, in gaps between adjacent f32 values: a value within this many gaps of a
/// boundary is recorded whatever the site's scale. It covers operations that amplify their input's f64 noise beyond
/// the site's resolution: BatchNorm over a channel of small variance moved VGGmini's bn4 output by 4,453 units of
/// its site's resolution between two profiles (7.8e-12 at values near 1, 6.5e-5 gaps), where every other site
/// stayed under 18 units.
pub const REL_GAPS: f64 = 1e-3;

/// The tolerance of a site: `units` units of its f64 resolution (2^-52 times its largest magnitude).
pub fn tolerance(v: &[f64], units: f64) -> f64 {
    let scale = v.iter().filter(|x| x.is_finite()).fold(0.0f64, |m, x| m.max(x.abs()));
    units * f64::EPSILON * scale
}

/// The distance from `r` (finite) to the next f32 value away from zero.
pub fn gap(r: f32) -> f64 {
    let a = r.abs();
    a.next_up() as f64 - a as f64
}
