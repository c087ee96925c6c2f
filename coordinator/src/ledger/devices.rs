//! Devices (a profile on the hardware and software a worker measured) and the devices each sweep covers. A device
//! joins a sweep once, in order; the sweep's jobs are bound to its devices, and the pairwise cells of linear
//! verification are cached here once computed from two stored logs.
use super::{now_ms, Ledger};
use crate::error::{CoordError, Result};
use forgebench_shared::device::{device_id, short};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::ids::{DeviceId, JobId, SweepId};
use forgebench_shared::measures::MeasureSummary;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::tables::Cell;
use rusqlite::{params, OptionalExtension, Transaction};

/// A device as a sweep (or the registry) knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepDevice {
    /// Its id (from the fingerprint).
    pub id: DeviceId,
    /// The profile.
    pub profile: DeviceProfile,
    /// The fingerprint its first worker registered with.
    pub fingerprint: DeviceFingerprint,
    /// Its name in job ids: in a sweep, the profile name for the first device of a profile to join and profile
    /// plus the id's first hex digits for the later ones (`cpu-avx2.3f9a1c`); outside a sweep always the latter.
    pub key: String,
}

/// Names the devices of one sweep, in joining order (see [`SweepDevice::key`]).
pub fn assign_keys(devices: &mut [SweepDevice]) {
    for i in 0..devices.len() {
        let (before, rest) = devices.split_at_mut(i);
        let d = &mut rest[0];
        d.key = if before.iter().any(|e| e.profile.name == d.profile.name) {
            format!("{}.{}", d.profile.name, short(&d.id))
        } else {
            d.profile.name.clone()
        };
    }
}

/// Records `profile` on `fp` as a device (once); returns its id.
pub(super) fn upsert_device(tx: &Transaction<'_>, profile: &DeviceProfile, fp: &DeviceFingerprint) -> Result<DeviceId> {
    let id = device_id(profile, fp);
    let pj = serde_json::to_string(profile).map_err(|e| CoordError::json("profile", e))?;
    let fj = serde_json::to_string(fp).map_err(|e| CoordError::json("fingerprint", e))?;
    tx.execute(
        "INSERT OR IGNORE INTO devices(id, profile, profile_json, fingerprint_json, first_seen_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id.0, profile.name, pj, fj, now_ms()],
    )?;
    Ok(id)
}

fn device_rows(conn: &rusqlite::Connection, sql: &str, arg: &dyn rusqlite::ToSql) -> Result<Vec<SweepDevice>> {
    let mut q = conn.prepare(sql)?;
    let rows = q.query_map([arg], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, pj, fj) = row?;
        let profile: DeviceProfile =
            serde_json::from_str(&pj).map_err(|e| CoordError::json(format!("profile of {id}"), e))?;
        let id = DeviceId(id);
        out.push(SweepDevice {
            key: format!("{}.{}", profile.name, short(&id)),
            profile,
            fingerprint: serde_json::from_str(&fj).map_err(|e| CoordError::json(format!("fingerprint of {id}"), e))?,
            id,
        });
    }
    Ok(out)
}

impl Ledger {
    /// Records `profile` on `fp` as a device without a worker (a device known from elsewhere, or a test's).
    pub fn add_device(&self, profile: &DeviceProfile, fp: &DeviceFingerprint) -> Result<DeviceId> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id = upsert_device(&tx, profile, fp)?;
        tx.commit()?;
        Ok(id)
    }

    /// The devices of `sweep`, in the order they joined.
    pub fn sweep_devices(&self, sweep: &SweepId) -> Result<Vec<SweepDevice>> {
        let mut devices = device_rows(
            &self.conn(),
            "SELECT d.id, d.profile_json, d.fingerprint_json FROM sweep_devices s JOIN devices d ON d.id = s.device_id
             WHERE s.sweep_id = ?1 ORDER BY s.seq",
            &sweep.0,
        )?;
        assign_keys(&mut devices);
        Ok(devices)
    }

    /// Devices with a worker heard from since `since_ms`, oldest registration first.
    pub fn live_devices(&self, since_ms: i64) -> Result<Vec<SweepDevice>> {
        device_rows(
            &self.conn(),
            "SELECT d.id, d.profile_json, d.fingerprint_json FROM devices d
             WHERE EXISTS (SELECT 1 FROM workers w WHERE w.device_id = d.id AND w.last_seen_ms >= ?1)
             ORDER BY d.first_seen_ms, d.id",
            &since_ms,
        )
    }

    /// Every device this ledger knows (registered or imported), in the order first seen.
    pub fn all_devices(&self) -> Result<Vec<SweepDevice>> {
        device_rows(
            &self.conn(),
            "SELECT id, profile_json, fingerprint_json FROM devices WHERE ?1 ORDER BY first_seen_ms, id",
            &1,
        )
    }

    /// One device.
    pub fn device(&self, id: &DeviceId) -> Result<SweepDevice> {
        device_rows(
            &self.conn(),
            "SELECT id, profile_json, fingerprint_json FROM devices WHERE id = ?1",
            &id.0,
        )?
        .pop()
        .ok_or_else(|| CoordError::NotFound(format!("device {id}")))
    }

    /// Adds `device` to `sweep` (after the devices already there); false when it was there already.
    pub fn attach_device(&self, sweep: &SweepId, device: &DeviceId) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let seq: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), -1) + 1 FROM sweep_devices WHERE sweep_id = ?1",
            [&sweep.0],
            |r| r.get(0),
        )?;
        let n = tx.execute(
            "INSERT OR IGNORE INTO sweep_devices(sweep_id, device_id, seq, joined_ms) VALUES (?1, ?2, ?3, ?4)",
            params![sweep.0, device.0, seq, now_ms()],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    /// The cached cell of the log of `row_job` compared with that of `col_job`. A ledger written before cells kept
    /// their per-triple errors holds the summary alone; it reads back as such.
    pub fn pair_cell(&self, row_job: &JobId, col_job: &JobId) -> Result<Option<Cell>> {
        let json: Option<String> = self
            .conn()
            .query_row(
                "SELECT summary_json FROM pair_cells WHERE row_job = ?1 AND col_job = ?2",
                params![row_job.0, col_job.0],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|j| {
            serde_json::from_str::<Cell>(&j)
                .or_else(|_| serde_json::from_str::<MeasureSummary>(&j).map(Cell::summarised))
                .map_err(|e| CoordError::json("pair cell", e))
        })
        .transpose()
    }

    /// Caches the cell of `row_job`'s log compared with `col_job`'s.
    pub fn put_pair_cell(&self, row_job: &JobId, col_job: &JobId, cell: &Cell) -> Result<()> {
        let json = serde_json::to_string(cell).map_err(|e| CoordError::json("pair cell", e))?;
        self.conn().execute(
            "INSERT OR REPLACE INTO pair_cells(row_job, col_job, summary_json) VALUES (?1, ?2, ?3)",
            params![row_job.0, col_job.0, json],
        )?;
        Ok(())
    }
}
