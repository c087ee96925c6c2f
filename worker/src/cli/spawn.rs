//! Spawning this binary as a worker process of a given profile: the profile's environment is set (and every other
//! managed variable removed) before libtorch loads in the child.
use crate::error::{Result, WorkerError};
use forgebench_shared::jobs::JobSpec;
use forgebench_shared::profile::DeviceProfile;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `Command` for this executable with `profile`'s environment and `--profile-json`.
pub fn command_for(profile: &DeviceProfile) -> Result<Command> {
    let exe = std::env::current_exe().map_err(|e| WorkerError::Invalid(format!("cannot find own executable: {e}")))?;
    command_with(&exe, profile)
}

/// A `Command` for the worker executable `exe` with `profile`'s environment and `--profile-json`.
pub fn command_with(exe: &Path, profile: &DeviceProfile) -> Result<Command> {
    let mut cmd = Command::new(exe);
    for (k, v) in profile.env() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let json = serde_json::to_string(profile).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    cmd.env("FORGEBENCH_PROFILE_JSON", json);
    Ok(cmd)
}

/// Runs one job in a fresh process of `profile`; returns the parsed `run-job` output.
pub fn run_job(
    profile: &DeviceProfile,
    spec: &JobSpec,
    inputs: &[(String, PathBuf)],
    data_dir: Option<&Path>,
    work_dir: &Path,
    out: &Path,
) -> Result<serde_json::Value> {
    let mut cmd = command_for(profile)?;
    let spec_json = serde_json::to_string(spec).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    cmd.arg("run-job")
        .arg("--spec")
        .arg(spec_json)
        .arg("--work-dir")
        .arg(work_dir)
        .arg("--out")
        .arg(out);
    for (id, path) in inputs {
        cmd.arg("--input").arg(format!("{id}={}", path.display()));
    }
    if let Some(d) = data_dir {
        cmd.arg("--data-dir").arg(d);
    }
    let output = cmd
        .output()
        .map_err(|e| WorkerError::Invalid(format!("spawning a {} worker: {e}", profile.name)))?;
    if !output.status.success() {
        return Err(WorkerError::Invalid(format!(
            "{} job on profile {} failed ({}): {}",
            spec.kind(),
            profile.name,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = std::fs::read_to_string(out).map_err(|e| WorkerError::io(out, e))?;
    serde_json::from_str(&text).map_err(|e| WorkerError::artifact(out, e.to_string()))
}
