//! `forgebench slurm launch|status|cancel|watch`: the command line over [`launch`](super::launch), the ledger's
//! Slurm records and the watcher. The ledger is opened directly (SQLite allows it beside a running coordinator).
use super::ctl::{SlurmCli, SlurmCtl};
use super::flags::SlurmFlags;
use super::launch::{launch, prepare, private_token_file, script_path, LaunchOptions};
use super::watch::{poll, poll_all, WatchPolicy};
use super::SlurmState;
use crate::error::{CoordError, Result};
use crate::ledger::Ledger;
use forgebench_shared::config::{read_token, ClusterConfig};
use forgebench_shared::ids::SweepId;
use forgebench_shared::profile::DeviceProfile;
use std::path::{Path, PathBuf};

/// `forgebench slurm ...`.
// Parsed once per process, so the size of `Launch` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SlurmCmd {
    /// Write the sbatch script of a submitted sweep's workers and submit it with sbatch (or print it).
    Launch {
        /// Sweep id, or the name of a submitted sweep (default: default_sweep).
        #[arg(long)]
        sweep: Option<String>,
        /// The coordinator's address as the compute nodes reach it (default: this host and the listen port).
        #[arg(long)]
        coordinator: Option<String>,
        /// Directory for the script, the private token copy, task output and work (default: <ledger dir>/slurm).
        #[arg(long)]
        run_dir: Option<PathBuf>,
        /// The forgebench executable the tasks run (default: this one).
        #[arg(long)]
        forgebench: Option<PathBuf>,
        /// Print the script instead of submitting it.
        #[arg(long)]
        dry_run: bool,
        /// Settings over the [slurm] table.
        #[command(flatten)]
        flags: SlurmFlags,
    },
    /// Show the Slurm jobs recorded with a sweep (all sweeps by default) and their state now.
    Status {
        /// Sweep id or name.
        #[arg(long)]
        sweep: Option<String>,
    },
    /// Cancel (scancel) a sweep's Slurm jobs for good: the watcher will not resubmit them.
    Cancel {
        /// Sweep id or name.
        #[arg(long)]
        sweep: String,
    },
    /// Follow Slurm jobs: resubmit ended ones while their sweep has work, cancel them once it is complete.
    Watch {
        /// Sweep id or name (default: every sweep with Slurm jobs).
        #[arg(long)]
        sweep: Option<String>,
        /// Look once and exit.
        #[arg(long)]
        once: bool,
    },
}

/// A sweep of the ledger by id, else the newest one of that name.
fn resolve(ledger: &Ledger, key: &str) -> Result<(SweepId, String, Vec<DeviceProfile>)> {
    let ids = ledger.sweep_ids()?;
    let mut found = ids.iter().find(|s| s.0 == key).cloned();
    if found.is_none() {
        for id in ids.iter().rev() {
            if ledger.sweep_status(id)?.name == key {
                found = Some(id.clone());
                break;
            }
        }
    }
    let id = found.ok_or_else(|| {
        CoordError::NotFound(format!(
            "sweep {key:?} is not in the ledger: submit it first (forgebench submit), then launch its workers"
        ))
    })?;
    let (sweep, profiles) = ledger.sweep_config(&id)?;
    Ok((id, sweep.name, profiles))
}

/// "42s ago", "7m ago", "3h ago", "2d ago".
fn age(secs: i64) -> String {
    let (n, unit) = match secs {
        s if s < 120 => (s, "s"),
        s if s < 7200 => (s / 60, "m"),
        s if s < 172_800 => (s / 3600, "h"),
        s => (s / 86_400, "d"),
    };
    format!("{n}{unit} ago")
}

/// This machine's host name, for a coordinator listening on every interface.
fn hostname() -> Result<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| CoordError::io("/proc/sys/kernel/hostname", e))?;
    Ok(h.trim().to_owned())
}

/// The address workers dial: `--coordinator`, else the listen address with 0.0.0.0 replaced by the host name.
fn worker_address(cfg: &ClusterConfig, given: Option<&str>) -> Result<String> {
    if let Some(a) = given {
        return Ok(a.to_owned());
    }
    let l = cfg.coordinator.listen;
    if l.ip().is_unspecified() {
        return Ok(format!("{}:{}", hostname()?, l.port()));
    }
    if l.ip().is_loopback() {
        eprintln!("note: coordinator.listen is {l}; only tasks on this machine can reach it (see --coordinator)");
    }
    Ok(l.to_string())
}

/// Runs a `forgebench slurm` command; `config_path` is the `cluster.toml` the workers will read.
pub fn run(cfg: &ClusterConfig, config_path: &Path, cmd: &SlurmCmd) -> Result<()> {
    let cli = SlurmCli::new();
    let base = cfg.slurm.clone().unwrap_or_default();
    let ledger = Ledger::open(&cfg.coordinator.ledger)?;
    match cmd {
        SlurmCmd::Launch {
            sweep,
            coordinator,
            run_dir,
            forgebench,
            dry_run,
            flags,
        } => {
            let key = sweep
                .as_deref()
                .or(cfg.default_sweep.as_deref())
                .ok_or_else(|| CoordError::Invalid("no --sweep and no default_sweep in the config".into()))?;
            let (id, name, profiles) = resolve(&ledger, key)?;
            if ledger.sweep_status(&id)?.complete() {
                return Err(CoordError::Precondition(format!(
                    "sweep {name} ({id}) is complete: it needs no workers (forgebench resubmit reopens failed jobs)"
                )));
            }
            let run_dir = match run_dir {
                Some(d) => d.clone(),
                None => cfg.coordinator.ledger.parent().unwrap_or(Path::new(".")).join("slurm"),
            };
            let run_dir = std::path::absolute(&run_dir).map_err(|e| CoordError::io(&run_dir, e))?;
            let opts = LaunchOptions {
                slurm: Some(flags.apply(cfg.slurm.as_ref())?),
                label: name.clone(),
                config_path: config_path.to_path_buf(),
                forgebench: forgebench.clone(),
                workdir: None,
                cli: cli.clone(),
            };
            let address = worker_address(cfg, coordinator.as_deref())?;
            let token_file = run_dir.join("token");
            if *dry_run {
                print!("{}", prepare(cfg, &profiles, &address, &token_file, &run_dir, &opts)?);
                return Ok(());
            }
            let co = &cfg.coordinator;
            private_token_file(&token_file, &read_token(&co.token_env, co.token_file.as_deref())?)?;
            let job = launch(cfg, &profiles, &address, &token_file, &run_dir, &opts)?;
            ledger.record_slurm_job(&id, &job, &script_path(&run_dir, &job))?;
            println!("{job}");
            eprintln!(
                "submitted Slurm job {job} with the workers of sweep {name} ({id}); follow it with \
                 `forgebench slurm watch --sweep {id}`"
            );
            Ok(())
        }
        SlurmCmd::Status { sweep } => {
            let id = sweep.as_deref().map(|k| resolve(&ledger, k)).transpose()?.map(|r| r.0);
            for r in ledger.slurm_jobs(id.as_ref())?.iter().filter(|r| r.state.is_active()) {
                match cli.state(&r.job) {
                    Ok(now) if now != r.state => {
                        ledger.mark_slurm_job(&r.sweep, &r.job, now)?;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("note: showing recorded states only: {e}");
                        break;
                    }
                }
            }
            let now = crate::ledger::now_ms();
            println!(
                "{:<28} {:<10} {:<10} {:>9}  resubmitted as",
                "sweep", "slurm job", "state", "submitted"
            );
            for r in ledger.slurm_jobs(id.as_ref())? {
                let again = r.resubmitted_as.as_ref().map(|j| j.0.as_str()).unwrap_or("-");
                let ago = age((now - r.submitted_ms).max(0) / 1000);
                println!(
                    "{:<28} {:<10} {:<10} {ago:>9}  {again}",
                    r.sweep.0,
                    r.job.0,
                    r.state.as_str()
                );
            }
            Ok(())
        }
        SlurmCmd::Cancel { sweep } => {
            let (id, name, _) = resolve(&ledger, sweep)?;
            let active: Vec<_> = ledger
                .slurm_jobs(Some(&id))?
                .into_iter()
                .filter(|r| r.state.is_active())
                .map(|r| r.job)
                .collect();
            cli.cancel(&active)?;
            for j in &active {
                ledger.mark_slurm_job(&id, j, SlurmState::Stopped)?;
            }
            let ids: Vec<&str> = active.iter().map(|j| j.0.as_str()).collect();
            eprintln!("sweep {name} ({id}): cancelled Slurm jobs [{}]", ids.join(" "));
            Ok(())
        }
        SlurmCmd::Watch { sweep, once } => {
            let policy = WatchPolicy::from(&base);
            let id = sweep.as_deref().map(|k| resolve(&ledger, k)).transpose()?.map(|r| r.0);
            loop {
                let events = match &id {
                    Some(s) => poll(&ledger, &cli, s, policy)?,
                    None => poll_all(&ledger, &cli, policy)?,
                };
                for e in &events {
                    eprintln!("{e}");
                }
                let watched = ledger.slurm_jobs(id.as_ref())?;
                let waiting = watched.iter().any(|r| r.state.is_active());
                if *once || !waiting {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_secs_f64(base.poll_seconds));
            }
        }
    }
}
