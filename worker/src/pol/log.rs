//! Training with SGD into a Proof-of-Learning log, and writing and reading the log (safetensors plus a JSON
//! manifest, embedded under `forgebench.manifest` and written beside the file), mirroring the reproduction logs.
use crate::error::{Result, WorkerError};
use crate::models::draw_theta;
use crate::tensors;
use crate::update::{sgd_update, Batch};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::Precision;
use forgebench_shared::jobs::PolSpec;
use forgebench_shared::provenance::Provenance;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Format tag of the manifest.
pub const POL_FORMAT: &str = "forgebench-pol-log/1";
const META_KEY: &str = "forgebench.manifest";

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

/// Trains `spec` with plain SGD on `device` from theta_0 = `draw_theta(model, seed, 0)` and writes the log to
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
    let mut theta = tensors::from_f32(&theta0, device);
    let mut next_mark = 1;
    for (step, idx) in schedule.iter().enumerate() {
        let batch = Batch::gather(ds, idx, device, Precision::F32)?;
        theta = sgd_update(spec.model, &theta, &batch, spec.eta)?.theta_next;
        if marks[next_mark] == step + 1 {
            checkpoints.extend(tensors::to_f32(&theta)?);
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
    };
    let indices = schedule.iter().flatten().map(|&i| i as i64).collect();
    let log = PolLog {
        manifest,
        checkpoints,
        indices,
    };
    write(&log, path)?;
    Ok(log.manifest)
}

/// Writes `log` to `path` (safetensors, through a temporary name) and its manifest to `path` with extension `.json`.
pub fn write(log: &PolLog, path: &Path) -> Result<()> {
    let m = &log.manifest;
    let (steps, b, dim) = (m.spec.steps, m.spec.batch_size, m.dim);
    let marks = log.checkpoint_steps();
    if log.checkpoints.len() != marks.len() * dim || log.indices.len() != steps * b {
        return Err(WorkerError::artifact(
            path,
            "checkpoints or indices do not match the manifest's shape",
        ));
    }
    let json = serde_json::to_string_pretty(m).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    let ckpt: Vec<u8> = log.checkpoints.iter().flat_map(|x| x.to_le_bytes()).collect();
    let idx: Vec<u8> = log.indices.iter().flat_map(|x| x.to_le_bytes()).collect();
    let marks_bytes: Vec<u8> = marks.iter().flat_map(|&s| (s as i64).to_le_bytes()).collect();
    let tensors = [
        ("checkpoints", Dtype::F32, vec![marks.len(), dim], &ckpt),
        ("batch_indices", Dtype::I64, vec![steps, b], &idx),
        ("checkpoint_steps", Dtype::I64, vec![marks.len()], &marks_bytes),
    ];
    let mut views = Vec::with_capacity(tensors.len());
    for (name, dtype, shape, data) in tensors {
        let v = TensorView::new(dtype, shape, data).map_err(|e| WorkerError::artifact(path, format!("{name}: {e}")))?;
        views.push((name.to_owned(), v));
    }
    let meta = HashMap::from([(META_KEY.to_owned(), json.clone())]);
    // A temporary name and a rename: a crash never leaves a truncated log under the real name.
    let tmp = path.with_extension("partial");
    safetensors::serialize_to_file(views, Some(meta), &tmp).map_err(|e| WorkerError::artifact(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| WorkerError::io(path, e))?;
    let side = path.with_extension("json");
    std::fs::write(&side, json).map_err(|e| WorkerError::io(&side, e))
}

fn tensor<'a>(st: &'a SafeTensors, name: &str, dtype: Dtype, shape: &[usize], path: &Path) -> Result<&'a [u8]> {
    let t = st
        .tensor(name)
        .map_err(|e| WorkerError::artifact(path, format!("tensor {name}: {e}")))?;
    if t.dtype() != dtype || t.shape() != shape {
        let problem = format!(
            "tensor {name} is {:?} {:?}, expected {dtype:?} {shape:?}",
            t.dtype(),
            t.shape()
        );
        return Err(WorkerError::artifact(path, problem));
    }
    Ok(t.data())
}

fn i64s(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("chunks of 8 bytes")))
        .collect()
}

/// Reads and checks a PoL log: format tag, dimension, tensor dtypes and shapes, the checkpoint steps and the range
/// of every batch index.
pub fn read(path: &Path) -> Result<PolLog> {
    let bytes = std::fs::read(path).map_err(|e| WorkerError::io(path, e))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| WorkerError::artifact(path, format!("not a safetensors file: {e}")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| WorkerError::artifact(path, format!("no {META_KEY} in the safetensors metadata")))?;
    let manifest: PolManifest =
        serde_json::from_str(json).map_err(|e| WorkerError::artifact(path, format!("manifest: {e}")))?;
    if manifest.format != POL_FORMAT {
        return Err(WorkerError::artifact(
            path,
            format!("format {:?}, expected {POL_FORMAT:?}", manifest.format),
        ));
    }
    if manifest.dim != manifest.spec.model.param_count() {
        let problem = format!("dim {} does not fit model {}", manifest.dim, manifest.spec.model);
        return Err(WorkerError::artifact(path, problem));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| WorkerError::artifact(path, e.to_string()))?;
    let (steps, b, dim) = (manifest.spec.steps, manifest.spec.batch_size, manifest.dim);
    let marks = super::checkpoint_steps(steps, manifest.spec.checkpoint_every);
    let c = marks.len();
    let stored_marks = i64s(tensor(&st, "checkpoint_steps", Dtype::I64, &[c], path)?);
    if stored_marks.iter().zip(&marks).any(|(&a, &m)| a != m as i64) {
        return Err(WorkerError::artifact(
            path,
            format!("checkpoint_steps {stored_marks:?}, expected {marks:?}"),
        ));
    }
    let checkpoints = tensor(&st, "checkpoints", Dtype::F32, &[c, dim], path)?
        .chunks_exact(4)
        .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        .collect();
    let indices = i64s(tensor(&st, "batch_indices", Dtype::I64, &[steps, b], path)?);
    if let Some(bad) = indices.iter().find(|&&i| i < 0 || i as usize >= manifest.dataset_len) {
        let problem = format!("batch_indices holds {bad}, outside 0..{}", manifest.dataset_len);
        return Err(WorkerError::artifact(path, problem));
    }
    Ok(PolLog {
        manifest,
        checkpoints,
        indices,
    })
}
