//! The Proof-of-Learning verifier: replays every interval of a log (from checkpoint i, the logged batches of steps
//! `checkpoint_steps[i]..checkpoint_steps[i+1]`) on the current profile and compares the result with checkpoint i+1.
//!
//! An exact-arm log (`--arithmetic exact`) is replayed with the writer's rounding records and passes only bit for
//! bit (threshold 0), whatever epsilon was asked for; its report's `exact` names the first disagreement.
//!
//! The pass threshold epsilon (on the L2 error of an interval) is given explicitly, or calibrated from a
//! reproduction matrix as the largest benign L2 error of any (writer, verifier) pair times a margin
//! ([`DEFAULT_MARGIN`] = 10). The matrix measures one step; benign error over an interval of `s` steps grows with
//! `s`, so long intervals need a larger margin. Without either, the replay must be exact (epsilon = 0), which holds
//! on the profile that wrote the log.
use super::log::PolLog;
use crate::arithmetic::{logged_step, Arithmetic};
use crate::error::{Result, WorkerError};
use forgebench_shared::data::Dataset;
use forgebench_shared::jobs::PolSpec;
use forgebench_shared::measures::{measures, Measure};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::results::{Disagreement, ExactVerdict, PolVerifyReport};
use forgebench_shared::tables::CrossDeviceMatrix;

/// Margin over the largest benign error used when calibrating epsilon: benign cross-device noise measured on K
/// random triples is a sample, and the PoL intervals are other points of the weight space, so the threshold keeps
/// an order of magnitude of head-room while staying far below the errors of forged steps reported in the paper.
pub const DEFAULT_MARGIN: f64 = forgebench_shared::verdict::POL_MARGIN;

/// A pass threshold on the L2 error of an interval and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Epsilon {
    /// The threshold.
    pub value: f64,
    /// In words, for the report.
    pub source: String,
}

impl Epsilon {
    /// An explicit threshold.
    pub fn given(value: f64) -> Epsilon {
        Epsilon {
            value,
            source: "given".into(),
        }
    }
    /// Exact replay required (epsilon 0): the default when nothing is given.
    pub fn exact() -> Epsilon {
        Epsilon {
            value: 0.0,
            source: "none given: exact replay required (epsilon 0)".into(),
        }
    }
}

/// epsilon = largest benign L2 of `matrix` x `margin`; the matrix must be for the log's model and data set.
pub fn calibrate(matrix: &CrossDeviceMatrix, spec: &PolSpec, margin: f64) -> Result<Epsilon> {
    let k = &matrix.key;
    if k.model != spec.model || k.dataset != spec.dataset {
        return Err(WorkerError::Invalid(format!(
            "calibration matrix is for {}, but the log trains {}/{}",
            k.title(),
            spec.model,
            spec.dataset
        )));
    }
    if !(margin.is_finite() && margin > 0.0) {
        return Err(WorkerError::Invalid(format!(
            "margin must be a positive number, got {margin}"
        )));
    }
    let largest = matrix
        .largest(Measure::L2)
        .ok_or_else(|| WorkerError::Invalid(format!("calibration matrix {} has no computed cell", k.title())))?;
    // A NaN threshold would pass every interval (no comparison with NaN is true) and an infinite one every finite
    // interval: a matrix whose benign runs broke down calibrates nothing.
    if !largest.is_finite() {
        return Err(WorkerError::Invalid(format!(
            "calibration matrix {} has a non-finite largest benign L2 ({largest}): no threshold can be calibrated",
            k.title()
        )));
    }
    let mut source = format!(
        "calibrated: largest benign L2 {largest:.6e} of matrix '{}' over {} devices x margin {margin}",
        k.title(),
        matrix.devices.len()
    );
    if k.batch_size != spec.batch_size {
        source.push_str(&format!(" (matrix b={}, log b={})", k.batch_size, spec.batch_size));
    }
    Ok(Epsilon {
        value: largest * margin,
        source,
    })
}

/// Replays every interval of `log` on `device` over `ds` and checks each against `epsilon`. Refuses a data set whose
/// sha256 differs from the log's.
pub fn verify(
    log: &PolLog,
    ds: &Dataset,
    device: tch::Device,
    verifier: Provenance,
    epsilon: Epsilon,
) -> Result<PolVerifyReport> {
    let m = &log.manifest;
    if m.dataset_sha256 != ds.sha256 || m.dataset_len != ds.n {
        return Err(WorkerError::Invalid(format!(
            "the PoL log was trained on data set {} with sha256 {} ({} examples), but the data at {} has sha256 {} \
             ({} examples): refusing to verify against other data",
            m.spec.dataset,
            m.dataset_sha256,
            m.dataset_len,
            ds.source.display(),
            ds.sha256,
            ds.n
        )));
    }
    let marks = log.checkpoint_steps();
    let exact = m.spec.arithmetic == Arithmetic::Exact;
    let units = m.exact.as_ref().map_or(0.0, |info| info.tolerance_units);
    let mut per_interval = Vec::with_capacity(marks.len() - 1);
    let mut bitwise_failed = Vec::new();
    let mut first: Option<Disagreement> = None;
    let (mut applied, mut decided) = (0u64, 0u64);
    for i in 0..marks.len() - 1 {
        let start = log.checkpoint(i);
        let mut theta = start.to_vec();
        let mut parted = None;
        for step in marks[i]..marks[i + 1] {
            let replay = log.records.as_ref().map(|r| &r[step]);
            let u = logged_step(
                m.spec.arithmetic,
                m.spec.model,
                &theta,
                ds,
                &log.batch(step),
                device,
                m.spec.eta,
                units,
                replay,
            )?;
            if let Some(r) = &u.records {
                applied += r.count() as u64;
                decided += u.decided;
            }
            if parted.is_none() {
                parted = u.parted.map(|p| (step, p));
            }
            theta = u.theta_next;
        }
        let stored = log.checkpoint(i + 1);
        let mut e = measures(stored, &theta, None);
        // Relative to the replayed interval's own movement, the analogue of ||delta|| / ||update||.
        let moved = measures(&theta, start, None).l2;
        e.rel = if moved == 0.0 { 0.0 } else { e.l2 / moved };
        per_interval.push(e);
        if exact {
            let element = crate::repro::first_difference(m.spec.model, stored, &theta);
            if element.is_some() || parted.is_some() {
                bitwise_failed.push(i);
                if first.is_none() {
                    first = Some(Disagreement {
                        // The step that parted, else the interval's last step, whose result is the checkpoint.
                        step: parted.as_ref().map_or(marks[i + 1] - 1, |(s, _)| *s),
                        site: parted.as_ref().map(|(_, p)| p.site.clone()),
                        detail: parted.as_ref().map(|(_, p)| p.detail.clone()),
                        element,
                    });
                }
            }
        }
    }
    let (failed_intervals, epsilon) = if exact {
        let e = Epsilon {
            value: 0.0,
            source: "exact arithmetic: every replayed step bit for bit with the writer's rounding records".into(),
        };
        (bitwise_failed, e)
    } else {
        let failed: Vec<usize> = per_interval
            .iter()
            .enumerate()
            // A NaN error fails, and so does every interval against a NaN epsilon (no comparison with NaN holds).
            .filter(|(_, e)| e.l2.is_nan() || epsilon.value.is_nan() || e.l2 > epsilon.value)
            .map(|(i, _)| i)
            .collect();
        (failed, epsilon)
    };
    let exact = exact.then(|| ExactVerdict {
        agreed: first.is_none(),
        first_disagreement: first,
        records: applied,
        decided,
    });
    Ok(PolVerifyReport {
        init_check: Some(super::init_check::check(m.spec.model, log.checkpoint(0))),
        spec: m.spec.clone(),
        writer: m.provenance.clone(),
        verifier,
        passed: failed_intervals.is_empty(),
        per_interval,
        epsilon: Some(epsilon.value),
        epsilon_source: epsilon.source,
        failed_intervals,
        exact,
    })
}
