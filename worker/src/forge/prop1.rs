//! Proposition 1 for logistic regression without bias at b = 1: the gradient (s(Wx) - y) x^T has rank one, so an
//! exact forgery (x', y') must have x' = c x for a scalar c. [`forge_scaled`] builds one (x' = c x with the soft
//! label that makes it exact); [`scalar_multiple`] and [`detect`] flag a claimed example that is (nearly) a scalar
//! multiple of a training example.
use forgebench_shared::data::Dataset;
use forgebench_shared::measures::nan_max;

/// Default tolerance on 1 - |cos(x', x)|.
pub const DEFAULT_TOL: f64 = 1e-6;

/// If `forged` is within `tol` (on 1 - |cos|) of a scalar multiple of `claimed`, the scalar c; otherwise None.
/// A zero vector is no multiple of anything.
pub fn scalar_multiple(forged: &[f32], claimed: &[f32], tol: f64) -> Option<f64> {
    assert_eq!(forged.len(), claimed.len(), "examples of different lengths");
    let (mut fc, mut ff, mut cc) = (0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in forged.iter().zip(claimed) {
        let (a, b) = (f64::from(a), f64::from(b));
        fc += a * b;
        ff += a * a;
        cc += b * b;
    }
    if ff == 0.0 || cc == 0.0 {
        return None;
    }
    let cos = fc / (ff.sqrt() * cc.sqrt());
    (1.0 - cos.abs() <= tol).then_some(fc / cc)
}

/// The first training example of which `forged` is a scalar multiple other than itself (c != 1 within `tol`),
/// with the scalar: the evidence that a claimed b = 1 step was forged from that example.
pub fn detect(forged: &[f32], ds: &Dataset, tol: f64) -> Option<(usize, f64)> {
    (0..ds.n).find_map(|i| {
        scalar_multiple(forged, ds.example(i), tol)
            .filter(|c| (c - 1.0).abs() > tol)
            .map(|c| (i, c))
    })
}

/// An exact forgery of the b = 1 step on (x, label) at weights `w` ([10, 784] row-major): x' = c x and the soft label
/// y' = s(W x') - (s(W x) - e_label) / c, which sums to one, so (s(W x') - y') x'^T = (s(W x) - e_label) x^T.
pub fn forge_scaled(w: &[f64], x: &[f64], label: usize, c: f64) -> (Vec<f64>, Vec<f64>) {
    let softmax = |v: &[f64]| -> Vec<f64> {
        let z: Vec<f64> = (0..10)
            .map(|k| w[k * 784..(k + 1) * 784].iter().zip(v).map(|(a, b)| a * b).sum())
            .collect();
        // The shift for a stable softmax; NaN-propagating so that NaN logits give a NaN label, not a finite one.
        let m = nan_max(z.iter().copied()).unwrap_or(0.0);
        let e: Vec<f64> = z.iter().map(|zk| (zk - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.into_iter().map(|ek| ek / s).collect()
    };
    let xp: Vec<f64> = x.iter().map(|v| c * v).collect();
    let (s, sp) = (softmax(x), softmax(&xp));
    let y = (0..10)
        .map(|k| sp[k] - (s[k] - if k == label { 1.0 } else { 0.0 }) / c)
        .collect();
    (xp, y)
}
