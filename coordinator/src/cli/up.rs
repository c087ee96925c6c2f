//! `forgebench up`: the whole local cluster in one command. A coordinator over the configured ledger, one worker
//! process per profile (restarted if it dies), the sweep submitted (idempotently: rerunning resumes it), a progress
//! display, then the tables on stdout and the report on disk, and a clean shutdown.
use super::client::{render, Format};
use super::progress::Live;
use super::serve::open_coordinator;
use crate::error::{CoordError, Result};
use crate::local::{Supervisor, WorkerLaunch};
use clap::Args;
use forgebench_shared::config::{ClusterConfig, DeviceSelection, SweepConfig};
use forgebench_shared::ids::SweepId;
use forgebench_shared::measures::Measure;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `up`.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// The sweep to run (default: cluster.toml's `default_sweep`).
    #[arg(long)]
    pub sweep: Option<String>,
    /// Where worker files, logs, the results folder and the report go.
    #[arg(long, default_value = "runs/up")]
    pub out: PathBuf,
    /// Data directory for the workers (default: the bundled subset, or $FORGEBENCH_DATA).
    #[arg(long, env = "FORGEBENCH_DATA")]
    pub data_dir: Option<PathBuf>,
    /// Start local workers only for these profiles (default: every profile the sweep covers).
    #[arg(long, value_delimiter = ',')]
    pub profiles: Vec<String>,
    /// Start no local worker: wait for workers that join from elsewhere.
    #[arg(long)]
    pub no_workers: bool,
    /// Restarts allowed per local worker.
    #[arg(long, default_value_t = 5)]
    pub max_restarts: u32,
    /// Measure of the printed tables.
    #[arg(long, default_value = "l2")]
    pub measure: Measure,
}

/// Runs `up`.
pub fn run(cfg: &ClusterConfig, a: &UpArgs) -> Result<()> {
    let name = a
        .sweep
        .as_deref()
        .or(cfg.default_sweep.as_deref())
        .ok_or_else(|| CoordError::Invalid("no --sweep given and cluster.toml has no default_sweep".into()))?;
    let mut sweep = cfg.sweep(name)?.clone();
    if !a.no_workers {
        sweep = runnable_here(cfg, sweep, &a.profiles)?;
    }
    let token = super::token(cfg, true)?;
    let coord = open_coordinator(cfg)?;
    let (id, jobs, existed) = coord.submit(&sweep)?;
    let done_before = coord.ledger().sweep_status(&id)?.counts[2];
    eprintln!(
        "sweep {id}: {jobs} jobs planned{} (each device's jobs are planned when its first worker registers)",
        if existed {
            format!(" (resuming: {done_before} already done)")
        } else {
            String::new()
        }
    );
    super::runtime()?.block_on(async {
        let co = &cfg.coordinator;
        let listener = tokio::net::TcpListener::bind(co.listen).await.map_err(|e| {
            CoordError::Process(format!("binding {} (is another coordinator running?): {e}", co.listen))
        })?;
        let running =
            crate::server::start(coord.clone(), listener, &token, co.tls.as_ref(), co.max_message_bytes).await?;
        eprintln!("coordinator on {}; ledger {}", running.addr(), co.ledger.display());
        super::serve::print_dashboard(&running);
        let workers = if a.no_workers {
            None
        } else {
            Some(start_workers(cfg, a, &coord, &id, running.addr())?)
        };
        let slurm_watcher = super::watcher::start(cfg, &coord);
        let outcome = watch(&coord, &id, workers.as_ref(), &a.out.join("logs")).await;
        if let Some(w) = slurm_watcher {
            w.finish(&coord, cfg);
        }
        if let Some(w) = workers {
            let restarts = w.restarts();
            w.stop().await;
            if restarts > 0 {
                eprintln!("local workers were restarted {restarts} time(s)");
            }
        }
        let finished = match outcome {
            Ok(()) => finish(&coord, &id, a),
            Err(e) => Err(e),
        };
        running.shutdown().await?;
        finished
    })
}

/// The sweep as this machine's local workers can run it: the profiles its CPU cannot run (AVX-512 kernels on an
/// AVX2 CPU) left out of the sweep's devices, each named with why; an error if `only` names one or none is left.
fn runnable_here(cfg: &ClusterConfig, mut sweep: SweepConfig, only: &[String]) -> Result<SweepConfig> {
    let covered = sweep.devices.select(&cfg.profiles, |_| Vec::new())?;
    let all = covered.len();
    let host = forgebench_shared::host_cpu::HostCpu::read();
    let mut keep = Vec::new();
    for p in covered {
        match host.as_ref().and_then(|h| h.problem_with(&p)) {
            Some(why) if only.contains(&p.name) => return Err(CoordError::Invalid(why)),
            Some(why) => eprintln!("leaving {} out of this run: {why}", p.name),
            None => keep.push(p.name),
        }
    }
    if keep.is_empty() {
        return Err(CoordError::Invalid(format!(
            "sweep {}: this machine's CPU runs none of its profiles",
            sweep.name
        )));
    }
    if keep.len() < all {
        sweep.devices = DeviceSelection::Select(keep);
    }
    Ok(sweep)
}

fn start_workers(
    cfg: &ClusterConfig,
    a: &UpArgs,
    coord: &crate::service::Coordinator,
    id: &SweepId,
    addr: std::net::SocketAddr,
) -> Result<Supervisor> {
    let (_, profiles) = coord.ledger().sweep_config(id)?;
    for p in &a.profiles {
        if !profiles.iter().any(|q| &q.name == p) {
            return Err(CoordError::NotFound(format!(
                "profile {p:?} is not covered by sweep {id}"
            )));
        }
    }
    let chosen: Vec<_> = profiles
        .into_iter()
        .filter(|p| a.profiles.is_empty() || a.profiles.contains(&p.name))
        .collect();
    let launch = WorkerLaunch::from_config(cfg, addr.to_string(), a.out.join("workers"), a.data_dir.clone())?;
    let names: Vec<_> = chosen.iter().map(|p| p.name.as_str()).collect();
    eprintln!(
        "starting local workers: {} (logs in {})",
        names.join(", "),
        a.out.join("logs").display()
    );
    Supervisor::start(&launch, &chosen, &a.out.join("logs"), a.max_restarts)
}

/// Shows progress until the sweep is complete; Ctrl-C stops early (the ledger keeps what is done).
async fn watch(
    coord: &crate::service::Coordinator,
    id: &SweepId,
    workers: Option<&Supervisor>,
    logs: &std::path::Path,
) -> Result<()> {
    let mut live = Live::new(coord.ledger().sweep_status(id)?.total());
    let mut idle_since: Option<std::time::Instant> = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let s = coord.ledger().sweep_status(id)?;
        live.update(&s);
        if s.complete() {
            live.finish();
            return Ok(());
        }
        if workers.is_some_and(|w| w.gave_up()) {
            live.finish();
            return Err(CoordError::Process(
                "every local worker stopped for good; see the logs, then rerun `forgebench up` to resume".into(),
            ));
        }
        // A worker that stopped for good leaves its device's jobs unrun: once nothing else runs, nothing will.
        let stopped = workers.map(|w| w.stopped()).unwrap_or_default();
        idle_since = match (stopped.is_empty(), s.counts[1], idle_since) {
            (false, 0, None) => Some(std::time::Instant::now()),
            (false, 0, Some(t)) => Some(t),
            _ => None,
        };
        if idle_since.is_some_and(|t| t.elapsed() > Duration::from_secs(5)) {
            live.finish();
            return Err(CoordError::Process(format!(
                "the local worker of {} stopped for good (see its log under {}) and nothing else is running; {} \
                 of {} jobs are done and kept in the ledger: fix the cause, then rerun `forgebench up` to resume",
                stopped.join(", "),
                logs.display(),
                s.counts[2],
                s.total()
            )));
        }
        tokio::select! {
            _ = &mut ctrl_c => {
                live.finish();
                return Err(CoordError::Process(format!(
                    "interrupted; {} of {} jobs are done and kept in the ledger: rerun `forgebench up` to resume",
                    s.counts[2], s.total()
                )));
            }
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

/// Prints the tables and writes the results folder and the report.
fn finish(coord: &crate::service::Coordinator, id: &SweepId, a: &UpArgs) -> Result<()> {
    let s = coord.ledger().sweep_status(id)?;
    let results = crate::dump::sweep_results_with_artifacts(coord.ledger(), id, &coord.settings().artifacts_dir)?;
    let matrices: Vec<_> = results.matrices.iter().map(|m| m.value.clone()).collect();
    print!("{}", render(&matrices, Format::Md, a.measure)?);
    print!("{}", crate::report::torch::markdown(&results));
    let results_dir = a.out.join("results");
    crate::report::write_results(&results, &results_dir)?;
    let files = crate::report::write_report(&results, &a.out.join("report"))?;
    if !results.attacks.is_empty() {
        let t1 = files.dir.join("tables").join("table1.md");
        if let Ok(text) = std::fs::read_to_string(&t1) {
            // The provenance block is in the report; the terminal gets the tables.
            let tables = text.split("**Provenance**").next().unwrap_or(&text);
            print!("{}", tables.trim_end());
            println!();
        }
    }
    print!("{}", crate::report::torch_runs::forge_markdown(&results));
    eprintln!(
        "sweep {id}: {} done, {} failed, {:.1} s of compute",
        s.counts[2], s.counts[3], s.compute_seconds
    );
    for f in &s.failures {
        eprintln!("  failed: {f}");
    }
    eprintln!("results: {}", results_dir.display());
    eprintln!("report: {}", files.index_html.display());
    Ok(())
}
