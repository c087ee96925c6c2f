//! Registered workers: who they are, what profile they run and when they were last heard from.
use super::{now_ms, Ledger};
use crate::error::{CoordError, Result};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::ids::{DeviceId, JobId, WorkerId};
use forgebench_shared::profile::DeviceProfile;
use rusqlite::{params, OptionalExtension};

/// A worker as the ledger knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerRow {
    /// Id.
    pub id: WorkerId,
    /// Profile.
    pub profile: DeviceProfile,
    /// Fingerprint.
    pub fingerprint: DeviceFingerprint,
    /// Last heartbeat, lease or report (ms since the epoch).
    pub last_seen_ms: i64,
    /// The job it holds a lease on.
    pub running_job: Option<JobId>,
}

impl Ledger {
    /// Registers (or re-registers) the worker named `name` and the device it runs on (a profile on the measured
    /// hardware); the same name keeps its worker id, the same profile on the same hardware the same device id.
    pub fn register_worker(
        &self,
        name: &str,
        profile: &DeviceProfile,
        fp: &DeviceFingerprint,
    ) -> Result<(WorkerId, DeviceId)> {
        let pj = serde_json::to_string(profile).map_err(|e| CoordError::json("profile", e))?;
        let fj = serde_json::to_string(fp).map_err(|e| CoordError::json("fingerprint", e))?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let device = super::devices::upsert_device(&tx, profile, fp)?;
        let now = now_ms();
        // The id is derived from the name so that it is stable and readable in logs.
        let id = name.to_owned();
        tx.execute(
            "INSERT INTO workers(id, name, profile, profile_json, device_id, fingerprint_json, registered_ms,
               last_seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT(name) DO UPDATE SET profile = ?3, profile_json = ?4, device_id = ?5, fingerprint_json = ?6,
               registered_ms = ?7, last_seen_ms = ?7",
            params![id, name, profile.name, pj, device.0, fj, now],
        )?;
        tx.commit()?;
        Ok((WorkerId(id), device))
    }

    /// Notes that `worker` is alive and returns its device; NotFound when it never registered.
    pub fn touch_worker(&self, worker: &WorkerId) -> Result<DeviceId> {
        let conn = self.conn();
        conn.execute(
            "UPDATE workers SET last_seen_ms = ?2 WHERE id = ?1",
            params![worker.0, now_ms()],
        )?;
        conn.query_row("SELECT device_id FROM workers WHERE id = ?1", [&worker.0], |r| {
            r.get(0).map(DeviceId)
        })
        .optional()?
        .ok_or_else(|| CoordError::NotFound(format!("worker {worker} is not registered")))
    }

    /// Every worker, most recently seen first.
    pub fn workers(&self) -> Result<Vec<WorkerRow>> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT id, profile_json, fingerprint_json, last_seen_ms, running_job FROM workers ORDER BY last_seen_ms DESC",
        )?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, pj, fj, last_seen_ms, running): (String, String, String, i64, Option<String>) = row?;
            out.push(WorkerRow {
                id: WorkerId(id),
                profile: serde_json::from_str(&pj).map_err(|e| CoordError::json("worker profile", e))?,
                fingerprint: serde_json::from_str(&fj).map_err(|e| CoordError::json("worker fingerprint", e))?,
                last_seen_ms,
                running_job: running.map(JobId),
            });
        }
        Ok(out)
    }
}
