//! The one-sample Kolmogorov-Smirnov test against a uniform distribution, for the Proof-of-Learning initialisation
//! check (Jia et al. 2021 test whether a log's theta_0 was drawn from its layers' initialisation distributions, so that
//! a prover cannot start from weights chosen to make forging easy).
use serde::{Deserialize, Serialize};

/// The statistic and its asymptotic p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KsResult {
    /// Sample size.
    pub n: usize,
    /// D = sup |F_n(x) - F(x)|.
    #[serde(with = "crate::measures::json")]
    pub d: f64,
    /// P(D_n >= d) under the null, from Kolmogorov's limit law with Stephens' small-sample correction
    /// (lambda = (sqrt n + 0.12 + 0.11 / sqrt n) d).
    #[serde(with = "crate::measures::json")]
    pub p_value: f64,
}

/// Kolmogorov's survival function Q(lambda) = 2 sum_{j >= 1} (-1)^(j-1) exp(-2 j^2 lambda^2).
pub fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let term = (-2.0 * (j * j) as f64 * lambda * lambda).exp();
        sum += if j % 2 == 1 { term } else { -term };
        if term < 1e-16 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Tests `values` against U(lo, hi). NaN values make D and the p-value NaN.
pub fn ks_uniform(values: &[f64], lo: f64, hi: f64) -> KsResult {
    let n = values.len();
    if n == 0 || values.iter().any(|v| v.is_nan()) || hi <= lo {
        return KsResult {
            n,
            d: f64::NAN,
            p_value: f64::NAN,
        };
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let nf = n as f64;
    let mut d: f64 = 0.0;
    for (i, &x) in v.iter().enumerate() {
        let f = ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
        d = d.max((i + 1) as f64 / nf - f).max(f - i as f64 / nf);
    }
    let sq = nf.sqrt();
    KsResult {
        n,
        d,
        p_value: kolmogorov_q((sq + 0.12 + 0.11 / sq) * d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_points_have_d_of_half_a_step() {
        let n = 1000;
        let v: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
        let r = ks_uniform(&v, 0.0, 1.0);
        assert!((r.d - 0.5 / n as f64).abs() < 1e-12, "{r:?}");
        assert!(r.p_value > 0.999, "{r:?}");
    }

    #[test]
    fn a_shifted_sample_is_rejected_and_q_matches_known_values() {
        let v: Vec<f64> = (0..1000).map(|i| 0.2 + 0.8 * (i as f64 + 0.5) / 1000.0).collect();
        let r = ks_uniform(&v, 0.0, 1.0);
        assert!((r.d - 0.2).abs() < 1e-3 && r.p_value < 1e-10, "{r:?}");
        // Tabulated values of Kolmogorov's distribution: Q(1.36) = 0.0494, Q(1.63) = 0.0098, Q(0.5) = 0.9639.
        for (l, q) in [(1.36, 0.0494), (1.63, 0.0098), (0.5, 0.9639)] {
            assert!(
                (kolmogorov_q(l) - q).abs() < 5e-4,
                "Q({l}) = {} not {q}",
                kolmogorov_q(l)
            );
        }
        assert!(ks_uniform(&[f64::NAN], 0.0, 1.0).d.is_nan());
    }
}
