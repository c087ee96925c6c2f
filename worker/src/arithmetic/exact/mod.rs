//! The exact arm (Srivastava, Arora & Boneh 2024, "Optimistic verifiable training by controlling hardware
//! nondeterminism"): a step computed in f64, every layer's output and every gradient of the backward pass rounded
//! to f32 at a *site*, and the SGD update rounded last. The writer records the side of each value near a rounding
//! boundary ([`round`]); a verifier applies those records and so reproduces the writer's f32 values bit for bit
//! wherever its own f64 values stay within the writer's tolerance.
//!
//! Each operation's backward runs on its own ([`backprop`]): autograd differentiates the operation alone, fed the
//! rounded gradient of its output, so every gradient that flows between layers is an f32 value and a site.
pub mod attack;
pub mod backprop;
mod graph;
pub mod records;
pub mod round;
pub(crate) mod store;

pub use backprop::Labels;
pub use graph::{ops, Op};
pub use records::{SiteRecords, StepRecords};

use crate::error::{Result, WorkerError};
use crate::update::Batch;
use forgebench_shared::experiment::ModelKind;
use tch::Tensor;

pub use forgebench_shared::rounding::TOLERANCE_UNITS;

/// How far a verifier accepts a record: twice its own tolerance, so that a value the writer recorded stays
/// acceptable after the verifier's own f64 error, and a prover can choose only among values that are genuinely
/// ambiguous.
pub fn check_of(tolerance: f64) -> f64 {
    2.0 * tolerance
}

/// Writing records, or replaying a writer's.
pub enum Mode<'a> {
    /// Round to nearest and record (the writer).
    Write,
    /// Apply these records (the verifier).
    Replay(&'a StepRecords),
}

/// Where a replay first parted from the writer.
#[derive(Debug, Clone, PartialEq)]
pub struct Parting {
    /// The site ("conv2.backward.weight").
    pub site: String,
    /// What differed: the digest, or a record that did not apply.
    pub detail: String,
}

/// One step in the exact arm.
pub struct ExactStep {
    /// theta - eta * grad, rounded.
    pub theta_next: Vec<f32>,
    /// L2 norm (f64) of eta * grad, from the rounded gradient.
    pub step_norm: f64,
    /// The records and digests of every site (a replay: the writer's records, the verifier's digests).
    pub records: StepRecords,
    /// The sites' names, in order.
    pub sites: Vec<String>,
    /// A replay's first site whose rounded values differ from the writer's (None: none, or writing).
    pub parted: Option<Parting>,
    /// Values rounded, over all sites.
    pub values: u64,
    /// A replay: records that decided a value (the verifier's own rounding to nearest would have differed).
    pub decided: u64,
}

struct Sites<'a> {
    units: f64,
    mode: Mode<'a>,
    out: StepRecords,
    names: Vec<String>,
    parted: Option<Parting>,
    buf: Vec<f32>,
    values: u64,
    decided: u64,
    trace: Option<&'a mut Vec<(String, Vec<f64>)>>,
}

impl Sites<'_> {
    /// `t` (f64) rounded to f32 values, returned in f64 on `t`'s device.
    fn round(&mut self, name: String, t: &Tensor) -> Result<Tensor> {
        let v = crate::tensors::to_f64(t)?;
        if let Some(tr) = self.trace.as_deref_mut() {
            tr.push((name.clone(), v.clone()));
        }
        let i = self.names.len();
        self.values += v.len() as u64;
        let records = match &self.mode {
            Mode::Write => round::round_write(&v, round::tolerance(&v, self.units), &mut self.buf),
            Mode::Replay(writer) => {
                let site = writer.sites.get(i).ok_or_else(|| {
                    WorkerError::Invalid(format!(
                        "the log's records cover {} sites, but the step has a site {i} ({name})",
                        writer.sites.len()
                    ))
                })?;
                match round::round_replay(
                    &v,
                    &site.records,
                    check_of(round::tolerance(&v, self.units)),
                    &mut self.buf,
                ) {
                    Ok(n) => self.decided += n as u64,
                    Err(e) => {
                        // Round to nearest and carry on: the step's result is still compared, and this names where.
                        self.buf.clear();
                        self.buf.extend(v.iter().map(|&x| x as f32));
                        self.part(&name, e.to_string());
                    }
                }
                site.records.clone()
            }
        };
        let digest = records::digest(&self.buf);
        if let Mode::Replay(writer) = &self.mode {
            if writer.sites[i].digest != digest {
                self.part(&name, "rounded values differ from the writer's (digest)".into());
            }
        }
        self.out.sites.push(SiteRecords { records, digest });
        self.names.push(name);
        let r: Vec<f64> = self.buf.iter().map(|&x| x as f64).collect();
        Ok(Tensor::from_slice(&r).view(t.size().as_slice()).to_device(t.device()))
    }

    fn part(&mut self, site: &str, detail: String) {
        if self.parted.is_none() {
            self.parted = Some(Parting {
                site: site.to_owned(),
                detail,
            });
        }
    }
}

/// One SGD step of `model` at `theta` on `batch` (inputs in f64, exactly the f32 data), in the exact arm.
/// `units` is the tolerance in units of each site's f64 resolution (a replay: the writer's).
pub fn step(model: ModelKind, theta: &[f32], batch: &Batch, eta: f64, units: f64, mode: Mode) -> Result<ExactStep> {
    run(model, theta, &batch.x, Labels::Hard(&batch.y), eta, units, mode, None)
}

/// A writer's step that also keeps each site's f64 values before rounding (for [`crate::explain`]).
/// Inputs `x` (f64 holding f32 values) and labels of any kind.
pub fn step_traced(
    model: ModelKind,
    theta: &[f32],
    x: &Tensor,
    labels: Labels,
    eta: f64,
    trace: &mut Vec<(String, Vec<f64>)>,
) -> Result<ExactStep> {
    run(model, theta, x, labels, eta, TOLERANCE_UNITS, Mode::Write, Some(trace))
}

#[allow(clippy::too_many_arguments)]
fn run(
    model: ModelKind,
    theta: &[f32],
    x: &Tensor,
    labels: Labels,
    eta: f64,
    units: f64,
    mode: Mode,
    trace: Option<&mut Vec<(String, Vec<f64>)>>,
) -> Result<ExactStep> {
    let theta64: Vec<f64> = theta.iter().map(|&v| v as f64).collect();
    let theta_t = Tensor::from_slice(&theta64).to_device(x.device());
    let mut sites = Sites {
        units,
        mode,
        out: StepRecords::default(),
        names: Vec::new(),
        parted: None,
        buf: Vec::new(),
        values: 0,
        decided: 0,
        trace,
    };
    let grads = backprop::gradients_of(model, &theta_t, x, labels, &mut |name, t| sites.round(name, t))?;
    let mut grad = Vec::with_capacity(theta.len());
    for g in &grads {
        grad.extend(crate::tensors::to_f64(g)?);
    }
    // The update in Rust's f64 arithmetic: two correctly rounded operations per element, the same on every device.
    let next: Vec<f64> = theta64.iter().zip(&grad).map(|(t, g)| t - eta * g).collect();
    let step_norm = grad.iter().map(|g| (eta * g) * (eta * g)).sum::<f64>().sqrt();
    let rounded = sites.round("update".into(), &Tensor::from_slice(&next))?;
    Ok(ExactStep {
        theta_next: crate::tensors::to_f32(&rounded)?,
        step_norm,
        records: sites.out,
        sites: sites.names,
        parted: sites.parted,
        values: sites.values,
        decided: sites.decided,
    })
}
