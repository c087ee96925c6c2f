//! PyTorch users' training runs: read from the layout the bundled Python module writes ([`forgebench_log`]) or
//! from the public Proof-of-Learning code's folder ([`public_pol`]), then replayed interval by interval with the
//! user's TorchScript model and optimiser ([`verify`]), or attacked step by step with the paper's forging attacks
//! against that model and optimiser ([`forge`]).
pub mod forge;
pub mod forgebench_log;
pub mod hash;
pub mod job;
pub mod pickle;
pub mod public_pol;
pub mod shuffle;
pub mod streamed;
pub mod train;
pub mod triples;
pub mod verify;

use forgebench_shared::optim::Optimizer;
use forgebench_shared::torchrun::{DatasetRef, ParamInfo, TorchWriter};
use std::path::PathBuf;

/// A checkpoint: theta and the optimiser's state after `step` steps.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Steps taken before it.
    pub step: usize,
    /// theta, flattened in `named_parameters()` order.
    pub theta: Vec<f32>,
    /// The optimiser's buffers, flattened like theta, in [`Optimizer::state_names`] order.
    pub state: Vec<Vec<f32>>,
    /// The optimiser's step count.
    pub optimizer_steps: u64,
}

/// A training run in memory, whatever layout it came from.
#[derive(Debug, Clone)]
pub struct TorchRun {
    /// The folder it was read from.
    pub folder: PathBuf,
    /// "forgebench-torch-log/1", "/2" or "public-pol".
    pub layout: String,
    /// The sha256 of the model file it names, when the layout records one.
    pub model_sha256: Option<String>,
    /// The parameters its checkpoints hold, in flattening order.
    pub params: Vec<ParamInfo>,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// The learning rate of each step.
    pub lr: Vec<f64>,
    /// Each step's batch (training-set indices).
    pub batches: Vec<Vec<usize>>,
    /// The checkpoints, in step order (the first at step 0, the last at the final step).
    pub checkpoints: Vec<Checkpoint>,
    /// The training data's identity and transform.
    pub dataset: DatasetRef,
    /// Who wrote it, when the layout says.
    pub writer: Option<TorchWriter>,
}
