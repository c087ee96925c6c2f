//! Typed results of the experiments, as workers return them (JSON in [`crate::jobs::JobOutcome::result`]) and as
//! the coordinator and the reports read them back. Reproduction verification has its own report in the worker's
//! `repro` module, which carries the same [`MeasureSummary`]. Error values go through [`json`], so that a NaN or an
//! infinity survives the trip through JSON instead of becoming `null`.
use crate::jobs::{AdamSpec, ForgeSpec, PolSpec, Prop2Spec, ShuffleSpec};
use crate::measures::{json, ErrorMeasures, MeasureSummary};
use crate::provenance::Provenance;
use serde::{Deserialize, Serialize};

mod domain;
mod exact;
pub use domain::{DomainForgery, DomainPoint, DomainReport};
pub use exact::{Disagreement, ElementDiff, ExactArmCheck, ExactVerdict};

/// Batch-shuffle errors (Figure 4): distance of each shuffled-order update from the unshuffled one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShuffleReport {
    /// What was run.
    pub spec: ShuffleSpec,
    /// Where.
    pub provenance: Provenance,
    /// One entry per shuffle, in order.
    pub errors: Vec<ErrorMeasures>,
    /// Summaries.
    pub summary: MeasureSummary,
}

/// Replay of a Proof-of-Learning log on one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolVerifyReport {
    /// The training run's parameters.
    pub spec: PolSpec,
    /// Who wrote the log.
    pub writer: Provenance,
    /// Who replayed it.
    pub verifier: Provenance,
    /// Error of each replayed interval (checkpoint i -> i+1), in order.
    pub per_interval: Vec<ErrorMeasures>,
    /// The L2 pass threshold used.
    #[serde(default, with = "json::opt")]
    pub epsilon: Option<f64>,
    /// How epsilon was obtained ("given", or "calibrated: largest benign L2 x margin").
    pub epsilon_source: String,
    /// Intervals whose L2 error exceeds epsilon.
    pub failed_intervals: Vec<usize>,
    /// True when no interval failed.
    pub passed: bool,
    /// The initialisation check of theta_0 (absent in reports written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_check: Option<InitCheck>,
    /// The exact arm: every replayed step bit for bit, or the first that is not (the threshold is then 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<ExactVerdict>,
}

/// Proof-of-Learning's initialisation check of a log's theta_0 (Jia et al. 2021).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitCheck {
    /// Family-wise significance level (Bonferroni over the tensors).
    pub alpha: f64,
    /// Whether every tensor passed.
    pub passed: bool,
    /// Tensor by tensor, in flattening order.
    pub layers: Vec<LayerInit>,
}

/// One tensor's test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerInit {
    /// Its name ("conv1.weight").
    pub name: String,
    /// Values tested.
    pub values: usize,
    /// The distribution it should follow.
    pub expected: String,
    /// Kolmogorov-Smirnov D (for constant initialisations: the largest distance from the constant).
    #[serde(with = "json")]
    pub d: f64,
    /// p-value (constant initialisations: 1 when exact, else 0).
    #[serde(with = "json")]
    pub p_value: f64,
}

/// One forged step of a search attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgedStep {
    /// Step index in the log.
    pub step: usize,
    /// Error of the best greedy candidate (exact re-score with a real backward pass).
    pub greedy: ErrorMeasures,
    /// Error after local search, if run.
    pub local: Option<ErrorMeasures>,
    /// Indices (into the training set) of the batch finally chosen.
    pub batch: Vec<usize>,
    /// Candidates scored.
    pub candidates_scored: usize,
    /// Local-search moves accepted.
    pub moves: usize,
    /// The chosen batch against the exact verifier (absent in results written before it was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_arm: Option<ExactArmCheck>,
}

/// How a search scores its candidate batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scoring {
    /// O(b^2) per candidate from the Gram products of per-example gradients (logistic regression, LeNet).
    Gram,
    /// A real forward and backward pass per candidate (any model; VGGmini's before the surrogate).
    Naive,
    /// VGGmini: Gram products of count-sketched per-example gradients with BatchNorm frozen at the pool's
    /// statistics, ranking only; the best few candidates and every local-search move are judged exactly.
    Surrogate,
}

impl Scoring {
    /// The scoring the search uses for `model`.
    pub fn for_model(model: crate::experiment::ModelKind) -> Scoring {
        if model.per_example_separable() {
            Scoring::Gram
        } else {
            Scoring::Surrogate
        }
    }

    /// The scoring a search minimising `norm` uses for `model`: [`Scoring::for_model`], except that an Linf search
    /// of a model without per-example gradients scores naively (the surrogate's sketch keeps inner products, not
    /// coordinates).
    pub fn for_search(model: crate::experiment::ModelKind, norm: crate::jobs::SearchNorm) -> Scoring {
        match Scoring::for_model(model) {
            Scoring::Surrogate if norm == crate::jobs::SearchNorm::Linf => Scoring::Naive,
            s => s,
        }
    }

    /// "gram", "naive" or "surrogate", as reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Scoring::Gram => "gram",
            Scoring::Naive => "naive",
            Scoring::Surrogate => "surrogate",
        }
    }
}

/// Search-based forging of a shard of a PoL log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgeReport {
    /// What was run.
    pub spec: ForgeSpec,
    /// Where.
    pub provenance: Provenance,
    /// Per forged step.
    pub steps: Vec<ForgedStep>,
    /// Seconds spent on per-example gradients and the Gram matrix.
    pub setup_seconds: f64,
    /// Seconds spent scoring candidates.
    pub search_seconds: f64,
    /// How candidates were scored (absent from reports written before it was recorded).
    #[serde(default)]
    pub scoring: Option<Scoring>,
    /// The training optimiser whose step was forged (the built-in logs': plain SGD, the paper's setting).
    #[serde(default)]
    pub optimizer: crate::optim::Optimizer,
}

/// Optimisation forging: Algorithm 1 with Adam, or the same objective under L-BFGS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamReport {
    /// What was run.
    pub spec: AdamSpec,
    /// Where.
    pub provenance: Provenance,
    /// ||eta grad(synthetic) - eta grad(B)||_2 at every iteration (index 0 = before the first step; length I + 1). For
    /// L-BFGS, at every objective evaluation, line-search trials included (I + 1 of them, fewer when its line search
    /// fails), so that the index is cost for both.
    #[serde(with = "json::vec")]
    pub curve_l2: Vec<f64>,
    /// Final error measures (the last iterate).
    pub final_error: ErrorMeasures,
    /// The iterate with the lowest error, what a forger keeps (absent in results written before it was recorded).
    #[serde(default)]
    pub best: Option<AdamBest>,
    /// The search inside the data domain from the best iterate, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainReport>,
    /// The best iterate against the exact verifier (absent in results written before it was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_arm: Option<ExactArmCheck>,
    /// The training optimiser whose step was forged (the built-in logs': plain SGD, the paper's setting).
    #[serde(default)]
    pub optimizer: crate::optim::Optimizer,
}

/// The best iterate of an Adam run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamBest {
    /// Its index in the curve (0 = the start batch).
    pub iteration: usize,
    /// Its error measures, computed as the final ones are.
    pub error: ErrorMeasures,
}

impl AdamReport {
    /// The error a forger keeps: the best iterate's, or the last where no best was recorded.
    pub fn kept_error(&self) -> ErrorMeasures {
        self.best.map_or(self.final_error, |b| b.error)
    }

    /// The run in words for an attack table: iterations, seed, and which iterate [`AdamReport::kept_error`] is.
    pub fn parameters(&self) -> String {
        let s = &self.spec;
        let schedule = match s.schedule.words() {
            w if w.is_empty() => w,
            w => format!(", {w}"),
        };
        let head = match s.optimiser {
            crate::jobs::ForgeOptimiser::Adam => format!("I={}{schedule}, seed {}", s.iterations, s.seed),
            crate::jobs::ForgeOptimiser::Lbfgs => {
                format!("{} evaluations, seed {}", s.iterations, s.seed)
            }
        };
        match self.best {
            Some(b) => format!(
                "{head}, best iterate {} (last {})",
                b.iteration,
                crate::numfmt::error(self.final_error.l2)
            ),
            None => format!("{head}, last iterate"),
        }
    }
}

/// The Proposition 2 construction for logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prop2Report {
    /// What was run.
    pub spec: Prop2Spec,
    /// Where.
    pub provenance: Provenance,
    /// Numerical rank r of G and the tolerance used.
    pub rank: usize,
    /// The SVD tolerance.
    #[serde(with = "json")]
    pub rank_tolerance: f64,
    /// Gradient error of the forged batch, computed in f32.
    pub error_f32: ErrorMeasures,
    /// Gradient error of the forged batch, computed in f64.
    pub error_f64: ErrorMeasures,
    /// Fraction of forged pixels outside [0, 1].
    #[serde(with = "json")]
    pub pixels_outside_unit: f64,
    /// Largest distance of a forged label row from the probability simplex (0 = on it).
    #[serde(with = "json")]
    pub label_simplex_violation: f64,
    /// L2 distance between the forged and the real batch inputs (nonzero: it is a different batch).
    #[serde(with = "json")]
    pub batch_distance: f64,
    /// The search inside the data domain from the construction, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainReport>,
    /// The forged batch (in f32) against the exact verifier (absent in results written before it was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_arm: Option<ExactArmCheck>,
}

/// A batch of images to draw as a grid (Figure 3): channels-first pixels, nominally in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBatch {
    /// Caption.
    pub title: String,
    /// [c, h, w].
    pub shape: [usize; 3],
    /// n * c * h * w values.
    pub pixels: Vec<f32>,
}
