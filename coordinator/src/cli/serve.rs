//! `forgebench coordinator` (the coordinator alone) and `forgebench worker` (one worker joining a coordinator).
use crate::error::{CoordError, Result};
use crate::ledger::Ledger;
use crate::local::WorkerLaunch;
use crate::service::{Coordinator, Settings};
use clap::Args;
use forgebench_shared::config::ClusterConfig;
use std::path::PathBuf;

/// Options of `forgebench worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The profile (a `[[profile]]` name of cluster.toml) this worker runs with.
    #[arg(long)]
    pub profile: String,
    /// Coordinator address (default: the configured listen address).
    #[arg(long, env = "FORGEBENCH_COORDINATOR")]
    pub coordinator: Option<String>,
    /// Where jobs write their files.
    #[arg(long, default_value = "runs/worker")]
    pub work_dir: PathBuf,
    /// Data directory (default: the bundled subset, or $FORGEBENCH_DATA).
    #[arg(long, env = "FORGEBENCH_DATA")]
    pub data_dir: Option<PathBuf>,
    /// Worker name (default: <profile>@<host>:<pid>).
    #[arg(long)]
    pub name: Option<String>,
}

/// Builds the settings and the coordinator over the configured ledger.
pub fn open_coordinator(cfg: &ClusterConfig) -> Result<Coordinator> {
    let ledger = Ledger::open(&cfg.coordinator.ledger)?;
    Ok(Coordinator::new(ledger, Settings::from_config(cfg)))
}

/// Serves until interrupted.
pub fn coordinator(cfg: &ClusterConfig) -> Result<()> {
    let token = super::token(cfg, true)?;
    let coord = open_coordinator(cfg)?;
    super::runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(cfg.coordinator.listen)
            .await
            .map_err(|e| CoordError::Process(format!("binding {}: {e}", cfg.coordinator.listen)))?;
        let co = &cfg.coordinator;
        let running =
            crate::server::start(coord.clone(), listener, &token, co.tls.as_ref(), co.max_message_bytes).await?;
        eprintln!(
            "coordinator listening on {} (ledger {}); Ctrl-C stops it",
            running.addr(),
            co.ledger.display()
        );
        print_dashboard(&running);
        let watcher = super::watcher::start(cfg, &coord);
        let _ = tokio::signal::ctrl_c().await;
        drop(watcher);
        eprintln!("coordinator: stopping; the ledger keeps every result");
        running.shutdown().await
    })
}

/// Replaces this process's role with one worker of the profile: spawns `forgebench-worker serve` with the profile's
/// environment and waits for it, passing its exit status on.
pub fn worker(cfg: &ClusterConfig, a: &WorkerArgs) -> Result<()> {
    let profile = cfg.profiles.iter().find(|p| p.name == a.profile).ok_or_else(|| {
        let known: Vec<_> = cfg.profiles.iter().map(|p| p.name.as_str()).collect();
        CoordError::NotFound(format!(
            "profile {:?} (cluster.toml has: {})",
            a.profile,
            known.join(", ")
        ))
    })?;
    let address = super::target(cfg, a.coordinator.as_deref())?.address;
    let launch = WorkerLaunch::from_config(cfg, address, a.work_dir.clone(), a.data_dir.clone())?;
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("{}@{}", profile.name, std::process::id()));
    let status = launch
        .command(profile, &name)?
        .status()
        .map_err(|e| CoordError::Process(format!("starting {}: {e}", launch.exe.display())))?;
    if !status.success() {
        return Err(CoordError::Process(format!("worker {name} ended with {status}")));
    }
    Ok(())
}

/// Prints the dashboard's sign-in link on stdout (the link carries the login token: it is for the user's terminal,
/// never for the log).
pub(super) fn print_dashboard(running: &crate::server::Running) {
    if let Some(d) = running.dashboard() {
        println!("dashboard: {}", d.url);
    }
}
