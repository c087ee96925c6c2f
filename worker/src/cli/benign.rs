//! Subcommands of the benign-error experiments besides reproduction logs: the batch-shuffle experiment, Proof-of-
//! Learning training and verification, and conversions between the literature's error measures (Table 2).
use super::oneshot::emit;
use super::ProcessArgs;
use crate::error::{Result, WorkerError};
use crate::{datasets, pol, shuffle};
use clap::Args;
use forgebench_shared::data::DataSource;
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::jobs::{PolSpec, ShuffleSpec};
use forgebench_shared::measures::{convert, nan_max, Measure};
use forgebench_shared::numfmt;
use forgebench_shared::tables::CrossDeviceMatrix;
use std::fmt::Write as _;
use std::path::Path;

/// Parameters of the shuffle experiment.
#[derive(Debug, Clone, Args)]
pub struct ShuffleArgs {
    /// Model: logreg, logreg-bias, lenet5, vggmini, or a TorchScript file (shuffled at its own parameters).
    #[arg(long)]
    pub model: String,
    /// Data set: mnist, cifar10 or (a TorchScript model) a data folder (default: the model's own; MNIST for a
    /// TorchScript model).
    #[arg(long)]
    pub dataset: Option<DataSource>,
    /// Batch size b.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Learning rate eta.
    #[arg(long, default_value_t = 0.01)]
    pub eta: f64,
    /// Number of shuffled orders.
    #[arg(long, default_value_t = 100)]
    pub shuffles: usize,
    /// Master seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ShuffleArgs {
    /// The spec these arguments describe, for a built-in model.
    pub fn spec(&self, model: ModelKind) -> Result<ShuffleSpec> {
        Ok(ShuffleSpec {
            model,
            dataset: official(self.dataset.as_ref(), model)?,
            batch_size: self.batch_size,
            eta: self.eta,
            shuffles: self.shuffles,
            seed: self.seed,
        })
    }
}

/// A built-in model's data set: `given` when it is an official one, else the model's own; a folder is refused.
pub(crate) fn official(given: Option<&DataSource>, model: ModelKind) -> Result<DatasetKind> {
    match given {
        None => Ok(model.default_dataset()),
        Some(DataSource::Official(kind)) => Ok(*kind),
        Some(DataSource::Folder(p)) => Err(WorkerError::Invalid(format!(
            "--dataset {}: a folder data set is for a TorchScript model (--model FILE.pt); the built-in {model} \
             takes mnist or cifar10",
            p.display()
        ))),
    }
}

/// Parameters of a Proof-of-Learning training run.
#[derive(Debug, Clone, Args)]
pub struct PolArgs {
    /// Model: logreg, logreg-bias, lenet5, vggmini, or a TorchScript file (trained from its own parameters with
    /// --optimizer into a folder log, --out being the folder).
    #[arg(long)]
    pub model: String,
    /// A TorchScript model's optimiser, as JSON: {"kind":"sgd","momentum":0.9,"weight_decay":1e-4},
    /// {"kind":"adam","beta1":0.9,"beta2":0.999,"eps":1e-8,"weight_decay":0.01,"decoupled":true}, {"kind":"plain"}.
    #[arg(long, default_value = r#"{"kind":"sgd"}"#)]
    pub optimizer: String,
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
    /// Number of SGD steps.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Checkpoint interval s (1 = every step).
    #[arg(long, default_value_t = 1)]
    pub checkpoint_every: usize,
    /// Master seed (initial weights and batch order).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Arithmetic of every step: f32, or exact (f64 rounded to f32 per layer, the log carrying the writer's
    /// rounding records; its replay passes only bit for bit).
    #[arg(long, default_value_t = crate::arithmetic::Arithmetic::F32)]
    pub arithmetic: crate::arithmetic::Arithmetic,
}

impl PolArgs {
    /// The spec these arguments describe, for a built-in model (whose data is an official set).
    pub fn spec(&self, model: ModelKind) -> Result<PolSpec> {
        Ok(PolSpec {
            model,
            dataset: official(self.dataset.as_ref(), model)?,
            batch_size: self.batch_size,
            eta: self.eta,
            steps: self.steps,
            checkpoint_every: self.checkpoint_every,
            seed: self.seed,
            arithmetic: self.arithmetic,
        })
    }
}

/// `shuffle`: runs the experiment here and writes the report to `out` (stdout when None).
pub fn shuffle(pa: &ProcessArgs, sa: &ShuffleArgs, out: Option<&Path>) -> Result<()> {
    let ctx = pa.context(std::env::temp_dir())?;
    let Ok(model) = sa.model.parse::<ModelKind>() else {
        let device = ctx.device()?;
        let script = crate::models::script::ScriptNet::load(Path::new(&sa.model), device)?;
        let source = sa.dataset.clone().unwrap_or(DataSource::Official(DatasetKind::Mnist));
        let ds = datasets::from_source(&source, &ctx.data_dir)?;
        let plan = crate::torchrun::shuffle::Plan {
            batch_size: sa.batch_size,
            eta: sa.eta,
            shuffles: sa.shuffles,
            seed: sa.seed,
        };
        let prov = ctx.provenance(vec![("seed".into(), sa.seed)]);
        return emit(&crate::torchrun::shuffle::run(script, &ds, plan, prov)?, out);
    };
    let spec = sa.spec(model)?;
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let report = shuffle::run(
        &spec,
        &ds,
        ctx.device()?,
        ctx.provenance(vec![("seed".into(), spec.seed)]),
    )?;
    eprintln!(
        "shuffle {}/{} b={}: {} orders, L2 mean {} median {} max {}",
        spec.model,
        spec.dataset,
        spec.batch_size,
        report.errors.len(),
        numfmt::error(report.summary.l2.mean),
        numfmt::error(report.summary.l2.median),
        numfmt::error(report.summary.l2.max)
    );
    emit(&report, out)
}

/// `pol-train`: trains and writes a PoL log to `out`; with `export`, also the public PoL code's layout there.
pub fn pol_train(pa: &ProcessArgs, args: &PolArgs, out: &Path, export: Option<&Path>) -> Result<()> {
    let Ok(model) = args.model.parse::<ModelKind>() else {
        return super::torchrun::train_run(pa, args, out);
    };
    let ctx = pa.context(out.parent().unwrap_or(Path::new(".")).to_path_buf())?;
    let spec = args.spec(model)?;
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let manifest = pol::train(
        &spec,
        &ds,
        ctx.device()?,
        ctx.provenance(vec![("seed".into(), spec.seed)]),
        out,
    )?;
    if let Some(dir) = export {
        pol::export_public(&pol::read(out)?, &ds, dir)?;
    }
    emit(&manifest, None)
}

/// `pol-verify`: replays a PoL log here; epsilon given, calibrated from a matrix JSON, or exact (0).
/// Writes the report, then fails when an interval exceeds epsilon.
pub fn pol_verify(
    pa: &ProcessArgs,
    log: &Path,
    epsilon: Option<f64>,
    calibrate: Option<&Path>,
    margin: f64,
    out: Option<&Path>,
) -> Result<()> {
    let ctx = pa.context(std::env::temp_dir())?;
    let log = pol::read(log)?;
    let eps = match (epsilon, calibrate) {
        (Some(e), _) => pol::Epsilon::given(e),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| WorkerError::io(path, e))?;
            let matrix: CrossDeviceMatrix = serde_json::from_str(&text)
                .map_err(|e| WorkerError::artifact(path, format!("not a cross-device matrix JSON: {e}")))?;
            pol::calibrate(&matrix, &log.manifest.spec, margin)?
        }
        (None, None) => pol::Epsilon::exact(),
    };
    let ds = datasets::train(log.manifest.spec.dataset, &ctx.data_dir)?;
    let prov = ctx.provenance(vec![("seed".into(), log.manifest.spec.seed)]);
    let report = pol::verify(&log, &ds, ctx.device()?, prov, eps)?;
    emit(&report, out)?;
    // NaN-propagating: a diverged interval must print "NaN" here, not the largest finite error.
    let worst = nan_max(report.per_interval.iter().map(|e| e.l2)).map_or("none".into(), numfmt::error);
    eprintln!(
        "pol-verify: {} intervals, largest L2 {worst}, epsilon {} ({})",
        report.per_interval.len(),
        numfmt::error(report.epsilon.unwrap_or(0.0)),
        report.epsilon_source
    );
    if let Some(d) = report.exact.as_ref().and_then(|e| e.first_disagreement.as_ref()) {
        eprintln!(
            "pol-verify: exact arm: first disagreement at step {}{}{}",
            d.step,
            d.site.as_ref().map_or(String::new(), |s| format!(", site {s}")),
            d.element.as_ref().map_or(String::new(), |e| format!(
                ", {}: stored {:e}, recomputed {:e}",
                e.parameter, e.stored, e.recomputed
            ))
        );
    }
    if report.passed {
        Ok(())
    } else {
        Err(WorkerError::Invalid(format!(
            "PoL verification failed at intervals {:?}",
            report.failed_intervals
        )))
    }
}

/// The dimension of theta of `model`: a built-in model's name, or a TorchScript file (loaded to count its parameters).
pub fn model_dim(model: &str) -> Result<usize> {
    match model.parse::<ModelKind>() {
        Ok(m) => Ok(m.param_count()),
        Err(_) => Ok(crate::models::script::ScriptNet::load(Path::new(model), tch::Device::Cpu)?.dim()),
    }
}

/// `convert`: one conversion as a number for `model` (its name and dimension), or (with `table`) the value in every
/// measure for every built-in model and `model` (Table 2).
pub fn convert_cmd(value: f64, from: Measure, to: Measure, model: (&str, usize), table: bool) -> String {
    if !table {
        return format!("{:e}", convert(value, from, to, model.1));
    }
    let mut s = format!(
        "{value:e} in {from:?}, for every model\n\n| model | dim | L2 | L2^2 | L2^2/dim |\n|---|---|---|---|---|\n"
    );
    let mut rows: Vec<(String, usize)> = ModelKind::ALL
        .iter()
        .map(|m| (m.to_string(), m.param_count()))
        .collect();
    if !rows.iter().any(|(name, _)| name == model.0) {
        rows.push((model.0.to_owned(), model.1));
    }
    for (m, d) in rows {
        let c = |to| convert(value, from, to, d);
        let _ = writeln!(
            s,
            "| {m} | {d} | {:.4e} | {:.4e} | {:.4e} |",
            c(Measure::L2),
            c(Measure::L2Sq),
            c(Measure::L2SqPerDim)
        );
    }
    s
}
