//! Launching: resolve paths, check that the token file is private, render the script into the run directory and
//! submit it with `sbatch --parsable`. Callable as a library function, so tests launch real workers with it.
use super::ctl::{SlurmCli, SlurmCtl};
use super::script::{render, ScriptSpec};
use super::SlurmJobId;
use crate::error::{CoordError, Result};
use forgebench_shared::config::{ClusterConfig, SlurmConfig};
use forgebench_shared::profile::DeviceProfile;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How to launch, beyond the cluster config and the sweep's profiles.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// The effective `[slurm]` settings (config plus flags); `None` takes the config's table or Slurm defaults.
    pub slurm: Option<SlurmConfig>,
    /// Names the job and its script, usually the sweep's name.
    pub label: String,
    /// `cluster.toml` as the workers will read it.
    pub config_path: PathBuf,
    /// The `forgebench` executable; `None`: the one beside this executable.
    pub forgebench: Option<PathBuf>,
    /// The job's working directory; `None`: the current directory.
    pub workdir: Option<PathBuf>,
    /// The Slurm client tools to submit with.
    pub cli: SlurmCli,
}

/// The `forgebench` executable beside the running one (how an installed `forgebench` finds itself).
pub fn default_forgebench() -> Result<PathBuf> {
    let me = std::env::current_exe().map_err(|e| CoordError::Process(format!("cannot find own executable: {e}")))?;
    let exe = me.with_file_name("forgebench");
    if !exe.is_file() {
        return Err(CoordError::NotFound(format!(
            "{}: no forgebench executable there; pass --forgebench",
            exe.display()
        )));
    }
    Ok(exe)
}

/// Where the script of a submitted job is kept (Slurm copied it at submission; the watcher resubmits this file).
pub fn script_path(run_dir: &Path, job: &SlurmJobId) -> PathBuf {
    run_dir.join(format!("slurm-{job}.sbatch"))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| CoordError::io(p, e))
}

/// Writes `token` to `path` readable by its owner only (mode 600), replacing any earlier file.
pub fn private_token_file(path: &Path, token: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CoordError::io(dir, e))?;
    }
    // Remove first: `mode` only applies to a file this call creates.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(CoordError::io(path, e)),
        _ => {}
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CoordError::io(path, e))?;
    writeln!(f, "{token}").map_err(|e| CoordError::io(path, e))
}

/// Refuses a token file that is missing, empty, or readable by anyone but its owner.
fn check_private(token_file: &Path) -> Result<()> {
    let meta = std::fs::metadata(token_file).map_err(|e| CoordError::io(token_file, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CoordError::Precondition(format!(
            "token file {} has mode {mode:o}; workers read it from a shared filesystem, so it must be private: \
             chmod 600 {}",
            token_file.display(),
            token_file.display()
        )));
    }
    if meta.len() == 0 {
        return Err(CoordError::Precondition(format!(
            "token file {} is empty",
            token_file.display()
        )));
    }
    Ok(())
}

/// Renders the script for `profiles` (what `--dry-run` prints) with every path made absolute.
pub fn prepare(
    cfg: &ClusterConfig,
    profiles: &[DeviceProfile],
    coordinator: &str,
    token_file: &Path,
    run_dir: &Path,
    opts: &LaunchOptions,
) -> Result<String> {
    for p in profiles {
        // Workers take their profile from the config by name, so it must be there and be the same.
        if !cfg.profiles.iter().any(|c| c == p) {
            return Err(CoordError::Invalid(format!(
                "profile {} is not (or not so) in {}: workers launched through Slurm read their profile from it",
                p.name,
                opts.config_path.display()
            )));
        }
    }
    let slurm = opts.slurm.clone().or_else(|| cfg.slurm.clone()).unwrap_or_default();
    let run_dir = absolute(run_dir)?;
    let output_dir = match &slurm.output_dir {
        Some(d) => absolute(d)?,
        None => run_dir.clone(),
    };
    let forgebench = match &opts.forgebench {
        Some(f) => absolute(f)?,
        None => default_forgebench()?,
    };
    let workdir = match &opts.workdir {
        Some(w) => absolute(w)?,
        None => std::env::current_dir().map_err(|e| CoordError::io(".", e))?,
    };
    let (config, token_file) = (absolute(&opts.config_path)?, absolute(token_file)?);
    render(&ScriptSpec {
        slurm: &slurm,
        profiles,
        label: &opts.label,
        forgebench: &forgebench,
        config: &config,
        coordinator,
        token_file: &token_file,
        token_env: &cfg.coordinator.token_env,
        output_dir: &output_dir,
        work_dir: &run_dir.join("workers"),
        workdir: &workdir,
    })
}

/// Writes the script under `run_dir`, submits it with `sbatch --parsable` and returns the Slurm job id; the
/// script is then kept at [`script_path`]. `token_file` must be private (see [`private_token_file`]).
pub fn launch(
    cfg: &ClusterConfig,
    profiles: &[DeviceProfile],
    coordinator: &str,
    token_file: &Path,
    run_dir: &Path,
    opts: &LaunchOptions,
) -> Result<SlurmJobId> {
    check_private(token_file)?;
    let text = prepare(cfg, profiles, coordinator, token_file, run_dir, opts)?;
    let slurm = opts.slurm.as_ref().or(cfg.slurm.as_ref());
    for dir in [Some(run_dir), slurm.and_then(|s| s.output_dir.as_deref())]
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(dir).map_err(|e| CoordError::io(dir, e))?;
    }
    let pending = absolute(&run_dir.join(format!("forgebench-{}.sbatch", std::process::id())))?;
    std::fs::write(&pending, &text).map_err(|e| CoordError::io(&pending, e))?;
    let job = opts.cli.submit(&pending)?;
    let kept = script_path(run_dir, &job);
    std::fs::rename(&pending, &kept).map_err(|e| CoordError::io(&kept, e))?;
    tracing::info!(%job, script = %kept.display(), "submitted forgebench workers to Slurm");
    Ok(job)
}
