//! `forgebench-worker`: the process that computes. One process per device profile; spawners set the profile's
//! environment before libtorch loads.
use anyhow::Context;
use clap::{Parser, Subcommand};
use forgebench_shared::experiment::Precision;
use forgebench_shared::profile::{builtin_cpu_profiles, default_cpu_profiles, DeviceProfile};
use forgebench_worker::cli::{benign_cmd, explain, matrix, oneshot, ProcessArgs};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "forgebench-worker",
    version,
    about = "forgebench worker: computes SGD updates, logs and attacks"
)]
struct Cli {
    #[command(flatten)]
    process: ProcessArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print this process's device fingerprint as JSON.
    Fingerprint,
    /// Join a cluster: pull jobs from a coordinator and run them on this profile.
    Serve(forgebench_worker::serve::ServeArgs),
    /// Compute triple k of a reproduction spec and write theta_next (raw little-endian) to --out.
    Update {
        #[command(flatten)]
        repro: oneshot::ReproArgs,
        /// Which triple.
        #[arg(long, default_value_t = 0)]
        k: usize,
        /// f32 or f64.
        #[arg(long, default_value = "f32", value_parser = parse_precision)]
        precision: Precision,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a reproduction log (safetensors + JSON manifest).
    WriteLog {
        #[command(flatten)]
        repro: oneshot::ReproArgs,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a reproduction log on this profile.
    Verify {
        #[arg(long)]
        log: PathBuf,
        /// A TorchScript model's log: its model file (default: the file the log names).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Flag triples whose L2 error exceeds this.
        #[arg(long)]
        threshold: Option<f64>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a job spec (JSON) and write its outcome; used by spawners.
    RunJob {
        #[arg(long)]
        spec: String,
        /// An input artifact as <content_id>=<path>; repeatable.
        #[arg(long)]
        input: Vec<String>,
        #[arg(long, default_value = ".")]
        work_dir: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Single-machine cross-device matrix: a process per CPU profile writes a log, every profile verifies every log.
    Matrix {
        #[command(flatten)]
        repro: oneshot::ReproArgs,
        /// Profile names among the built-in CPU profiles (default: the three that differ on this machine).
        #[arg(long, value_delimiter = ',')]
        profiles: Vec<String>,
        /// Processes at a time.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        #[arg(long, default_value = "runs/matrix")]
        out: PathBuf,
    },
    /// A TorchScript model's cross-device matrix on this machine: a process per CPU profile trains it
    /// (pol-train --model FILE.pt), every profile replays every log.
    TorchMatrix {
        #[command(flatten)]
        train: forgebench_worker::cli::benign::PolArgs,
        /// Profile names among the built-in CPU profiles (default: the three that differ on this machine).
        #[arg(long, value_delimiter = ',')]
        profiles: Vec<String>,
        /// Processes at a time.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        #[arg(long, default_value = "runs/torch-matrix")]
        out: PathBuf,
    },
    /// Trace one step site by site (every inexact layer's output and gradient, then the update) to --out.
    Trace {
        #[command(flatten)]
        repro: oneshot::ReproArgs,
        /// Which triple.
        #[arg(long, default_value_t = 0)]
        triple: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Where two profiles part: one step traced in each (its own process) and compared site by site.
    Explain {
        #[command(flatten)]
        repro: oneshot::ReproArgs,
        /// The two profiles, among the built-in CPU profiles, e.g. cpu-avx2,cpu-default.
        #[arg(long, value_delimiter = ',', required = true)]
        pair: Vec<String>,
        /// Which triple.
        #[arg(long, default_value_t = 0)]
        triple: usize,
        #[arg(long, default_value = "runs/explain")]
        out: PathBuf,
    },
    #[command(flatten)]
    Benign(benign_cmd::BenignCommand),
    #[command(flatten)]
    Forge(forgebench_worker::cli::forge_cmd::ForgeCommand),
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    match s {
        "f32" => Ok(Precision::F32),
        "f64" => Ok(Precision::F64),
        _ => Err(format!("unknown precision {s:?} (f32 or f64)")),
    }
}

fn pick_profiles(names: &[String]) -> anyhow::Result<Vec<DeviceProfile>> {
    if names.is_empty() {
        return Ok(default_cpu_profiles());
    }
    let all = builtin_cpu_profiles();
    names
        .iter()
        .map(|n| {
            all.iter().find(|p| &p.name == n).cloned().with_context(|| {
                let known: Vec<_> = all.iter().map(|p| p.name.as_str()).collect();
                format!("unknown profile {n:?} (built-in: {})", known.join(", "))
            })
        })
        .collect()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let pa = &cli.process;
    match cli.command {
        Command::Serve(args) => forgebench_worker::serve::run(pa, &args)?,
        Command::Fingerprint => {
            let ctx = pa.context(std::env::temp_dir())?;
            oneshot::emit(&ctx.fingerprint, None)?;
        }
        Command::Update {
            repro,
            k,
            precision,
            out,
        } => oneshot::update(pa, &repro, k, precision, &out)?,
        Command::WriteLog { repro, out } => oneshot::write_log(pa, &repro, &out)?,
        Command::Verify {
            log,
            model,
            threshold,
            out,
        } => oneshot::verify(pa, &log, model.as_deref(), threshold, out.as_deref())?,
        Command::RunJob {
            spec,
            input,
            work_dir,
            out,
        } => oneshot::run_job(pa, &spec, &input, work_dir, out.as_deref())?,
        Command::Matrix {
            repro,
            profiles,
            jobs,
            out,
        } => {
            let profiles = pick_profiles(&profiles)?;
            let data = pa.data_dir.as_deref();
            if let Some(sr) = repro.script()? {
                let m = forgebench_worker::cli::script_repro::matrix(&sr, &profiles, data, &out, jobs)?;
                println!("{}", m.to_markdown());
            } else {
                let m = matrix::run(&repro, &profiles, data, &out, jobs)?;
                println!("{}", m.to_markdown(forgebench_shared::measures::Measure::L2));
            }
            eprintln!("matrix: tables written to {}", out.display());
        }
        Command::TorchMatrix {
            train,
            profiles,
            jobs,
            out,
        } => {
            let profiles = pick_profiles(&profiles)?;
            let m = forgebench_worker::cli::torch_matrix::run(&train, &profiles, pa.data_dir.as_deref(), &out, jobs)?;
            println!("{}", m.to_markdown());
            eprintln!("torch-matrix: tables written to {}", out.display());
        }
        Command::Trace { repro, triple, out } => explain::trace(pa, &repro, triple, &out)?,
        Command::Explain {
            repro,
            pair,
            triple,
            out,
        } => {
            let profiles = pick_profiles(&pair)?;
            let pair: [DeviceProfile; 2] = profiles
                .try_into()
                .map_err(|_| anyhow::anyhow!("--pair takes exactly two profiles"))?;
            println!("{}", explain::run(pa, &repro, triple, &pair, &out)?);
        }
        Command::Benign(cmd) => cmd.run(pa)?,
        Command::Forge(cmd) => cmd.run(pa)?,
    }
    Ok(())
}

fn main() {
    forgebench_worker::malloc::tune();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("forgebench-worker: {e:#}");
        std::process::exit(1);
    }
}
