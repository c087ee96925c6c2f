//! The batch-shuffle experiment (the paper's Figure 4) on a user's TorchScript model: one batch's plain SGD update
//! (`theta - eta * grad`, the paper's setting) computed with its examples in other orders, at the model file's own
//! parameters, each order's theta_next compared with the unshuffled one in f64.
use crate::measures::{ErrorMeasures, MeasureSummary};
use crate::provenance::Provenance;
use crate::torchrun::{DatasetRef, ModelIdentity};
use serde::{Deserialize, Serialize};

/// A TorchScript model's shuffle errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorchShuffleReport {
    /// The model file: its sha256 and parameters.
    pub model: ModelIdentity,
    /// The training data, with its sha256.
    pub dataset: DatasetRef,
    /// Batch size b.
    pub batch_size: usize,
    /// Learning rate.
    pub eta: f64,
    /// Master seed of the batch and the orders (the portable RNG's streams, as for the built-in models).
    pub seed: u64,
    /// The batch in its unshuffled order.
    pub batch: Vec<usize>,
    /// Where it ran.
    pub provenance: Provenance,
    /// One entry per shuffle, in order; `rel` is relative to the unshuffled step eta * grad.
    pub errors: Vec<ErrorMeasures>,
    /// Summaries.
    pub summary: MeasureSummary,
}
