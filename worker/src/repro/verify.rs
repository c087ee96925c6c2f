//! Verification of a reproduction log on the current profile: recompute every triple and measure, in f64, how far
//! the stored result lies from the recomputed one.
use super::log::ReproLog;
use crate::arithmetic::{logged_step, Arithmetic};
use crate::error::{Result, WorkerError};
use forgebench_shared::data::Dataset;
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
    /// Triples whose L2 error exceeds the threshold (the exact arm: whose bits differ at all).
    pub flagged: Vec<usize>,
    /// The exact arm's verdict: bit-for-bit agreement, or where the first disagreement lies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<ExactVerdict>,
}

pub use forgebench_shared::results::{Disagreement, ElementDiff, ExactVerdict};

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
    let mut bitwise_differs = Vec::new();
    let mut first: Option<Disagreement> = None;
    let (mut applied, mut decided) = (0u64, 0u64);
    for k in 0..m.spec.triples {
        let theta = match &log.theta {
            Some(t) => t[k * dim..(k + 1) * dim].to_vec(),
            None => super::theta_k(&m.spec, k),
        };
        let idx: Vec<usize> = match &log.indices {
            Some(ix) => ix[k * b..(k + 1) * b].iter().map(|&i| i as usize).collect(),
            None => super::batch_k(&m.spec, k, ds.n),
        };
        let replay = log.records.as_ref().map(|r| &r[k]);
        let units = m.exact.as_ref().map_or(0.0, |info| info.tolerance_units);
        let u = logged_step(
            m.spec.arithmetic,
            m.spec.model,
            &theta,
            ds,
            &idx,
            device,
            m.spec.eta,
            units,
            replay,
        )?;
        let stored = &log.theta_next[k * dim..(k + 1) * dim];
        per_triple.push(triple_measures(stored, &u.theta_next, u.step_norm));
        if let Some(r) = &u.records {
            applied += r.count() as u64;
            decided += u.decided;
            let element = first_difference(m.spec.model, stored, &u.theta_next);
            // A step fails when its result differs, and also when an intermediate site does (a record that did
            // not apply, or values that differ but vanish later): the log claims values it does not have.
            if element.is_some() || u.parted.is_some() {
                bitwise_differs.push(k);
                if first.is_none() {
                    first = Some(Disagreement {
                        step: k,
                        site: u.parted.as_ref().map(|p| p.site.clone()),
                        detail: u.parted.as_ref().map(|p| p.detail.clone()),
                        element,
                    });
                }
            }
        }
        progress(k + 1);
    }
    let exact = (m.spec.arithmetic == Arithmetic::Exact).then(|| ExactVerdict {
        agreed: first.is_none(),
        first_disagreement: first,
        records: applied,
        decided,
    });
    let flagged = match (&exact, threshold) {
        (Some(_), _) => bitwise_differs,
        (None, Some(t)) => per_triple
            .iter()
            .enumerate()
            .filter(|(_, e)| e.l2 > t)
            .map(|(i, _)| i)
            .collect(),
        (None, None) => Vec::new(),
    };
    Ok(VerifyReport {
        writer_profile: m.provenance.profile.name.clone(),
        verifier_profile: verifier.profile.name.clone(),
        writer: m.provenance.clone(),
        verifier,
        used_stored_inputs: log.theta.is_some(),
        summary: MeasureSummary::of(&per_triple),
        per_triple,
        threshold: if exact.is_some() { Some(0.0) } else { threshold },
        flagged,
        exact,
    })
}

/// The first element of theta whose bits differ between `stored` and `recomputed`, named by its parameter.
pub(crate) fn first_difference(
    model: forgebench_shared::experiment::ModelKind,
    stored: &[f32],
    recomputed: &[f32],
) -> Option<ElementDiff> {
    let e = stored
        .iter()
        .zip(recomputed)
        .position(|(a, c)| a.to_bits() != c.to_bits())?;
    Some(ElementDiff {
        index: e,
        parameter: parameter_at(model, e),
        stored: stored[e],
        recomputed: recomputed[e],
    })
}

/// "fc1.weight[37]": the parameter tensor and offset of element `e` of theta.
fn parameter_at(model: forgebench_shared::experiment::ModelKind, e: usize) -> String {
    let mut start = 0;
    for p in crate::models::layout(model) {
        if e < start + p.numel() {
            return format!("{}[{}]", p.name, e - start);
        }
        start += p.numel();
    }
    format!("theta[{e}]")
}
