//! The manifest of a TorchScript model's reproduction log: K independent triples (theta, B_k, theta_next), every
//! theta the model file's own parameters and B_k drawn from the portable RNG as for the built-in models, each step
//! plain SGD (the paper's setting). The tensors and the embedded manifest are laid out like a built-in model's log
//! ([`crate::repro_log`]); the format tag tells the two apart.
use crate::provenance::Provenance;
use crate::torchrun::{DatasetRef, ModelIdentity};
use serde::{Deserialize, Serialize};

/// Format tag of the manifest.
pub const SCRIPT_LOG_FORMAT: &str = "forgebench-torchscript-repro-log/1";

/// Everything about a TorchScript model's reproduction log except its tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptLogManifest {
    /// [`SCRIPT_LOG_FORMAT`].
    pub format: String,
    /// The model file as given to the writer, its sha256 and its parameters.
    pub model: ModelIdentity,
    /// The training set the batches index into.
    pub dataset: DatasetRef,
    /// Batch size b.
    pub batch_size: usize,
    /// Learning rate eta.
    pub eta: f64,
    /// Number of triples K.
    pub triples: usize,
    /// The batches' master seed.
    pub seed: u64,
    /// Dimension of theta.
    pub dim: usize,
    /// Where and how the log was computed.
    pub provenance: Provenance,
    /// L2 norm (f64) of each triple's step eta * grad as the writer computed it.
    pub step_norms: Vec<f64>,
}

impl ScriptLogManifest {
    /// Why this manifest cannot be a log of `dim`-parameter triples, if it cannot: its counts disagree.
    pub fn problem(&self) -> Option<String> {
        if self.format != SCRIPT_LOG_FORMAT {
            return Some(format!("format {:?}, expected {SCRIPT_LOG_FORMAT:?}", self.format));
        }
        if self.dim != self.model.dim() {
            return Some(format!(
                "dim {} but the model's parameters hold {} values",
                self.dim,
                self.model.dim()
            ));
        }
        if self.step_norms.len() != self.triples || self.triples == 0 || self.batch_size == 0 {
            return Some(format!(
                "{} triples of b={} with {} step norms",
                self.triples,
                self.batch_size,
                self.step_norms.len()
            ));
        }
        None
    }
}
