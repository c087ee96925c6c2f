//! Exact (naive) scoring: gather the candidate batch, run a real forward and backward pass, and measure the
//! recomputed theta_{i+1} against the logged one, in f64, exactly as a verifier would. The reference for Gram
//! scoring and the final word on every reported error.
use super::StepTarget;
use crate::error::Result;
use crate::tensors;
use crate::update::{sgd_update, Batch};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::{ModelKind, Precision};
use forgebench_shared::measures::{measures, ErrorMeasures};
use tch::Device;

/// A step's exact scorer, holding the logged values as f64 once.
pub struct Exact<'a> {
    model: ModelKind,
    target: &'a StepTarget,
    device: Device,
    precision: Precision,
    next: Vec<f64>,
    step: Vec<f64>,
}

impl<'a> Exact<'a> {
    /// A scorer for `target` under `model`; the batch precision follows theta's kind.
    pub fn new(model: ModelKind, target: &'a StepTarget, device: Device) -> Result<Exact<'a>> {
        let precision = target.precision();
        let next = tensors::to_f64(&target.theta_next)?;
        let step = tensors::to_f64(&target.step_f64()?)?;
        Ok(Exact {
            model,
            target,
            device,
            precision,
            next,
            step,
        })
    }

    /// The error of the batch `indices` (into `ds`), and theta_i - eta * grad as f64.
    pub fn measure_with_update(&self, ds: &Dataset, indices: &[usize]) -> Result<(ErrorMeasures, Vec<f64>)> {
        let batch = Batch::gather(ds, indices, self.device, self.precision)?;
        let u = sgd_update(self.model, &self.target.theta, &batch, self.target.eta)?;
        let got = tensors::to_f64(&u.theta_next)?;
        Ok((measures(&got, &self.next, Some(&self.step)), got))
    }

    /// The error of the batch `indices` (into `ds`).
    pub fn measure(&self, ds: &Dataset, indices: &[usize]) -> Result<ErrorMeasures> {
        Ok(self.measure_with_update(ds, indices)?.0)
    }

    /// L2 errors of many candidates, one backward pass each (the baseline Gram scoring is benchmarked against).
    pub fn scores(&self, ds: &Dataset, candidates: &[Vec<usize>]) -> Result<Vec<f64>> {
        candidates.iter().map(|c| Ok(self.measure(ds, c)?.l2)).collect()
    }
}
