//! The watcher: one [`poll`] asks Slurm about a sweep's recorded jobs that are still queued or running, marks
//! the ones that ended, cancels the rest once the sweep is complete, and resubmits the ones that ended while the
//! sweep still has work (within the resubmission limit).
//!
//! Nothing here touches the sweep's own jobs: a lost worker's leases expire and its jobs return to the queue
//! through the ledger, and the resubmitted Slurm job brings fresh workers to take them.
use super::ctl::SlurmCtl;
use super::{SlurmJobId, SlurmState};
use crate::error::{CoordError, Result};
use crate::ledger::Ledger;
use forgebench_shared::config::SlurmConfig;
use forgebench_shared::ids::SweepId;
use std::collections::{BTreeSet, HashSet};
use std::fmt;

/// What the watcher may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchPolicy {
    /// Resubmissions per sweep.
    pub resubmit_limit: u32,
}

impl From<&SlurmConfig> for WatchPolicy {
    fn from(s: &SlurmConfig) -> Self {
        WatchPolicy {
            resubmit_limit: s.resubmit_limit,
        }
    }
}

/// Something the watcher saw or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A job's state changed.
    Changed {
        /// Sweep.
        sweep: SweepId,
        /// Job.
        job: SlurmJobId,
        /// Recorded state.
        from: SlurmState,
        /// State now.
        to: SlurmState,
    },
    /// An ended job was replaced because its sweep still had work.
    Resubmitted {
        /// Sweep.
        sweep: SweepId,
        /// The ended job.
        old: SlurmJobId,
        /// Its replacement.
        new: SlurmJobId,
    },
    /// An ended job was not replaced: the sweep used up its resubmissions.
    GaveUp {
        /// Sweep.
        sweep: SweepId,
        /// The ended job.
        job: SlurmJobId,
        /// The limit reached.
        limit: u32,
    },
    /// The sweep is complete, so its remaining jobs were cancelled.
    Stopped {
        /// Sweep.
        sweep: SweepId,
        /// The cancelled jobs.
        jobs: Vec<SlurmJobId>,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Changed { sweep, job, from, to } => write!(f, "sweep {sweep}: Slurm job {job} {from} -> {to}"),
            Event::Resubmitted { sweep, old, new } => {
                write!(
                    f,
                    "sweep {sweep}: Slurm job {old} ended with work left; resubmitted as {new}"
                )
            }
            Event::GaveUp { sweep, job, limit } => write!(
                f,
                "sweep {sweep}: Slurm job {job} ended with work left, but the sweep already had {limit} \
                 resubmissions (slurm.resubmit_limit); launch more workers by hand"
            ),
            Event::Stopped { sweep, jobs } => {
                let ids: Vec<&str> = jobs.iter().map(|j| j.0.as_str()).collect();
                write!(f, "sweep {sweep} is complete; cancelled Slurm jobs {}", ids.join(" "))
            }
        }
    }
}

/// One look at `sweep`'s Slurm jobs; returns what changed.
pub fn poll(ledger: &Ledger, ctl: &dyn SlurmCtl, sweep: &SweepId, policy: WatchPolicy) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut just_ended = HashSet::new();
    for r in ledger
        .slurm_jobs(Some(sweep))?
        .into_iter()
        .filter(|r| r.state.is_active())
    {
        let now = ctl.state(&r.job)?;
        if now != r.state {
            ledger.mark_slurm_job(sweep, &r.job, now)?;
            if !now.is_active() {
                just_ended.insert(r.job.clone());
            }
            events.push(Event::Changed {
                sweep: sweep.clone(),
                job: r.job,
                from: r.state,
                to: now,
            });
        }
    }
    let status = match ledger.sweep_status(sweep) {
        Ok(s) => s,
        // Workers may be launched before their sweep is submitted; there is nothing to decide yet.
        Err(CoordError::NotFound(_)) => return Ok(events),
        Err(e) => return Err(e),
    };
    let rows = ledger.slurm_jobs(Some(sweep))?;
    if status.complete() {
        let active: Vec<SlurmJobId> = rows
            .iter()
            .filter(|r| r.state.is_active())
            .map(|r| r.job.clone())
            .collect();
        if !active.is_empty() {
            ctl.cancel(&active)?;
            for j in &active {
                ledger.mark_slurm_job(sweep, j, SlurmState::Stopped)?;
            }
            events.push(Event::Stopped {
                sweep: sweep.clone(),
                jobs: active,
            });
        }
        return Ok(events);
    }
    let mut used = ledger.slurm_resubmissions(sweep)?;
    for r in rows.iter().filter(|r| r.lost()) {
        if used >= policy.resubmit_limit {
            // Said once, when the job is first seen ended, not on every poll after.
            if just_ended.contains(&r.job) {
                events.push(Event::GaveUp {
                    sweep: sweep.clone(),
                    job: r.job.clone(),
                    limit: policy.resubmit_limit,
                });
            }
            continue;
        }
        let new = ctl.submit(&r.script)?;
        ledger.record_slurm_resubmission(sweep, &r.job, &new, &r.script)?;
        used += 1;
        tracing::warn!(%sweep, old = %r.job, %new, "Slurm job ended with work left; resubmitted");
        events.push(Event::Resubmitted {
            sweep: sweep.clone(),
            old: r.job.clone(),
            new,
        });
    }
    Ok(events)
}

/// [`poll`] for every sweep with a Slurm job that is still queued or running, or ended and not yet replaced.
pub fn poll_all(ledger: &Ledger, ctl: &dyn SlurmCtl, policy: WatchPolicy) -> Result<Vec<Event>> {
    let sweeps: BTreeSet<SweepId> = ledger
        .slurm_jobs(None)?
        .into_iter()
        .filter(|r| r.state.is_active() || r.lost())
        .map(|r| r.sweep)
        .collect();
    let mut events = Vec::new();
    for s in sweeps {
        events.extend(poll(ledger, ctl, &s, policy)?);
    }
    Ok(events)
}
