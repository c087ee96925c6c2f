//! Talking to Slurm: the [`SlurmCtl`] operations the launcher and the watcher need, and [`SlurmCli`], which runs
//! the real client tools (`sbatch`, `squeue`, `sacct`, `scancel`) with `std::process::Command`.
use super::{SlurmJobId, SlurmState};
use crate::error::{CoordError, Result};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};

/// What forgebench asks of Slurm; a trait so the watcher's decisions can be tested without a cluster.
pub trait SlurmCtl {
    /// Submits a batch script; returns its job id.
    fn submit(&self, script: &Path) -> Result<SlurmJobId>;
    /// The job's state now ([`SlurmState::Gone`] when Slurm no longer knows it).
    fn state(&self, job: &SlurmJobId) -> Result<SlurmState>;
    /// Cancels jobs; jobs that already ended are not an error.
    fn cancel(&self, jobs: &[SlurmJobId]) -> Result<()>;
}

/// The Slurm client tools found on `PATH`, run with extra environment variables (e.g. `SLURM_CONF`).
#[derive(Debug, Clone, Default)]
pub struct SlurmCli {
    env: Vec<(OsString, OsString)>,
}

impl SlurmCli {
    /// The tools on `PATH`, in this process's environment.
    pub fn new() -> SlurmCli {
        SlurmCli::default()
    }

    /// Also sets `key=value` for every Slurm command (and so for the jobs `sbatch` submits, which inherit it).
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> SlurmCli {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs `prog args`; a missing program is an error that says what to install.
    fn output(&self, prog: &str, args: &[&str]) -> Result<Output> {
        let mut cmd = Command::new(prog);
        cmd.args(args).envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                CoordError::Process(format!(
                    "{prog}: not found on PATH; `forgebench slurm` needs the Slurm client tools (sbatch, squeue, \
                     scancel) on this machine, e.g. a login node of the cluster"
                ))
            } else {
                CoordError::Process(format!("running {prog}: {e}"))
            }
        })
    }

    /// Runs `prog args` and fails with its stderr unless it succeeded.
    fn checked(&self, prog: &str, args: &[&str]) -> Result<String> {
        let out = self.output(prog, args)?;
        if !out.status.success() {
            return Err(CoordError::Process(format!(
                "{prog} {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The job's state from `sacct`, when accounting is available.
    fn sacct_state(&self, job: &SlurmJobId) -> Option<SlurmState> {
        // Accounting may be disabled or sacct missing; then there is nothing more to learn.
        let out = self
            .output("sacct", &["-n", "-X", "-P", "-j", &job.0, "-o", "State"])
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let word = text.lines().find(|l| !l.trim().is_empty())?;
        // A state sacct reports that forgebench does not know ended the job in some way.
        Some(SlurmState::from_slurm(word).unwrap_or(SlurmState::Failed))
    }
}

impl SlurmCtl for SlurmCli {
    fn submit(&self, script: &Path) -> Result<SlurmJobId> {
        let path = script
            .to_str()
            .ok_or_else(|| CoordError::Invalid(format!("script path {} is not UTF-8", script.display())))?;
        SlurmJobId::parse_parsable(&self.checked("sbatch", &["--parsable", path])?)
    }

    fn state(&self, job: &SlurmJobId) -> Result<SlurmState> {
        // `-t all` keeps finished jobs visible while slurmctld still holds them (MinJobAge).
        let out = self.output("squeue", &["-h", "-t", "all", "-j", &job.0, "-o", "%T"])?;
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status.success() {
            if let Some(word) = text.lines().find(|l| !l.trim().is_empty()) {
                // squeue lists it, so it is still known; an unfamiliar word is treated as a live job.
                return Ok(SlurmState::from_slurm(word).unwrap_or(SlurmState::Running));
            }
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            if !err.contains("Invalid job id") {
                return Err(CoordError::Process(format!(
                    "squeue -j {job} failed ({}): {}",
                    out.status,
                    err.trim()
                )));
            }
        }
        Ok(self.sacct_state(job).unwrap_or(SlurmState::Gone))
    }

    fn cancel(&self, jobs: &[SlurmJobId]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = jobs.iter().map(|j| j.0.as_str()).collect();
        let out = self.output("scancel", &ids)?;
        let err = String::from_utf8_lossy(&out.stderr);
        // Ending jobs are what we want; only other complaints are errors.
        let real: Vec<&str> = err
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| !(l.contains("Invalid job id") || l.contains("already completing or completed")))
            .collect();
        if !out.status.success() && !real.is_empty() {
            return Err(CoordError::Process(format!(
                "scancel {} failed ({}): {}",
                ids.join(" "),
                out.status,
                real.join("; ")
            )));
        }
        Ok(())
    }
}
