//! The searches for a forgery inside the data domain (the paper's open problem): where each walk started, what it
//! reached inside the domain with soft and one-hot labels, how near its inputs lie to the real batch's, and the
//! benign noise of the same setting beside it; a section of `tables/runs.md`.
use super::provenance::ProvenanceBlock;
use super::results::Results;
use super::runs::Section;
use super::tables::{benign_of, sci};
use super::texttable::TextTable;
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::numfmt;
use forgebench_shared::results::DomainReport;

/// The section, when some run searched inside the domain.
pub(crate) fn section(r: &Results, mut p: ProvenanceBlock) -> Option<Section> {
    let mut t = TextTable::new(&[
        "run",
        "model",
        "b",
        "start",
        "iterations",
        "start violation",
        "start error L2",
        "soft labels: error L2 (f32)",
        "one-hot: error L2 (f32)",
        "one-hot: nearest real input (min / median)",
        "real inputs' nearest neighbour",
        "largest benign L2",
        "one-hot / benign",
    ]);
    let mut any = false;
    for (name, setting, d, prov) in r.domain_searches() {
        any = true;
        p.add(name, prov);
        t.push(row(r, name, setting, d));
    }
    any.then(|| Section {
        title: "Forging inside the data domain (pixels in [0, 1], labels on the simplex, then one-hot)".into(),
        table: t,
        provenance: p,
    })
}

fn row(r: &Results, name: &str, setting: (ModelKind, DatasetKind, usize), d: &DomainReport) -> Vec<String> {
    let benign = benign_of(r, &setting).map(|(l2, _)| l2);
    let start = d.path.first();
    let hard = d.hard.error_f32.l2;
    vec![
        name.to_owned(),
        setting.0.to_string(),
        setting.2.to_string(),
        d.start.clone(),
        d.iterations.to_string(),
        sci(start.map(|p| p.violation)),
        sci(start.map(|p| p.error_l2)),
        sci(Some(d.soft.error_f32.l2)),
        sci(Some(hard)),
        format!("{:.2} / {:.2}", d.hard.nearest_real, d.hard.nearest_real_median),
        format!("{:.2}", d.real_neighbour_distance),
        sci(benign),
        benign
            .filter(|b| *b > 0.0)
            .map_or("–".into(), |b| numfmt::ratio(hard / b)),
    ]
}
