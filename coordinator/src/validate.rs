//! Results are checked when they are reported, not when a table first reads them: a malformed result, or one
//! that does not match its job (kind, spec, device, artifacts), is refused and its attempt fails and is retried,
//! so a job marked done always aggregates. A result computed on another device than the job's (another host under
//! the same profile name, other settings in force) is refused too: a matrix never merges two devices.
use crate::error::{CoordError, Result};
use crate::ledger::{JobRow, Ledger};
use crate::plan::Plan;
use forgebench_shared::jobs::{JobOutcome, JobSpec};
use forgebench_shared::repro_log::LogManifest;
use std::path::Path;

/// Checks `o`, reported for `job`, against the job, its writer and the jobs that will read its artifacts;
/// `store` holds the artifacts already uploaded (a reproduction log is opened there as the tables will read it).
pub fn outcome(ledger: &Ledger, store: &Path, job: &JobRow, o: &JobOutcome) -> Result<()> {
    if !(o.compute_seconds.is_finite() && o.compute_seconds >= 0.0) {
        return Err(CoordError::Invalid(format!(
            "{}: compute_seconds is {}, not a duration",
            job.id, o.compute_seconds
        )));
    }
    match &job.plan {
        Plan::VerifyOf { writer_job, .. } => {
            let writer = ledger.job(writer_job)?;
            crate::aggregate::validate_verify(job, &writer.device, &o.result)?;
        }
        Plan::Ready {
            job: JobSpec::WriteLog { spec } | JobSpec::RepeatLog { spec },
        } => {
            let m: LogManifest = serde_json::from_value(o.result.clone())
                .map_err(|e| CoordError::json(format!("log manifest of {}", job.id), e))?;
            let on = m.provenance.device_id();
            if on != job.device {
                return Err(CoordError::Invalid(format!(
                    "{}: the log was written on {} @ {} ({on}), the job is bound to device {}",
                    job.id, m.provenance.profile.name, m.provenance.fingerprint.hostname, job.device
                )));
            }
            crate::aggregate::StoredLog::of_outcome(store, &job.id, o, spec)?;
        }
        _ => crate::dump::validate_outcome(job, o)?,
    }
    for dep in ledger.dependents(&job.id)? {
        let needed = match &dep.plan {
            Plan::NeedsArtifact { role, .. } => Some(role.as_str()),
            Plan::VerifyOf { .. } => Some("repro-log"),
            Plan::Ready { .. } => None,
        };
        if let Some(role) = needed.filter(|r| !o.artifacts.iter().any(|a| a.role == *r)) {
            let roles: Vec<_> = o.artifacts.iter().map(|a| a.role.as_str()).collect();
            return Err(CoordError::Invalid(format!(
                "{}: no {role:?} artifact, which {} reads (artifacts: {})",
                job.id,
                dep.id,
                if roles.is_empty() {
                    "none".into()
                } else {
                    roles.join(", ")
                }
            )));
        }
    }
    Ok(())
}
