//! Results are checked when they are reported, not when a table first reads them: a malformed result, or one
//! that does not match its job (kind, spec, device, artifacts), is refused and its attempt fails and is retried,
//! so a job marked done always aggregates.
use crate::error::{CoordError, Result};
use crate::ledger::{JobRow, Ledger};
use crate::plan::Plan;
use forgebench_shared::jobs::JobOutcome;

/// Checks `o`, reported for `job`, against the job, its writer and the jobs that will read its artifacts.
pub fn outcome(ledger: &Ledger, job: &JobRow, o: &JobOutcome) -> Result<()> {
    if !(o.compute_seconds.is_finite() && o.compute_seconds >= 0.0) {
        return Err(CoordError::Invalid(format!(
            "{}: compute_seconds is {}, not a duration",
            job.id, o.compute_seconds
        )));
    }
    match &job.plan {
        Plan::VerifyOf { writer_job, .. } => {
            let writer = ledger.job(writer_job)?;
            crate::aggregate::validate_verify(job, &writer.profile, &o.result)?;
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
