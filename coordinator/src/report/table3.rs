//! Table 3: every cross-device matrix (rows: the device that wrote the log, columns: the verifier; cells: mean and
//! max L2 over the triples) in Markdown, CSV (one line per cell, full precision) and JSON, each with its provenance
//! and, where the paper measured the same model, data set and b, its Table 3 matrix beside them.
use super::provenance::ProvenanceBlock;
use super::published::{self, Kind, PUBLISHED};
use super::results::{write_json, Results};
use super::tables::csv_field;
use super::texttable::TextTable;
use super::write_file;
use crate::error::Result;
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::measures::{json, Measure};
use forgebench_shared::numfmt;
use forgebench_shared::tables::{CrossDeviceMatrix, MatrixKey};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The provenance of one matrix.
pub(crate) fn matrix_provenance(results: &Results, m: &CrossDeviceMatrix) -> ProvenanceBlock {
    let mut p = ProvenanceBlock::new(results.sweep.as_ref());
    m.devices.iter().for_each(|d| p.add_device(d));
    p
}

/// Writes table3.{md,csv,json}: every matrix with its provenance.
pub(crate) fn write_table3(results: &Results, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut md = String::from("## Table 3: cross-device reproduction matrices (L2)\n\n");
    let mut csv = format!("matrix,{}", csv_header());
    let mut json = Vec::new();
    for m in &results.matrices {
        let prov = matrix_provenance(results, &m.value);
        let _ = write!(
            md,
            "### {}\n\n{}\n{}{}\n",
            m.name,
            m.value.to_markdown(Measure::L2),
            published_beside(&m.value.key).map_or(String::new(), |(t, src)| format!(
                "\n**Published** (not measured here; {src}):\n\n{}",
                t.markdown()
            )),
            prov.markdown()
        );
        for line in m.value.to_csv().lines().skip(1) {
            let _ = writeln!(csv, "{},{line}", csv_field(&m.name));
        }
        json.push(serde_json::json!({
            "name": m.name,
            // Through `json`: a NaN largest error must read "NaN", not the `null` of a matrix with no cell.
            "largest_l2": json::opt_value(m.value.largest(Measure::L2)),
            "matrix": m.value,
            "provenance": prov,
        }));
    }
    if results.matrices.is_empty() {
        md.push_str("No cross-device matrix in the results folder.\n");
    }
    let benign: Vec<_> = PUBLISHED
        .iter()
        .filter(|p| matches!(p.kind, Kind::Cell { .. }))
        .collect();
    let paths = [dir.join("table3.md"), dir.join("table3.csv"), dir.join("table3.json")];
    write_file(&paths[0], md.as_bytes())?;
    write_file(&paths[1], csv.as_bytes())?;
    write_json(&paths[2], &serde_json::json!({ "matrices": json, "published": benign }))?;
    Ok(paths.to_vec())
}

/// The header line of [`CrossDeviceMatrix::to_csv`] (taken from it, so both stay in step), newline included.
fn csv_header() -> String {
    let empty = CrossDeviceMatrix {
        key: MatrixKey {
            experiment: String::new(),
            model: ModelKind::Logreg,
            dataset: DatasetKind::Mnist,
            batch_size: 0,
            arithmetic: Default::default(),
        },
        devices: Vec::new(),
        cells: Vec::new(),
    };
    empty.to_csv()
}

/// The paper's Table 3 matrix for a measured matrix's setting, with its source.
pub(crate) fn published_beside(k: &MatrixKey) -> Option<(TextTable, &'static str)> {
    published::matrix(k.model, k.dataset, k.batch_size)
}

/// A matrix's cells as "mean / max" L2, for the HTML page.
pub(crate) fn matrix_table(m: &CrossDeviceMatrix) -> TextTable {
    let mut headers = vec!["writer \\ verifier".to_owned()];
    headers.extend(m.devices.iter().map(|d| d.profile.name.clone()));
    let mut t = TextTable {
        headers,
        rows: Vec::new(),
    };
    for (i, row) in m.cells.iter().enumerate() {
        let mut r = vec![m.devices[i].profile.name.clone()];
        r.extend(row.iter().map(|c| match c {
            Some(c) => format!(
                "{} / {}",
                numfmt::error(c.summary.l2.mean),
                numfmt::error(c.summary.l2.max)
            ),
            None => "–".into(),
        }));
        t.push(r);
    }
    t
}
