//! Read-only views of the ledger: sweep status, the jobs of a sweep with their results, attempt counts.
use super::jobs::JobState;
use super::Ledger;
use crate::error::{CoordError, Result};
use crate::plan::Plan;
use forgebench_shared::config::SweepConfig;
use forgebench_shared::ids::{DeviceId, JobId, SweepId};
use forgebench_shared::jobs::JobOutcome;
use forgebench_shared::profile::DeviceProfile;
use rusqlite::OptionalExtension;

/// A sweep's header and job counts.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    /// Id.
    pub id: SweepId,
    /// Name from the config.
    pub name: String,
    /// Jobs per state: pending, leased, done, failed.
    pub counts: [u32; 4],
    /// Summed compute seconds of finished jobs.
    pub compute_seconds: f64,
    /// "job: error" of each failed job.
    pub failures: Vec<String>,
    /// The devices still expected: "profile (n more)" for each profile with fewer devices than the sweep expects.
    pub awaiting: Vec<String>,
}

impl SweepRow {
    /// All jobs.
    pub fn total(&self) -> u32 {
        self.counts.iter().sum()
    }
    /// Whether every expected device has joined and nothing is pending or running.
    pub fn complete(&self) -> bool {
        self.counts[0] == 0 && self.counts[1] == 0 && self.awaiting.is_empty()
    }
}

/// One job with its result, for aggregation and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Id.
    pub id: JobId,
    /// Profile of its device.
    pub profile: String,
    /// The device it is bound to.
    pub device: DeviceId,
    /// Plan.
    pub plan: Plan,
    /// State.
    pub state: JobState,
    /// Attempts started.
    pub attempts: u32,
    /// The outcome when done.
    pub outcome: Option<JobOutcome>,
}

impl Ledger {
    /// Sweep ids, oldest first.
    pub fn sweep_ids(&self) -> Result<Vec<SweepId>> {
        let conn = self.conn();
        let mut q = conn.prepare("SELECT id FROM sweeps ORDER BY created_ms")?;
        let rows = q.query_map([], |r| r.get(0))?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<String>>>()?
            .into_iter()
            .map(SweepId)
            .collect())
    }

    /// A sweep's status.
    pub fn sweep_status(&self, sweep: &SweepId) -> Result<SweepRow> {
        let awaiting = self.awaiting(sweep)?;
        let conn = self.conn();
        let name: String = conn
            .query_row("SELECT name FROM sweeps WHERE id = ?1", [&sweep.0], |r| r.get(0))
            .optional()?
            .ok_or_else(|| CoordError::NotFound(format!("sweep {sweep}")))?;
        let mut counts = [0u32; 4];
        let mut q = conn.prepare("SELECT state, COUNT(*) FROM jobs WHERE sweep_id = ?1 GROUP BY state")?;
        for row in q.query_map([&sweep.0], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))? {
            let (s, n) = row?;
            counts[JobState::parse(&s)? as usize] = n;
        }
        let compute_seconds: f64 = conn.query_row(
            "SELECT COALESCE(SUM(r.compute_seconds), 0) FROM results r JOIN jobs j ON j.id = r.job_id WHERE j.sweep_id = ?1",
            [&sweep.0],
            |r| r.get(0),
        )?;
        let mut q = conn.prepare(
            "SELECT id, COALESCE(last_error, '') FROM jobs WHERE sweep_id = ?1 AND state = 'failed' ORDER BY seq",
        )?;
        let failures = q
            .query_map([&sweep.0], |r| {
                Ok(format!("{}: {}", r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(SweepRow {
            id: sweep.clone(),
            name,
            counts,
            compute_seconds,
            failures,
            awaiting,
        })
    }

    /// "profile (n more)" for each selected profile with fewer devices in `sweep` than it expects.
    fn awaiting(&self, sweep: &SweepId) -> Result<Vec<String>> {
        let (cfg, profiles) = self.sweep_config(sweep)?;
        let devices = self.sweep_devices(sweep)?;
        Ok(profiles
            .iter()
            .filter_map(|p| {
                let have = devices.iter().filter(|d| d.profile.name == p.name).count() as u32;
                let want = cfg.expected_devices(&p.name);
                (have < want).then(|| format!("{} ({} more)", p.name, want - have))
            })
            .collect())
    }

    /// The config and the selected profiles a sweep was expanded from.
    pub fn sweep_config(&self, sweep: &SweepId) -> Result<(SweepConfig, Vec<DeviceProfile>)> {
        let conn = self.conn();
        let (toml_text, pj): (String, String) = conn
            .query_row(
                "SELECT config_toml, profiles_json FROM sweeps WHERE id = ?1",
                [&sweep.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| CoordError::NotFound(format!("sweep {sweep}")))?;
        let cfg = SweepConfig::from_toml_str(&toml_text)?;
        let profiles = serde_json::from_str(&pj).map_err(|e| CoordError::json("sweep profiles", e))?;
        Ok((cfg, profiles))
    }

    /// Every job of a sweep in expansion order, with its outcome when done.
    pub fn sweep_jobs(&self, sweep: &SweepId) -> Result<Vec<JobRow>> {
        self.job_rows("j.sweep_id = ?1", &sweep.0)
    }

    /// One job with its outcome when done.
    pub fn job(&self, job: &JobId) -> Result<JobRow> {
        self.job_rows("j.id = ?1", &job.0)?
            .pop()
            .ok_or_else(|| CoordError::NotFound(format!("job {job}")))
    }

    /// The jobs that read an artifact of `job` (their `depends_on`).
    pub fn dependents(&self, job: &JobId) -> Result<Vec<JobRow>> {
        self.job_rows("j.depends_on = ?1", &job.0)
    }

    fn job_rows(&self, filter: &str, arg: &str) -> Result<Vec<JobRow>> {
        let conn = self.conn();
        let mut q = conn.prepare(&format!(
            "SELECT j.id, j.profile, j.plan_json, j.state, j.attempts, r.outcome_json, j.device_id
             FROM jobs j LEFT JOIN results r ON r.job_id = j.id WHERE {filter} ORDER BY j.seq"
        ))?;
        let rows = q.query_map([arg], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, profile, plan, state, attempts, outcome, device) = row?;
            let outcome = match outcome {
                Some(o) => Some(serde_json::from_str(&o).map_err(|e| CoordError::json(format!("outcome of {id}"), e))?),
                None => None,
            };
            out.push(JobRow {
                plan: serde_json::from_str(&plan).map_err(|e| CoordError::json(format!("plan of {id}"), e))?,
                id: JobId(id),
                profile,
                device: DeviceId(device),
                state: JobState::parse(&state)?,
                attempts,
                outcome,
            });
        }
        Ok(out)
    }
}
