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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::torchrun::{ParamInfo, Transform};

    fn provenance() -> Provenance {
        Provenance {
            code_version: "t".into(),
            profile: crate::profile::DeviceProfile::cpu("cpu-x"),
            fingerprint: crate::fingerprint::DeviceFingerprint {
                hostname: "h".into(),
                cpu_model: "cpu".into(),
                cpu_flags: vec![],
                libtorch_version: "2.13.0".into(),
                libtorch_config: String::new(),
                cuda_driver: "none".into(),
                gpus: vec![],
                code_version: "t".into(),
                threads: 1,
                settings_in_force: Default::default(),
            },
            seeds: vec![],
        }
    }

    fn manifest() -> ScriptLogManifest {
        let json = serde_json::json!({
            "format": SCRIPT_LOG_FORMAT,
            "model": { "file": "m.pt", "sha256": "ab", "params": [{ "name": "w", "shape": [2, 3] }] },
            "dataset": { "kind": "mnist", "sha256": "cd", "n": 10, "transform": "scaled" },
            "batch_size": 4, "eta": 0.01, "triples": 2, "seed": 0, "dim": 6,
            "provenance": serde_json::to_value(provenance()).unwrap(),
            "step_norms": [1.0, 2.0],
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_consistent_manifest_has_no_problem_and_each_inconsistency_is_named() {
        let m = manifest();
        assert_eq!(m.problem(), None);
        assert_eq!(m.dataset.transform, Transform::Scaled);
        let mut bad = m.clone();
        bad.format = "forgebench-repro-log/1".into();
        assert!(bad.problem().unwrap().contains("format"));
        let mut bad = m.clone();
        bad.model.params.push(ParamInfo {
            name: "b".into(),
            shape: vec![3],
        });
        assert!(bad.problem().unwrap().contains("dim 6"), "{:?}", bad.problem());
        let mut bad = m;
        bad.step_norms.pop();
        assert!(bad.problem().unwrap().contains("1 step norms"), "{:?}", bad.problem());
    }
}
