//! The report generator: paper-style tables, figures (SVG and PNG, drawn in Rust) and one self-contained HTML page
//! from a finished sweep, read from a *results folder* so that it does not depend on the ledger.
//!
//! # Results folder (input)
//!
//! Every entry is optional; files are read in name order and each file's stem names its figures.
//!
//! | path | content |
//! |---|---|
//! | `matrices/*.json` | one [`CrossDeviceMatrix`](forgebench_shared::tables::CrossDeviceMatrix) each (Table 3) |
//! | `attacks/*.json` | one [`AttackRow`](forgebench_shared::tables::AttackRow) or an array of them (Table 1) |
//! | `adam/*.json` | one [`AdamReport`](forgebench_shared::results::AdamReport) each (Figure 2) |
//! | `shuffle/*.json` | one [`ShuffleReport`](forgebench_shared::results::ShuffleReport) each (Figure 4) |
//! | `pol/*.json` | one [`PolVerifyReport`](forgebench_shared::results::PolVerifyReport) each |
//! | `grids/*.json` | one [`ImageBatch`](forgebench_shared::results::ImageBatch) each (Figure 3) |
//! | `prop2/*.json` | one [`Prop2Report`](forgebench_shared::results::Prop2Report) each |
//! | `explain/*.json` | one [`MatrixExplanation`](forgebench_shared::trace::MatrixExplanation) each: where the devices of a matrix's cells part |
//! | `torch/*.json` | one [`TorchMatrix`](forgebench_shared::torchrun::TorchMatrix) each: a TorchScript model's cross-device matrix |
//! | `torch-shuffle/*.json` | one [`TorchShuffleReport`](forgebench_shared::torch_shuffle::TorchShuffleReport) each |
//! | `torch-forge/*.json` | one [`TorchForgeReport`](forgebench_shared::torch_forge::TorchForgeReport) each: a forged step |
//! | `sweep.json` | the sweep's definition, any JSON (shown in every provenance block; its `seed*` keys are listed) |
//!
//! Files not ending in `.json` and other entries are ignored; a malformed file is an error naming it.
//! [`write_results`] writes this layout (the cluster dumps its ledger with it), [`load_results`] reads it.
//!
//! # Report folder (output)
//!
//! `index.html` (tables and figures inline, no external resource), `tables/table1.{md,csv,json}` (per model,
//! dataset and b: the largest benign error, each attack's error and their ratio, published values beside them),
//! `tables/table3.{md,csv,json}` (every cross-device matrix), `tables/runs.md` (Adam, shuffle, PoL, Proposition 2
//! summaries), `tables/calibration.{md,json}` (thresholds at a false-alarm rate, ROC curves, AUC and verdicts per
//! rule), `tables/explain.md` (why the devices of each matrix differ, cell by cell), and `figures/*.{svg,png}`: `heatmap-<matrix>`, `adam-<model>-<dataset>-b<b>[-projected]`,
//! `shuffle-<name>`, `grid-<name>`, `benign-vs-attack`, `roc-<model>-<dataset>-b<b>`. Every table carries a provenance block.
mod calibrated;
mod domain_runs;
mod explain;
mod figures;
mod html;
mod provenance;
mod provenance_text;
pub mod published;
mod results;
mod runs;
mod table3;
mod tables;
mod texttable;
pub(crate) mod torch;
pub(crate) mod torch_runs;

pub use calibrated::{calibrate, AttackCalibration, SettingCalibration};
pub use figures::{heatmap_svg, strips_svg};
pub use provenance::ProvenanceBlock;
pub use results::{load_results, write_results, Named, Results};
pub(crate) use tables::benign_of;
pub use tables::{table1, Table1Row};

use crate::error::{CoordError, Result};
use std::path::{Path, PathBuf};

/// What [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFiles {
    /// The report folder.
    pub dir: PathBuf,
    /// The self-contained page.
    pub index_html: PathBuf,
    /// Table files (Markdown, CSV, JSON).
    pub tables: Vec<PathBuf>,
    /// Figure files (SVG and PNG).
    pub figures: Vec<PathBuf>,
}

/// Writes the whole report for `results` into `out_dir` (created if needed; files of the same names are replaced).
pub fn write_report(results: &Results, out_dir: &Path) -> Result<ReportFiles> {
    let tables_dir = out_dir.join("tables");
    let figures_dir = out_dir.join("figures");
    for d in [out_dir, &tables_dir, &figures_dir] {
        std::fs::create_dir_all(d).map_err(|e| CoordError::io(d, e))?;
    }
    let t1 = table1(results);
    let mut tables = tables::write_table1(&t1, results, &tables_dir)?;
    tables.extend(table3::write_table3(results, &tables_dir)?);
    tables.push(runs::write_runs(results, &tables_dir)?);
    tables.extend(explain::write(results, &tables_dir)?);
    tables.extend(torch::write(results, &tables_dir)?);
    let cal = calibrate(results);
    tables.extend(calibrated::write(
        &cal,
        &tables::table1_provenance(results),
        &tables_dir,
    )?);
    let figs = figures::draw_all(results, &t1, &cal, &figures_dir)?;
    let index_html = out_dir.join("index.html");
    let page = html::page(results, &t1, &cal, &figs);
    write_file(&index_html, page.as_bytes())?;
    let figures = figs
        .iter()
        .flat_map(|f| [f.svg_path.clone(), f.png_path.clone()])
        .collect();
    Ok(ReportFiles {
        dir: out_dir.to_path_buf(),
        index_html,
        tables,
        figures,
    })
}

/// The `forgebench report RESULTS OUT` command: loads a results folder, writes the report with calibrated verdicts
/// under `rule` and prints where it is.
pub fn run_report_command(
    results_dir: &Path,
    out_dir: &Path,
    rule: forgebench_shared::calibration::Rule,
) -> Result<ReportFiles> {
    let mut results = load_results(results_dir)?;
    results.calibration = rule;
    let files = write_report(&results, out_dir)?;
    println!(
        "report: {} ({} tables, {} figures from {} matrices, {} attack files)",
        files.index_html.display(),
        files.tables.len(),
        files.figures.len(),
        results.matrices.len(),
        results.attacks.len()
    );
    Ok(files)
}

/// Writes `bytes` to `path`, naming the file on failure.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| CoordError::io(path, e))
}

/// A name safe for a file: ASCII letters, digits, '.', '_' and '-' kept, anything else becomes '-'.
pub(crate) fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}
