//! Forging inside the data domain, the paper's open problem: a batch whose inputs lie in [0, 1] and whose labels are
//! distributions (or one-hot) with the smallest update error. The search walks from an out-of-domain forgery (the
//! exact Proposition 2 construction, or Adam's best iterate) into the domain, recording the error at each allowed
//! violation; the end points are forgeries a verifier could not refuse for lying outside the domain.
use crate::measures::{json, ErrorMeasures};
use serde::{Deserialize, Serialize};

/// One point of the walk into the domain: the smallest error found while the batch may lie `violation` outside it
/// (the first point: the start batch and its own violation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DomainPoint {
    /// The largest allowed violation: pixels within [-v, 1 + v], label rows within distance v of the simplex.
    #[serde(with = "json")]
    pub violation: f64,
    /// ||eta (g' - g_B)||_2 of the best batch found at this violation, in f64.
    #[serde(with = "json")]
    pub error_l2: f64,
}

/// A forged batch inside the domain and what it achieves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DomainForgery {
    /// theta - eta g' against theta - eta g_B, both computed in f32 as training runs (what a verifier sees).
    pub error_f32: ErrorMeasures,
    /// The same computed in f64.
    pub error_f64: ErrorMeasures,
    /// The largest distance of a pixel from [0, 1] (0 inside).
    #[serde(with = "json")]
    pub pixel_violation: f64,
    /// The largest distance of a label row from the simplex (0 on it).
    #[serde(with = "json")]
    pub label_violation: f64,
    /// Whether every label is one-hot.
    pub one_hot: bool,
    /// The smallest L2 distance of a forged input from an input of the real batch: far from 0, the forgery does
    /// not hide the real batch's examples.
    #[serde(with = "json")]
    pub nearest_real: f64,
    /// The median over the forged inputs of the distance to the nearest real one.
    #[serde(with = "json")]
    pub nearest_real_median: f64,
    /// The batch against the exact verifier (absent in results written before it was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_arm: Option<super::ExactArmCheck>,
}

/// The search and its end points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainReport {
    /// The batch it started from ("prop2", "adam-best" or "lbfgs-best").
    pub start: String,
    /// Adam iterations in all.
    pub iterations: usize,
    /// The walk, from the start's own violation down to 0 (a start already in the domain has only that and 0).
    pub path: Vec<DomainPoint>,
    /// The best batch inside the domain with soft labels on the simplex.
    pub soft: DomainForgery,
    /// The same after its labels are made one-hot (each row's largest entry) and the inputs re-optimised.
    pub hard: DomainForgery,
    /// For scale: the median over the real batch's inputs of the L2 distance to the nearest other input of the
    /// data set (a sample of it).
    #[serde(with = "json")]
    pub real_neighbour_distance: f64,
}
