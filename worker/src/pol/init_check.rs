//! The initialisation check of Proof-of-Learning (Jia et al. 2021): theta_0 of a log must look drawn from its layers'
//! initialisation distributions, or a prover could start from weights chosen to ease forging. Every weight and bias
//! tensor is tested with a one-sample Kolmogorov-Smirnov test against U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's
//! default; BatchNorm's gamma and beta must be exactly ones and zeros. The log passes when every test does at a
//! family-wise level of 1% (Bonferroni: each p-value above 0.01 / layers).
use crate::models::{self, ParamKind};
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::ks::ks_uniform;
use forgebench_shared::results::{InitCheck, LayerInit};

/// Family-wise significance level.
pub const ALPHA: f64 = 0.01;

/// Checks `theta0` (the flat parameter vector of `model`) tensor by tensor.
pub fn check(model: ModelKind, theta0: &[f32]) -> InitCheck {
    let specs = models::layout(model);
    let mut layers = Vec::with_capacity(specs.len());
    let mut at = 0;
    for spec in &specs {
        let n = spec.numel();
        let values: Vec<f64> = theta0[at.min(theta0.len())..(at + n).min(theta0.len())]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        at += n;
        let (expected, d, p_value) = match spec.kind {
            ParamKind::Weight { fan_in } | ParamKind::Bias { fan_in } => {
                let bound = 1.0 / (fan_in as f64).sqrt();
                // The draws are f32 roundings of f64 uniforms: a bound may round just outside itself.
                let r = ks_uniform(&values, -bound * (1.0 + 1e-6), bound * (1.0 + 1e-6));
                (format!("U(-{bound:.4}, {bound:.4})"), r.d, r.p_value)
            }
            ParamKind::BnWeight | ParamKind::BnBias => {
                let c = if spec.kind == ParamKind::BnWeight { 1.0 } else { 0.0 };
                let d = values.iter().map(|v| (v - c).abs()).fold(0.0, f64::max);
                (format!("all {c}"), d, if d == 0.0 { 1.0 } else { 0.0 })
            }
        };
        layers.push(LayerInit {
            name: spec.name.clone(),
            values: values.len(),
            expected,
            d,
            p_value,
        });
    }
    let level = ALPHA / layers.len().max(1) as f64;
    // A short vector (a layer cut off) or a NaN p-value fails as well.
    let passed = at == theta0.len() && layers.iter().all(|l| l.p_value >= level);
    InitCheck {
        alpha: ALPHA,
        passed,
        layers,
    }
}
