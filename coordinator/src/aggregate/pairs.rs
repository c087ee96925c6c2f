//! Linear verification's cells: the distance between two stored reproduction logs of one spec, computed in f64
//! with the verifier's own function ([`triple_measures`]), so a cell equals the one exhaustive verification gets
//! from recomputing the row device's log on the column device.
use crate::error::{CoordError, Result};
use forgebench_shared::experiment::ReproSpec;
use forgebench_shared::ids::JobId;
use forgebench_shared::jobs::JobOutcome;
use forgebench_shared::repro_log::{triple_measures, LogManifest, LOG_FORMAT, META_KEY};
use forgebench_shared::tables::Cell;
use safetensors::tensor::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// A stored log, mapped: its manifest and the bytes of its `theta_next` tensor ([K, dim], little-endian f32).
pub struct StoredLog {
    path: PathBuf,
    map: memmap2::Mmap,
    /// The manifest.
    pub manifest: LogManifest,
    offset: (usize, usize),
}

/// The manifest in the safetensors metadata of a log's `bytes` (read from `path`).
pub fn read_manifest(bytes: &[u8], path: &Path) -> Result<LogManifest> {
    let bad = |why: String| CoordError::Invalid(format!("reproduction log {}: {why}", path.display()));
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| bad(format!("no {META_KEY} in its metadata")))?;
    serde_json::from_str(json).map_err(|e| bad(format!("manifest: {e}")))
}

impl StoredLog {
    /// The log that `job` stored in the artifact store `dir` (its outcome's `repro-log` artifact), opened as
    /// [`StoredLog::open`] checks it.
    pub fn of_outcome(dir: &Path, job: &JobId, outcome: &JobOutcome, spec: &ReproSpec) -> Result<StoredLog> {
        let a = outcome
            .artifacts
            .iter()
            .find(|a| a.role == "repro-log")
            .ok_or_else(|| CoordError::Invalid(format!("{job}: no \"repro-log\" artifact")))?;
        StoredLog::open(&dir.join(&a.id.0), spec)
    }

    /// Maps and checks the log at `path`, written for `spec`: format, spec, dim, tensor shape and step norms.
    pub fn open(path: &Path, spec: &ReproSpec) -> Result<StoredLog> {
        let bad = |why: String| CoordError::Invalid(format!("reproduction log {}: {why}", path.display()));
        let file = std::fs::File::open(path).map_err(|e| CoordError::io(path, e))?;
        // SAFETY: the store's files are written once under their content id and never modified in place.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| CoordError::io(path, e))?;
        let manifest = read_manifest(&map, path)?;
        if manifest.format != LOG_FORMAT || &manifest.spec != spec {
            return Err(bad(format!(
                "written as {:?} for {:?}, expected {LOG_FORMAT:?} for {spec:?}",
                manifest.format, manifest.spec
            )));
        }
        let (k, dim) = (spec.triples, spec.model.param_count());
        if manifest.dim != dim || manifest.step_norms.len() != k {
            return Err(bad(format!(
                "dim {} and {} step norms, expected {dim} and {k} (a log written before step norms were recorded \
                 can only be verified exhaustively)",
                manifest.dim,
                manifest.step_norms.len()
            )));
        }
        let st = SafeTensors::deserialize(&map).map_err(|e| bad(e.to_string()))?;
        let t = st.tensor("theta_next").map_err(|e| bad(format!("theta_next: {e}")))?;
        if t.dtype() != Dtype::F32 || t.shape() != [k, dim] {
            return Err(bad(format!(
                "theta_next is {:?} {:?}, expected F32 [{k}, {dim}]",
                t.dtype(),
                t.shape()
            )));
        }
        // Where the tensor's bytes sit in the mapped file (safetensors hands out a slice of it).
        let start = t.data().as_ptr() as usize - map.as_ptr() as usize;
        let offset = (start, start + t.data().len());
        Ok(StoredLog {
            path: path.to_owned(),
            map,
            manifest,
            offset,
        })
    }

    fn row(&self, k: usize) -> Vec<f32> {
        let dim = self.manifest.dim;
        let bytes = &self.map[self.offset.0..self.offset.1][k * dim * 4..(k + 1) * dim * 4];
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    /// Where it is stored.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The cell of `row`'s log "verified" by `col`: per triple, `row`'s stored theta_{k+1} against `col`'s, relative to
/// `col`'s step, summarised over the triples.
pub fn cell(row: &StoredLog, col: &StoredLog) -> Cell {
    let per_triple: Vec<_> = (0..row.manifest.spec.triples)
        .map(|k| triple_measures(&row.row(k), &col.row(k), col.manifest.step_norms[k]))
        .collect();
    Cell::of(&per_triple)
}
