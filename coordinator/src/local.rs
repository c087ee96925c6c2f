//! Local worker processes: the command that starts a `forgebench-worker serve` of a profile (its environment set
//! before libtorch loads, as a profile must be a process), and a supervisor that restarts a worker that dies.
use crate::error::{CoordError, Result};
use forgebench_shared::profile::DeviceProfile;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How a worker process is started.
#[derive(Debug, Clone)]
pub struct WorkerLaunch {
    /// The `forgebench-worker` executable.
    pub exe: PathBuf,
    /// Coordinator address.
    pub coordinator: String,
    /// The token file (the token itself never goes on a command line).
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the token, passed through when set.
    pub token_env: String,
    /// Where the worker keeps job files.
    pub work_dir: PathBuf,
    /// Data directory (default: the worker's bundled data).
    pub data_dir: Option<PathBuf>,
    /// PEM CA of the coordinator when TLS is on, and the certificate's server name.
    pub tls: Option<(PathBuf, String)>,
    /// Largest gRPC message.
    pub max_message_bytes: usize,
}

/// The `forgebench-worker` beside this executable, unless `$FORGEBENCH_WORKER_BIN` names another.
pub fn worker_exe() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("FORGEBENCH_WORKER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe().map_err(|e| CoordError::Process(format!("cannot find own executable: {e}")))?;
    let exe = me.with_file_name("forgebench-worker");
    if !exe.exists() {
        return Err(CoordError::Process(format!(
            "{} is missing: build it with `cargo build --bins` (or set FORGEBENCH_WORKER_BIN)",
            exe.display()
        )));
    }
    Ok(exe)
}

impl WorkerLaunch {
    /// How `cfg`'s workers start: its token, TLS and message limit, against `coordinator`.
    pub fn from_config(
        cfg: &forgebench_shared::config::ClusterConfig,
        coordinator: String,
        work_dir: PathBuf,
        data_dir: Option<PathBuf>,
    ) -> Result<WorkerLaunch> {
        let co = &cfg.coordinator;
        Ok(WorkerLaunch {
            exe: worker_exe()?,
            coordinator,
            token_file: co.token_file.clone(),
            token_env: co.token_env.clone(),
            work_dir,
            data_dir,
            tls: co
                .tls
                .as_ref()
                .map(|t| (t.ca.clone().unwrap_or(t.cert.clone()), t.domain.clone())),
            max_message_bytes: co.max_message_bytes,
        })
    }

    /// The command line of one worker of `profile`, its environment included.
    pub fn command(&self, profile: &DeviceProfile, name: &str) -> Result<std::process::Command> {
        let mut cmd = std::process::Command::new(&self.exe);
        for (k, v) in profile.env() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let json = serde_json::to_string(profile).map_err(|e| CoordError::json("profile", e))?;
        cmd.env("FORGEBENCH_PROFILE_JSON", json);
        if let Some(d) = &self.data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        cmd.arg("serve")
            .arg("--coordinator")
            .arg(&self.coordinator)
            .arg("--token-env")
            .arg(&self.token_env)
            .arg("--work-dir")
            .arg(self.work_dir.join(&profile.name))
            .arg("--name")
            .arg(name)
            .arg("--max-message-bytes")
            .arg(self.max_message_bytes.to_string());
        if let Some(f) = &self.token_file {
            cmd.arg("--token-file").arg(f);
        }
        if let Some((ca, domain)) = &self.tls {
            cmd.arg("--tls-ca").arg(ca).arg("--tls-domain").arg(domain);
        }
        die_with_parent(&mut cmd);
        Ok(cmd)
    }
}

/// Local workers kept alive until [`Supervisor::stop`]: a worker that exits is started again (after a short pause,
/// at most `max_restarts` times per worker), so a crash costs only the job it held.
pub struct Supervisor {
    stop: Arc<AtomicBool>,
    restarts: Arc<AtomicU32>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Each task's profile.
    names: Vec<String>,
}

impl Supervisor {
    /// Starts one worker per profile, logging each to `<log_dir>/<profile>.log`.
    pub fn start(launch: &WorkerLaunch, profiles: &[DeviceProfile], log_dir: &Path, max_restarts: u32) -> Result<Self> {
        std::fs::create_dir_all(log_dir).map_err(|e| CoordError::io(log_dir, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let restarts = Arc::new(AtomicU32::new(0));
        let (mut tasks, mut names) = (Vec::new(), Vec::new());
        for p in profiles {
            let host = hostname();
            let name = format!("{}@{host}", p.name);
            let cmd = launch.command(p, &name)?;
            let log = log_dir.join(format!("{}.log", p.name));
            let (stop, restarts) = (stop.clone(), restarts.clone());
            let profile = p.name.clone();
            names.push(p.name.clone());
            tasks.push(tokio::spawn(async move {
                keep_alive(cmd, profile, log, stop, restarts, max_restarts).await
            }));
        }
        Ok(Supervisor {
            stop,
            restarts,
            tasks,
            names,
        })
    }

    /// How many times a worker was restarted.
    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Whether every worker has stopped for good (each exhausted its restarts).
    pub fn gave_up(&self) -> bool {
        self.tasks.iter().all(|t| t.is_finished())
    }

    /// The profiles whose worker has stopped for good.
    pub fn stopped(&self) -> Vec<&str> {
        self.tasks
            .iter()
            .zip(&self.names)
            .filter(|(t, _)| t.is_finished())
            .map(|(_, n)| n.as_str())
            .collect()
    }

    /// Stops every worker and waits for them.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn keep_alive(
    cmd: std::process::Command,
    profile: String,
    log: PathBuf,
    stop: Arc<AtomicBool>,
    restarts: Arc<AtomicU32>,
    max_restarts: u32,
) {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let mut mine = 0;
    while !stop.load(Ordering::Relaxed) {
        let files = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|f| Ok((f.try_clone()?, f)));
        let Ok((out, err)) = files else {
            tracing::error!(log = %log.display(), "cannot open the worker log");
            return;
        };
        cmd.stdout(out).stderr(err);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(%profile, error = %e, "cannot start the worker");
                return;
            }
        };
        tracing::info!(%profile, pid = child.id(), "worker started");
        let status = loop {
            tokio::select! {
                s = child.wait() => break s,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    if stop.load(Ordering::Relaxed) {
                        let _ = child.kill().await;
                        return;
                    }
                }
            }
        };
        if stop.load(Ordering::Relaxed) {
            return;
        }
        mine += 1;
        if mine > max_restarts {
            tracing::error!(%profile, ?status, "worker keeps dying; giving up (see {})", log.display());
            return;
        }
        restarts.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%profile, ?status, "worker exited; restarting it (log: {})", log.display());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A local worker must not outlive `up` (or `forgebench worker`) when that is killed without a chance to clean up:
/// ask the kernel to send it SIGTERM when its parent goes away.
fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}
