//! `pol-verify --log FOLDER`: a PyTorch user's run, logged by the bundled Python module or in the public PoL
//! code's layout, replayed here with their TorchScript model.
use super::oneshot::emit;
use super::ProcessArgs;
use crate::error::{Result, WorkerError};
use crate::jobs::JobContext;
use crate::models::script::ScriptNet;
use crate::models::Net;
use crate::torchrun::TorchRun;
use crate::torchrun::{forge, forgebench_log, public_pol, train, verify};
use crate::{datasets, pol};
use forgebench_shared::calibration::Rule;
use forgebench_shared::data::{DataSource, Dataset};
use forgebench_shared::experiment::DatasetKind;
use forgebench_shared::measures::nan_max;
use forgebench_shared::numfmt;
use forgebench_shared::optim::Optimizer;
use forgebench_shared::pol_strategy::Strategy;
use forgebench_shared::torchrun::TorchRunReport;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tch::Device;

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    /// Every interval.
    Full,
    /// The q largest updates per epoch and distance.
    TopQ,
    /// k random intervals.
    Random,
}

impl StrategyArg {
    /// The strategy with its parameters.
    pub fn with(self, q: usize, k: usize, seed: u64) -> Strategy {
        match self {
            StrategyArg::Full => Strategy::Full,
            StrategyArg::TopQ => Strategy::TopQ { q },
            StrategyArg::Random => Strategy::Random { k, seed },
        }
    }
}

/// How the pass threshold is set.
pub struct Threshold {
    /// Given explicitly.
    pub epsilon: Option<f64>,
    /// Reports of honest runs' verifications to calibrate from.
    pub benign: Vec<PathBuf>,
    /// Margin over their largest error.
    pub margin: f64,
}

fn epsilon(t: &Threshold) -> Result<pol::Epsilon> {
    if let Some(e) = t.epsilon {
        return Ok(pol::Epsilon::given(e));
    }
    if t.benign.is_empty() {
        return Ok(pol::Epsilon::exact());
    }
    let mut reports = Vec::with_capacity(t.benign.len());
    for path in &t.benign {
        let text = std::fs::read_to_string(path).map_err(|e| WorkerError::io(path, e))?;
        let r: TorchRunReport = serde_json::from_str(&text)
            .map_err(|e| WorkerError::artifact(path, format!("not a pol-verify report of a folder log: {e}")))?;
        reports.push((path.display().to_string(), r));
    }
    verify::calibrate(&reports, Rule::Margin { factor: t.margin })
}

/// A PyTorch user's run as given on the command line.
pub struct RunFiles<'a> {
    /// The log folder (either layout).
    pub log: &'a Path,
    /// The TorchScript model (default: the one the log names).
    pub model: Option<&'a Path>,
    /// The training data (default: the set the log names, a folder set at the path it records).
    pub dataset: Option<&'a DataSource>,
}

/// The data `run` was trained on: `given`, else the official set it names, else the folder it records.
fn data_of(ctx: &JobContext, run: &TorchRun, given: Option<&DataSource>) -> Result<Arc<Dataset>> {
    let source = match (given, run.dataset.kind, &run.dataset.path) {
        (Some(s), _, _) => s.clone(),
        (None, DatasetKind::Folder, Some(p)) => DataSource::Folder(PathBuf::from(p)),
        (None, DatasetKind::Folder, None) => {
            return Err(WorkerError::Invalid(format!(
                "{}: the log was trained on a folder data set whose path it does not record: give it as --dataset PATH",
                run.folder.display()
            )))
        }
        (None, kind, _) => DataSource::Official(kind),
    };
    datasets::from_source(&source, &ctx.data_dir)
}

/// The run in `files.log` (either layout), its model and its training data.
fn load(ctx: &JobContext, files: &RunFiles, device: Device) -> Result<(TorchRun, Net, Arc<Dataset>)> {
    let (folder, model) = (files.log, files.model);
    let (run, net) = if forgebench_log::is_one(folder) {
        let m = forgebench_log::manifest(folder)?;
        let file = model.map_or_else(|| forgebench_log::model_file(folder, &m), Path::to_path_buf);
        let net = Net::Script(Box::new(crate::models::script::ScriptNet::load(&file, device)?));
        (forgebench_log::read(folder, m)?, net)
    } else if public_pol::is_one(folder) {
        let exported = public_pol::note(folder)?.map(|n| n.model);
        let arg = match (model, exported) {
            (Some(file), _) => file.display().to_string(),
            (None, Some(name)) => name,
            (None, None) => {
                return Err(WorkerError::Invalid(format!(
                    "{}: a folder in the public PoL layout records no model: give its architecture as --model \
                     NET.pt (TorchScript)",
                    folder.display()
                )))
            }
        };
        let net = Net::from_arg(&arg, device)?;
        let kind = match &net {
            Net::Builtin(m) => m.default_dataset(),
            Net::Script(_) => DatasetKind::Mnist,
        };
        let source = files.dataset.cloned().unwrap_or(DataSource::Official(kind));
        let ds = datasets::from_source(&source, &ctx.data_dir)?;
        (public_pol::read(folder, &net.params(), &ds)?, net)
    } else {
        return Err(WorkerError::Invalid(format!(
            "{}: neither a forgebench PyTorch log (forgebench-log.json) nor the public PoL layout (indices.npy, \
             model_step_0, hash.txt)",
            folder.display()
        )));
    };
    let ds = data_of(ctx, &run, files.dataset)?;
    Ok((run, net, ds))
}

/// Reads, replays and reports; fails when an interval exceeds epsilon.
pub fn verify_run(
    pa: &ProcessArgs,
    files: &RunFiles,
    threshold: &Threshold,
    strategy: Strategy,
    out: Option<&Path>,
) -> Result<()> {
    let ctx = pa.context(std::env::temp_dir())?;
    let device = ctx.device()?;
    let eps = epsilon(threshold)?;
    let (run, net, ds) = load(&ctx, files, device)?;
    let prov = ctx.provenance(Vec::new());
    let report = verify::verify(&run, &net, &ds, device, prov, eps, strategy)?;
    emit(&report, out)?;
    let worst = nan_max(report.intervals.iter().map(|i| i.error.l2)).map_or("none".into(), numfmt::error);
    eprintln!(
        "pol-verify: {} ({}, {}): {} of {} intervals replayed ({}), largest L2 {worst}, epsilon {} ({})",
        files.log.display(),
        report.layout,
        report.optimizer,
        report.intervals.len(),
        report.log_intervals,
        report.strategy,
        numfmt::error(report.epsilon),
        report.epsilon_source
    );
    if let Some(init) = report.init_check.as_ref().filter(|c| !c.passed) {
        let bad: Vec<&str> = init
            .layers
            .iter()
            .filter(|l| l.p_value < init.alpha / init.layers.len() as f64)
            .map(|l| l.name.as_str())
            .collect();
        eprintln!(
            "pol-verify: theta_0 fails the initialisation check at {}",
            bad.join(", ")
        );
    }
    if report.passed {
        return Ok(());
    }
    let steps: Vec<String> = report
        .failed
        .iter()
        .map(|&k| {
            let i = &report.intervals[k];
            format!(
                "steps {}..{} (L2 {})",
                i.from_step,
                i.to_step,
                numfmt::error(i.error.l2)
            )
        })
        .collect();
    Err(WorkerError::Invalid(format!(
        "PoL verification failed at {}",
        steps.join(", ")
    )))
}

/// `pol-train --model FILE.pt`: trains the TorchScript model here into the folder log `out`.
pub fn train_run(pa: &ProcessArgs, args: &super::benign::PolArgs, out: &Path) -> Result<()> {
    let ctx = pa.context(std::env::temp_dir())?;
    let device = ctx.device()?;
    let optimizer: Optimizer = serde_json::from_str(&args.optimizer)
        .map_err(|e| WorkerError::Invalid(format!("--optimizer {:?}: {e}", args.optimizer)))?;
    if args.arithmetic != crate::arithmetic::Arithmetic::F32 {
        return Err(WorkerError::Invalid(
            "the exact arm computes the built-in models' layers; a TorchScript model trains in f32".into(),
        ));
    }
    let file = Path::new(&args.model);
    let net = ScriptNet::load(file, device)?;
    let source = args.dataset.clone().unwrap_or(DataSource::Official(DatasetKind::Mnist));
    let ds = datasets::from_source(&source, &ctx.data_dir)?;
    let plan = train::Plan {
        optimizer,
        lr: args.eta,
        batch_size: args.batch_size,
        steps: args.steps,
        save_every: args.checkpoint_every,
        seed: args.seed,
    };
    let manifest = train::train(&net, file, &plan, &ds, device, out)?;
    emit(&manifest, None)
}

/// `torch-forge --log FOLDER --step K`: the paper's attacks on one step of a PyTorch user's run.
pub fn forge_run(pa: &ProcessArgs, files: &RunFiles, plan: &forge::Plan, out: Option<&Path>) -> Result<()> {
    let ctx = pa.context(std::env::temp_dir())?;
    let device = ctx.device()?;
    let (run, net, ds) = load(&ctx, files, device)?;
    let prov = ctx.provenance(vec![("torch-forge".into(), plan.seed)]);
    let report = forge::forge(&run, &net, &ds, device, plan, prov)?;
    emit(&report, out)?;
    let show = |arm: Option<f64>| arm.map_or("not run".into(), numfmt::error);
    eprintln!(
        "torch-forge: {} step {} ({}): benign replay L2 {}, greedy {}, local {}, synthetic {}",
        files.log.display(),
        report.step,
        report.optimizer,
        numfmt::error(report.benign.l2),
        show(report.greedy.as_ref().map(|a| a.error.l2)),
        show(report.local.as_ref().map(|a| a.error.l2)),
        show(report.synthetic.as_ref().map(|a| a.error.l2)),
    );
    Ok(())
}
