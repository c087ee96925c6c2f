//! The streamed form of the Python module's log (`forgebench-torch-log/2`): the manifest, written once before
//! training, leaves steps, learning rates and checkpoints empty; `checkpoints/{k:06}.safetensors`, each written the
//! moment checkpoint k is taken, holds `step` (int64 [1]), `theta` and `state.NAME` (f32 [dim]) and, for k > 0, the
//! `indices` (int64 [steps since checkpoint k - 1, b]) and `lr` (f64 [same]) of the steps that led to it. A run that
//! crashed is a log up to its last checkpoint.
use super::Checkpoint;
use crate::error::{Result, WorkerError};
use crate::repro::{f32_bytes, read_f32, tensor_bytes};
use forgebench_shared::torchrun::TorchLogManifest;
use safetensors::tensor::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// The folder of checkpoint files inside a log folder.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// Checkpoint k's file name.
pub fn file_name(k: usize) -> String {
    format!("{k:06}.safetensors")
}

/// The k of a checkpoint file's name: only the writer's own names ([`file_name`]), nothing that merely parses as a
/// number, and no file still being written (`.partial`).
pub fn number_of(name: &str) -> Option<usize> {
    let stem = name.strip_suffix(".safetensors")?;
    stem.parse::<usize>().ok().filter(|&k| file_name(k) == name)
}

/// The checkpoint files in order, 0 first; a gap is an error naming the missing file.
pub fn files(folder: &Path) -> Result<Vec<PathBuf>> {
    let dir = folder.join(CHECKPOINTS_DIR);
    let entries = std::fs::read_dir(&dir).map_err(|e| WorkerError::io(&dir, e))?;
    let mut found = Vec::new();
    for e in entries {
        let name = e.map_err(|e| WorkerError::io(&dir, e))?.file_name();
        found.extend(number_of(&name.to_string_lossy()));
    }
    found.sort_unstable();
    let name = |k: usize| dir.join(file_name(k));
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
    if b == 0 {
        let manifest = folder.join(forgebench_shared::torchrun::MANIFEST_FILE);
        return Err(WorkerError::artifact(manifest, "batch_size 0"));
    }
    let (mut batches, mut checkpoints, mut lr, mut marks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (k, path) in files(folder)?.iter().enumerate() {
        let bytes = std::fs::read(path).map_err(|e| WorkerError::io(path, e))?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| WorkerError::artifact(path, format!("not a safetensors file: {e}")))?;
        let raw = tensor_bytes(&st, "step", Dtype::I64, &[1], path)?;
        let step = i64::from_le_bytes(raw.try_into().expect("8 bytes"));
        let before = marks.last().copied().unwrap_or(0);
        let fresh = usize::try_from(step)
            .ok()
            .filter(|&s| if k == 0 { s == 0 } else { s > before });
        let Some(step) = fresh else {
            let problem = format!("step {step}: checkpoint 0 is step 0, and each later one comes after {before}");
            return Err(WorkerError::artifact(path, problem));
        };
        if k > 0 {
            let n = step - before;
            let idx = tensor_bytes(&st, "indices", Dtype::I64, &[n, b], path)?;
            batches.extend(batches_of(idx, b, m.dataset.n, path)?);
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

/// Rows of `b` int64 training-set indices, each checked to lie in `0..n`.
pub(super) fn batches_of(bytes: &[u8], b: usize, n: usize, path: &Path) -> Result<Vec<Vec<usize>>> {
    let index = |c: &[u8]| {
        let i = i64::from_le_bytes(c.try_into().expect("8 bytes"));
        usize::try_from(i)
            .ok()
            .filter(|&i| i < n)
            .ok_or_else(|| WorkerError::artifact(path, format!("indices holds {i}, outside 0..{n}")))
    };
    bytes
        .chunks_exact(8 * b)
        .map(|row| row.chunks_exact(8).map(index).collect())
        .collect()
}

/// One checkpoint as [`write`] stores it.
pub struct CheckpointFile<'a> {
    /// Its number k (0 first).
    pub k: usize,
    /// The step after which it was taken.
    pub step: usize,
    /// theta, flattened.
    pub theta: &'a [f32],
    /// The optimiser's state buffers by name, flattened like theta.
    pub state: Vec<(&'a str, Vec<f32>)>,
    /// The batches of the steps since checkpoint k - 1 (none for k = 0).
    pub batches: &'a [Vec<usize>],
    /// Their learning rates.
    pub lr: &'a [f64],
}

/// Writes checkpoint `c` into `folder`'s checkpoint folder: to a `.partial` file first, renamed when complete, so
/// that a crash never leaves half a checkpoint under its name.
pub fn write(folder: &Path, c: &CheckpointFile) -> Result<()> {
    let dir = folder.join(CHECKPOINTS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| WorkerError::io(&dir, e))?;
    let path = dir.join(file_name(c.k));
    let tmp = path.with_extension("safetensors.partial");
    let b = c.batches.first().map_or(0, Vec::len);
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
        (
            "step".into(),
            Dtype::I64,
            vec![1],
            (c.step as i64).to_le_bytes().to_vec(),
        ),
        ("theta".into(), Dtype::F32, vec![c.theta.len()], f32_bytes(c.theta)),
    ];
    for (name, buf) in &c.state {
        owned.push((format!("state.{name}"), Dtype::F32, vec![buf.len()], f32_bytes(buf)));
    }
    if c.k > 0 {
        let idx = c
            .batches
            .iter()
            .flatten()
            .flat_map(|&i| (i as i64).to_le_bytes())
            .collect();
        owned.push(("indices".into(), Dtype::I64, vec![c.batches.len(), b], idx));
        let lr = c.lr.iter().flat_map(|r| r.to_le_bytes()).collect();
        owned.push(("lr".into(), Dtype::F64, vec![c.lr.len()], lr));
    }
    let mut views = Vec::with_capacity(owned.len());
    for (name, dtype, shape, data) in &owned {
        let v = safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
            .map_err(|e| WorkerError::artifact(&path, e.to_string()))?;
        views.push((name.clone(), v));
    }
    safetensors::serialize_to_file(views, None, &tmp).map_err(|e| WorkerError::artifact(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, &path).map_err(|e| WorkerError::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> TorchLogManifest {
        serde_json::from_value(serde_json::json!({
            "format": forgebench_shared::torchrun::STREAMED_FORMAT,
            "model": {"file": "model.pt", "sha256": "", "params": [{"name": "w", "shape": [2]}]},
            "optimizer": {"kind": "plain"}, "lr": [], "batch_size": 1, "steps": 0, "checkpoints": [],
            "dataset": {"kind": "mnist", "sha256": "", "n": 10, "transform": "scaled"},
            "writer": {"torch_version": "", "cpu_capability": "", "threads": 1, "device": "cpu", "program": ""}
        }))
        .unwrap()
    }

    fn put(dir: &Path, k: usize, step: usize, batches: &[Vec<usize>]) {
        let lr = vec![0.1; batches.len()];
        let c = CheckpointFile {
            k,
            step,
            theta: &[0.5, -0.5],
            state: vec![],
            batches,
            lr: &lr,
        };
        write(dir, &c).unwrap();
    }

    fn refused(dir: &Path, words: &str) {
        let err = read(dir, &mut manifest()).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(words), "expected {words:?} in: {err}");
    }

    #[test]
    fn written_checkpoints_read_back_and_malformed_ones_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        put(dir, 0, 0, &[]);
        put(dir, 1, 2, &[vec![3], vec![4]]);
        put(dir, 2, 3, &[vec![9]]);
        // A file still being written, and one that is not the writer's name, are not part of the log.
        std::fs::write(dir.join("checkpoints/000003.safetensors.partial"), b"half").unwrap();
        std::fs::write(dir.join("checkpoints/3.safetensors"), b"not ours").unwrap();
        let mut m = manifest();
        let (batches, checkpoints) = read(dir, &mut m).unwrap();
        assert_eq!(batches, vec![vec![3], vec![4], vec![9]]);
        assert_eq!((m.steps, m.checkpoints.clone(), m.lr.len()), (3, vec![0, 2, 3], 3));
        assert_eq!(checkpoints[2].theta, vec![0.5, -0.5]);
        // Checkpoint 0 must be step 0, or the batches would not line up with the steps.
        put(dir, 0, 1, &[]);
        refused(dir, "checkpoint 0 is step 0");
        put(dir, 0, 0, &[]);
        put(dir, 2, 2, &[]);
        refused(dir, "comes after 2");
        put(dir, 2, 3, &[vec![10]]);
        refused(dir, "outside 0..10");
        std::fs::remove_file(dir.join("checkpoints/000001.safetensors")).unwrap();
        refused(dir, "000001.safetensors");
        // A manifest of batch size 0 is named, not a division of the indices into rows of nothing.
        let mut m = manifest();
        m.batch_size = 0;
        let err = read(dir, &mut m).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("batch_size 0"), "{err}");
    }
}
