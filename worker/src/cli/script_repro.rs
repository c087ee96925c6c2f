//! The reproduction commands (`update`, `write-log`, `verify`, `trace`, `matrix`) given a TorchScript file: its
//! triples at the file's own parameters ([`crate::torchrun::triples`]), each command writing what it writes for a
//! built-in model.
use super::oneshot::{emit, ScriptRepro};
use super::torch_matrix::{read_json, run_child};
use super::ProcessArgs;
use crate::datasets;
use crate::error::{Result, WorkerError};
use crate::jobs::JobContext;
use crate::models::script::ScriptNet;
use crate::models::Net;
use crate::repro::VerifyReport;
use crate::torchrun::{forge, triples};
use forgebench_shared::data::{DataSource, Dataset};
use forgebench_shared::experiment::{DatasetKind, Precision};
use forgebench_shared::measures::nan_max;
use forgebench_shared::optim::Optimizer;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::torchrun::TorchMatrix;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `update --model FILE.pt`: triple `k`'s theta_next as raw little-endian f32 values in `out`.
pub fn update(pa: &ProcessArgs, sr: &ScriptRepro, k: usize, precision: Precision, out: &Path) -> Result<()> {
    if precision == Precision::F64 {
        return Err(WorkerError::Invalid(format!(
            "--model {}: a TorchScript model's parameters are f32; --precision f64 is for the built-in models",
            sr.file.display()
        )));
    }
    let ctx = pa.context(std::env::temp_dir())?;
    let device = ctx.device()?;
    let net = ScriptNet::load(&sr.file, device)?;
    let ds = datasets::from_source(&sr.data, &ctx.data_dir)?;
    sr.triples.check(&ds)?;
    let theta0 = net.theta()?.f_to_device(device)?;
    let s = triples::step(&net, &sr.triples, k, &theta0, &ds, device)?;
    let bytes: Vec<u8> = s.theta_next.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(out, bytes).map_err(|e| WorkerError::io(out, e))?;
    let id = net.identity();
    emit(
        &serde_json::json!({
            "profile": ctx.profile.name, "model": id.file, "model_sha256": id.sha256, "k": k, "dim": net.dim(),
            "step_l2": s.step_norm, "out": out,
        }),
        None,
    )
}

/// `write-log --model FILE.pt`: the triples' log at `out`.
pub fn write_log(pa: &ProcessArgs, sr: &ScriptRepro, out: &Path) -> Result<()> {
    let ctx = pa.context(out.parent().unwrap_or(Path::new(".")).to_path_buf())?;
    let device = ctx.device()?;
    let net = ScriptNet::load(&sr.file, device)?;
    let ds = datasets::from_source(&sr.data, &ctx.data_dir)?;
    let prov = ctx.provenance(vec![("seed".into(), sr.triples.seed)]);
    let mut bar = crate::progress::Progress::new(format!("write-log {}", sr.file.display()), sr.triples.triples);
    let m = triples::write_log(&net, &sr.triples, &ds, device, prov, out, |k| bar.update(k))?;
    emit(&m, None)
}

/// `verify --log FILE` of a TorchScript model's log, with `model` (default: the file the log names).
pub fn verify(
    pa: &ProcessArgs,
    path: &Path,
    model: Option<&Path>,
    threshold: Option<f64>,
    out: Option<&Path>,
) -> Result<()> {
    let ctx = pa.context(std::env::temp_dir())?;
    let log = triples::read_log(path)?;
    let m = &log.manifest;
    let device = ctx.device()?;
    let file = model.map_or_else(|| Path::new(&m.model.file).to_path_buf(), Path::to_path_buf);
    if !file.exists() {
        return Err(WorkerError::Invalid(format!(
            "{}: the log's model file {} is not there; give it as --model FILE.pt",
            path.display(),
            file.display()
        )));
    }
    let net = ScriptNet::load(&file, device)?;
    let ds = log_data(&ctx.data_dir, &log.manifest.dataset)?;
    let prov = ctx.provenance(vec![("seed".into(), m.seed)]);
    let mut bar = crate::progress::Progress::new("verify", m.triples);
    let report = triples::verify_log(&log, &net, &ds, device, prov, threshold, |k| bar.update(k))?;
    emit(&report, out)
}

/// The data set a log records: a folder at the path it was written from, or an official set.
fn log_data(data_dir: &Path, d: &forgebench_shared::torchrun::DatasetRef) -> Result<Arc<Dataset>> {
    let source = match (d.kind, &d.path) {
        (DatasetKind::Folder, Some(p)) => DataSource::Folder(p.into()),
        (DatasetKind::Folder, None) => {
            return Err(WorkerError::Invalid(
                "the log was written on a folder data set whose path it does not record".into(),
            ))
        }
        (kind, _) => DataSource::Official(kind),
    };
    datasets::from_source(&source, data_dir)
}

/// `trace --model FILE.pt`: triple `k`'s trace at `out`.
pub fn trace(pa: &ProcessArgs, sr: &ScriptRepro, k: usize, out: &Path) -> Result<()> {
    let ctx = pa.context(std::env::temp_dir())?;
    let device = ctx.device()?;
    let net = ScriptNet::load(&sr.file, device)?;
    let ds = datasets::from_source(&sr.data, &ctx.data_dir)?;
    let t = triples::trace(&net, &sr.triples, k, &ds, device)?;
    crate::explain::write_trace(&t, out)?;
    let values: usize = t.sites.iter().map(|(_, v)| v.len()).sum();
    emit(
        &serde_json::json!({ "profile": ctx.profile.name, "model": net.identity().file,
            "model_sha256": net.identity().sha256, "triple": k, "arithmetic": t.arithmetic,
            "sites": t.sites.len(), "values": values, "out": out }),
        None,
    )
}

/// `matrix --model FILE.pt`: a process per profile writes the triples' log, every profile verifies every log (each
/// pair its own process); `matrix.json` and `matrix.md` go to `out`.
pub fn matrix(
    sr: &ScriptRepro,
    profiles: &[DeviceProfile],
    data_dir: Option<&Path>,
    out: &Path,
    jobs: usize,
) -> Result<TorchMatrix> {
    // Checked here, before a process per profile is spawned to say the same.
    if !sr.file.is_file() {
        return Err(WorkerError::Invalid(format!(
            "--model {}: no such file",
            sr.file.display()
        )));
    }
    let (logs, reports) = (out.join("logs"), out.join("reports"));
    for d in [&logs, &reports] {
        std::fs::create_dir_all(d).map_err(|e| WorkerError::io(d, e))?;
    }
    let log_of = |p: &DeviceProfile| logs.join(format!("{}.safetensors", p.name));
    let t = &sr.triples;
    super::matrix::parallel("logs", profiles, jobs, |p| {
        let mut a: Vec<String> = vec!["write-log".into(), "--model".into(), sr.file.display().to_string()];
        for (k, v) in [
            ("--dataset", sr.data.to_string()),
            ("--batch-size", t.batch_size.to_string()),
            ("--eta", t.eta.to_string()),
            ("--triples", t.triples.to_string()),
            ("--seed", t.seed.to_string()),
            ("--out", log_of(p).display().to_string()),
        ] {
            a.extend([k.to_string(), v]);
        }
        run_child(p, &a, data_dir, "write-log")
    })?;
    let pairs: Vec<(usize, usize)> = (0..profiles.len())
        .flat_map(|w| (0..profiles.len()).map(move |v| (w, v)))
        .collect();
    let report_of = |(w, v): (usize, usize)| reports.join(format!("{}-on-{}.json", profiles[w].name, profiles[v].name));
    super::matrix::parallel("verifications", &pairs, jobs, |&(w, v)| {
        let a = [
            "verify".to_string(),
            "--log".into(),
            log_of(&profiles[w]).display().to_string(),
            "--model".into(),
            sr.file.display().to_string(),
            "--out".into(),
            report_of((w, v)).display().to_string(),
        ];
        run_child(&profiles[v], &a, data_dir, "verify")
    })?;
    let first = triples::read_log(&log_of(&profiles[0]))?.manifest;
    let mut m = TorchMatrix::empty(first.model, Optimizer::Plain, first.dataset, t.triples, t.batch_size);
    let n = profiles.len();
    m.devices = profiles.iter().map(|p| p.name.clone()).collect();
    (m.l2_max, m.l2_mean) = (vec![vec![f64::NAN; n]; n], vec![vec![f64::NAN; n]; n]);
    m.triples = true;
    for &(w, v) in &pairs {
        let r: VerifyReport = read_json(&report_of((w, v)))?;
        let l2: Vec<f64> = r.per_triple.iter().map(|e| e.l2).collect();
        m.l2_max[w][v] = nan_max(l2.iter().copied()).unwrap_or(f64::NAN);
        m.l2_mean[w][v] = l2.iter().sum::<f64>() / l2.len().max(1) as f64;
        if w == 0 {
            m.verifiers.push(r.verifier);
        }
    }
    let json = serde_json::to_string_pretty(&m).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    for (name, body) in [("matrix.json", json), ("matrix.md", m.to_markdown())] {
        let p = out.join(name);
        std::fs::write(&p, body).map_err(|e| WorkerError::io(&p, e))?;
    }
    Ok(m)
}

/// `adam-forge --model FILE.pt`: the paper's Algorithm 1 against one triple per seed.
pub struct ScriptAdam {
    /// The model file.
    pub file: PathBuf,
    /// Its training data.
    pub data: DataSource,
    /// Batch size b.
    pub batch_size: usize,
    /// Learning rate eta of the forged step.
    pub eta: f64,
    /// Adam iterations.
    pub iterations: usize,
    /// One run per seed: the target is triple 0 of that seed (its batch B_0), the synthetic start drawn from it.
    pub seeds: std::ops::Range<u64>,
    /// Keep the synthetic inputs in the data's range and its labels on the simplex.
    pub projected: bool,
}

/// Runs `a` in `ctx`'s profile and prints the reports (those `torch-forge` writes) as a JSON array.
pub fn adam_forge(ctx: &JobContext, device: tch::Device, a: &ScriptAdam) -> Result<()> {
    if a.iterations == 0 {
        return Err(WorkerError::Invalid("adam-forge needs at least one iteration".into()));
    }
    let script = ScriptNet::load(&a.file, device)?;
    let ds = datasets::from_source(&a.data, &ctx.data_dir)?;
    let mut runs = Vec::new();
    for seed in a.seeds.clone() {
        let t = triples::Triples {
            batch_size: a.batch_size,
            eta: a.eta,
            triples: 1,
            seed,
        };
        runs.push((seed, triples::as_run(&script, &t, 0, &ds, device)?));
    }
    let net = Net::Script(Box::new(script));
    let mut out = Vec::new();
    for (seed, run) in &runs {
        let plan = forge::Plan {
            step: 0,
            pool: 0,
            candidates: 0,
            local_moves: 0,
            synthetic_iterations: a.iterations,
            projected: a.projected,
            seed: *seed,
        };
        let prov = ctx.provenance(vec![("seed".into(), *seed)]);
        out.push(forge::forge(run, &net, &ds, device, &plan, prov)?);
    }
    emit(&out, None)
}
