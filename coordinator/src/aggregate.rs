//! Aggregation: a sweep's reproduction jobs become one cross-device matrix per (experiment, model, data set, b,
//! seed): rows are the device that wrote the log, columns the verifier (devices in the sweep's profile order, those
//! of one profile in the order they joined), cells the summary over the triples. Under exhaustive verification a
//! cell is a verify job's result; under linear verification it is computed here from two stored logs ([`pairs`])
//! and cached in the ledger.
mod explain;
mod pairs;
pub mod synthetic;

pub use explain::{explanations, pair_explanations, PairExplanation};
pub use pairs::StoredLog;

use crate::error::{CoordError, Result};
use crate::ledger::{JobRow, JobState, Ledger};
use crate::plan::Plan;
use forgebench_shared::config::Verification;
use forgebench_shared::experiment::ReproSpec;
use forgebench_shared::ids::{DeviceId, JobId, SweepId};
use forgebench_shared::jobs::JobSpec;
use forgebench_shared::measures::{ErrorMeasures, MeasureSummary};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::tables::{Cell, CrossDeviceMatrix, DeviceLabel, MatrixKey};
use std::collections::HashMap;
use std::path::Path;

/// The part of a verify report the tables need (the worker's `VerifyReport` carries more).
#[derive(serde::Deserialize)]
struct VerifyResult {
    writer_profile: String,
    writer: Provenance,
    verifier: Provenance,
    summary: MeasureSummary,
    /// Absent in results of workers older than the per-triple cells.
    #[serde(default)]
    per_triple: Vec<ErrorMeasures>,
}

type Cells = Vec<Vec<Option<Cell>>>;

/// One matrix in the making: its spec, cells, and the done write and repeat jobs of each device (linear).
struct Building<'a> {
    spec: ReproSpec,
    cells: Cells,
    write: Vec<Option<&'a JobRow>>,
    repeat: Vec<Option<&'a JobRow>>,
}

/// The matrices of `sweep`, cells still running left empty. `logs` is the artifact store: linear cells not cached
/// yet are computed from the stored logs there (without it they stay empty).
pub fn matrices(ledger: &Ledger, sweep: &SweepId, logs: Option<&Path>) -> Result<Vec<CrossDeviceMatrix>> {
    let (cfg, _) = ledger.sweep_config(sweep)?;
    let devices = ordered_devices(ledger, sweep)?;
    let jobs = ledger.sweep_jobs(sweep)?;
    let n = devices.len();
    let index = |d: &DeviceId| devices.iter().position(|x| &x.id == d);
    let device_of: HashMap<&JobId, &DeviceId> = jobs.iter().map(|j| (&j.id, &j.device)).collect();
    let mut out: Vec<Building> = Vec::new();
    for j in &jobs {
        let spec = match &j.plan {
            Plan::Ready {
                job: JobSpec::WriteLog { spec } | JobSpec::RepeatLog { spec },
            }
            | Plan::VerifyOf { spec, .. } => spec,
            _ => continue,
        };
        let pos = out.iter().position(|b| &b.spec == spec).unwrap_or_else(|| {
            out.push(Building {
                spec: spec.clone(),
                cells: vec![vec![None; n]; n],
                write: vec![None; n],
                repeat: vec![None; n],
            });
            out.len() - 1
        });
        let (Some(outcome), Some(v)) = (
            j.outcome.as_ref().filter(|_| j.state == JobState::Done),
            index(&j.device),
        ) else {
            continue;
        };
        let b = &mut out[pos];
        match &j.plan {
            Plan::VerifyOf { writer_job, .. } => {
                let writer = device_of.get(writer_job).copied();
                let r = check_verify(j, writer, &outcome.result)?;
                if let Some(w) = writer.and_then(index) {
                    b.cells[w][v] = Some(Cell {
                        summary: r.summary,
                        l2: r.per_triple.iter().map(|m| m.l2).collect(),
                    });
                }
            }
            Plan::Ready {
                job: JobSpec::RepeatLog { .. },
            } => b.repeat[v] = Some(j),
            _ => b.write[v] = Some(j),
        }
    }
    if cfg.verification == Verification::Linear {
        let mut open = HashMap::new();
        // The exact arm is planned with verify jobs whatever the sweep's verification (see the plan).
        for b in out.iter_mut().filter(|b| b.spec.arithmetic.is_f32()) {
            linear_cells(ledger, logs, b, &mut open)?;
        }
    }
    let labels: Vec<DeviceLabel> = devices
        .iter()
        .map(|d| DeviceLabel {
            profile: d.profile.clone(),
            fingerprint: d.fingerprint.clone(),
        })
        .collect();
    let several_seeds = cfg.seeds.len() > 1;
    Ok(out
        .into_iter()
        .map(|b| CrossDeviceMatrix {
            key: key_of(&b.spec, several_seeds),
            devices: labels.clone(),
            cells: b.cells,
        })
        .collect())
}

/// The sweep's devices in matrix order: the sweep's profile order, devices of one profile in the order they joined
/// (a stable sort).
fn ordered_devices(ledger: &Ledger, sweep: &SweepId) -> Result<Vec<crate::ledger::SweepDevice>> {
    let (_, profiles) = ledger.sweep_config(sweep)?;
    let mut devices = ledger.sweep_devices(sweep)?;
    devices.sort_by_key(|d| {
        profiles
            .iter()
            .position(|p| p.name == d.profile.name)
            .unwrap_or(usize::MAX)
    });
    Ok(devices)
}

/// The key of the matrix of `spec`; the seed is part of the experiment's name when the sweep has several.
fn key_of(spec: &ReproSpec, several_seeds: bool) -> MatrixKey {
    let experiment = if several_seeds {
        format!("reproduction seed={}", spec.seed)
    } else {
        "reproduction".to_owned()
    };
    MatrixKey {
        experiment,
        model: spec.model,
        dataset: spec.dataset,
        batch_size: spec.batch_size,
        arithmetic: spec.arithmetic,
    }
}

/// Fills the cells of linear verification: row i against column j is i's log against j's, the diagonal i's log
/// against its repeat run. Cached cells are read back; the others are computed when `logs` is given.
fn linear_cells<'a>(
    ledger: &Ledger,
    logs: Option<&Path>,
    b: &mut Building<'a>,
    open: &mut HashMap<JobId, StoredLog>,
) -> Result<()> {
    let n = b.write.len();
    for i in 0..n {
        for k in 0..n {
            let (Some(row), Some(col)) = (b.write[i], if i == k { b.repeat[i] } else { b.write[k] }) else {
                continue;
            };
            let cell = match ledger.pair_cell(&row.id, &col.id)? {
                Some(s) => s,
                None => {
                    let Some(dir) = logs else { continue };
                    for j in [row, col] {
                        if !open.contains_key(&j.id) {
                            open.insert(j.id.clone(), stored_log(dir, j, &b.spec)?);
                        }
                    }
                    let s = pairs::cell(&open[&row.id], &open[&col.id]);
                    ledger.put_pair_cell(&row.id, &col.id, &s)?;
                    s
                }
            };
            b.cells[i][k] = Some(cell);
        }
    }
    Ok(())
}

/// The log the done job `j` stored in `dir`.
fn stored_log(dir: &Path, j: &JobRow, spec: &ReproSpec) -> Result<StoredLog> {
    let outcome = j
        .outcome
        .as_ref()
        .ok_or_else(|| CoordError::Invalid(format!("{} has no outcome", j.id)))?;
    StoredLog::of_outcome(dir, &j.id, outcome, spec)
}

/// Parses the result of the verify job `j` of a log written on device `writer`, checking that it is for that pair:
/// the writer's and the verifier's provenance name those devices.
fn check_verify(j: &JobRow, writer: Option<&DeviceId>, v: &serde_json::Value) -> Result<VerifyResult> {
    let r: VerifyResult =
        serde_json::from_value(v.clone()).map_err(|e| CoordError::json(format!("verify result of {}", j.id), e))?;
    let wrote = r.writer.device_id();
    let verified = r.verifier.device_id();
    if writer != Some(&wrote) || verified != j.device || r.writer_profile != r.writer.profile.name {
        return Err(CoordError::Invalid(format!(
            "{}: report is for a log of {} ({wrote}) verified by {} ({verified}), the job for device {} verified \
             by {}",
            j.id,
            r.writer_profile,
            r.verifier.profile.name,
            writer.map_or("unknown", |w| w.0.as_str()),
            j.device
        )));
    }
    Ok(r)
}

/// Checks the result of a verify job as [`matrices`] will read it, so that a done job always aggregates.
pub fn validate_verify(j: &JobRow, writer: &DeviceId, v: &serde_json::Value) -> Result<()> {
    check_verify(j, Some(writer), v).map(|_| ())
}
