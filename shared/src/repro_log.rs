//! The manifest of a reproduction log and the one distance both arms of a matrix use: a verifier recomputing a
//! log (exhaustive verification) and the coordinator comparing two stored logs (linear verification) call
//! [`triple_measures`] on the same f32 values, so their cells agree bit for bit.
use crate::experiment::ReproSpec;
use crate::measures::{measures, ErrorMeasures};
use crate::provenance::Provenance;
use serde::{Deserialize, Serialize};

/// Format tag of the manifest.
pub const LOG_FORMAT: &str = "forgebench-repro-log/1";
/// The safetensors metadata key holding the manifest JSON.
pub const META_KEY: &str = "forgebench.manifest";

/// Everything about a log except its tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogManifest {
    /// [`LOG_FORMAT`].
    pub format: String,
    /// The triples' parameters (model, data set, b, eta, K, seed, full).
    pub spec: ReproSpec,
    /// sha256 of the training set the batches index into.
    pub dataset_sha256: String,
    /// Number of training examples (the batch indices' range).
    pub dataset_len: usize,
    /// Dimension of theta.
    pub dim: usize,
    /// Where and how the log was computed.
    pub provenance: Provenance,
    /// L2 norm (f64) of each triple's step eta * grad as the writer computed it: the reference of the relative
    /// measure when another device's log is compared with this one. Empty in logs written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_norms: Vec<f64>,
    /// The exact arm's rounding records (present exactly when `spec.arithmetic` is exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<ExactRecords>,
}

/// What an exact-arm log says about its rounding records (the records themselves are tensors of the log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactRecords {
    /// The writer's tolerance at each site, in units of the site's f64 resolution (2^-52 times its largest
    /// magnitude).
    pub tolerance_units: f64,
    /// The relative part of the tolerance, in gaps between adjacent f32 values (a value this near a boundary is
    /// recorded at any scale).
    pub tolerance_gaps: f64,
    /// The rounding sites of a step, in order ("conv1.forward", ..., "update").
    pub sites: Vec<String>,
    /// Values rounded per step, over all sites.
    pub values_per_step: u64,
    /// Records per step.
    pub records: Vec<u64>,
    /// Packed bytes of each step's records (site digests apart).
    pub record_bytes: Vec<u64>,
}

/// The measures of one triple: `stored` is the log's theta_{k+1}, `recomputed` the verifier's, `step_norm` the L2
/// norm of the verifier's step (the relative measure's reference; 0 gives a relative gap of 0).
pub fn triple_measures(stored: &[f32], recomputed: &[f32], step_norm: f64) -> ErrorMeasures {
    let mut e = measures(stored, recomputed, None);
    e.rel = if step_norm > 0.0 { e.l2 / step_norm } else { 0.0 };
    e
}
