//! Aggregation: the results of a sweep's verify jobs become one cross-device matrix per (experiment, model, data
//! set, b, seed): rows are the profile that wrote the log, columns the verifier, cells the verifier's summary.
use crate::error::{CoordError, Result};
use crate::ledger::{JobRow, Ledger};
use crate::plan::Plan;
use forgebench_shared::experiment::ReproSpec;
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::ids::{JobId, SweepId};
use forgebench_shared::jobs::JobSpec;
use forgebench_shared::measures::MeasureSummary;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::Provenance;
use forgebench_shared::tables::{Cell, CrossDeviceMatrix, DeviceLabel, MatrixKey};
use std::collections::HashMap;

/// The part of a verify report the tables need (the worker's `VerifyReport` carries more).
#[derive(serde::Deserialize)]
struct VerifyResult {
    writer_profile: String,
    verifier: Provenance,
    summary: MeasureSummary,
}

fn unseen(profile: &DeviceProfile) -> DeviceFingerprint {
    DeviceFingerprint {
        hostname: String::new(),
        cpu_model: format!("no {} worker seen yet", profile.name),
        cpu_flags: vec![],
        libtorch_version: String::new(),
        libtorch_config: String::new(),
        cuda_driver: String::new(),
        gpus: vec![],
        code_version: String::new(),
        threads: 0,
        settings_in_force: Default::default(),
    }
}

/// The matrices of `sweep`, cells still running left empty.
pub fn matrices(ledger: &Ledger, sweep: &SweepId) -> Result<Vec<CrossDeviceMatrix>> {
    let (cfg, profiles) = ledger.sweep_config(sweep)?;
    let jobs = ledger.sweep_jobs(sweep)?;
    let writer_of: HashMap<&JobId, &str> = jobs
        .iter()
        .filter(|j| {
            matches!(
                j.plan,
                Plan::Ready {
                    job: JobSpec::WriteLog { .. }
                }
            )
        })
        .map(|j| (&j.id, j.profile.as_str()))
        .collect();
    let index = |name: &str| profiles.iter().position(|p| p.name == name);
    let mut fingerprints: HashMap<String, DeviceFingerprint> = HashMap::new();
    for w in ledger.workers()?.into_iter().rev() {
        fingerprints.insert(w.profile.name.clone(), w.fingerprint);
    }
    let mut out: Vec<(ReproSpec, Vec<Vec<Option<Cell>>>)> = Vec::new();
    for j in &jobs {
        let Plan::VerifyOf { spec, writer_job } = &j.plan else {
            continue;
        };
        let pos = match out.iter().position(|(s, _)| s == spec) {
            Some(p) => p,
            None => {
                out.push((spec.clone(), vec![vec![None; profiles.len()]; profiles.len()]));
                out.len() - 1
            }
        };
        let Some(outcome) = &j.outcome else { continue };
        let writer = writer_of.get(writer_job).copied().unwrap_or_default();
        let r = check_verify(j, writer, &outcome.result)?;
        // Results are the authority on what a worker ran on: they win over the registry.
        fingerprints.insert(j.profile.clone(), r.verifier.fingerprint.clone());
        if let (Some(w), Some(v)) = (index(writer), index(&j.profile)) {
            out[pos].1[w][v] = Some(Cell { summary: r.summary });
        }
    }
    let devices: Vec<DeviceLabel> = profiles
        .iter()
        .map(|p| DeviceLabel {
            profile: p.clone(),
            fingerprint: fingerprints.get(&p.name).cloned().unwrap_or_else(|| unseen(p)),
        })
        .collect();
    let several_seeds = cfg.seeds.len() > 1;
    Ok(out
        .into_iter()
        .map(|(spec, cells)| {
            let experiment = if several_seeds {
                format!("reproduction seed={}", spec.seed)
            } else {
                "reproduction".to_owned()
            };
            let key = MatrixKey {
                experiment,
                model: spec.model,
                dataset: spec.dataset,
                batch_size: spec.batch_size,
            };
            CrossDeviceMatrix {
                key,
                devices: devices.clone(),
                cells,
            }
        })
        .collect())
}

/// Parses the result of the verify job `j` of a log written on profile `writer`, checking that it is for that pair.
fn check_verify(j: &JobRow, writer: &str, v: &serde_json::Value) -> Result<VerifyResult> {
    let r: VerifyResult =
        serde_json::from_value(v.clone()).map_err(|e| CoordError::json(format!("verify result of {}", j.id), e))?;
    if r.writer_profile != writer || r.verifier.profile.name != j.profile {
        return Err(CoordError::Invalid(format!(
            "{}: report is for {} verified by {}, the job for {writer} verified by {}",
            j.id, r.writer_profile, r.verifier.profile.name, j.profile
        )));
    }
    Ok(r)
}

/// Checks the result of a verify job as [`matrices`] will read it, so that a done job always aggregates.
pub fn validate_verify(j: &JobRow, writer: &str, v: &serde_json::Value) -> Result<()> {
    check_verify(j, writer, v).map(|_| ())
}
