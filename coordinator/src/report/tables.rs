//! Table 1 (per model, dataset and b: the largest benign error, each attack's error and their ratio) and Table 3
//! (every cross-device matrix), in Markdown, CSV and JSON, each with its provenance block.
//!
//! The benign figure of a setting is the largest L2 over every cell of every matrix of that model, dataset and b
//! in the results folder; only where no such matrix exists is the attack row's own `benign_l2` used (the
//! `benign_source` column says which). CSV and JSON carry full precision (shortest round-trip form). A NaN or
//! infinite error is shown, never dropped: "NaN", "inf" or "-inf" in every format (a string in JSON), and a setting
//! whose benign figure is not finite gets the verdict "undetermined".
use super::provenance::ProvenanceBlock;
use super::published::{self, Side, PUBLISHED};
use super::results::{write_json, Results};
use super::texttable::TextTable;
use super::write_file;
use crate::error::Result;
use forgebench_shared::experiment::{Arithmetic, DatasetKind, ModelKind};
use forgebench_shared::measures::{json, nan_max, Measure};
use forgebench_shared::numfmt;
use forgebench_shared::verdict::{Verdict, POL_MARGIN};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One line of Table 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table1Row {
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size.
    pub batch_size: usize,
    /// Largest benign L2 error of the setting, if any was measured.
    #[serde(default, with = "json::opt")]
    pub benign_l2: Option<f64>,
    /// Where the benign figure comes from ("matrices: a, b" or "attack row").
    pub benign_source: String,
    /// The attack, or `None` on a line with benign results only.
    pub attack: Option<String>,
    /// The attack's parameters in words.
    pub parameters: Option<String>,
    /// The attack's L2 error.
    #[serde(default, with = "json::opt")]
    pub attack_l2: Option<f64>,
    /// attack_l2 / benign_l2 (absent when either is missing or the benign error is 0).
    #[serde(default, with = "json::opt")]
    pub ratio: Option<f64>,
    /// Whether a PoL verifier calibrated at benign_l2 x [`POL_MARGIN`] rejects the forged step (attack rows only).
    pub verdict: Option<Verdict>,
    /// The paper's largest reproduction error for the setting (its Table 1), in L2.
    #[serde(default, with = "json::opt")]
    pub published_benign_l2: Option<f64>,
    /// The published figure for the same attack and setting, converted to L2.
    #[serde(default, with = "json::opt")]
    pub published_l2: Option<f64>,
    /// Where the published figures come from.
    pub published_source: Option<String>,
    /// The largest benign L2 of the setting's exact-arm matrices (0 when every device agrees bit for bit).
    #[serde(default, with = "json::opt")]
    pub exact_benign_l2: Option<f64>,
    /// The attack against the exact verifier (threshold 0), where measured.
    #[serde(default)]
    pub exact_arm: Option<forgebench_shared::results::ExactArmCheck>,
    /// The verdict at a false-alarm rate calibrated from the setting's benign samples (attack rows with samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrated: Option<forgebench_shared::calibration::CalibratedVerdict>,
}

/// (model, data set, b).
pub(crate) type Setting = (ModelKind, DatasetKind, usize);

fn order(s: &Setting) -> (usize, &'static str, usize) {
    let m = ModelKind::ALL.iter().position(|x| *x == s.0).unwrap_or(usize::MAX);
    (m, s.1.name(), s.2)
}

/// The settings of `results` (from matrices and attack rows), in the paper's model order.
pub(crate) fn settings(results: &Results) -> Vec<Setting> {
    let mut v: Vec<Setting> = results
        .matrices
        .iter()
        .map(|m| (m.value.key.model, m.value.key.dataset, m.value.key.batch_size))
        .chain(results.attack_rows().map(|r| (r.model, r.dataset, r.batch_size)))
        .collect();
    v.sort_by_key(order);
    v.dedup();
    v
}

/// The largest benign L2 of a setting over the folder's f32-arm matrices (NaN when any cell's is), with the names
/// of those matrices: the benign noise a tolerant verifier must allow.
pub(crate) fn benign_of(results: &Results, s: &Setting) -> Option<(f64, Vec<String>)> {
    benign_in(results, s, Arithmetic::F32)
}

/// The largest L2 of a setting over its matrices of arm `arith`, with their names.
pub(crate) fn benign_in(results: &Results, s: &Setting, arith: Arithmetic) -> Option<(f64, Vec<String>)> {
    let ms: Vec<_> = results
        .matrices
        .iter()
        .filter(|m| (m.value.key.model, m.value.key.dataset, m.value.key.batch_size) == *s)
        .filter(|m| m.value.key.arithmetic == arith)
        .collect();
    let max = nan_max(ms.iter().filter_map(|m| m.value.largest(Measure::L2)))?;
    Some((max, ms.iter().map(|m| m.name.clone()).collect()))
}

/// Builds Table 1 from a results folder.
pub fn table1(results: &Results) -> Vec<Table1Row> {
    let mut rows = Vec::new();
    for s in settings(results) {
        let benign = benign_of(results, &s);
        let sample = forgebench_shared::calibration::Benign::new(super::calibrated::samples(results, &s).0);
        let exact_benign = benign_in(results, &s, Arithmetic::Exact).map(|(v, _)| v);
        let publ_benign = published::largest_benign(s.0, s.1, s.2);
        let base = |benign_l2: Option<f64>, benign_source: String| Table1Row {
            model: s.0,
            dataset: s.1,
            batch_size: s.2,
            benign_l2,
            benign_source,
            attack: None,
            parameters: None,
            attack_l2: None,
            ratio: None,
            verdict: None,
            published_benign_l2: publ_benign.map(|p| p.l2()),
            published_l2: None,
            published_source: publ_benign.map(|p| format!("published: {}", p.source)),
            exact_benign_l2: exact_benign,
            exact_arm: None,
            calibrated: None,
        };
        let attacks: Vec<_> = results
            .attack_rows()
            .filter(|r| (r.model, r.dataset, r.batch_size) == s)
            .collect();
        if attacks.is_empty() {
            let (v, src) = benign
                .clone()
                .map_or((None, String::new()), |(v, n)| (Some(v), matrices_source(&n)));
            rows.push(base(v, src));
        }
        for a in attacks {
            let (benign_l2, src) = match &benign {
                Some((v, names)) => (Some(*v), matrices_source(names)),
                None => (a.benign_l2, a.benign_l2.map_or(String::new(), |_| "attack row".into())),
            };
            let publ = published::for_attack(&a.attack, s.0, s.1, s.2);
            rows.push(Table1Row {
                attack: Some(a.attack.clone()),
                parameters: Some(a.parameters.clone()),
                attack_l2: Some(a.error_l2),
                ratio: forgebench_shared::tables::ratio(a.error_l2, benign_l2),
                verdict: Some(Verdict::at(a.error_l2, benign_l2, POL_MARGIN)),
                published_l2: publ.map(|p| p.l2()),
                published_source: sources(publ_benign.into_iter().chain(publ)),
                exact_arm: a.exact_arm,
                calibrated: sample
                    .as_ref()
                    .map(|b| forgebench_shared::calibration::judge(results.calibration, b, &a.steps_l2())),
                ..base(benign_l2, src)
            });
        }
    }
    rows
}

/// "published: A; B" over the distinct sources of some published figures, or none.
fn sources<'a>(ps: impl Iterator<Item = &'a published::Published>) -> Option<String> {
    let mut v: Vec<&str> = Vec::new();
    for p in ps {
        if !v.contains(&p.source) {
            v.push(p.source);
        }
    }
    (!v.is_empty()).then(|| format!("published: {}", v.join("; ")))
}

fn matrices_source(names: &[String]) -> String {
    format!("matrices: {}", names.join(" "))
}

/// Writes table1.{md,csv,json}.
pub(crate) fn write_table1(rows: &[Table1Row], results: &Results, dir: &Path) -> Result<Vec<PathBuf>> {
    let prov = table1_provenance(results);
    let md = dir.join("table1.md");
    write_file(&md, table1_markdown(rows, &prov).as_bytes())?;
    let csv = dir.join("table1.csv");
    write_file(&csv, table1_csv(rows).as_bytes())?;
    let json = dir.join("table1.json");
    let published: Vec<_> = PUBLISHED.iter().filter(|p| p.side() == Side::Attack).collect();
    write_json(
        &json,
        &serde_json::json!({ "rows": rows, "published": published, "provenance": prov }),
    )?;
    Ok(vec![md, csv, json])
}

/// Table 1's provenance: the devices of its matrices, the sweep, and what attack rows do not record.
pub(crate) fn table1_provenance(results: &Results) -> ProvenanceBlock {
    let mut p = ProvenanceBlock::new(results.sweep.as_ref());
    for m in &results.matrices {
        m.value.devices.iter().for_each(|d| p.add_device(d));
    }
    if !results.attacks.is_empty() {
        p.notes.push(
            "attack rows record no device of their own; the Adam, shuffle, PoL and Proposition 2 runs' \
             provenance is under tables/runs.md"
                .into(),
        );
    }
    p
}

/// Three significant digits or a dash; a non-finite value prints as "NaN", "inf" or "-inf".
pub(crate) fn sci(v: Option<f64>) -> String {
    numfmt::error_or_dash(v)
}

/// Table 1's cells, formatted for reading (published values marked).
pub(crate) fn table1_text(rows: &[Table1Row]) -> TextTable {
    let mut t = TextTable::new(&[
        "model",
        "dataset",
        "b",
        "largest benign L2",
        "published benign L2",
        "attack",
        "parameters",
        "attack L2",
        "attack / benign",
        "verdict (PoL at 10x benign)",
        "calibrated verdict",
        "exact verifier (threshold 0)",
        "published attack L2",
    ]);
    let strongest = strongest(rows);
    for (i, r) in rows.iter().enumerate() {
        let mut attack = r.attack.clone().unwrap_or_else(|| "(benign only)".into());
        if strongest.contains(&i) {
            attack.push_str(" (strongest)");
        }
        t.push(vec![
            r.model.to_string(),
            r.dataset.to_string(),
            r.batch_size.to_string(),
            sci(r.benign_l2),
            r.published_benign_l2
                .map_or("–".into(), |x| format!("{} (published)", numfmt::error(x))),
            attack,
            r.parameters.clone().unwrap_or_default(),
            sci(r.attack_l2),
            r.ratio.map_or("–".into(), numfmt::ratio),
            r.verdict.map_or("–", Verdict::word).to_owned(),
            calibrated_cell(r),
            exact_cell(r),
            r.published_l2
                .map_or("–".into(), |x| format!("{} (published)", numfmt::error(x))),
        ]);
    }
    t
}

/// The calibrated verdict, its rule and threshold, e.g. "detected (false alarms <= 1% per log of 100 steps:
/// threshold 1.3e-8)".
fn calibrated_cell(r: &Table1Row) -> String {
    match &r.calibrated {
        Some(c) => format!(
            "{} ({}: threshold {})",
            c.verdict.word(),
            c.rule.describe(),
            numfmt::error(c.threshold.value)
        ),
        None => "–".into(),
    }
}

/// The exact verifier's column: an attack's verdict, or for a benign-only line the exact-arm matrices' largest
/// error; a dash where the exact arm was not measured.
fn exact_cell(r: &Table1Row) -> String {
    match (&r.attack, r.exact_arm, r.exact_benign_l2) {
        (Some(_), Some(c), _) => c.words(),
        (None, None, Some(0.0)) => "benign: 0, bit for bit".into(),
        (None, None, Some(e)) => format!("benign: {}", numfmt::error(e)),
        _ => "–".into(),
    }
}

/// The rows holding, per model, data set and b, the attack with the smallest error (a NaN error never counts).
pub(crate) fn strongest(rows: &[Table1Row]) -> Vec<usize> {
    let mut best: Vec<(usize, f64)> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let Some(e) = r.attack_l2.filter(|e| !e.is_nan() && r.attack.is_some()) else {
            continue;
        };
        let same = |j: usize| {
            let o = &rows[j];
            (o.model, o.dataset, o.batch_size) == (r.model, r.dataset, r.batch_size)
        };
        match best.iter_mut().find(|b| same(b.0)) {
            Some(b) if e < b.1 => *b = (i, e),
            Some(_) => {}
            None => best.push((i, e)),
        }
    }
    best.into_iter().map(|b| b.0).collect()
}

/// Table 1 as Markdown, published values marked, provenance below.
pub(crate) fn table1_markdown(rows: &[Table1Row], prov: &ProvenanceBlock) -> String {
    format!(
        "## Table 1: largest benign reproduction error and attack errors (L2)\n\n\
         Every attack here forges steps of plain SGD (theta - eta * grad), the paper's setting.\n\n{}\n\
         **Published reference values** (not measured here; converted to L2)\n\n{}\n{}",
        table1_text(rows).markdown(),
        published::table().markdown(),
        prov.markdown()
    )
}

/// Quotes a CSV field when it needs it.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x:e}"))
}

/// Table 1 as CSV (empty field = not available).
pub(crate) fn table1_csv(rows: &[Table1Row]) -> String {
    let mut s = String::from(
        "model,dataset,batch_size,benign_l2,benign_source,attack,parameters,attack_l2,ratio,verdict,\
         published_benign_l2,published_l2,published_source,exact_benign_l2,exact_differing,exact_fixable,exact_dim,\
         calibrated_rule,calibrated_threshold,calibrated_verdict\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.model,
            r.dataset,
            r.batch_size,
            num(r.benign_l2),
            csv_field(&r.benign_source),
            csv_field(r.attack.as_deref().unwrap_or("")),
            csv_field(r.parameters.as_deref().unwrap_or("")),
            num(r.attack_l2),
            num(r.ratio),
            r.verdict.map_or("", Verdict::word),
            num(r.published_benign_l2),
            num(r.published_l2),
            csv_field(r.published_source.as_deref().unwrap_or("")),
            num(r.exact_benign_l2),
            r.exact_arm.map_or(String::new(), |c| c.differing.to_string()),
            r.exact_arm.map_or(String::new(), |c| c.fixable_by_records.to_string()),
            r.exact_arm.map_or(String::new(), |c| c.dim.to_string()),
            csv_field(&r.calibrated.map_or(String::new(), |c| c.rule.describe())),
            num(r.calibrated.map(|c| c.threshold.value)),
            r.calibrated.map_or("", |c| c.verdict.word())
        );
    }
    s
}
