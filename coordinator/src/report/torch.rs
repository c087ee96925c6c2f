//! The TorchScript models' cross-device matrices: `tables/torch-matrices.md` and their section of the page. Each
//! cell is the largest L2 over the log's one-step intervals (rows: the device that trained, columns: the device
//! that replayed), the same measure `torch-matrix` gives on one machine.
use super::texttable::TextTable;
use super::{write_file, Results};
use crate::error::Result;
use forgebench_shared::numfmt;
use forgebench_shared::torchrun::TorchMatrix;
use std::path::{Path, PathBuf};

/// One matrix as a table.
pub fn table(m: &TorchMatrix) -> TextTable {
    let mut headers = vec!["writer \\ verifier"];
    headers.extend(m.devices.iter().map(String::as_str));
    let mut t = TextTable::new(&headers);
    for (d, row) in m.devices.iter().zip(&m.l2_max) {
        let mut cells = vec![d.clone()];
        cells.extend(
            row.iter()
                .map(|v| if v.is_nan() { "-".into() } else { numfmt::error(*v) }),
        );
        t.push(cells);
    }
    t
}

/// The matrices as Markdown (empty when there is none).
pub fn markdown(results: &Results) -> String {
    if results.torch.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "# TorchScript models: cross-device matrices\n\nLargest L2 over each log's one-step intervals; rows: the \
         device that trained, columns: the device that replayed.\n",
    );
    for m in &results.torch {
        s.push_str(&format!(
            "\n## {}\n\n{}\n\n{}",
            m.name,
            m.value.title(),
            table(&m.value).markdown()
        ));
    }
    s
}

/// Writes `torch-matrices.md` when the results hold any matrix.
pub fn write(results: &Results, dir: &Path) -> Result<Vec<PathBuf>> {
    if results.torch.is_empty() {
        return Ok(Vec::new());
    }
    let s = markdown(results);
    let path = dir.join("torch-matrices.md");
    write_file(&path, s.as_bytes())?;
    Ok(vec![path])
}

/// The page's section.
pub fn html(results: &Results) -> String {
    if results.torch.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "<h2 id=\"torch\">TorchScript models: cross-device matrices</h2><p>Largest L2 over each log's one-step \
         intervals; rows: the device that trained, columns: the device that replayed.</p>",
    );
    for m in &results.torch {
        s.push_str(&format!(
            "<h3>{}</h3><p>{}</p>{}",
            super::html::esc(&m.name),
            super::html::esc(&m.value.title()),
            table(&m.value).html()
        ));
    }
    s
}
