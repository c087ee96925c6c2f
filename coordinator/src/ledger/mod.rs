//! The durable ledger: every piece of coordinator state in one SQLite database (sweeps, jobs, attempts, leases,
//! results, the artifact index and the workers), so that a restarted coordinator resumes where it stopped.
//!
//! WAL journaling with `synchronous = NORMAL` survives a killed process (only a power loss may drop the last
//! transactions). Each public method is one transaction; the connection sits behind a mutex and every call is short.
mod devices;
mod jobs;
mod lease;
mod measured;
mod query;
mod slurm;
mod workers;

pub use devices::{assign_keys, SweepDevice};
pub use jobs::{JobState, SweepRecord};
pub use lease::Leased;
pub use measured::{MeasuredCell, MeasuredSource};
pub use query::{JobRow, SweepRow};
pub use slurm::SlurmJobRow;
pub use workers::WorkerRow;

use crate::error::{CoordError, Result};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sweeps(
    id TEXT PRIMARY KEY, name TEXT NOT NULL, fingerprint TEXT NOT NULL UNIQUE, config_toml TEXT NOT NULL,
    profiles_json TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs(
    id TEXT PRIMARY KEY, sweep_id TEXT NOT NULL REFERENCES sweeps(id), seq INTEGER NOT NULL, profile TEXT NOT NULL,
    device_id TEXT NOT NULL, plan_json TEXT NOT NULL, depends_on TEXT, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, last_error TEXT);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(state, device_id, seq);
CREATE TABLE IF NOT EXISTS devices(
    id TEXT PRIMARY KEY, profile TEXT NOT NULL, profile_json TEXT NOT NULL, fingerprint_json TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sweep_devices(
    sweep_id TEXT NOT NULL REFERENCES sweeps(id), device_id TEXT NOT NULL REFERENCES devices(id),
    seq INTEGER NOT NULL, joined_ms INTEGER NOT NULL, PRIMARY KEY(sweep_id, device_id));
CREATE TABLE IF NOT EXISTS pair_cells(
    row_job TEXT NOT NULL, col_job TEXT NOT NULL, summary_json TEXT NOT NULL, PRIMARY KEY(row_job, col_job));
CREATE TABLE IF NOT EXISTS attempts(
    job_id TEXT NOT NULL, attempt INTEGER NOT NULL, worker_id TEXT NOT NULL, started_ms INTEGER NOT NULL,
    finished_ms INTEGER, status TEXT NOT NULL, error TEXT, PRIMARY KEY(job_id, attempt));
CREATE TABLE IF NOT EXISTS leases(
    job_id TEXT PRIMARY KEY, worker_id TEXT NOT NULL, attempt INTEGER NOT NULL, deadline_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS results(
    job_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, worker_id TEXT NOT NULL, outcome_json TEXT NOT NULL,
    compute_seconds REAL NOT NULL, finished_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts(
    id TEXT PRIMARY KEY, size INTEGER NOT NULL, role TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS workers(
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, profile TEXT NOT NULL, profile_json TEXT NOT NULL,
    device_id TEXT NOT NULL, fingerprint_json TEXT NOT NULL, registered_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
    running_job TEXT);
CREATE TABLE IF NOT EXISTS measured_sources(
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL, provenance_json TEXT NOT NULL,
    recorded_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS measured_cells(
    source TEXT NOT NULL REFERENCES measured_sources(id), experiment TEXT NOT NULL, model TEXT NOT NULL,
    dataset TEXT NOT NULL, batch_size INTEGER NOT NULL, writer TEXT NOT NULL REFERENCES devices(id),
    verifier TEXT NOT NULL REFERENCES devices(id), summary_json TEXT NOT NULL,
    PRIMARY KEY(source, experiment, model, dataset, batch_size, writer, verifier));
CREATE TABLE IF NOT EXISTS slurm_jobs(
    sweep_id TEXT NOT NULL, slurm_job_id TEXT NOT NULL, state TEXT NOT NULL, submitted_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL, script TEXT NOT NULL, resubmitted_as TEXT, PRIMARY KEY(sweep_id, slurm_job_id));
";

/// The ledger's schema version (`PRAGMA user_version`). Version 2: artifact ids are BLAKE3 content ids. Version 3:
/// jobs are bound to devices (a profile on measured hardware), not to profile names. Version 4: the hardware
/// database (`measured_sources`, `measured_cells`); a version-3 ledger gains those tables when opened. A ledger of
/// version 0 that already holds tables was written before versions were recorded, when ids were SHA-256.
const SCHEMA_VERSION: i64 = 4;

/// The SQLite ledger.
pub struct Ledger {
    conn: Mutex<Connection>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Refuses a ledger of another schema version: its artifact ids would not name the store's files.
fn check_version(conn: &Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| {
        r.get(0)
    })?;
    match version {
        SCHEMA_VERSION => Ok(()),
        // Version 4 only adds tables: creating them upgrades a version-3 ledger in place.
        3 => Ok(()),
        0 if tables == 0 => Ok(()),
        0 => Err(CoordError::Precondition(
            "written by an earlier forgebench whose artifact ids were SHA-256 (they are BLAKE3 content ids now); \
             move it and its artifacts folder aside and start a new ledger (finished results stay readable with \
             `forgebench report --results` on a results folder written before)"
                .into(),
        )),
        2 => Err(CoordError::Precondition(
            "written by an earlier forgebench whose jobs were bound to profile names (they are bound to devices \
             now); finish or abandon its sweeps with that forgebench, then move the ledger aside and start a new one"
                .into(),
        )),
        v => Err(CoordError::Precondition(format!(
            "schema version {v}, but this forgebench reads version {SCHEMA_VERSION}; use the forgebench that wrote it"
        ))),
    }
}

impl Ledger {
    /// Opens (creating when missing) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| CoordError::io(dir, e))?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn).map_err(|e| match e {
            CoordError::Precondition(why) => CoordError::Precondition(format!("ledger {}: {why}", path.display())),
            other => other,
        })
    }

    /// An in-memory ledger, for tests.
    pub fn in_memory() -> Result<Ledger> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Ledger> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version != SCHEMA_VERSION {
            // Tables and version in one write transaction: another process opening the ledger meanwhile (a
            // `forgebench status` beside the coordinator) must never see tables without their version.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            check_version(&tx)?;
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        Ok(Ledger { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the transaction rolls back), so keep going.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an artifact whose bytes are stored and verified.
    pub fn add_artifact(&self, id: &str, size: u64, role: &str) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO artifacts(id, size, role, created_ms) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![id, size as i64, role, now_ms()],
        )?;
        Ok(())
    }

    /// How many rows this ledger has changed since it was opened: a snapshot taken at the same count is current.
    pub fn change_count(&self) -> u64 {
        self.conn().total_changes()
    }

    /// SQLite's own consistency check of the database file: "ok", or what it found.
    pub fn integrity_check(&self) -> Result<String> {
        let rows: Vec<String> = {
            let conn = self.conn();
            let mut q = conn.prepare("PRAGMA integrity_check")?;
            let r = q.query_map([], |r| r.get(0))?;
            r.collect::<rusqlite::Result<_>>()?
        };
        Ok(rows.join("; "))
    }

    /// Bytes of every stored artifact.
    pub fn stored_bytes(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COALESCE(SUM(size), 0) FROM artifacts", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// Gives every lease found at start-up one more lease period from now: their holders may still be computing
    /// (the coordinator was away, not they) and extend the lease with their next heartbeat. Returns how many.
    pub fn restore_leases(&self, lease_ms: i64) -> Result<usize> {
        Ok(self.conn().execute(
            "UPDATE leases SET deadline_ms = MAX(deadline_ms, ?1)",
            [now_ms() + lease_ms],
        )?)
    }

    /// The size of a stored artifact, if known.
    pub fn artifact_size(&self, id: &str) -> Result<Option<u64>> {
        use rusqlite::OptionalExtension;
        let size: Option<i64> = self
            .conn()
            .query_row("SELECT size FROM artifacts WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        Ok(size.map(|s| s as u64))
    }
}

#[cfg(test)]
mod tests;
