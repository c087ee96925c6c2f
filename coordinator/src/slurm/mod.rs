//! Workers through Slurm: `forgebench slurm launch` renders an sbatch script with one `srun` task per worker
//! (per CPU profile, and per GPU for GPU profiles), submits it with the real `sbatch`, and records the Slurm job
//! with its sweep in the ledger; a watcher follows the recorded jobs with `squeue`/`sacct`, resubmits one that
//! ended while its sweep still has work, and cancels them with `scancel` once the sweep is complete.
//!
//! Slurm only places and starts processes: each task runs the same `forgebench worker` command a person would run
//! by hand, so the coordinator and the worker protocol do not know about Slurm. A worker killed with its job
//! stops heartbeating; the ledger expires its lease and the job returns to the queue by itself.
mod cmd;
mod ctl;
mod flags;
mod launch;
mod script;
mod tasks;
mod watch;

pub use cmd::{run, SlurmCmd};
pub use ctl::{SlurmCli, SlurmCtl};
pub use flags::SlurmFlags;
pub use launch::{default_forgebench, launch, prepare, private_token_file, script_path, LaunchOptions};
pub use script::{render, ScriptSpec};
pub use tasks::{plan_tasks, Task};
pub use watch::{poll, poll_all, Event, WatchPolicy};

use crate::error::{CoordError, Result};
use std::fmt;

/// A Slurm job id as `sbatch --parsable` prints it (without the cluster name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlurmJobId(pub String);

impl fmt::Display for SlurmJobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl SlurmJobId {
    /// Parses `sbatch --parsable` output: "12345" or "12345;cluster".
    pub fn parse_parsable(out: &str) -> Result<SlurmJobId> {
        let id = out.trim().split(';').next().unwrap_or_default();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return Err(CoordError::Process(format!(
                "sbatch --parsable printed {:?}, not a job id",
                out.trim()
            )));
        }
        Ok(SlurmJobId(id.to_owned()))
    }
}

/// Where a recorded Slurm job stands, as the ledger keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlurmState {
    /// Waiting in Slurm's queue (also requeued or suspended).
    Queued,
    /// Its tasks run (or are being cleaned up).
    Running,
    /// Ended normally: every worker task exited.
    Completed,
    /// Ended abnormally: failure, time limit, node failure, out of memory.
    Failed,
    /// Preempted by Slurm.
    Preempted,
    /// Cancelled by someone other than forgebench (`scancel` by hand, an administrator).
    Cancelled,
    /// Cancelled by forgebench (the sweep completed or `forgebench slurm cancel`); never resubmitted.
    Stopped,
    /// Slurm no longer knows it (purged, and no accounting to ask).
    Gone,
}

impl SlurmState {
    /// Every state, in display order.
    pub const ALL: [SlurmState; 8] = [
        SlurmState::Queued,
        SlurmState::Running,
        SlurmState::Completed,
        SlurmState::Failed,
        SlurmState::Preempted,
        SlurmState::Cancelled,
        SlurmState::Stopped,
        SlurmState::Gone,
    ];

    /// The ledger's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SlurmState::Queued => "queued",
            SlurmState::Running => "running",
            SlurmState::Completed => "completed",
            SlurmState::Failed => "failed",
            SlurmState::Preempted => "preempted",
            SlurmState::Cancelled => "cancelled",
            SlurmState::Stopped => "stopped",
            SlurmState::Gone => "gone",
        }
    }

    /// Parses the ledger's spelling.
    pub fn parse(s: &str) -> Result<SlurmState> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| CoordError::Invalid(format!("ledger: unknown Slurm job state {s:?}")))
    }

    /// Whether the job still holds (or waits for) an allocation.
    pub fn is_active(self) -> bool {
        matches!(self, SlurmState::Queued | SlurmState::Running)
    }

    /// Maps a Slurm state word (`squeue %T`, `sacct State`; "CANCELLED by 0" counts by its first word).
    /// Unknown words give `None`, so the caller decides what an unfamiliar state means.
    pub fn from_slurm(word: &str) -> Option<SlurmState> {
        let w = word.split_whitespace().next().unwrap_or_default().trim_end_matches('+');
        Some(match w {
            "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESV_DEL_HOLD" | "SUSPENDED" | "STOPPED"
            | "CONFIGURING" => SlurmState::Queued,
            "RUNNING" | "COMPLETING" | "SIGNALING" | "STAGE_OUT" | "RESIZING" => SlurmState::Running,
            "COMPLETED" => SlurmState::Completed,
            "FAILED" | "TIMEOUT" | "NODE_FAIL" | "OUT_OF_MEMORY" | "BOOT_FAIL" | "DEADLINE" | "SPECIAL_EXIT"
            | "REVOKED" => SlurmState::Failed,
            "PREEMPTED" => SlurmState::Preempted,
            "CANCELLED" => SlurmState::Cancelled,
            _ => return None,
        })
    }
}

impl fmt::Display for SlurmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
