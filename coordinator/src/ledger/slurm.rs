//! The Slurm jobs that carry a sweep's workers: recorded at launch, marked as the watcher learns their fate, and
//! linked to the job that replaced them when resubmitted.
use super::{now_ms, Ledger};
use crate::error::{CoordError, Result};
use crate::slurm::{SlurmJobId, SlurmState};
use forgebench_shared::ids::SweepId;
use rusqlite::params;
use std::path::{Path, PathBuf};

/// A recorded Slurm job.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmJobRow {
    /// The sweep its workers serve.
    pub sweep: SweepId,
    /// Slurm's id.
    pub job: SlurmJobId,
    /// Its state when last looked at.
    pub state: SlurmState,
    /// When it was submitted (ms since the epoch).
    pub submitted_ms: i64,
    /// When its state was last written.
    pub updated_ms: i64,
    /// The script it was submitted from (resubmitted as is).
    pub script: PathBuf,
    /// The job submitted in its place, once it ended with work left.
    pub resubmitted_as: Option<SlurmJobId>,
}

impl SlurmJobRow {
    /// Ended without forgebench stopping it and not yet replaced: its workers are lost.
    pub fn lost(&self) -> bool {
        !self.state.is_active() && self.state != SlurmState::Stopped && self.resubmitted_as.is_none()
    }
}

fn script_text(script: &Path) -> Result<&str> {
    script
        .to_str()
        .ok_or_else(|| CoordError::Invalid(format!("script path {} is not UTF-8", script.display())))
}

impl Ledger {
    /// Records a freshly submitted Slurm job of `sweep` (queued). Slurm ids restart on a new cluster, so a
    /// stale row with the same ids is replaced.
    pub fn record_slurm_job(&self, sweep: &SweepId, job: &SlurmJobId, script: &Path) -> Result<()> {
        let now = now_ms();
        self.conn().execute(
            "INSERT OR REPLACE INTO slurm_jobs(sweep_id, slurm_job_id, state, submitted_ms, updated_ms, script)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            params![sweep.0, job.0, SlurmState::Queued.as_str(), now, script_text(script)?],
        )?;
        Ok(())
    }

    /// The Slurm jobs of `sweep` (all sweeps when `None`), oldest first.
    pub fn slurm_jobs(&self, sweep: Option<&SweepId>) -> Result<Vec<SlurmJobRow>> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT sweep_id, slurm_job_id, state, submitted_ms, updated_ms, script, resubmitted_as FROM slurm_jobs
             WHERE ?1 IS NULL OR sweep_id = ?1 ORDER BY submitted_ms, rowid",
        )?;
        let rows = q.query_map([sweep.map(|s| s.0.as_str())], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (sweep, job, state, submitted_ms, updated_ms, script, resubmitted_as) = row?;
            out.push(SlurmJobRow {
                sweep: SweepId(sweep),
                job: SlurmJobId(job),
                state: SlurmState::parse(&state)?,
                submitted_ms,
                updated_ms,
                script: PathBuf::from(script),
                resubmitted_as: resubmitted_as.map(SlurmJobId),
            });
        }
        Ok(out)
    }

    /// Sets a recorded job's state; returns whether the job was recorded.
    pub fn mark_slurm_job(&self, sweep: &SweepId, job: &SlurmJobId, state: SlurmState) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE slurm_jobs SET state = ?3, updated_ms = ?4 WHERE sweep_id = ?1 AND slurm_job_id = ?2",
            params![sweep.0, job.0, state.as_str(), now_ms()],
        )?;
        Ok(n > 0)
    }

    /// Records that `old` was replaced by the freshly submitted `new` (one transaction, so a job is never
    /// resubmitted twice).
    pub fn record_slurm_resubmission(
        &self,
        sweep: &SweepId,
        old: &SlurmJobId,
        new: &SlurmJobId,
        script: &Path,
    ) -> Result<()> {
        let now = now_ms();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE slurm_jobs SET resubmitted_as = ?3, updated_ms = ?4 WHERE sweep_id = ?1 AND slurm_job_id = ?2",
            params![sweep.0, old.0, new.0, now],
        )?;
        if n == 0 {
            return Err(CoordError::NotFound(format!("Slurm job {old} of sweep {sweep}")));
        }
        tx.execute(
            "INSERT OR REPLACE INTO slurm_jobs(sweep_id, slurm_job_id, state, submitted_ms, updated_ms, script)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            params![sweep.0, new.0, SlurmState::Queued.as_str(), now, script_text(script)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// How many of `sweep`'s Slurm jobs were resubmitted.
    pub fn slurm_resubmissions(&self, sweep: &SweepId) -> Result<u32> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM slurm_jobs WHERE sweep_id = ?1 AND resubmitted_as IS NOT NULL",
            [&sweep.0],
            |r| r.get(0),
        )?)
    }
}
