//! "Why these devices differ": under each matrix, a line per cell off the diagonal from the sweep's traces (one
//! triple traced site by site on every device): the settings in which the two profiles differ, the first operation
//! whose result differs and by how much, and what reaches the update. Also `tables/explain.md`.
use super::results::Results;
use super::texttable::TextTable;
use super::write_file;
use crate::error::Result;
use forgebench_shared::numfmt::error as sci;
use forgebench_shared::tables::MatrixKey;
use forgebench_shared::trace::MatrixExplanation;
use std::path::{Path, PathBuf};

/// The explanation of the matrix of `key`, if the results hold one.
pub(crate) fn of<'a>(results: &'a Results, key: &MatrixKey) -> Option<&'a MatrixExplanation> {
    results.explanations.iter().map(|e| &e.value).find(|e| &e.key == key)
}

/// A line per explained cell.
pub(crate) fn cells_text(e: &MatrixExplanation) -> TextTable {
    let mut t = TextTable::new(&[
        "writer",
        "verifier",
        "settings that differ",
        "first differing site",
        "values differing there",
        "L2 there (relative)",
        "largest there / exact-arm tolerance",
        "update: values differing",
        "update L2",
    ]);
    for c in &e.cells {
        let (site, there, l2, tol) = match (&c.first_differing, c.position) {
            (Some(d), Some((i, n))) => (
                format!("{} (site {} of {n})", d.site, i + 1),
                format!("{} of {}", d.differing, d.values),
                format!("{} ({})", sci(d.l2), sci(d.rel)),
                sci(d.over_tolerance),
            ),
            _ => ("none: bit for bit equal".into(), "0".into(), "0".into(), "0".into()),
        };
        let (ud, ul) = c.update.as_ref().map_or(("–".into(), "–".into()), |u| {
            (format!("{} of {}", u.differing, u.values), sci(u.l2))
        });
        t.push(vec![
            c.writer.clone(),
            c.verifier.clone(),
            if c.settings.is_empty() {
                "none".into()
            } else {
                c.settings.join("; ")
            },
            site,
            there,
            l2,
            tol,
            ud,
            ul,
        ]);
    }
    t
}

/// The heading of a matrix's explanation.
pub(crate) fn heading(e: &MatrixExplanation) -> String {
    format!(
        "Why these devices differ: {} (triple {}, traced on each device; the diagonal is one device against itself)",
        e.key.title(),
        e.triple
    )
}

/// Writes tables/explain.md (nothing when no matrix is explained).
pub(crate) fn write(results: &Results, dir: &Path) -> Result<Vec<PathBuf>> {
    if results.explanations.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = String::from("## Why these devices differ\n\n");
    for e in &results.explanations {
        s += &format!("**{}**\n\n{}\n", heading(&e.value), cells_text(&e.value).markdown());
    }
    let path = dir.join("explain.md");
    write_file(&path, s.as_bytes())?;
    Ok(vec![path])
}
