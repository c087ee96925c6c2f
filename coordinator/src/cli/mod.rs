//! The `forgebench` command line: clap arguments (the low stage) plus `cluster.toml` become one validated
//! [`ClusterConfig`] (the high stage), then each subcommand delegates to a module.
mod client;
mod explain;
mod hwdb;
mod progress;
mod serve;
mod up;
mod watcher;

pub use up::UpArgs;

use crate::error::{CoordError, Result};
use clap::{Parser, Subcommand};
use forgebench_proto::auth::BearerToken;
use forgebench_proto::client::Target;
use forgebench_shared::config::{read_token, ClusterConfig, Overrides};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// forgebench: benign floating-point noise against data forging, measured across devices.
#[derive(Debug, Parser)]
#[command(name = "forgebench", version, about)]
pub struct Cli {
    /// The cluster description.
    #[arg(long, global = true, default_value = "cluster.toml", env = "FORGEBENCH_CONFIG")]
    pub config: PathBuf,
    /// Override `coordinator.listen` (use 127.0.0.1:0 for any free port).
    #[arg(long, global = true)]
    pub listen: Option<SocketAddr>,
    /// Override `coordinator.ledger`.
    #[arg(long, global = true)]
    pub ledger: Option<PathBuf>,
    /// Override `coordinator.token_file`.
    #[arg(long, global = true)]
    pub token_file: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Start a coordinator and one local worker per profile, run a sweep, print its tables and write the report.
    Up(UpArgs),
    /// Run the coordinator alone (workers join with `forgebench worker`).
    Coordinator,
    /// Run one worker of a cluster.toml profile, pointed at a coordinator (how a lab machine joins).
    Worker(serve::WorkerArgs),
    /// Submit a sweep of cluster.toml (or a TOML file) to a running coordinator.
    Submit(client::SubmitArgs),
    /// Show the job counts of sweeps and the registered workers.
    Status(client::StatusArgs),
    /// Put a sweep's failed (or all unfinished) jobs back in the queue.
    Resubmit(client::ResubmitArgs),
    /// Print a sweep's cross-device tables, or with --all every setting over the hardware database.
    Tables(client::TablesArgs),
    /// The table of one hardware pair over every setting the database holds for both.
    Compare(hwdb::CompareArgs),
    /// Add a results folder from another coordinator (another lab) to the hardware database.
    Import(hwdb::ImportArgs),
    /// Write the report (tables, figures, HTML) of a results folder or of a sweep in the ledger.
    Report(client::ReportArgs),
    /// Where the devices of two profiles part in a sweep's traces: every site of one triple, forward and back.
    Explain(explain::ExplainArgs),
    /// Start a sweep's workers through Slurm (sbatch), follow and cancel them.
    Slurm {
        /// The Slurm command.
        #[command(subcommand)]
        cmd: crate::slurm::SlurmCmd,
    },
}

impl Cli {
    /// The validated configuration with the command-line overrides applied.
    pub fn load_config(&self) -> Result<ClusterConfig> {
        let o = Overrides {
            listen: self.listen,
            ledger: self.ledger.clone(),
            token_file: self.token_file.clone(),
        };
        Ok(ClusterConfig::load(&self.config, &o)?)
    }

    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let cfg = self.load_config()?;
        match &self.cmd {
            Cmd::Up(a) => up::run(&cfg, a),
            Cmd::Coordinator => serve::coordinator(&cfg),
            Cmd::Worker(a) => serve::worker(&cfg, a),
            Cmd::Submit(a) => client::submit(&cfg, a),
            Cmd::Status(a) => client::status(&cfg, a),
            Cmd::Resubmit(a) => client::resubmit(&cfg, a),
            Cmd::Tables(a) if a.all => hwdb::tables_all(&cfg, a.format, a.measure),
            Cmd::Tables(a) => client::tables(&cfg, a),
            Cmd::Compare(a) => hwdb::compare(&cfg, a),
            Cmd::Import(a) => hwdb::import(&cfg, a),
            Cmd::Report(a) => client::report(&cfg, a),
            Cmd::Explain(a) => explain::explain(&cfg, a),
            Cmd::Slurm { cmd } => crate::slurm::run(&cfg, &self.config, cmd),
        }
    }
}

/// The cluster token: `$token_env`, else the token file. With `create`, a missing file is made with a fresh random
/// token, readable only by its owner.
pub fn token(cfg: &ClusterConfig, create: bool) -> Result<String> {
    let co = &cfg.coordinator;
    if let Some(path) = co.token_file.as_deref() {
        if create && !path.exists() && std::env::var(&co.token_env).map_or(true, |t| t.trim().is_empty()) {
            write_new_token(path)?;
        }
    }
    Ok(read_token(&co.token_env, co.token_file.as_deref())?)
}

fn write_new_token(path: &Path) -> Result<()> {
    let bytes: [u8; 32] = rand::random();
    crate::slurm::private_token_file(path, &hex::encode(bytes))?;
    tracing::info!(path = %path.display(), "created a new cluster token");
    Ok(())
}

/// Where clients reach the coordinator: the listen address (0.0.0.0 becomes loopback) unless `address` is given.
pub fn target(cfg: &ClusterConfig, address: Option<&str>) -> Result<Target> {
    let co = &cfg.coordinator;
    let addr = match address {
        Some(a) => a.to_owned(),
        None if co.listen.ip().is_unspecified() => format!("127.0.0.1:{}", co.listen.port()),
        None => co.listen.to_string(),
    };
    let mut t = Target::plain(addr);
    t.max_message_bytes = co.max_message_bytes;
    if let Some(tls) = &co.tls {
        let ca = tls.ca.as_deref().unwrap_or(&tls.cert);
        t.tls_ca = Some(std::fs::read(ca).map_err(|e| CoordError::io(ca, e))?);
        t.tls_domain = tls.domain.clone();
    }
    Ok(t)
}

/// A control client of the coordinator named by `address` (or the configured one).
pub async fn control(cfg: &ClusterConfig, address: Option<&str>) -> Result<forgebench_proto::client::ControlClient> {
    let token = BearerToken::new(&token(cfg, false)?)?;
    Ok(target(cfg, address)?.control(&token).await?)
}

/// A multi-threaded runtime for a command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CoordError::Process(format!("starting the async runtime: {e}")))
}
