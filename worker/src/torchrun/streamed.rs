//! The streamed form of the Python module's log (`forgebench-torch-log/2`): the manifest, written once before
//! training, leaves steps, learning rates and checkpoints empty; `checkpoints/{k:06}.safetensors`, each written the
//! moment checkpoint k is taken, holds `step` (int64 [1]), `theta` and `state.NAME` (f32 [dim]) and, for k > 0, the
//! `indices` (int64 [steps since checkpoint k - 1, b]) and `lr` (f64 [same]) of the steps that led to it. A run that
//! crashed is a log up to its last checkpoint.
use super::Checkpoint;
use crate::error::{Result, WorkerError};
use crate::repro::{read_f32, tensor_bytes};
use forgebench_shared::torchrun::TorchLogManifest;
use safetensors::tensor::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// The folder of checkpoint files inside a log folder.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// The checkpoint files in order, 0 first; a gap is an error naming the missing file. Files still being written
/// (`.partial`) are not part of the log.
fn files(folder: &Path) -> Result<Vec<PathBuf>> {
    let dir = folder.join(CHECKPOINTS_DIR);
    let entries = std::fs::read_dir(&dir).map_err(|e| WorkerError::io(&dir, e))?;
    let mut found = Vec::new();
    for e in entries {
        let name = e.map_err(|e| WorkerError::io(&dir, e))?.file_name();
        let name = name.to_string_lossy();
        if let Some(k) = name.strip_suffix(".safetensors").and_then(|s| s.parse::<usize>().ok()) {
            found.push(k);
        }
    }
    found.sort_unstable();
    let name = |k: usize| dir.join(format!("{k:06}.safetensors"));
    if let Some(k) = found.iter().enumerate().find(|&(i, &k)| i != k).map(|(i, _)| i) {
        return Err(WorkerError::artifact(
            name(k),
            "missing: checkpoints are numbered from 0 without gaps",
        ));
    }
    if found.len() < 2 {
        let problem = "missing: the log needs checkpoint 0 and at least one after it";
        return Err(WorkerError::artifact(name(found.len()), problem));
    }
    Ok(found.into_iter().map(name).collect())
}

/// Fills `m`'s steps, learning rates and checkpoint steps from the files, and returns the batches and checkpoints.
pub fn read(folder: &Path, m: &mut TorchLogManifest) -> Result<(Vec<Vec<usize>>, Vec<Checkpoint>)> {
    let (b, dim) = (m.batch_size, m.model.dim());
    let (mut batches, mut checkpoints, mut lr, mut marks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (k, path) in files(folder)?.iter().enumerate() {
        let bytes = std::fs::read(path).map_err(|e| WorkerError::io(path, e))?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| WorkerError::artifact(path, format!("not a safetensors file: {e}")))?;
        let raw = tensor_bytes(&st, "step", Dtype::I64, &[1], path)?;
        let step = i64::from_le_bytes(raw.try_into().expect("8 bytes"));
        let before = marks.last().copied().unwrap_or(0);
        let fresh = usize::try_from(step).ok().filter(|&s| (k == 0 && s == 0) || s > before);
        let Some(step) = fresh else {
            let problem = format!("step {step}: checkpoint 0 is step 0, and each later one comes after {before}");
            return Err(WorkerError::artifact(path, problem));
        };
        if k > 0 {
            let n = step - before;
            let idx = tensor_bytes(&st, "indices", Dtype::I64, &[n, b], path)?;
            for row in idx.chunks_exact(8 * b) {
                let batch = row
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")));
                batches.push(batch.map(|i| index(i, m.dataset.n, path)).collect::<Result<Vec<_>>>()?);
            }
            let rates = tensor_bytes(&st, "lr", Dtype::F64, &[n], path)?;
            lr.extend(
                rates
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
            );
        }
        let theta = read_f32(&st, "theta", &[dim], path)?;
        let state = m
            .optimizer
            .state_names()
            .iter()
            .map(|name| read_f32(&st, &format!("state.{name}"), &[dim], path))
            .collect::<Result<_>>()?;
        marks.push(step);
        checkpoints.push(Checkpoint {
            step,
            theta,
            state,
            optimizer_steps: step as u64,
        });
    }
    (m.steps, m.lr, m.checkpoints) = (*marks.last().expect("two checkpoints at least"), lr, marks);
    Ok((batches, checkpoints))
}

fn index(i: i64, n: usize, path: &Path) -> Result<usize> {
    usize::try_from(i)
        .ok()
        .filter(|&i| i < n)
        .ok_or_else(|| WorkerError::artifact(path, format!("indices holds {i}, outside 0..{n}")))
}
