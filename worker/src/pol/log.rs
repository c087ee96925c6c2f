//! Training with SGD into a Proof-of-Learning log, and the log's in-memory form ([`PolLog`], [`PolManifest`]).
use crate::arithmetic::exact::store::RecordTensors;
use crate::arithmetic::exact::{StepRecords, TOLERANCE_UNITS};
use crate::arithmetic::{logged_step, Arithmetic};
use crate::error::{Result, WorkerError};
use crate::models::draw_theta;
use forgebench_shared::data::Dataset;
use forgebench_shared::jobs::PolSpec;
use forgebench_shared::provenance::Provenance;
use forgebench_shared::repro_log::ExactRecords;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format tag of the manifest.
pub const POL_FORMAT: &str = "forgebench-pol-log/1";

/// Everything about a PoL log except its tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolManifest {
    /// [`POL_FORMAT`].
    pub format: String,
    /// The training run (model, data set, b, eta, steps, s, seed).
    pub spec: PolSpec,
    /// sha256 of the training set the batch indices point into; a verifier refuses other data.
    pub dataset_sha256: String,
    /// Number of training examples (the indices' range).
    pub dataset_len: usize,
    /// Dimension of theta.
    pub dim: usize,
    /// Where and how the log was computed.
    pub provenance: Provenance,
    /// The exact arm: its rounding records (one entry per step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<ExactRecords>,
}

/// A PoL log in memory.
#[derive(Debug, Clone)]
pub struct PolLog {
    /// The manifest.
    pub manifest: PolManifest,
    /// C checkpoints of `dim` values, row-major; row i is theta after `checkpoint_steps()[i]` steps.
    pub checkpoints: Vec<f32>,
    /// `steps` rows of `b` training-set indices, row-major.
    pub indices: Vec<i64>,
    /// The exact arm: each step's rounding records.
    pub records: Option<Vec<StepRecords>>,
}

impl PolLog {
    /// The steps after which the checkpoints were taken (0 first, `steps` last).
    pub fn checkpoint_steps(&self) -> Vec<usize> {
        super::checkpoint_steps(self.manifest.spec.steps, self.manifest.spec.checkpoint_every)
    }
    /// Number of checkpoints C.
    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len() / self.manifest.dim.max(1)
    }
    /// Checkpoint `i` (0 = theta_0). Panics when `i >= C`.
    pub fn checkpoint(&self, i: usize) -> &[f32] {
        let d = self.manifest.dim;
        &self.checkpoints[i * d..(i + 1) * d]
    }
    /// The batch indices of step `step`. Panics when `step >= steps`.
    pub fn batch(&self, step: usize) -> Vec<usize> {
        let b = self.manifest.spec.batch_size;
        self.indices[step * b..(step + 1) * b]
            .iter()
            .map(|&i| i as usize)
            .collect()
    }
}

fn invalid(spec: &PolSpec, ds: &Dataset) -> Option<String> {
    let (b, n) = (spec.batch_size, ds.n);
    if spec.dataset != ds.kind {
        return Some(format!(
            "the spec names data set {}, but {} was loaded",
            spec.dataset, ds.kind
        ));
    }
    if spec.model.default_dataset() != spec.dataset {
        return Some(format!(
            "model {} takes {} inputs, not {}",
            spec.model,
            spec.model.default_dataset(),
            spec.dataset
        ));
    }
    if b == 0 || b > n || spec.steps == 0 || spec.checkpoint_every == 0 {
        return Some(format!(
            "a PoL run needs 1 <= b <= {n}, steps >= 1 and checkpoint_every >= 1, got b={b}, steps={}, s={}",
            spec.steps, spec.checkpoint_every
        ));
    }
    None
}

/// Trains `spec` with plain SGD (in the spec's arithmetic) on `device` from theta_0 = `draw_theta(model, seed, 0)` and writes the log to
/// `path` (and `path` with extension `.json`). Returns the manifest.
pub fn train(
    spec: &PolSpec,
    ds: &Dataset,
    device: tch::Device,
    provenance: Provenance,
    path: &Path,
) -> Result<PolManifest> {
    if let Some(problem) = invalid(spec, ds) {
        return Err(WorkerError::Invalid(format!("pol-train: {problem}")));
    }
    let dim = spec.model.param_count();
    let schedule = super::schedule(spec, ds.n);
    let marks = super::checkpoint_steps(spec.steps, spec.checkpoint_every);
    let theta0 = draw_theta(spec.model, spec.seed, 0);
    let mut checkpoints = Vec::with_capacity(marks.len() * dim);
    checkpoints.extend_from_slice(&theta0);
    let mut theta = theta0;
    let mut next_mark = 1;
    let mut records = Vec::new();
    let mut rec = RecordTensors::default();
    for (step, idx) in schedule.iter().enumerate() {
        let u = logged_step(
            spec.arithmetic,
            spec.model,
            &theta,
            ds,
            idx,
            device,
            spec.eta,
            TOLERANCE_UNITS,
            None,
        )?;
        if let Some(r) = u.records {
            rec.push(&r, &u.sites, u.values);
            records.push(r);
        }
        theta = u.theta_next;
        if marks[next_mark] == step + 1 {
            checkpoints.extend_from_slice(&theta);
            next_mark += 1;
        }
    }
    let manifest = PolManifest {
        format: POL_FORMAT.into(),
        spec: spec.clone(),
        dataset_sha256: ds.sha256.clone(),
        dataset_len: ds.n,
        dim,
        provenance,
        exact: (spec.arithmetic == Arithmetic::Exact).then(|| rec.info(TOLERANCE_UNITS)),
    };
    let indices = schedule.iter().flatten().map(|&i| i as i64).collect();
    let log = PolLog {
        manifest,
        checkpoints,
        indices,
        records: (spec.arithmetic == Arithmetic::Exact).then_some(records),
    };
    super::write(&log, path)?;
    Ok(log.manifest)
}
