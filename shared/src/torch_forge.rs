//! Forging one step of a PyTorch user's run, as the paper's attacks do on the built-in logs, but against the run's
//! own model and optimiser: greedy search over real batches scored by a real replay of the step (naive scoring: a
//! user's module gives no per-example gradients), local search by exact swaps, and optimisation forging (Adam over a
//! synthetic batch, by double backpropagation through the module and the optimiser's update). Every error is the
//! distance a verifier would measure: the logged theta_{i+1} against the step replayed with the forged batch.
use crate::measures::ErrorMeasures;
use crate::optim::Optimizer;
use crate::provenance::Provenance;
use crate::torchrun::{DatasetRef, ModelIdentity};
use serde::{Deserialize, Serialize};

/// A search attack's best batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchArm {
    /// Its error against the logged theta_{i+1}.
    pub error: ErrorMeasures,
    /// Training-set indices of the batch (none in the logged batch).
    pub batch: Vec<usize>,
    /// Candidate batches (greedy) or swaps (local search) replayed.
    pub evaluated: usize,
    /// Local search: swaps accepted.
    pub moves: usize,
}

/// Optimisation forging's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticArm {
    /// Adam iterations run.
    pub iterations: usize,
    /// Inputs clamped to the data's range and labels projected onto the simplex after every step.
    pub projected: bool,
    /// The objective (L2 of the differentiable replay against the logged theta_{i+1}) before each step and after
    /// the last.
    pub curve_l2: Vec<f64>,
    /// The iterate kept (the lowest objective).
    pub best_iteration: usize,
    /// The kept batch's error, replayed as a verifier would (the optimiser's own kernel, soft labels).
    pub error: ErrorMeasures,
}

/// The report of `torch-forge`: one step of one run, every attack beside the benign replay of the logged batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorchForgeReport {
    /// The log folder as given.
    pub log: String,
    /// Its layout.
    pub layout: String,
    /// The model file.
    pub model: ModelIdentity,
    /// The optimiser forged against (its state at theta_i is the checkpoint's).
    pub optimizer: Optimizer,
    /// The training data.
    pub dataset: DatasetRef,
    /// The forged step i (theta_i to theta_{i+1}).
    pub step: usize,
    /// Its learning rate.
    pub lr: f64,
    /// Its batch size.
    pub batch_size: usize,
    /// The logged batch replayed here: the benign error in this environment.
    pub benign: ErrorMeasures,
    /// Greedy search (None when not run).
    pub greedy: Option<SearchArm>,
    /// Local search from the greedy batch (None when not run).
    pub local: Option<SearchArm>,
    /// Optimisation forging (None when not run).
    pub synthetic: Option<SyntheticArm>,
    /// Pool size of the searches (examples drawn outside the logged batch).
    pub pool: usize,
    /// Seed of the pool, the candidates and the synthetic start.
    pub seed: u64,
    /// Where it ran.
    pub provenance: Provenance,
}
