//! One-shot subcommands: each computes one thing in this process and writes JSON (and artifacts).
use super::ProcessArgs;
use crate::error::{Result, WorkerError};
use crate::jobs;
use crate::torchrun::triples::Triples;
use crate::{datasets, repro, tensors, update};
use clap::Args;
use forgebench_shared::data::DataSource;
use forgebench_shared::experiment::{Arithmetic, DatasetKind, ModelKind, Precision, ReproSpec};
use forgebench_shared::ids::ArtifactId;
use forgebench_shared::jobs::JobSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Parameters of reproduction triples.
#[derive(Debug, Clone, Args)]
pub struct ReproArgs {
    /// Model: logreg, logreg-bias, lenet5, vggmini, or a TorchScript file (every triple then starts at the file's
    /// own parameters, each a plain SGD step in f32).
    #[arg(long)]
    pub model: String,
    /// Data set: mnist, cifar10, or (a TorchScript model) a folder holding inputs.npy and labels.npy, or
    /// data.safetensors (default: the model's own; MNIST for a TorchScript model).
    #[arg(long)]
    pub dataset: Option<DataSource>,
    /// Batch size b.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Learning rate eta.
    #[arg(long, default_value_t = 0.01)]
    pub eta: f64,
    /// Number of triples K.
    #[arg(long, default_value_t = 100)]
    pub triples: usize,
    /// Master seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also store theta_k and the batch indices.
    #[arg(long)]
    pub full: bool,
    /// Arithmetic of every step: f32 (the models' kernels) or exact (f64 rounded to f32 per layer, with the
    /// writer's rounding records; verification is then bit for bit).
    #[arg(long, default_value_t = Arithmetic::F32)]
    pub arithmetic: Arithmetic,
    /// The exact arm's rounding tolerance, in units of each site's f64 resolution (2^-52 times its largest
    /// magnitude); the writer's is recorded in the log and used by its verifiers.
    #[arg(long)]
    pub tolerance_units: Option<f64>,
}

/// A TorchScript model's triples as the command line gives them.
#[derive(Debug, Clone)]
pub struct ScriptRepro {
    /// The model file.
    pub file: PathBuf,
    /// Its training data.
    pub data: DataSource,
    /// b, eta, K and the seed.
    pub triples: Triples,
}

impl ReproArgs {
    /// The spec these arguments describe, for a built-in model.
    pub fn spec(&self) -> Result<ReproSpec> {
        let model: ModelKind = self.model.parse().map_err(WorkerError::Invalid)?;
        Ok(ReproSpec {
            model,
            dataset: super::benign::official(self.dataset.as_ref(), model)?,
            batch_size: self.batch_size,
            eta: self.eta,
            triples: self.triples,
            seed: self.seed,
            full: self.full,
            arithmetic: self.arithmetic,
            tolerance_units: self.tolerance_units,
        })
    }

    /// The TorchScript model's triples when `--model` is not a built-in model's name (None when it is); options
    /// only the built-in models have are refused, naming why.
    pub fn script(&self) -> Result<Option<ScriptRepro>> {
        if self.model.parse::<ModelKind>().is_ok() {
            return Ok(None);
        }
        let refuse = |what: &str| {
            Err(WorkerError::Invalid(format!(
                "--model {}: {what} is for the built-in models (logreg, logreg-bias, lenet5, vggmini); a TorchScript \
                 model's triples are f32 steps from the file's own parameters, their batches recomputed from the seed",
                self.model
            )))
        };
        if self.arithmetic == Arithmetic::Exact || self.tolerance_units.is_some() {
            return refuse("the exact arm (per-layer f64 evaluation, rounding records)");
        }
        if self.full {
            return refuse("--full");
        }
        Ok(Some(ScriptRepro {
            file: PathBuf::from(&self.model),
            data: self.dataset.clone().unwrap_or(DataSource::Official(DatasetKind::Mnist)),
            triples: Triples {
                batch_size: self.batch_size,
                eta: self.eta,
                triples: self.triples,
                seed: self.seed,
            },
        }))
    }
}

/// Writes `value` as pretty JSON to `out`, or to stdout when `out` is None.
pub fn emit<T: serde::Serialize>(value: &T, out: Option<&Path>) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    match out {
        Some(p) => std::fs::write(p, text + "\n").map_err(|e| WorkerError::io(p, e)),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

/// `update`: triple `k` of a reproduction spec; writes theta_next as raw little-endian values to `out`.
pub fn update(pa: &ProcessArgs, ra: &ReproArgs, k: usize, precision: Precision, out: &Path) -> Result<()> {
    if let Some(sr) = ra.script()? {
        return super::script_repro::update(pa, &sr, k, precision, out);
    }
    let ctx = pa.context(std::env::temp_dir())?;
    let spec = ra.spec()?;
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let device = ctx.device()?;
    let theta = tensors::from_f32(&repro::theta_k(&spec, k), device).to_kind(tensors::kind(precision));
    let batch = update::Batch::gather(&ds, &repro::batch_k(&spec, k, ds.n), device, precision)?;
    let u = update::sgd_update(spec.model, &theta, &batch, spec.eta)?;
    let bytes: Vec<u8> = match precision {
        Precision::F32 => tensors::to_f32(&u.theta_next)?
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
        Precision::F64 => tensors::to_f64(&u.theta_next)?
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
    };
    std::fs::write(out, bytes).map_err(|e| WorkerError::io(out, e))?;
    let step = tensors::to_f64(&u.step)?;
    let summary = serde_json::json!({
        "profile": ctx.profile.name, "model": spec.model, "k": k, "dim": spec.model.param_count(),
        "step_l2": forgebench_shared::measures::norm2(&step), "out": out,
    });
    emit(&summary, None)
}

/// `write-log`: writes a reproduction log to `out`.
pub fn write_log(pa: &ProcessArgs, ra: &ReproArgs, out: &Path) -> Result<()> {
    if let Some(sr) = ra.script()? {
        return super::script_repro::write_log(pa, &sr, out);
    }
    let ctx = pa.context(out.parent().unwrap_or(Path::new(".")).to_path_buf())?;
    let spec = ra.spec()?;
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
    let mut bar = crate::progress::Progress::new(format!("write-log {}", spec.model), spec.triples);
    let m = repro::write_log(&spec, &ds, ctx.device()?, prov, out, |k| bar.update(k))?;
    emit(&m, None)
}

/// `verify`: recomputes a log here and reports the errors; `model` is a TorchScript log's model file (default:
/// the one the log names).
pub fn verify(
    pa: &ProcessArgs,
    log: &Path,
    model: Option<&Path>,
    threshold: Option<f64>,
    out: Option<&Path>,
) -> Result<()> {
    if log.is_dir() {
        // A folder log (a TorchScript model's, either layout): its full replay, as `pol-verify --log FOLDER`.
        let files = super::torchrun::RunFiles {
            log,
            model,
            dataset: None,
        };
        let t = super::torchrun::Threshold {
            epsilon: threshold,
            benign: Vec::new(),
            margin: crate::pol::DEFAULT_MARGIN,
        };
        return super::torchrun::verify_run(pa, &files, &t, forgebench_shared::pol_strategy::Strategy::Full, out);
    }
    if crate::torchrun::triples::is_one(log)? {
        return super::script_repro::verify(pa, log, model, threshold, out);
    }
    let ctx = pa.context(std::env::temp_dir())?;
    let log = repro::read_log(log)?;
    let ds = datasets::train(log.manifest.spec.dataset, &ctx.data_dir)?;
    let prov = ctx.provenance(vec![("seed".into(), log.manifest.spec.seed)]);
    let mut bar = crate::progress::Progress::new("verify", log.manifest.spec.triples);
    let report = repro::verify_log(&log, &ds, ctx.device()?, prov, threshold, |k| bar.update(k))?;
    emit(&report, out)
}

/// `run-job`: executes a JSON job spec; `inputs` are `content_id=path` pairs; writes the outcome JSON.
pub fn run_job(
    pa: &ProcessArgs,
    spec_json: &str,
    inputs: &[String],
    work_dir: PathBuf,
    out: Option<&Path>,
) -> Result<()> {
    let spec: JobSpec = serde_json::from_str(spec_json).map_err(|e| WorkerError::Invalid(format!("--spec: {e}")))?;
    let mut map = HashMap::new();
    for pair in inputs {
        let (id, path) = pair
            .split_once('=')
            .ok_or_else(|| WorkerError::Invalid(format!("--input {pair:?}: expected <content_id>=<path>")))?;
        map.insert(ArtifactId(id.to_owned()), PathBuf::from(path));
    }
    let ctx = pa.context(work_dir)?;
    let res = jobs::execute(&ctx, &spec, &map)?;
    let files: Vec<_> = res
        .files
        .iter()
        .map(|(r, p)| serde_json::json!({"id": r.id, "role": r.role, "path": p}))
        .collect();
    emit(&serde_json::json!({"outcome": res.outcome, "files": files}), out)
}
