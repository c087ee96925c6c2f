//! The initialisation check of Proof-of-Learning (Jia et al. 2021): theta_0 of a log must look drawn from its layers'
//! initialisation distributions, or a prover could start from weights chosen to ease forging. Every weight and bias
//! tensor is tested with a one-sample Kolmogorov-Smirnov test against U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's
//! default; BatchNorm's gamma and beta must be exactly ones and zeros. The log passes when every test does at a
//! family-wise level of 1% (Bonferroni: each p-value above 0.01 / layers).
use crate::models::{self, ParamKind, ParamSpec};
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::ks::ks_uniform;
use forgebench_shared::results::{InitCheck, LayerInit};
use forgebench_shared::torchrun::ParamInfo;

/// Family-wise significance level.
pub const ALPHA: f64 = 0.01;

/// Checks `theta0` (the flat parameter vector of `model`) tensor by tensor.
pub fn check(model: ModelKind, theta0: &[f32]) -> InitCheck {
    let specs: Vec<(usize, Option<ParamSpec>)> = models::layout(model)
        .into_iter()
        .map(|s| (s.numel(), Some(s)))
        .collect();
    check_specs(&specs, theta0)
}

/// A user's model's parameters as PyTorch's default initialisation treats them, by name and shape: a weight of two
/// or more dimensions is a linear or convolution weight (fan-in: the product of its other dimensions), a 1-D
/// `.bias` beside one is its bias, and a 1-D `.weight` and the `.bias` beside it are a normalisation layer's (ones
/// and zeros). Any other parameter (a learned embedding, say) has no known default and is not tested (`None`).
/// Each comes with its number of values.
pub fn infer_specs(params: &[ParamInfo]) -> Vec<(usize, Option<ParamSpec>)> {
    params.iter().map(|p| (p.numel(), infer_one(params, p))).collect()
}

fn infer_one(params: &[ParamInfo], p: &ParamInfo) -> Option<ParamSpec> {
    let shape_of = |name: &str| params.iter().find(|q| q.name == name).map(|q| q.shape.clone());
    let (stem, leaf) = p.name.rsplit_once('.').unwrap_or(("", p.name.as_str()));
    let fan_in = |shape: &[i64]| shape[1..].iter().product::<i64>() as usize;
    let kind = match (leaf, p.shape.len()) {
        ("weight", d) if d >= 2 => ParamKind::Weight {
            fan_in: fan_in(&p.shape),
        },
        ("weight", 1) => ParamKind::BnWeight,
        ("bias", 1) => match shape_of(&format!("{stem}.weight")) {
            Some(w) if w.len() >= 2 => ParamKind::Bias { fan_in: fan_in(&w) },
            Some(w) if w.len() == 1 => ParamKind::BnBias,
            _ => return None,
        },
        _ => return None,
    };
    Some(ParamSpec {
        name: p.name.clone(),
        shape: p.shape.clone(),
        kind,
    })
}

/// Checks `theta0` against `specs` (in flattening order, each with its length; `None`: a parameter not tested).
pub fn check_specs(specs: &[(usize, Option<ParamSpec>)], theta0: &[f32]) -> InitCheck {
    let mut layers = Vec::with_capacity(specs.len());
    let mut at = 0;
    for (n, spec) in specs {
        let start = at;
        at += n;
        let Some(spec) = spec else {
            continue;
        };
        let values: Vec<f64> = theta0[start.min(theta0.len())..at.min(theta0.len())]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
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
