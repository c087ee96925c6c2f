//! The forging subcommands (`forge`, `adam-forge`, `prop2`, `prop1-check`, `bench-gram`, `torch-forge`), as one clap enum that
//! `main.rs` flattens into its own. Each prints its report as JSON; with `--matrix` the attack's error is judged
//! against the largest benign error of that cross-device matrix at the PoL margin.
use super::oneshot::emit;
use super::ProcessArgs;
use crate::error::{Result, WorkerError};
use crate::forge::step::Scoring;
use crate::forge::{bench, bench_surrogate, detect, prop1, run};
use crate::{datasets, pol};
use clap::{Args, Subcommand};
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::jobs::{
    AdamSpec, ForgeOptimiser, ForgeScenario, ForgeSpec, Prop2Spec, SearchNorm, StepSchedule,
};
use forgebench_shared::tables::AttackRow;
use std::path::{Path, PathBuf};

/// Where an attack is judged.
#[derive(Debug, Clone, Args)]
pub struct JudgeArgs {
    /// Cross-device matrix JSON (matrix.json of `matrix`) for the same model, data set and b.
    #[arg(long)]
    pub matrix: Option<PathBuf>,
    /// Margin of the calibrated PoL threshold over the largest benign error.
    #[arg(long, default_value_t = pol::DEFAULT_MARGIN)]
    pub margin: f64,
}

/// Forging attacks.
#[derive(Debug, Subcommand)]
pub enum ForgeCommand {
    /// Greedy (and local-search) forging of a PoL log (checkpoint_every = 1); writes the forged log. VGGmini is
    /// scored naively (a backward pass per candidate and per local swap), the others through the Gram products.
    Forge {
        #[arg(long)]
        log: PathBuf,
        /// Pool size n drawn from D \ U per step.
        #[arg(long, default_value_t = 1000)]
        pool: usize,
        /// Candidates M per step.
        #[arg(long, default_value_t = 10_000)]
        candidates: usize,
        #[arg(long, default_value_t = 0)]
        first_step: usize,
        /// Steps in the shard (default: to the end of the log).
        #[arg(long)]
        steps: Option<usize>,
        /// Local-search move budget per step (0: greedy only).
        #[arg(long, default_value_t = 0)]
        local_moves: usize,
        /// l2 or linf.
        #[arg(long, default_value = "l2", value_parser = parse_norm)]
        norm: SearchNorm,
        /// Unlearn these training indices (forge only the steps that used them).
        #[arg(long, value_delimiter = ',', conflicts_with = "membership")]
        unlearn: Vec<usize>,
        /// Refute membership of this training index.
        #[arg(long)]
        membership: Option<usize>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The forged log (safetensors; its manifest beside it as .json).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        judge: JudgeArgs,
    },
    /// Adam optimisation forging (Algorithm 1), `runs` seeds from `seed` on.
    AdamForge {
        /// A built-in model (at theta drawn from its initialisation), or a TorchScript file (at its own parameters,
        /// the paper's Adam only).
        #[arg(long, default_value = "lenet5")]
        model: String,
        /// Data set: mnist, cifar10, or (a TorchScript model) a data folder (default: the model's own; MNIST for
        /// a TorchScript model).
        #[arg(long)]
        dataset: Option<forgebench_shared::data::DataSource>,
        #[arg(long, default_value_t = 100)]
        batch_size: usize,
        #[arg(long, default_value_t = 0.01)]
        eta: f64,
        #[arg(long, default_value_t = 100)]
        iterations: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 1)]
        runs: u64,
        /// Clamp inputs to [0, 1] and labels onto the simplex.
        #[arg(long)]
        projected: bool,
        /// Decay the step size along a cosine over this many iterations, then restart at alpha (warm restarts);
        /// without it the step size is the paper's constant alpha.
        #[arg(long)]
        cosine_restarts: Option<usize>,
        /// The optimiser over the synthetic batch: adam (the paper's) or lbfgs (whose every objective evaluation
        /// counts as an iteration).
        #[arg(long, default_value = "adam")]
        optimiser: ForgeOptimiser,
        /// Then search for a forgery inside the data domain from the best iterate, with this many Adam iterations.
        #[arg(long, default_value_t = 0)]
        domain_iterations: usize,
        /// Save forged and real batches as PNG grids (and ImageBatch JSON) here.
        #[arg(long)]
        grid_dir: Option<PathBuf>,
        #[command(flatten)]
        judge: JudgeArgs,
    },
    /// The Proposition 2 exact forgery for logistic regression.
    Prop2 {
        #[arg(long, default_value_t = 100)]
        batch_size: usize,
        #[arg(long, default_value_t = 0.01)]
        eta: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Then search for a forgery inside the data domain (pixels in [0, 1], labels on the simplex, then one-hot)
        /// from the construction, with this many Adam iterations.
        #[arg(long, default_value_t = 0)]
        domain_iterations: usize,
        #[arg(long)]
        grid_dir: Option<PathBuf>,
        #[command(flatten)]
        judge: JudgeArgs,
    },
    /// Proposition 1: forge example `index` as c * x and run the scalar-multiple detector on it and on `scan` real ones.
    Prop1Check {
        #[arg(long, default_value_t = 0)]
        index: usize,
        #[arg(long, default_value_t = 1.5)]
        scale: f64,
        #[arg(long, default_value_t = 200)]
        scan: usize,
        #[arg(long, default_value_t = prop1::DEFAULT_TOL)]
        tol: f64,
    },
    /// Gram against naive candidate scoring, and local search against greedy at one wall-clock budget.
    BenchGram {
        #[command(flatten)]
        args: bench::BenchArgs,
    },
    /// VGGmini's surrogate against naive candidate scoring: rates, rank agreement, greedy at one wall-clock budget,
    /// and verified local-search moves.
    BenchSurrogate {
        #[command(flatten)]
        args: bench_surrogate::SurrogateArgs,
    },
    /// One step of a PyTorch user's run (a folder log, either layout) forged against its own model and optimiser:
    /// greedy and local search over real batches (each candidate replayed), and optimisation forging (Adam over a
    /// synthetic batch through the module's double backward); the logged batch's replay beside them.
    TorchForge {
        #[arg(long)]
        log: PathBuf,
        /// The TorchScript model (default: the file the log names; the public layout needs it).
        #[arg(long)]
        model: Option<PathBuf>,
        /// The training data: mnist, cifar10 or a data folder (default: the set the log names).
        #[arg(long)]
        dataset: Option<forgebench_shared::data::DataSource>,
        /// The step i to forge (the log needs checkpoints at i and i + 1).
        #[arg(long)]
        step: usize,
        /// Pool size n drawn outside the logged batch (0: no search).
        #[arg(long, default_value_t = 256)]
        pool: usize,
        /// Greedy candidates M, each replayed.
        #[arg(long, default_value_t = 200)]
        candidates: usize,
        /// Local-search swaps accepted at most (each move replays b (n - b) swaps; 0: none).
        #[arg(long, default_value_t = 0)]
        local_moves: usize,
        /// Adam iterations of optimisation forging (0: none).
        #[arg(long, default_value_t = 0)]
        synthetic_iterations: usize,
        /// Keep the synthetic inputs in the data's range and its labels on the simplex.
        #[arg(long)]
        projected: bool,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn parse_norm(s: &str) -> std::result::Result<SearchNorm, String> {
    match s {
        "l2" => Ok(SearchNorm::L2),
        "linf" => Ok(SearchNorm::Linf),
        _ => Err(format!("unknown norm {s:?} (l2 or linf)")),
    }
}

fn judged(judge: &JudgeArgs, mut row: AttackRow) -> Result<serde_json::Value> {
    if let Some(path) = &judge.matrix {
        row.benign_l2 = Some(detect::benign_l2(&detect::read_matrix(path)?, &row)?);
    }
    serde_json::to_value(detect::judge(row, judge.margin)).map_err(|e| WorkerError::Invalid(e.to_string()))
}

fn row(attack: &str, model: ModelKind, dataset: DatasetKind, b: usize, error_l2: f64, parameters: String) -> AttackRow {
    AttackRow {
        step_errors_l2: Vec::new(),
        attack: attack.into(),
        model,
        dataset,
        batch_size: b,
        error_l2,
        parameters,
        benign_l2: None,
        exact_arm: None,
    }
}

impl ForgeCommand {
    /// Runs the subcommand in this process.
    pub fn run(self, pa: &ProcessArgs) -> Result<()> {
        let ctx = pa.context(std::env::temp_dir())?;
        let device = ctx.device()?;
        match self {
            ForgeCommand::Forge {
                log,
                pool,
                candidates,
                first_step,
                steps,
                local_moves,
                norm,
                unlearn,
                membership,
                seed,
                out,
                judge,
            } => {
                let polspec = pol::read(&log)?.manifest.spec;
                let scenario = match (unlearn.is_empty(), membership) {
                    (_, Some(sample)) => ForgeScenario::Membership { sample },
                    (false, None) => ForgeScenario::Unlearn { samples: unlearn },
                    (true, None) => ForgeScenario::EveryStep,
                };
                let step_count = steps.unwrap_or(polspec.steps.saturating_sub(first_step));
                let spec = ForgeSpec {
                    pol: polspec,
                    pool,
                    candidates,
                    first_step,
                    step_count,
                    local_moves,
                    seed,
                    norm,
                    scenario,
                };
                let ds = datasets::train(spec.pol.dataset, &ctx.data_dir)?;
                let report = run::forge(
                    &spec,
                    &log,
                    &ds,
                    device,
                    ctx.provenance(vec![("seed".into(), seed)]),
                    &out,
                )?;
                let worst = |f: &dyn Fn(&forgebench_shared::results::ForgedStep) -> Option<f64>| {
                    forgebench_shared::measures::nan_max(report.steps.iter().filter_map(f))
                };
                let (m, d, b) = (spec.pol.model, spec.pol.dataset, spec.pol.batch_size);
                let scoring = Scoring::for_model(m).name();
                let p = format!("n={pool}, M={candidates}, scoring={scoring}");
                let mut rows = Vec::new();
                if let Some(e) = worst(&|s| Some(s.greedy.l2)) {
                    rows.push(judged(&judge, row("greedy", m, d, b, e, p.clone()))?);
                }
                if let Some(e) = worst(&|s| s.local.map(|l| l.l2)) {
                    rows.push(judged(
                        &judge,
                        row("local-search", m, d, b, e, format!("{p}, moves<={local_moves}")),
                    )?);
                }
                emit(
                    &serde_json::json!({
                        "report": report, "scoring": scoring, "detectability (largest step error)": rows,
                    }),
                    None,
                )
            }
            ForgeCommand::AdamForge {
                model,
                dataset,
                batch_size,
                eta,
                iterations,
                seed,
                runs,
                projected,
                cosine_restarts,
                optimiser,
                domain_iterations,
                grid_dir,
                judge,
            } => {
                let Ok(model) = model.parse::<ModelKind>() else {
                    if cosine_restarts.is_some()
                        || !optimiser.is_adam()
                        || domain_iterations > 0
                        || grid_dir.is_some()
                        || judge.matrix.is_some()
                    {
                        return Err(WorkerError::Invalid(format!(
                            "--model {model}: a TorchScript model's adam-forge runs the paper's Adam at a constant \
                             step size; --cosine-restarts, --optimiser lbfgs, --domain-iterations, --grid-dir and \
                             --matrix are for the built-in models"
                        )));
                    }
                    let a = super::script_repro::ScriptAdam {
                        file: model.into(),
                        data: dataset.unwrap_or(forgebench_shared::data::DataSource::Official(DatasetKind::Mnist)),
                        batch_size,
                        eta,
                        iterations,
                        seeds: seed..seed + runs,
                        projected,
                    };
                    return super::script_repro::adam_forge(&ctx, device, &a);
                };
                if cosine_restarts.is_some() && !optimiser.is_adam() {
                    return Err(WorkerError::Invalid(
                        "--cosine-restarts is a schedule of Adam's step size; L-BFGS takes none".into(),
                    ));
                }
                let schedule = match cosine_restarts {
                    Some(0) => {
                        return Err(WorkerError::Invalid(
                            "--cosine-restarts needs a period of at least 1".into(),
                        ))
                    }
                    Some(period) => StepSchedule::CosineRestarts { period },
                    None => StepSchedule::Constant,
                };
                let dataset = super::benign::official(dataset.as_ref(), model)?;
                let ds = datasets::train(dataset, &ctx.data_dir)?;
                let mut out = Vec::new();
                for s in seed..seed + runs {
                    let spec = AdamSpec {
                        model,
                        dataset,
                        batch_size,
                        eta,
                        iterations,
                        seed: s,
                        projected,
                        schedule,
                        domain_iterations,
                        optimiser,
                    };
                    let prov = ctx.provenance(vec![("seed".into(), s)]);
                    let (report, _) = run::adam_forge(&spec, &ds, device, prov, grid_dir.as_deref())?;
                    let r = row(
                        &spec.attack(),
                        model,
                        dataset,
                        batch_size,
                        report.kept_error().l2,
                        report.parameters(),
                    );
                    out.push(serde_json::json!({ "report": report, "detectability": judged(&judge, r)? }));
                }
                emit(&out, None)
            }
            ForgeCommand::Prop2 {
                batch_size,
                eta,
                seed,
                domain_iterations,
                grid_dir,
                judge,
            } => {
                let ds = datasets::train(DatasetKind::Mnist, &ctx.data_dir)?;
                let spec = Prop2Spec {
                    batch_size,
                    seed,
                    eta,
                    domain_iterations,
                };
                let (report, _) = run::prop2(
                    &spec,
                    &ds,
                    ctx.device()?,
                    ctx.provenance(vec![("seed".into(), seed)]),
                    grid_dir.as_deref(),
                )?;
                let r = row(
                    "prop2",
                    ModelKind::Logreg,
                    DatasetKind::Mnist,
                    batch_size,
                    report.error_f32.l2,
                    "f32".into(),
                );
                emit(
                    &serde_json::json!({ "report": report, "detectability": judged(&judge, r)? }),
                    None,
                )
            }
            ForgeCommand::Prop1Check {
                index,
                scale,
                scan,
                tol,
            } => prop1_check(&ctx.data_dir, index, scale, scan, tol),
            ForgeCommand::BenchGram { args } => emit(&bench::run(&args, &ctx.data_dir, device)?, None),
            ForgeCommand::BenchSurrogate { args } => emit(&bench_surrogate::run(&args, &ctx.data_dir, device)?, None),
            ForgeCommand::TorchForge {
                log,
                model,
                dataset,
                step,
                pool,
                candidates,
                local_moves,
                synthetic_iterations,
                projected,
                seed,
                out,
            } => {
                let plan = crate::torchrun::forge::Plan {
                    step,
                    pool,
                    candidates,
                    local_moves,
                    synthetic_iterations,
                    projected,
                    seed,
                };
                let files = super::torchrun::RunFiles {
                    log: &log,
                    model: model.as_deref(),
                    dataset: dataset.as_ref(),
                };
                super::torchrun::forge_run(pa, &files, &plan, out.as_deref())
            }
        }
    }
}

fn prop1_check(data: &Path, index: usize, scale: f64, scan: usize, tol: f64) -> Result<()> {
    let ds = datasets::train(DatasetKind::Mnist, data)?;
    if index >= ds.n {
        return Err(WorkerError::Invalid(format!(
            "--index {index} is beyond the {} training examples",
            ds.n
        )));
    }
    let w: Vec<f64> = crate::models::draw_theta(ModelKind::Logreg, 0, 0)
        .into_iter()
        .map(f64::from)
        .collect();
    let x: Vec<f64> = ds.example(index).iter().map(|&v| f64::from(v)).collect();
    let (xp, _) = prop1::forge_scaled(&w, &x, usize::from(ds.label(index)), scale);
    let xp: Vec<f32> = xp.into_iter().map(|v| v as f32).collect();
    let flagged = prop1::detect(&xp, &ds, tol);
    let false_positives: Vec<usize> = (0..scan.min(ds.n))
        .filter(|&i| prop1::detect(ds.example(i), &ds, tol).is_some())
        .collect();
    emit(
        &serde_json::json!({
            "forged_from": index, "scale": scale, "tolerance": tol, "detected": flagged,
            "real_examples_scanned": scan.min(ds.n), "real_examples_flagged": false_positives,
        }),
        None,
    )
}
