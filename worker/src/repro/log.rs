//! Writing and reading reproduction logs: safetensors tensors plus a JSON manifest (embedded in the safetensors
//! metadata under `forgebench.manifest`, and written beside the file for people), so a PyTorch user opens the
//! tensors with the `safetensors` package and any tool reads the manifest.
use crate::arithmetic::exact::records::StepRecords;
use crate::arithmetic::{logged_step, Arithmetic};
use crate::error::{Result, WorkerError};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::ReproSpec;
use forgebench_shared::provenance::Provenance;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

pub use forgebench_shared::repro_log::{LogManifest, LOG_FORMAT, META_KEY};

/// A log in memory.
pub struct ReproLog {
    /// The manifest.
    pub manifest: LogManifest,
    /// `theta_next`: K rows of `dim` values, row-major.
    pub theta_next: Vec<f32>,
    /// theta_k, when the log is full.
    pub theta: Option<Vec<f32>>,
    /// Batch indices (K rows of b), when the log is full.
    pub indices: Option<Vec<i64>>,
    /// The exact arm: each step's rounding records.
    pub records: Option<Vec<StepRecords>>,
}

/// `v` as little-endian bytes, as safetensors stores f32.
pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Computes the K triples of `spec` on `device` and writes the log to `path` (and `path` + `.json`).
pub fn write_log(
    spec: &ReproSpec,
    ds: &Dataset,
    device: tch::Device,
    provenance: Provenance,
    path: &Path,
    mut progress: impl FnMut(usize),
) -> Result<LogManifest> {
    let dim = spec.model.param_count();
    let (k_total, b) = (spec.triples, spec.batch_size);
    if b == 0 || b > ds.n || k_total == 0 {
        return Err(WorkerError::Invalid(format!(
            "log needs 1 <= b <= {} and K >= 1, got b={b}, K={k_total}",
            ds.n
        )));
    }
    let mut next = Vec::with_capacity(k_total * dim * 4);
    let mut thetas = Vec::new();
    let mut idx_bytes = Vec::new();
    let mut step_norms = Vec::with_capacity(k_total);
    let mut rec = crate::arithmetic::exact::store::RecordTensors::default();
    let units = spec
        .tolerance_units
        .unwrap_or(crate::arithmetic::exact::TOLERANCE_UNITS);
    if !(units.is_finite() && units > 0.0) {
        return Err(WorkerError::Invalid(format!(
            "tolerance_units {units} is not a positive number"
        )));
    }
    for k in 0..k_total {
        let theta = super::theta_k(spec, k);
        let idx = super::batch_k(spec, k, ds.n);
        let u = logged_step(
            spec.arithmetic,
            spec.model,
            &theta,
            ds,
            &idx,
            device,
            spec.eta,
            units,
            None,
        )?;
        next.extend(f32_bytes(&u.theta_next));
        step_norms.push(u.step_norm);
        if let Some(r) = &u.records {
            rec.push(r, &u.sites, u.values);
        }
        if spec.full {
            thetas.extend(f32_bytes(&theta));
            idx_bytes.extend(idx.iter().flat_map(|&i| (i as i64).to_le_bytes()));
        }
        progress(k + 1);
    }
    let exact = (spec.arithmetic == Arithmetic::Exact).then(|| rec.info(units));
    let manifest = LogManifest {
        format: LOG_FORMAT.into(),
        spec: spec.clone(),
        dataset_sha256: ds.sha256.clone(),
        dataset_len: ds.n,
        dim,
        provenance,
        step_norms,
        exact,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    fn view<'a>(dtype: Dtype, shape: Vec<usize>, data: &'a [u8], path: &Path) -> Result<TensorView<'a>> {
        TensorView::new(dtype, shape, data).map_err(|e| WorkerError::artifact(path, e.to_string()))
    }
    let mut views = vec![(
        "theta_next".to_owned(),
        view(Dtype::F32, vec![k_total, dim], &next, path)?,
    )];
    if spec.full {
        views.push(("theta".to_owned(), view(Dtype::F32, vec![k_total, dim], &thetas, path)?));
        views.push((
            "batch_indices".to_owned(),
            view(Dtype::I64, vec![k_total, b], &idx_bytes, path)?,
        ));
    }
    if spec.arithmetic == Arithmetic::Exact {
        views.extend(rec.views(k_total, path)?);
    }
    save_tensors(views, &json, path)?;
    Ok(manifest)
}

/// Writes `views` with the manifest `json` in their metadata to `path`, and `json` beside it (`path` + `.json`).
pub(crate) fn save_tensors(views: Vec<(String, TensorView)>, json: &str, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| WorkerError::io(dir, e))?;
    }
    let meta = HashMap::from([(META_KEY.to_owned(), json.to_owned())]);
    // Written to a temporary name and renamed, so a crash never leaves a truncated log under the real name.
    let tmp = path.with_extension("partial");
    safetensors::serialize_to_file(views, Some(meta), &tmp).map_err(|e| WorkerError::artifact(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| WorkerError::io(path, e))?;
    let side = path.with_extension("json");
    std::fs::write(&side, json).map_err(|e| WorkerError::io(&side, e))
}

/// The f32 tensor `name` of `st`, checked to have `shape`.
pub(crate) fn read_f32(st: &SafeTensors, name: &str, shape: &[usize], path: &Path) -> Result<Vec<f32>> {
    Ok(tensor_bytes(st, name, Dtype::F32, shape, path)?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The manifest of the forgebench safetensors file `path`, read from its header alone: what kind of log a file is
/// is known without reading its tensors (hundreds of megabytes for VGGmini). The file as a whole is checked by
/// [`read_with_manifest`] when it is read.
pub(crate) fn read_manifest<M: serde::de::DeserializeOwned>(path: &Path) -> Result<M> {
    use std::io::Read;
    // safetensors' own bound on a header's size.
    const MAX_HEADER: u64 = 100_000_000;
    let not_safetensors = |e: String| WorkerError::artifact(path, format!("not a safetensors file: {e}"));
    let mut file = std::fs::File::open(path).map_err(|e| WorkerError::io(path, e))?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|e| not_safetensors(e.to_string()))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER {
        return Err(not_safetensors(format!("a header of {n} bytes")));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header)
        .map_err(|e| not_safetensors(e.to_string()))?;
    #[derive(serde::Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__")]
        metadata: Option<HashMap<String, String>>,
    }
    let h: Header = serde_json::from_slice(&header).map_err(|e| not_safetensors(e.to_string()))?;
    let json = h
        .metadata
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| WorkerError::artifact(path, format!("no {META_KEY} in the safetensors metadata")))?;
    serde_json::from_str(json).map_err(|e| WorkerError::artifact(path, format!("manifest: {e}")))
}

/// The bytes of a forgebench safetensors file (a reproduction or PoL log) and the JSON manifest in its metadata.
pub(crate) fn read_with_manifest<M: serde::de::DeserializeOwned>(path: &Path) -> Result<(Vec<u8>, M)> {
    let bytes = std::fs::read(path).map_err(|e| WorkerError::io(path, e))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| WorkerError::artifact(path, format!("not a safetensors file: {e}")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| WorkerError::artifact(path, format!("no {META_KEY} in the safetensors metadata")))?;
    let manifest = serde_json::from_str(json).map_err(|e| WorkerError::artifact(path, format!("manifest: {e}")))?;
    Ok((bytes, manifest))
}

/// Reads and checks a log: format tag, tensor dtypes and shapes against the manifest.
pub fn read_log(path: &Path) -> Result<ReproLog> {
    let (bytes, manifest): (_, LogManifest) = read_with_manifest(path)?;
    if manifest.format != LOG_FORMAT {
        return Err(WorkerError::artifact(
            path,
            format!("format {:?}, expected {LOG_FORMAT:?}", manifest.format),
        ));
    }
    if manifest.dim != manifest.spec.model.param_count() {
        return Err(WorkerError::artifact(
            path,
            format!("dim {} does not fit model {}", manifest.dim, manifest.spec.model),
        ));
    }
    let (k, dim, b) = (manifest.spec.triples, manifest.dim, manifest.spec.batch_size);
    // The limits `write_log` writes under; a short log outside them would make the verifier draw b > n indices.
    if k == 0 || b == 0 || b > manifest.dataset_len {
        return Err(WorkerError::artifact(
            path,
            format!(
                "spec needs triples >= 1 and 1 <= batch_size <= dataset_len, got triples={k}, batch_size={b}, \
                 dataset_len={}",
                manifest.dataset_len
            ),
        ));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| WorkerError::artifact(path, e.to_string()))?;
    let theta_next = read_f32(&st, "theta_next", &[k, dim], path)?;
    let stored = st.names().contains(&"theta");
    // A full log whose inputs are missing would silently be verified against regenerated inputs instead.
    if stored != manifest.spec.full {
        return Err(WorkerError::artifact(
            path,
            format!(
                "spec.full is {} but the file {} a theta tensor",
                manifest.spec.full,
                if stored { "has" } else { "lacks" }
            ),
        ));
    }
    let (theta, indices) = if stored {
        let t = read_f32(&st, "theta", &[k, dim], path)?;
        let ix = st
            .tensor("batch_indices")
            .map_err(|e| WorkerError::artifact(path, format!("batch_indices: {e}")))?;
        if ix.dtype() != Dtype::I64 || ix.shape() != [k, b] {
            return Err(WorkerError::artifact(
                path,
                format!(
                    "batch_indices is {:?} {:?}, expected I64 [{k}, {b}]",
                    ix.dtype(),
                    ix.shape()
                ),
            ));
        }
        let ix: Vec<i64> = ix
            .data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if let Some(bad) = ix.iter().find(|&&i| i < 0 || i as usize >= manifest.dataset_len) {
            return Err(WorkerError::artifact(
                path,
                format!("batch index {bad} outside 0..{}", manifest.dataset_len),
            ));
        }
        (Some(t), Some(ix))
    } else {
        (None, None)
    };
    let records = crate::arithmetic::exact::store::read_records(
        &st,
        manifest.spec.arithmetic,
        manifest.exact.as_ref(),
        manifest.spec.triples,
        path,
    )?;
    Ok(ReproLog {
        manifest,
        theta_next,
        theta,
        indices,
        records,
    })
}

pub(crate) fn tensor_bytes<'a>(
    st: &'a SafeTensors,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
    path: &Path,
) -> Result<&'a [u8]> {
    let t = st
        .tensor(name)
        .map_err(|e| WorkerError::artifact(path, format!("tensor {name}: {e}")))?;
    if t.dtype() != dtype || t.shape() != shape {
        return Err(WorkerError::artifact(
            path,
            format!(
                "tensor {name} is {:?} {:?}, expected {dtype:?} {shape:?}",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    Ok(t.data())
}
