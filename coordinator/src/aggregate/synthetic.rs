//! Synthetic reproduction logs in the real format (safetensors plus the manifest), for fake workers: the
//! coordinator's tests and the cluster benchmark exercise scheduling without libtorch, yet every log they upload
//! passes the same checks as a worker's and aggregates the same way.
use crate::error::{CoordError, Result};
use forgebench_shared::experiment::ReproSpec;
use forgebench_shared::provenance::Provenance;
use forgebench_shared::repro_log::{LogManifest, LOG_FORMAT, META_KEY};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// Writes a log of `spec` computed "on" `provenance` whose theta_{k+1} values are a fixed pattern plus `offset`
/// (two logs differ by about `offset` per coordinate), with unit step norms.
pub fn write_log(path: &Path, spec: &ReproSpec, provenance: Provenance, offset: f32) -> Result<LogManifest> {
    let dim = spec.model.param_count();
    let manifest = LogManifest {
        format: LOG_FORMAT.into(),
        spec: spec.clone(),
        dataset_sha256: "synthetic".into(),
        dataset_len: 60_000,
        dim,
        provenance,
        step_norms: vec![1.0; spec.triples],
        exact: None,
    };
    let values: Vec<u8> = (0..spec.triples * dim)
        .flat_map(|i| ((i % 1000) as f32 * 1e-3 + offset).to_le_bytes())
        .collect();
    let view = TensorView::new(Dtype::F32, vec![spec.triples, dim], &values)
        .map_err(|e| CoordError::Invalid(format!("synthetic log: {e}")))?;
    let json = serde_json::to_string(&manifest).map_err(|e| CoordError::json("manifest", e))?;
    let meta = HashMap::from([(META_KEY.to_owned(), json)]);
    safetensors::serialize_to_file(vec![("theta_next", view)], Some(meta), path)
        .map_err(|e| CoordError::Invalid(format!("writing {}: {e}", path.display())))?;
    Ok(manifest)
}

/// The manifest of the log at `path`.
pub fn read_manifest(path: &Path) -> Result<LogManifest> {
    let bytes = std::fs::read(path).map_err(|e| CoordError::io(path, e))?;
    super::pairs::read_manifest(&bytes, path)
}
