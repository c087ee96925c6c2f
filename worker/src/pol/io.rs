//! Writing and reading PoL logs: safetensors tensors plus the JSON manifest, embedded in the metadata under
//! `forgebench.manifest` and written beside the file (`.json`), mirroring the reproduction logs.
use super::log::{PolLog, PolManifest, POL_FORMAT};
use crate::arithmetic::exact::store::{read_records, RecordTensors};
use crate::error::{Result, WorkerError};
use crate::repro::{tensor_bytes as tensor, META_KEY};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

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
    let mut rec = RecordTensors::default();
    match (&log.records, &m.exact) {
        (None, None) if m.spec.arithmetic.is_f32() => {}
        (Some(r), Some(info)) if !m.spec.arithmetic.is_f32() && r.len() == steps => {
            for step in r {
                rec.push(step, &info.sites, info.values_per_step);
            }
        }
        _ => {
            return Err(WorkerError::artifact(
                path,
                format!(
                    "a PoL log in {} arithmetic needs one step of rounding records per step exactly when it is \
                     exact",
                    m.spec.arithmetic
                ),
            ))
        }
    }
    if log.records.is_some() {
        views.extend(rec.views(steps, path)?);
    }
    let meta = HashMap::from([(META_KEY.to_owned(), json.clone())]);
    // A temporary name and a rename: a crash never leaves a truncated log under the real name.
    let tmp = path.with_extension("partial");
    safetensors::serialize_to_file(views, Some(meta), &tmp).map_err(|e| WorkerError::artifact(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| WorkerError::io(path, e))?;
    let side = path.with_extension("json");
    std::fs::write(&side, json).map_err(|e| WorkerError::io(&side, e))
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
    let (bytes, manifest): (_, PolManifest) = crate::repro::read_with_manifest(path)?;
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
    let (steps, b, dim, s) = (
        manifest.spec.steps,
        manifest.spec.batch_size,
        manifest.dim,
        manifest.spec.checkpoint_every,
    );
    // The limits `train` writes under; a log outside them would make the verifier draw or index past its data.
    if steps == 0 || s == 0 || b == 0 || b > manifest.dataset_len {
        let problem = format!(
            "spec needs steps >= 1, checkpoint_every >= 1 and 1 <= batch_size <= dataset_len, got steps={steps}, \
             checkpoint_every={s}, batch_size={b}, dataset_len={}",
            manifest.dataset_len
        );
        return Err(WorkerError::artifact(path, problem));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| WorkerError::artifact(path, e.to_string()))?;
    // The count of `checkpoint_steps(steps, s)`, checked against the stored tensor before the list is built: a
    // corrupt `steps` (say 2^60) is then a shape error rather than an allocation that aborts the process.
    let c = steps.div_ceil(s).saturating_add(1);
    let stored_marks = i64s(tensor(&st, "checkpoint_steps", Dtype::I64, &[c], path)?);
    let marks = super::checkpoint_steps(steps, s);
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
    let records = read_records(&st, manifest.spec.arithmetic, manifest.exact.as_ref(), steps, path)?;
    Ok(PolLog {
        manifest,
        checkpoints,
        indices,
        records,
    })
}
