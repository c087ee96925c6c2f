//! Importing a results folder written by another coordinator (another lab): its matrices' cells join the database
//! under a source named by a label and the BLAKE3 hash of the matrices, so importing the same folder twice adds
//! nothing and a changed folder is a new source.
use crate::error::{CoordError, Result};
use crate::ledger::{Ledger, MeasuredSource};
use std::path::Path;

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The source's id.
    pub source: String,
    /// Matrices and computed cells read.
    pub matrices: usize,
    /// Computed cells read.
    pub cells: usize,
    /// False when the same matrices were imported before (nothing was written).
    pub new: bool,
}

/// Imports the matrices of the results folder `dir` (`matrices/*.json`, as `up` and `report --sweep` write them).
pub fn import(ledger: &Ledger, dir: &Path, label: Option<&str>) -> Result<Imported> {
    let results = crate::report::load_results(dir)?;
    if results.matrices.is_empty() {
        return Err(CoordError::Invalid(format!(
            "results folder {}: no cross-device matrix to import (matrices/*.json)",
            dir.display()
        )));
    }
    let mut cells = 0;
    for m in &results.matrices {
        let n = m.value.devices.len();
        if m.value.cells.len() != n || m.value.cells.iter().any(|r| r.len() != n) {
            return Err(CoordError::Invalid(format!(
                "results folder {}: matrix {} has {n} devices but its cells are not {n} x {n}",
                dir.display(),
                m.name
            )));
        }
        cells += m.value.cells.iter().flatten().flatten().count();
    }
    let matrices: Vec<_> = results.matrices.iter().map(|m| m.value.clone()).collect();
    let bytes = serde_json::to_vec(&matrices).map_err(|e| CoordError::json("matrices", e))?;
    let hash = forgebench_shared::content::id_of_bytes(&bytes);
    let label = match label {
        Some(l) => l.to_owned(),
        None => dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string()),
    };
    let source = MeasuredSource {
        id: format!("import:{label}:{}", &hash[..hash.len().min(16)]),
        kind: "import".into(),
        label: format!("import {label} ({})", dir.display()),
        provenance: serde_json::json!({
            "folder": dir.display().to_string(),
            "matrices": results.matrices.iter().map(|m| &m.name).collect::<Vec<_>>(),
            "content_id": hash,
            "sweep": results.sweep,
        }),
        recorded_ms: 0,
    };
    let new = ledger.record_measured(&source, &matrices)?;
    Ok(Imported {
        source: source.id,
        matrices: matrices.len(),
        cells,
        new,
    })
}
