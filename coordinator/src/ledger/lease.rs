//! Leasing: handing the next ready job to a worker of its device, extending leases on heartbeats, recording the
//! end of an attempt, and requeueing the jobs of workers that stopped answering.
use super::jobs::{fail_job, JobState};
use super::{now_ms, Ledger};
use crate::error::{CoordError, Result};
use crate::plan::Plan;
use forgebench_shared::ids::{ArtifactId, DeviceId, JobId, SweepId, WorkerId};
use forgebench_shared::jobs::{ArtifactRef, JobOutcome, JobSpec};
use rusqlite::{params, OptionalExtension, Transaction};

/// A job handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Leased {
    /// The job.
    pub job_id: JobId,
    /// Its sweep.
    pub sweep_id: SweepId,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The concrete spec.
    pub spec: JobSpec,
    /// Lease deadline (ms since the epoch).
    pub deadline_ms: i64,
    /// Artifacts it needs.
    pub inputs: Vec<ArtifactRef>,
}

fn artifact_ref(tx: &Transaction<'_>, id: &ArtifactId) -> Result<ArtifactRef> {
    let row: Option<(i64, String)> = tx
        .query_row("SELECT size, role FROM artifacts WHERE id = ?1", [&id.0], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (size, role) = row.ok_or_else(|| CoordError::NotFound(format!("artifact {id} is not stored")))?;
    Ok(ArtifactRef {
        id: id.clone(),
        role,
        size: size as u64,
    })
}

/// The outcome of the done job `dep`.
fn dep_outcome(tx: &Transaction<'_>, dep: &JobId) -> Result<JobOutcome> {
    let json: String = tx
        .query_row("SELECT outcome_json FROM results WHERE job_id = ?1", [&dep.0], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| CoordError::NotFound(format!("no result for {dep}")))?;
    serde_json::from_str(&json).map_err(|e| CoordError::json("outcome", e))
}

/// Turns a stored plan into a runnable spec with its inputs.
fn materialise(tx: &Transaction<'_>, plan: &Plan) -> Result<(JobSpec, Vec<ArtifactRef>)> {
    match plan {
        Plan::Ready { job } => {
            let inputs = job
                .inputs()
                .into_iter()
                .map(|id| artifact_ref(tx, id))
                .collect::<Result<_>>()?;
            Ok((job.clone(), inputs))
        }
        Plan::VerifyOf { spec, writer_job } => {
            let outcome = dep_outcome(tx, writer_job)?;
            let log = outcome
                .artifacts
                .iter()
                .find(|a| a.role == "repro-log")
                .or(outcome.artifacts.first())
                .ok_or_else(|| CoordError::Invalid(format!("{writer_job} produced no log artifact")))?;
            let job = JobSpec::VerifyLog {
                spec: spec.clone(),
                log: log.id.clone(),
            };
            Ok((job, vec![artifact_ref(tx, &log.id)?]))
        }
        Plan::NeedsArtifact { job, dep, role } => {
            // The role is required (no fallback to the first artifact as for reproduction logs): a job may write
            // several artifacts, and the wrong one would only fail on the worker, after its download.
            let outcome = dep_outcome(tx, dep)?;
            let a = outcome.artifacts.iter().find(|a| &a.role == role).ok_or_else(|| {
                let roles: Vec<_> = outcome.artifacts.iter().map(|a| a.role.as_str()).collect();
                CoordError::Invalid(format!(
                    "{dep} produced no {role:?} artifact (roles: {})",
                    if roles.is_empty() {
                        "none".into()
                    } else {
                        roles.join(", ")
                    }
                ))
            })?;
            Ok((job.with_input(a.id.clone()), vec![artifact_ref(tx, &a.id)?]))
        }
    }
}

/// Closes `attempt` of `job` as failed with `error`; requeues the job or fails it when out of attempts.
fn end_failed(tx: &Transaction<'_>, job: &JobId, attempt: u32, status: &str, error: &str) -> Result<JobState> {
    tx.execute(
        "UPDATE attempts SET finished_ms = ?3, status = ?4, error = ?5 WHERE job_id = ?1 AND attempt = ?2",
        params![job.0, attempt, now_ms(), status, error],
    )?;
    tx.execute("DELETE FROM leases WHERE job_id = ?1", [&job.0])?;
    tx.execute("UPDATE workers SET running_job = NULL WHERE running_job = ?1", [&job.0])?;
    let (attempts, max): (u32, u32) =
        tx.query_row("SELECT attempts, max_attempts FROM jobs WHERE id = ?1", [&job.0], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    if attempts >= max {
        fail_job(tx, job, &format!("attempt {attempt}/{max}: {error}"))?;
        Ok(JobState::Failed)
    } else {
        tx.execute(
            "UPDATE jobs SET state = 'pending', last_error = ?2 WHERE id = ?1",
            params![job.0, error],
        )?;
        Ok(JobState::Pending)
    }
}

impl Ledger {
    /// Leases the first ready job bound to `device` to `worker` (a worker of that device) for `lease_ms`.
    pub fn lease_next(&self, worker: &WorkerId, device: &DeviceId, lease_ms: i64) -> Result<Option<Leased>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        loop {
            let row: Option<(String, String, String, u32)> = tx
                .query_row(
                    "SELECT j.id, j.sweep_id, j.plan_json, j.attempts FROM jobs j JOIN sweeps s ON s.id = j.sweep_id
                     WHERE j.state = 'pending' AND j.device_id = ?1 AND (j.depends_on IS NULL OR EXISTS
                       (SELECT 1 FROM jobs d WHERE d.id = j.depends_on AND d.state = 'done'))
                     ORDER BY s.created_ms, j.seq LIMIT 1",
                    [&device.0],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((id, sweep, plan_json, attempts)) = row else {
                tx.commit()?;
                return Ok(None);
            };
            let job = JobId(id);
            let plan: Plan = serde_json::from_str(&plan_json).map_err(|e| CoordError::json("plan", e))?;
            let (spec, inputs) = match materialise(&tx, &plan) {
                Ok(x) => x,
                Err(e) => {
                    // Cannot ever run (its input is gone or malformed): fail it rather than loop on it.
                    fail_job(&tx, &job, &format!("cannot prepare the job: {e}"))?;
                    continue;
                }
            };
            let attempt = attempts + 1;
            let now = now_ms();
            let deadline_ms = now + lease_ms;
            tx.execute(
                "UPDATE jobs SET state = 'leased', attempts = ?2 WHERE id = ?1",
                params![job.0, attempt],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO attempts(job_id, attempt, worker_id, started_ms, status) VALUES (?1,?2,?3,?4,'running')",
                params![job.0, attempt, worker.0, now],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO leases(job_id, worker_id, attempt, deadline_ms) VALUES (?1, ?2, ?3, ?4)",
                params![job.0, worker.0, attempt, deadline_ms],
            )?;
            tx.execute(
                "UPDATE workers SET running_job = ?2, last_seen_ms = ?3 WHERE id = ?1",
                params![worker.0, job.0, now],
            )?;
            tx.commit()?;
            return Ok(Some(Leased {
                job_id: job,
                sweep_id: SweepId(sweep),
                attempt,
                spec,
                deadline_ms,
                inputs,
            }));
        }
    }

    /// Extends the lease of `job` (attempt `attempt`) held by `worker`; false when that lease no longer exists.
    pub fn extend_lease(&self, worker: &WorkerId, job: &JobId, attempt: u32, lease_ms: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE leases SET deadline_ms = ?4 WHERE job_id = ?1 AND worker_id = ?2 AND attempt = ?3",
            params![job.0, worker.0, attempt, now_ms() + lease_ms],
        )?;
        Ok(n == 1)
    }

    /// Records the end of an attempt. `Ok(outcome)` needs every artifact it lists to be stored already.
    pub fn report(
        &self,
        worker: &WorkerId,
        job: &JobId,
        attempt: u32,
        result: std::result::Result<&JobOutcome, &str>,
    ) -> Result<JobState> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let held = tx
            .query_row(
                "SELECT 1 FROM leases WHERE job_id = ?1 AND worker_id = ?2 AND attempt = ?3",
                params![job.0, worker.0, attempt],
                |_| Ok(()),
            )
            .optional()?;
        if held.is_none() {
            return Err(CoordError::Precondition(format!(
                "{job} attempt {attempt}: the lease was lost (expired or requeued)"
            )));
        }
        let state = match result {
            Ok(outcome) => {
                for a in &outcome.artifacts {
                    let r = artifact_ref(&tx, &a.id)?;
                    if r.size != a.size {
                        return Err(CoordError::Invalid(format!(
                            "artifact {}: {} bytes stored, {} reported",
                            a.id, r.size, a.size
                        )));
                    }
                }
                let json = serde_json::to_string(outcome).map_err(|e| CoordError::json("outcome", e))?;
                let now = now_ms();
                tx.execute(
                    "INSERT OR REPLACE INTO results(job_id, attempt, worker_id, outcome_json, compute_seconds, finished_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![job.0, attempt, worker.0, json, outcome.compute_seconds, now],
                )?;
                tx.execute(
                    "UPDATE attempts SET finished_ms = ?3, status = 'ok' WHERE job_id = ?1 AND attempt = ?2",
                    params![job.0, attempt, now],
                )?;
                tx.execute(
                    "UPDATE jobs SET state = 'done', last_error = NULL WHERE id = ?1",
                    [&job.0],
                )?;
                tx.execute("DELETE FROM leases WHERE job_id = ?1", [&job.0])?;
                tx.execute("UPDATE workers SET running_job = NULL WHERE id = ?1", [&worker.0])?;
                JobState::Done
            }
            Err(error) => end_failed(&tx, job, attempt, "failed", error)?,
        };
        tx.commit()?;
        Ok(state)
    }

    /// Ends every lease whose deadline has passed (its worker stopped answering); returns how many.
    pub fn expire_leases(&self) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let expired: Vec<(String, u32, String)> = {
            let mut q = tx.prepare("SELECT job_id, attempt, worker_id FROM leases WHERE deadline_ms < ?1")?;
            let rows = q.query_map([now_ms()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (job, attempt, worker) in &expired {
            tracing::warn!(job = %job, attempt, worker = %worker, "lease expired; requeueing");
            let msg = format!("lease expired: worker {worker} stopped answering");
            end_failed(&tx, &JobId(job.clone()), *attempt, "expired", &msg)?;
        }
        tx.commit()?;
        Ok(expired.len())
    }
}
