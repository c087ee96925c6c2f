//! The arithmetic a training step is computed in: the f32 arm (the models' own kernels, [`crate::update`]) or the
//! exact arm ([`exact`]), whose verifier reproduces the writer's f32 results bit for bit. Logs and their verifiers
//! take a step through [`logged_step`] and never branch on the arm themselves.
pub mod exact;

pub use forgebench_shared::experiment::Arithmetic;

use crate::error::Result;
use crate::tensors;
use crate::update::{sgd_update, Batch};
use exact::{Mode, Parting, StepRecords};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::{ModelKind, Precision};

/// One step as a log stores it.
pub struct LoggedStep {
    /// theta - eta * grad in f32.
    pub theta_next: Vec<f32>,
    /// L2 norm (f64) of eta * grad.
    pub step_norm: f64,
    /// The exact arm: the step's records (a replay: the writer's, with the verifier's digests).
    pub records: Option<StepRecords>,
    /// The exact arm: its sites' names.
    pub sites: Vec<String>,
    /// The exact arm: values rounded.
    pub values: u64,
    /// An exact replay's first parting from the writer.
    pub parted: Option<Parting>,
    /// An exact replay: records that decided a value.
    pub decided: u64,
}

/// The step of `model` from `theta` on the examples `indices` of `ds`, in `arith`. `units` is the exact arm's
/// tolerance in units of each site's f64 resolution (a replay: the writer's); `replay` holds the writer's records
/// when an exact-arm log is verified, and without it the step writes its own.
#[allow(clippy::too_many_arguments)]
pub fn logged_step(
    arith: Arithmetic,
    model: ModelKind,
    theta: &[f32],
    ds: &Dataset,
    indices: &[usize],
    device: tch::Device,
    eta: f64,
    units: f64,
    replay: Option<&StepRecords>,
) -> Result<LoggedStep> {
    match arith {
        Arithmetic::F32 => {
            let batch = Batch::gather(ds, indices, device, Precision::F32)?;
            let u = sgd_update(model, &tensors::from_f32(theta, device), &batch, eta)?;
            Ok(LoggedStep {
                theta_next: tensors::to_f32(&u.theta_next)?,
                step_norm: forgebench_shared::measures::norm2(&tensors::to_f32(&u.step)?),
                records: None,
                sites: Vec::new(),
                values: 0,
                parted: None,
                decided: 0,
            })
        }
        Arithmetic::Exact => {
            // f64 inputs hold the f32 data exactly.
            let batch = Batch::gather(ds, indices, device, Precision::F64)?;
            let mode = match replay {
                Some(r) => Mode::Replay(r),
                None => Mode::Write,
            };
            let s = exact::step(model, theta, &batch, eta, units, mode)?;
            Ok(LoggedStep {
                theta_next: s.theta_next,
                step_norm: s.step_norm,
                records: Some(s.records),
                sites: s.sites,
                values: s.values,
                parted: s.parted,
                decided: s.decided,
            })
        }
    }
}
