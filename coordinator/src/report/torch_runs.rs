//! The TorchScript models' single runs beside the built-in ones in `tables/runs.md` and the page: their shuffle
//! errors (Figure 4 at the file's own parameters) and their forged steps, each forged step's errors beside the
//! largest benign error of the same run replayed across devices (its cross-device matrix), as Table 1 sets an
//! attack beside benign noise.
use super::provenance::ProvenanceBlock;
use super::results::Results;
use super::runs::Section;
use super::tables::sci;
use super::texttable::TextTable;
use forgebench_shared::measures::nan_max;
use forgebench_shared::torch_forge::TorchForgeReport;
use forgebench_shared::torchrun::ModelIdentity;

/// The file's name without its folders: what a table column has room for.
fn file_name(m: &ModelIdentity) -> String {
    std::path::Path::new(&m.file)
        .file_name()
        .map_or(m.file.clone(), |s| s.to_string_lossy().into_owned())
}

/// The sections present in `r` (none without TorchScript runs).
pub(crate) fn sections(r: &Results, prov: impl Fn() -> ProvenanceBlock) -> Vec<Section> {
    let mut out = Vec::new();
    if !r.torch_shuffle.is_empty() {
        out.push(shuffle_section(r, prov()));
    }
    if !r.torch_forge.is_empty() {
        out.push(forge_section(r, prov()));
    }
    out
}

fn shuffle_section(r: &Results, mut p: ProvenanceBlock) -> Section {
    let mut t = TextTable::new(&[
        "run",
        "model",
        "sha256",
        "dataset",
        "b",
        "shuffles",
        "seed",
        "L2 mean",
        "L2 median",
        "L2 max",
        "zero",
        "profile",
    ]);
    for x in &r.torch_shuffle {
        let v = &x.value;
        p.add(&x.name, &v.provenance);
        let zeros = v.errors.iter().filter(|e| e.l2 == 0.0).count();
        t.push(vec![
            x.name.clone(),
            file_name(&v.model),
            v.model.sha256.chars().take(12).collect(),
            v.dataset.kind.to_string(),
            v.batch_size.to_string(),
            v.errors.len().to_string(),
            v.seed.to_string(),
            sci(Some(v.summary.l2.mean)),
            sci(Some(v.summary.l2.median)),
            sci(Some(v.summary.l2.max)),
            format!("{zeros} of {}", v.errors.len()),
            v.provenance.profile.name.clone(),
        ]);
    }
    Section {
        title: "TorchScript models: batch-order shuffles (plain SGD at the file's parameters)".into(),
        table: t,
        provenance: p,
    }
}

/// The largest cell of the cross-device matrix of the run `f` forged: the same file, optimiser, data and b.
pub(crate) fn cross_device_benign(r: &Results, f: &TorchForgeReport) -> Option<f64> {
    let m = r.torch.iter().map(|m| &m.value).find(|m| {
        m.model.sha256 == f.model.sha256
            && m.optimizer == f.optimizer
            && m.dataset.sha256 == f.dataset.sha256
            && m.batch_size == f.batch_size
    })?;
    nan_max(m.l2_max.iter().flatten().copied().filter(|v| !v.is_nan()))
}

/// The forged steps' table as Markdown for a terminal (empty without any), its provenance left to the report.
pub(crate) fn forge_markdown(r: &Results) -> String {
    if r.torch_forge.is_empty() {
        return String::new();
    }
    let s = forge_section(r, ProvenanceBlock::default());
    format!("\n# {}\n\n{}\n", s.title, s.table.markdown())
}

fn forge_section(r: &Results, mut p: ProvenanceBlock) -> Section {
    let mut t = TextTable::new(&[
        "run",
        "model",
        "optimizer",
        "step",
        "b",
        "benign here",
        "benign across devices (largest)",
        "greedy",
        "local",
        "synthetic",
        "best attack / benign",
        "profile",
    ]);
    for x in &r.torch_forge {
        let v = &x.value;
        p.add(&x.name, &v.provenance);
        let benign = cross_device_benign(r, v);
        let arm = |e: Option<f64>| e.map_or("not run".to_string(), |e| sci(Some(e)));
        let synthetic = v.synthetic.as_ref().map(|s| {
            let tag = if s.projected { " (projected)" } else { "" };
            format!("{}{tag}", sci(Some(s.error.l2)))
        });
        let attacks = [
            v.greedy.as_ref().map(|a| a.error.l2),
            v.local.as_ref().map(|a| a.error.l2),
            v.synthetic.as_ref().map(|a| a.error.l2),
        ];
        let best = attacks.into_iter().flatten().min_by(f64::total_cmp);
        let ratio = match (best, benign) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.0}x", a / b),
            _ => "–".into(),
        };
        t.push(vec![
            x.name.clone(),
            file_name(&v.model),
            v.optimizer.to_string(),
            v.step.to_string(),
            v.batch_size.to_string(),
            sci(Some(v.benign.l2)),
            sci(benign),
            arm(attacks[0]),
            arm(attacks[1]),
            synthetic.unwrap_or_else(|| "not run".into()),
            ratio,
            v.provenance.profile.name.clone(),
        ]);
    }
    Section {
        title: "TorchScript models: forging one step against the run's own optimiser (L2)".into(),
        table: t,
        provenance: p,
    }
}
