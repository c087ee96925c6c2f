//! Summary tables of the single runs: Adam forging (Figure 2), shuffle errors (Figure 4), Proof-of-Learning replays
//! and the Proposition 2 construction, each with its provenance block; written to `tables/runs.md`.
use super::provenance::ProvenanceBlock;
use super::published::{self, Kind};
use super::results::Results;
use super::tables::{benign_of, sci};
use super::texttable::TextTable;
use super::write_file;
use crate::error::Result;
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::measures::nan_max;
use forgebench_shared::results::PolVerifyReport;
use forgebench_shared::verdict::POL_MARGIN;
use std::path::{Path, PathBuf};

/// One titled table with its provenance.
pub(crate) struct Section {
    /// Heading.
    pub title: String,
    /// The table.
    pub table: TextTable,
    /// Where its numbers come from.
    pub provenance: ProvenanceBlock,
}

/// The sections present in `results` (a kind without results has none).
pub(crate) fn sections(r: &Results) -> Vec<Section> {
    let mut out = Vec::new();
    let prov = || ProvenanceBlock::new(r.sweep.as_ref());
    if !r.adam.is_empty() {
        let mut t = TextTable::new(&[
            "run",
            "model",
            "dataset",
            "b",
            "attack",
            "iterations",
            "seed",
            "L2 at start",
            "final L2",
            "best L2 (iteration)",
            "published L2",
            "profile",
        ]);
        let mut p = prov();
        for a in &r.adam {
            let s = &a.value.spec;
            p.add(&a.name, &a.value.provenance);
            t.push(vec![
                a.name.clone(),
                s.model.to_string(),
                s.dataset.to_string(),
                s.batch_size.to_string(),
                match s.schedule.words() {
                    w if w.is_empty() => s.attack(),
                    w => format!("{} ({w})", s.attack()),
                },
                s.iterations.to_string(),
                s.seed.to_string(),
                sci(a.value.curve_l2.first().copied()),
                sci(Some(a.value.final_error.l2)),
                a.value
                    .best
                    .map_or("–".into(), |b| format!("{} ({})", sci(Some(b.error.l2)), b.iteration)),
                published_cell(published::for_attack(&s.attack(), s.model, s.dataset, s.batch_size)),
                a.value.provenance.profile.name.clone(),
            ]);
        }
        out.push(Section {
            title: "Adam optimisation forging (Algorithm 1)".into(),
            table: t,
            provenance: p,
        });
    }
    if !r.shuffle.is_empty() {
        let mut t = TextTable::new(&[
            "run",
            "model",
            "dataset",
            "b",
            "shuffles",
            "seed",
            "L2 mean",
            "L2 median",
            "L2 max",
            "published L2",
            "zero",
            "profile",
        ]);
        let mut p = prov();
        for x in &r.shuffle {
            let s = &x.value.spec;
            let l2 = &x.value.summary.l2;
            p.add(&x.name, &x.value.provenance);
            let zeros = x.value.errors.iter().filter(|e| e.l2 == 0.0).count();
            t.push(vec![
                x.name.clone(),
                s.model.to_string(),
                s.dataset.to_string(),
                s.batch_size.to_string(),
                s.shuffles.to_string(),
                s.seed.to_string(),
                sci(Some(l2.mean)),
                sci(Some(l2.median)),
                sci(Some(l2.max)),
                published_cell(published::find(|k| *k == Kind::Shuffle, s.model, s.dataset, s.batch_size).next()),
                format!("{zeros} of {}", x.value.errors.len()),
                x.value.provenance.profile.name.clone(),
            ]);
        }
        out.push(Section {
            title: "Batch-order shuffles (Figure 4)".into(),
            table: t,
            provenance: p,
        });
    }
    if !r.pol.is_empty() {
        out.push(pol_section(r, prov()));
    }
    if !r.prop2.is_empty() {
        out.push(prop2_section(r, prov()));
    }
    out.extend(super::domain_runs::section(r, prov()));
    out.extend(super::torch_runs::sections(r, prov));
    out
}

/// "passed (smallest p 0.31)" or "FAILED at fc1.weight (p 1.2e-9)".
fn init_words(c: &forgebench_shared::results::InitCheck) -> String {
    let worst = c.layers.iter().min_by(|a, b| a.p_value.total_cmp(&b.p_value));
    match (c.passed, worst) {
        (true, Some(w)) => format!("passed (smallest p {:.2})", w.p_value),
        (false, Some(w)) => format!(
            "FAILED at {} (p {})",
            w.name,
            forgebench_shared::numfmt::error(w.p_value)
        ),
        (passed, None) => if passed { "passed" } else { "FAILED" }.into(),
    }
}

fn pol_section(r: &Results, mut p: ProvenanceBlock) -> Section {
    let mut t = TextTable::new(&[
        "run",
        "model",
        "dataset",
        "b",
        "steps",
        "writer",
        "verifier",
        "epsilon (L2)",
        "epsilon source",
        "max interval L2",
        "failed intervals",
        "passed",
        "calibrated epsilon (sweep's largest benign L2 x 10)",
        "passes at calibrated",
        "theta_0 initialisation (KS, 1% family-wise)",
    ]);
    for x in &r.pol {
        let v = &x.value;
        p.add(&format!("{} (writer)", x.name), &v.writer);
        p.add(&format!("{} (verifier)", x.name), &v.verifier);
        let max = nan_max(v.per_interval.iter().map(|e| e.l2));
        let eps = calibrated(r, v);
        t.push(vec![
            x.name.clone(),
            v.spec.model.to_string(),
            v.spec.dataset.to_string(),
            v.spec.batch_size.to_string(),
            v.spec.steps.to_string(),
            v.writer.profile.name.clone(),
            v.verifier.profile.name.clone(),
            sci(v.epsilon),
            v.epsilon_source.clone(),
            sci(max),
            format!("{:?}", v.failed_intervals),
            v.passed.to_string(),
            sci(eps),
            eps.map_or("–".into(), |eps| passes(v, eps)),
            v.init_check.as_ref().map_or("–".into(), init_words),
        ]);
    }
    Section {
        title: "Proof-of-Learning replays".into(),
        table: t,
        provenance: p,
    }
}

/// The threshold a verifier calibrated on this sweep's own matrix for the log's setting would use.
fn calibrated(r: &Results, v: &PolVerifyReport) -> Option<f64> {
    benign_of(r, &(v.spec.model, v.spec.dataset, v.spec.batch_size)).map(|(b, _)| b * POL_MARGIN)
}

/// "true" when every interval stays within `eps` (a NaN error fails), "false" otherwise, and "undetermined" when
/// `eps` is not finite: a NaN threshold would fail every interval and an infinite one pass every finite one.
fn passes(v: &PolVerifyReport, eps: f64) -> String {
    if !eps.is_finite() {
        return forgebench_shared::verdict::Verdict::Undetermined.word().into();
    }
    v.per_interval.iter().all(|e| e.l2 <= eps).to_string()
}

/// A published figure's L2 with "(published, Figure N)", or a dash.
fn published_cell(p: Option<&published::Published>) -> String {
    p.map_or("–".into(), |p| {
        let about = if p.approximate { "about " } else { "" };
        format!("{about}{} (published)", forgebench_shared::numfmt::error(p.l2()))
    })
}

fn prop2_section(r: &Results, mut p: ProvenanceBlock) -> Section {
    let mut t = TextTable::new(&[
        "run",
        "b",
        "seed",
        "rank",
        "rank tolerance",
        "error L2 (f32)",
        "error L2 (f64)",
        "pixels outside [0,1]",
        "label simplex violation",
        "distance to real batch",
        "published error L2",
    ]);
    for x in &r.prop2 {
        let v = &x.value;
        p.add(&x.name, &v.provenance);
        t.push(vec![
            x.name.clone(),
            v.spec.batch_size.to_string(),
            v.spec.seed.to_string(),
            v.rank.to_string(),
            format!("{:e}", v.rank_tolerance),
            sci(Some(v.error_f32.l2)),
            sci(Some(v.error_f64.l2)),
            format!("{:.4}", v.pixels_outside_unit),
            sci(Some(v.label_simplex_violation)),
            sci(Some(v.batch_distance)),
            published_cell(published::for_attack(
                "prop2",
                ModelKind::Logreg,
                DatasetKind::Mnist,
                v.spec.batch_size,
            )),
        ]);
    }
    Section {
        title: "Proposition 2 construction (logistic regression)".into(),
        table: t,
        provenance: p,
    }
}

/// Writes `tables/runs.md`.
pub(crate) fn write_runs(r: &Results, dir: &Path) -> Result<PathBuf> {
    let mut md = String::from("## Single runs\n\n");
    let secs = sections(r);
    if secs.is_empty() {
        md.push_str("No Adam, shuffle, Proof-of-Learning or Proposition 2 result in the results folder.\n");
    }
    for s in secs {
        md.push_str(&format!(
            "### {}\n\n{}\n{}\n",
            s.title,
            s.table.markdown(),
            s.provenance.markdown()
        ));
    }
    let path = dir.join("runs.md");
    write_file(&path, md.as_bytes())?;
    Ok(path)
}
