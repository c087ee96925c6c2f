//! The subcommands of [`super::benign`] and `bench-loop`, as one clap enum that `main.rs` flattens into its own.
use super::benign::{self, PolArgs, ShuffleArgs};
use super::oneshot::ReproArgs;
use super::{bench, bench_exact, torchrun, ProcessArgs};
use crate::error::Result;
use clap::Subcommand;
use forgebench_shared::data::DataSource;
use forgebench_shared::measures::Measure;
use std::path::PathBuf;

/// Benign-error experiments, PoL logs, measure conversion and the loop benchmark.
#[derive(Debug, Subcommand)]
pub enum BenignCommand {
    /// Batch-shuffle errors (Figure 4): one batch, its update in many orders, distances from the original order.
    Shuffle {
        #[command(flatten)]
        args: ShuffleArgs,
        /// Report JSON (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Train with SGD and write a Proof-of-Learning log (safetensors + JSON manifest).
    PolTrain {
        #[command(flatten)]
        args: PolArgs,
        #[arg(long)]
        out: PathBuf,
        /// Also write the public PoL code's layout (indices.npy, model_step_* checkpoints) into this folder.
        #[arg(long)]
        export_dir: Option<PathBuf>,
    },
    /// Replay a Proof-of-Learning log here; exits non-zero when an interval exceeds epsilon. The log is forgebench's
    /// own (a .safetensors file), or a folder: a PyTorch run logged by worker/python/forgebench_log.py, or the public PoL
    /// code's layout (indices.npy, model_step_*, hash.txt), replayed with --model.
    PolVerify {
        #[arg(long)]
        log: PathBuf,
        /// A folder log's TorchScript model (default: the file its manifest names; the public layout needs it).
        #[arg(long)]
        model: Option<PathBuf>,
        /// A folder log's training data: mnist, cifar10 or a data folder (default: the set the log names; a
        /// folder set at the path it records). Its sha256 must be the log's.
        #[arg(long)]
        dataset: Option<DataSource>,
        /// A folder log: calibrate epsilon from reports of earlier verifications of honest runs (repeatable): the
        /// largest of their interval errors x margin.
        #[arg(long, conflicts_with_all = ["epsilon", "calibrate"])]
        benign: Vec<PathBuf>,
        /// A folder log: which intervals to replay (Jia et al. 2021): full, top-q (per epoch, the q largest updates
        /// under L1, L2, Linf and cosine distance, their union) or random (k intervals).
        #[arg(long, value_enum, default_value_t = torchrun::StrategyArg::Full)]
        strategy: torchrun::StrategyArg,
        /// top-q: intervals per distance and epoch.
        #[arg(long, default_value_t = forgebench_shared::pol_strategy::DEFAULT_Q)]
        q: usize,
        /// random: how many intervals.
        #[arg(long, default_value_t = 3)]
        k: usize,
        /// random: the draw's seed.
        #[arg(long, default_value_t = 0)]
        strategy_seed: u64,
        /// L2 pass threshold per interval (default without --calibrate: exact replay, epsilon 0).
        #[arg(long, conflicts_with = "calibrate")]
        epsilon: Option<f64>,
        /// Calibrate epsilon from a reproduction matrix JSON (matrix.json of `matrix`): largest benign L2 x margin.
        #[arg(long)]
        calibrate: Option<PathBuf>,
        /// Margin over the largest benign L2 when calibrating.
        #[arg(long, default_value_t = crate::pol::DEFAULT_MARGIN)]
        margin: f64,
        /// Report JSON (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Convert an error figure between L2, L2^2 and L2^2/dim for a model's dimension (Table 2).
    Convert {
        #[arg(long)]
        value: f64,
        /// l2, l2sq or l2sq/dim.
        #[arg(long)]
        from: Measure,
        /// l2, l2sq or l2sq/dim (ignored with --table).
        #[arg(long, default_value = "l2")]
        to: Measure,
        /// A built-in model or a TorchScript file (its parameter count).
        #[arg(long, default_value = "vggmini")]
        model: String,
        /// Print the value in every measure for every model instead.
        #[arg(long)]
        table: bool,
    },
    /// Time the reproduction-log loop (no file written); prints steps per second as JSON.
    BenchLoop {
        #[command(flatten)]
        repro: ReproArgs,
        /// Untimed iterations first.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
    },
    /// Time the exact arm against the f32 arm on the same triples and size its rounding records; prints JSON.
    BenchExact {
        #[command(flatten)]
        repro: ReproArgs,
    },
}

impl BenignCommand {
    /// Runs the subcommand in this process.
    pub fn run(self, pa: &ProcessArgs) -> Result<()> {
        match self {
            BenignCommand::Shuffle { args, out } => benign::shuffle(pa, &args, out.as_deref()),
            BenignCommand::PolTrain { args, out, export_dir } => {
                benign::pol_train(pa, &args, &out, export_dir.as_deref())
            }
            BenignCommand::PolVerify {
                log,
                model,
                dataset,
                benign,
                strategy,
                q,
                k,
                strategy_seed,
                epsilon,
                calibrate,
                margin,
                out,
            } if log.is_dir() => {
                if calibrate.is_some() {
                    return Err(crate::error::WorkerError::Invalid(
                        "--calibrate takes a reproduction matrix of a built-in model; a folder log calibrates from \
                         --benign reports of honest runs"
                            .into(),
                    ));
                }
                let threshold = torchrun::Threshold {
                    epsilon,
                    benign,
                    margin,
                };
                let strategy = strategy.with(q, k, strategy_seed);
                let files = torchrun::RunFiles {
                    log: &log,
                    model: model.as_deref(),
                    dataset: dataset.as_ref(),
                };
                torchrun::verify_run(pa, &files, &threshold, strategy, out.as_deref())
            }
            BenignCommand::PolVerify { dataset: Some(_), .. } => Err(crate::error::WorkerError::Invalid(
                "--dataset is for a folder log; forgebench's own log (a .safetensors file) names its data set".into(),
            )),
            BenignCommand::PolVerify {
                log,
                epsilon,
                calibrate,
                margin,
                out,
                ..
            } => benign::pol_verify(pa, &log, epsilon, calibrate.as_deref(), margin, out.as_deref()),
            BenignCommand::Convert {
                value,
                from,
                to,
                model,
                table,
            } => {
                let dim = benign::model_dim(&model)?;
                println!("{}", benign::convert_cmd(value, from, to, (&model, dim), table));
                Ok(())
            }
            BenignCommand::BenchExact { repro } => {
                println!("{}", bench_exact::bench_exact(pa, &repro)?);
                Ok(())
            }
            BenignCommand::BenchLoop { repro, warmup } => {
                let v = bench::bench_loop(pa, &repro, warmup)?;
                println!("{v}");
                Ok(())
            }
        }
    }
}
