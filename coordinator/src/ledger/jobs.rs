//! Sweeps and their jobs: insertion (idempotent), job states, failure propagation and resubmission.
use super::{now_ms, Ledger};
use crate::error::{CoordError, Result};
use crate::plan::NewJob;
use forgebench_shared::ids::{JobId, SweepId};
use forgebench_shared::profile::DeviceProfile;
use rusqlite::{params, OptionalExtension, Transaction};

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for a worker of its device (and for its dependency).
    Pending,
    /// Running under a lease.
    Leased,
    /// Finished with a result.
    Done,
    /// Out of attempts (or its dependency failed).
    Failed,
}

impl JobState {
    /// The ledger's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Leased => "leased",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
    /// Parses the ledger's spelling.
    pub fn parse(s: &str) -> Result<JobState> {
        Ok(match s {
            "pending" => JobState::Pending,
            "leased" => JobState::Leased,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            other => return Err(CoordError::Invalid(format!("ledger: unknown job state {other:?}"))),
        })
    }
}

/// A sweep as the ledger records it.
#[derive(Debug, Clone, Copy)]
pub struct SweepRecord<'a> {
    /// The sweep's id.
    pub id: &'a SweepId,
    /// Its name in `cluster.toml`.
    pub name: &'a str,
    /// The identity that makes submission idempotent.
    pub fingerprint: &'a str,
    /// The sweep table, as TOML.
    pub config_toml: &'a str,
    /// The profiles it covers.
    pub profiles: &'a [DeviceProfile],
}

impl Ledger {
    /// Records a sweep; returns whether the same sweep (by fingerprint) was already there, in which case nothing
    /// changes. Its jobs come with its devices ([`Ledger::add_jobs`]).
    pub fn insert_sweep(&self, sweep: SweepRecord<'_>) -> Result<bool> {
        let SweepRecord {
            id,
            name,
            fingerprint,
            config_toml,
            profiles,
        } = sweep;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let existing: Option<String> = tx
            .query_row("SELECT id FROM sweeps WHERE fingerprint = ?1", [fingerprint], |r| {
                r.get(0)
            })
            .optional()?;
        if existing.is_some() {
            return Ok(true);
        }
        let profiles_json = serde_json::to_string(profiles).map_err(|e| CoordError::json("profiles", e))?;
        tx.execute(
            "INSERT INTO sweeps(id, name, fingerprint, config_toml, profiles_json, created_ms) VALUES (?1,?2,?3,?4,?5,?6)",
            params![id.0, name, fingerprint, config_toml, profiles_json, now_ms()],
        )?;
        tx.commit()?;
        Ok(false)
    }

    /// Adds the jobs of `sweep` not already there (by id), after those that are; returns how many were new. A
    /// sweep's expansion over more devices contains its expansion over fewer, so a device that joins adds its jobs.
    pub fn add_jobs(&self, sweep: &SweepId, jobs: &[NewJob], max_attempts: u32) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut seq: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), -1) + 1 FROM jobs WHERE sweep_id = ?1",
            [&sweep.0],
            |r| r.get(0),
        )?;
        let mut added = 0;
        {
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO jobs(id, sweep_id, seq, profile, device_id, plan_json, depends_on, state,
                   max_attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8)",
            )?;
            for j in jobs {
                let plan = serde_json::to_string(&j.plan).map_err(|e| CoordError::json("plan", e))?;
                let dep = j.depends_on.as_ref().map(|d| d.0.clone());
                let n = ins.execute(params![
                    j.id.0,
                    sweep.0,
                    seq,
                    j.profile,
                    j.device.0,
                    plan,
                    dep,
                    max_attempts
                ])?;
                seq += n as i64;
                added += n;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Puts failed jobs of `sweep` (and, unless `failed_only`, pending ones) back in the queue with `budget` more
    /// attempts each. Jobs already done are never touched. Returns how many were requeued.
    pub fn resubmit(&self, sweep: &SweepId, failed_only: bool, budget: u32) -> Result<usize> {
        let conn = self.conn();
        let states = if failed_only {
            "('failed')"
        } else {
            "('failed', 'pending')"
        };
        let n = conn.execute(
            &format!(
                "UPDATE jobs SET state = 'pending', max_attempts = attempts + ?2, last_error = NULL
                 WHERE sweep_id = ?1 AND state IN {states}"
            ),
            params![sweep.0, budget],
        )?;
        Ok(n)
    }
}

/// Marks `job` failed with `error`, and every job waiting on it (transitively), so a sweep never waits forever.
pub(super) fn fail_job(tx: &Transaction<'_>, job: &JobId, error: &str) -> Result<()> {
    tx.execute(
        "UPDATE jobs SET state = 'failed', last_error = ?2 WHERE id = ?1",
        params![job.0, error],
    )?;
    let dependents: Vec<String> = {
        let mut q = tx.prepare("SELECT id FROM jobs WHERE depends_on = ?1 AND state = 'pending'")?;
        let rows = q.query_map([&job.0], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for d in dependents {
        fail_job(tx, &JobId(d), &format!("dependency {job} failed: {error}"))?;
    }
    Ok(())
}
