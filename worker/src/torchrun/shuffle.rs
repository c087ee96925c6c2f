//! The batch-shuffle experiment on a user's TorchScript model, at the file's own parameters: the same batch and
//! orders (the portable RNG's streams) and the same plain SGD update as the built-in models' experiment.
use crate::error::Result;
use crate::models::script::ScriptNet;
use crate::models::Net;
use crate::shuffle::{batch_of, check, errors};
use forgebench_shared::data::Dataset;
use forgebench_shared::measures::MeasureSummary;
use forgebench_shared::provenance::Provenance;
use forgebench_shared::torch_shuffle::TorchShuffleReport;
use forgebench_shared::torchrun::{DatasetRef, Transform};

/// What to run: batch size, learning rate, number of orders, seed.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Batch size b.
    pub batch_size: usize,
    /// Learning rate eta.
    pub eta: f64,
    /// Number of shuffled orders.
    pub shuffles: usize,
    /// Master seed.
    pub seed: u64,
}

/// Runs the experiment with `script` (its parameters as loaded) on `ds`.
pub fn run(script: ScriptNet, ds: &Dataset, plan: Plan, provenance: Provenance) -> Result<TorchShuffleReport> {
    check(plan.batch_size, plan.shuffles, ds.n)?;
    let theta = script.theta()?;
    let model = script.identity().clone();
    let net = Net::Script(Box::new(script));
    let batch = batch_of(plan.seed, plan.batch_size, ds.n);
    let errors = errors(&net, &theta, ds, &batch, (plan.eta, plan.shuffles, plan.seed))?;
    Ok(TorchShuffleReport {
        model,
        dataset: DatasetRef::of(ds, Transform::Scaled),
        batch_size: plan.batch_size,
        eta: plan.eta,
        seed: plan.seed,
        batch,
        provenance,
        summary: MeasureSummary::of(&errors),
        errors,
    })
}
