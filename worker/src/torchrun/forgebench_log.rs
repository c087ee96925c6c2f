//! The log the bundled Python module (`worker/python/forgebench_log.py`) writes from a PyTorch training loop: a folder with
//! [`MANIFEST_FILE`] (model identity, optimiser, learning rate per step, data set, writer), [`TENSORS_FILE`]
//! (safetensors: `indices` [steps, b] int64; per checkpoint k `theta.k` and `state.k.NAME`, f32 [dim]) and the
//! TorchScript model file the manifest names; or, as the module writes it, the streamed form ([`super::streamed`]),
//! whose checkpoints are each their own file.
use super::{Checkpoint, TorchRun};
use crate::error::{Result, WorkerError};
use crate::repro::{read_f32, tensor_bytes};
use forgebench_shared::torchrun::{TorchLogManifest, MANIFEST_FILE, STREAMED_FORMAT, TENSORS_FILE, TORCH_LOG_FORMAT};
use safetensors::tensor::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// True when `folder` holds a log of this layout.
pub fn is_one(folder: &Path) -> bool {
    folder.join(MANIFEST_FILE).is_file()
}

/// The model file the log names, relative to its folder.
pub fn model_file(folder: &Path, manifest: &TorchLogManifest) -> PathBuf {
    folder.join(&manifest.model.file)
}

/// Reads the manifest alone.
pub fn manifest(folder: &Path) -> Result<TorchLogManifest> {
    let path = folder.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| WorkerError::io(&path, e))?;
    let m: TorchLogManifest = serde_json::from_str(&text).map_err(|e| WorkerError::artifact(&path, e.to_string()))?;
    if m.format != TORCH_LOG_FORMAT && m.format != STREAMED_FORMAT {
        let problem = format!(
            "format {:?}, expected {TORCH_LOG_FORMAT:?} or {STREAMED_FORMAT:?}",
            m.format
        );
        return Err(WorkerError::artifact(&path, problem));
    }
    if m.format == TORCH_LOG_FORMAT {
        check(&path, &m)?;
    }
    Ok(m)
}

/// The manifest with its steps, learning rates and checkpoints, which the streamed form keeps in its checkpoint
/// files.
pub fn complete_manifest(folder: &Path) -> Result<TorchLogManifest> {
    let mut m = manifest(folder)?;
    if m.format == STREAMED_FORMAT {
        super::streamed::read(folder, &mut m)?;
    }
    Ok(m)
}

/// Steps, checkpoints and learning rates agree.
fn check(path: &Path, m: &TorchLogManifest) -> Result<()> {
    let marks = &m.checkpoints;
    let ordered = marks.windows(2).all(|w| w[0] < w[1]);
    if m.steps == 0 || m.batch_size == 0 || marks.first() != Some(&0) || marks.last() != Some(&m.steps) || !ordered {
        let problem = format!(
            "needs steps >= 1, batch_size >= 1 and checkpoints rising from 0 to steps, got steps={}, batch_size={}, \
             checkpoints {marks:?}",
            m.steps, m.batch_size
        );
        return Err(WorkerError::artifact(path, problem));
    }
    if m.lr.len() != m.steps {
        let problem = format!("lr has {} entries for {} steps", m.lr.len(), m.steps);
        return Err(WorkerError::artifact(path, problem));
    }
    Ok(())
}

/// Reads and checks the whole log, whose manifest `m` ([`manifest`]) is already read.
pub fn read(folder: &Path, mut m: TorchLogManifest) -> Result<TorchRun> {
    if m.format == STREAMED_FORMAT {
        let (batches, checkpoints) = super::streamed::read(folder, &mut m)?;
        return Ok(run(folder, m, batches, checkpoints));
    }
    let path = folder.join(TENSORS_FILE);
    let bytes = std::fs::read(&path).map_err(|e| WorkerError::io(&path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| WorkerError::artifact(&path, e.to_string()))?;
    let (steps, b, dim) = (m.steps, m.batch_size, m.model.dim());
    let indices = tensor_bytes(&st, "indices", Dtype::I64, &[steps, b], &path)?;
    let batches = super::streamed::batches_of(indices, b, m.dataset.n, &path)?;
    let mut checkpoints = Vec::with_capacity(m.checkpoints.len());
    for (k, &step) in m.checkpoints.iter().enumerate() {
        let theta = read_f32(&st, &format!("theta.{k}"), &[dim], &path)?;
        let mut state = Vec::new();
        for name in m.optimizer.state_names() {
            state.push(read_f32(&st, &format!("state.{k}.{name}"), &[dim], &path)?);
        }
        checkpoints.push(Checkpoint {
            step,
            theta,
            state,
            optimizer_steps: step as u64,
        });
    }
    Ok(run(folder, m, batches, checkpoints))
}

fn run(folder: &Path, m: TorchLogManifest, batches: Vec<Vec<usize>>, checkpoints: Vec<Checkpoint>) -> TorchRun {
    TorchRun {
        folder: folder.to_path_buf(),
        layout: m.format.clone(),
        model_sha256: Some(m.model.sha256.clone()),
        params: m.model.params.clone(),
        optimizer: m.optimizer,
        lr: m.lr,
        batches,
        checkpoints,
        dataset: m.dataset,
        writer: Some(m.writer),
    }
}
