//! Verification of a reproduction log on the current profile: recompute every triple and measure, in f64, how far
//! the stored result lies from the recomputed one.
use super::log::ReproLog;
use crate::error::{Result, WorkerError};
use crate::tensors;
use crate::update::{sgd_update, Batch};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::Precision;
use forgebench_shared::measures::{ErrorMeasures, MeasureSummary};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::repro_log::triple_measures;
use serde::{Deserialize, Serialize};

/// The outcome of verifying one log on one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Profile name of the log's writer (the matrix row).
    pub writer_profile: String,
    /// Profile name of the verifier (the matrix column).
    pub verifier_profile: String,
    /// The writer's provenance, from the log's manifest.
    pub writer: Provenance,
    /// The verifier's provenance.
    pub verifier: Provenance,
    /// Whether theta_k and B_k came from the log (full form) or were regenerated from the seeds.
    pub used_stored_inputs: bool,
    /// Measures per triple, in log order; `rel` is relative to the recomputed step eta * grad.
    pub per_triple: Vec<ErrorMeasures>,
    /// Summaries over the triples.
    pub summary: MeasureSummary,
    /// L2 threshold the triples were checked against, if any.
    pub threshold: Option<f64>,
    /// Triples whose L2 error exceeds the threshold.
    pub flagged: Vec<usize>,
}

/// Recomputes every triple of `log` on `device` and compares.
pub fn verify_log(
    log: &ReproLog,
    ds: &Dataset,
    device: tch::Device,
    verifier: Provenance,
    threshold: Option<f64>,
    mut progress: impl FnMut(usize),
) -> Result<VerifyReport> {
    let m = &log.manifest;
    // The length too: a manifest claiming more examples than the data holds would index past it.
    if m.dataset_sha256 != ds.sha256 || m.dataset_len != ds.n {
        return Err(WorkerError::Invalid(format!(
            "the log was written on data set {} (sha256 {}, {} examples), but this worker's data is {} (sha256 {}, \
             {} examples)",
            m.spec.dataset,
            m.dataset_sha256,
            m.dataset_len,
            ds.source.display(),
            ds.sha256,
            ds.n
        )));
    }
    let (dim, b) = (m.dim, m.spec.batch_size);
    let mut per_triple = Vec::with_capacity(m.spec.triples);
    for k in 0..m.spec.triples {
        let theta = match &log.theta {
            Some(t) => t[k * dim..(k + 1) * dim].to_vec(),
            None => super::theta_k(&m.spec, k),
        };
        let idx: Vec<usize> = match &log.indices {
            Some(ix) => ix[k * b..(k + 1) * b].iter().map(|&i| i as usize).collect(),
            None => super::batch_k(&m.spec, k, ds.n),
        };
        let batch = Batch::gather(ds, &idx, device, Precision::F32)?;
        let u = sgd_update(m.spec.model, &tensors::from_f32(&theta, device), &batch, m.spec.eta)?;
        let recomputed = tensors::to_f32(&u.theta_next)?;
        let step = tensors::to_f32(&u.step)?;
        let stored = &log.theta_next[k * dim..(k + 1) * dim];
        let step_norm = forgebench_shared::measures::norm2(&step);
        per_triple.push(triple_measures(stored, &recomputed, step_norm));
        progress(k + 1);
    }
    let flagged = match threshold {
        Some(t) => per_triple
            .iter()
            .enumerate()
            .filter(|(_, e)| e.l2 > t)
            .map(|(i, _)| i)
            .collect(),
        None => Vec::new(),
    };
    Ok(VerifyReport {
        writer_profile: m.provenance.profile.name.clone(),
        verifier_profile: verifier.profile.name.clone(),
        writer: m.provenance.clone(),
        verifier,
        used_stored_inputs: log.theta.is_some(),
        summary: MeasureSummary::of(&per_triple),
        per_triple,
        threshold,
        flagged,
    })
}
