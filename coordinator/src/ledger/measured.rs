//! The hardware database's storage: every finished sweep's and every imported results folder's matrix cells, keyed
//! by the two devices' ids, the experiment, model, data set and b, kept across sweeps. Each cell keeps the summary of
//! every measure; a source (one sweep, one import) is recorded once, in one transaction with its cells.
use super::devices::upsert_device;
use super::{now_ms, Ledger};
use crate::error::{CoordError, Result};
use forgebench_shared::experiment::{Arithmetic, DatasetKind, ModelKind};
use forgebench_shared::ids::{DeviceId, SweepId};
use forgebench_shared::measures::MeasureSummary;
use forgebench_shared::tables::{CrossDeviceMatrix, MatrixKey};
use rusqlite::params;

/// Where cells came from: a sweep of this ledger or an imported results folder.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredSource {
    /// "sweep:<id>" or "import:<label>:<content hash>".
    pub id: String,
    /// "sweep" or "import".
    pub kind: String,
    /// The sweep's name and id, or the import's label and folder.
    pub label: String,
    /// What the source says about itself (the sweep's definition, the folder's provenance).
    pub provenance: serde_json::Value,
    /// When it was recorded (ms since the epoch).
    pub recorded_ms: i64,
}

/// One stored cell.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredCell {
    /// Its source's id.
    pub source: String,
    /// Experiment, model, data set and b.
    pub key: MatrixKey,
    /// The device that wrote the log.
    pub writer: DeviceId,
    /// The device that recomputed it.
    pub verifier: DeviceId,
    /// Every measure's summary over the source's triples.
    pub summary: MeasureSummary,
}

impl Ledger {
    /// Records `source` with every computed cell of `matrices` (their devices included); false, and nothing
    /// written, when the source is recorded already.
    pub fn record_measured(&self, source: &MeasuredSource, matrices: &[CrossDeviceMatrix]) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let prov = serde_json::to_string(&source.provenance).map_err(|e| CoordError::json("provenance", e))?;
        let fresh = tx.execute(
            "INSERT OR IGNORE INTO measured_sources(id, kind, label, provenance_json, recorded_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![source.id, source.kind, source.label, prov, now_ms()],
        )? == 1;
        if !fresh {
            return Ok(false);
        }
        // The database holds benign f32 noise per hardware; the exact arm's cells are zero by construction.
        for m in matrices.iter().filter(|m| m.key.arithmetic.is_f32()) {
            let ids = m
                .devices
                .iter()
                .map(|d| upsert_device(&tx, &d.profile, &d.fingerprint))
                .collect::<Result<Vec<_>>>()?;
            for (i, row) in m.cells.iter().enumerate() {
                for (j, cell) in row.iter().enumerate() {
                    let Some(cell) = cell else { continue };
                    let json = serde_json::to_string(&cell.summary).map_err(|e| CoordError::json("cell", e))?;
                    tx.execute(
                        "INSERT OR REPLACE INTO measured_cells(source, experiment, model, dataset, batch_size,
                         writer, verifier, summary_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            source.id,
                            m.key.experiment,
                            m.key.model.to_string(),
                            m.key.dataset.to_string(),
                            m.key.batch_size as i64,
                            ids[i].0,
                            ids[j].0,
                            json
                        ],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(true)
    }

    /// Every recorded source, oldest first.
    pub fn measured_sources(&self) -> Result<Vec<MeasuredSource>> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT id, kind, label, provenance_json, recorded_ms FROM measured_sources ORDER BY recorded_ms, id",
        )?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, String>(3)?,
                r.get(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind, label, pj, recorded_ms) = row?;
            let provenance = serde_json::from_str(&pj).map_err(|e| CoordError::json(format!("source {id}"), e))?;
            out.push(MeasuredSource {
                id,
                kind,
                label,
                provenance,
                recorded_ms,
            });
        }
        Ok(out)
    }

    /// Every stored cell, in the order its sources were recorded.
    pub fn measured_cells(&self) -> Result<Vec<MeasuredCell>> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT c.source, c.experiment, c.model, c.dataset, c.batch_size, c.writer, c.verifier, c.summary_json
             FROM measured_cells c JOIN measured_sources s ON s.id = c.source
             ORDER BY s.recorded_ms, s.id, c.rowid",
        )?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (source, experiment, model, dataset, b, writer, verifier, json) = row?;
            let bad = |what: &str, e: String| CoordError::Invalid(format!("measured cell of {source}: {what}: {e}"));
            out.push(MeasuredCell {
                key: MatrixKey {
                    experiment,
                    model: model.parse::<ModelKind>().map_err(|e| bad("model", e.to_string()))?,
                    dataset: dataset
                        .parse::<DatasetKind>()
                        .map_err(|e| bad("dataset", e.to_string()))?,
                    batch_size: b as usize,
                    arithmetic: Arithmetic::F32,
                },
                writer: DeviceId(writer),
                verifier: DeviceId(verifier),
                summary: serde_json::from_str(&json).map_err(|e| CoordError::json(format!("cell of {source}"), e))?,
                source,
            });
        }
        Ok(out)
    }

    /// Sweeps whose cells are not recorded yet, oldest first (callers record the complete ones).
    pub fn unrecorded_sweeps(&self) -> Result<Vec<SweepId>> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT id FROM sweeps WHERE 'sweep:' || id NOT IN (SELECT id FROM measured_sources)
             ORDER BY created_ms, id",
        )?;
        let rows = q.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(SweepId)
            .collect())
    }
}
