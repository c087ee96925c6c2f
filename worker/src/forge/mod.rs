//! Forging attacks on SGD logs: search forging (greedy and local search over real examples, scored through a Gram
//! matrix of per-example gradients, or by a real backward pass per candidate where none exist), optimisation
//! forging (the paper's Algorithm 1, Adam over a synthetic batch), the logistic-regression constructions of
//! Propositions 1 and 2, image grids of batches, and the detectability of each attack against the benign
//! floating-point noise.
//!
//! Every error is measured like a benign one: the L2 (and friends) distance, in f64, between the logged theta_{i+1}
//! and theta_i - eta * grad L(forged batch; theta_i) recomputed with a real backward pass.
pub mod adam;
pub mod bench;
pub mod bench_surrogate;
pub mod detect;
pub mod domain;
pub mod gram;
pub mod greedy;
pub mod grid;
pub mod lbfgs;
pub mod local;
pub mod local_exact;
pub mod log;
pub mod naive;
pub mod naive_step;
pub mod pergrad;
mod pergrad_lenet;
pub mod prop1;
pub mod prop2;
pub mod run;
pub mod simplex;
pub mod step;
pub mod surrogate;

use crate::error::Result;
use crate::tensors;
use tch::Tensor;

/// One logged SGD step to forge: theta_i, theta_{i+1} and the learning rate.
pub struct StepTarget {
    /// theta_i (1-D, the model's precision).
    pub theta: Tensor,
    /// theta_{i+1} as logged.
    pub theta_next: Tensor,
    /// Learning rate eta.
    pub eta: f64,
}

impl StepTarget {
    /// The logged step d = theta_i - theta_{i+1} (what eta * mean gradient must reproduce), in f64.
    pub fn step_f64(&self) -> Result<Tensor> {
        Ok(self
            .theta
            .f_to_kind(tch::Kind::Double)?
            .f_sub(&self.theta_next.f_to_kind(tch::Kind::Double)?)?)
    }
    /// The precision a batch must have to meet theta in an update (theta's own).
    pub fn precision(&self) -> forgebench_shared::experiment::Precision {
        if self.theta.kind() == tch::Kind::Double {
            forgebench_shared::experiment::Precision::F64
        } else {
            forgebench_shared::experiment::Precision::F32
        }
    }

    /// theta_{i+1} as f32 values, for measuring.
    pub fn next_values(&self) -> Result<Vec<f32>> {
        tensors::to_f32(&self.theta_next)
    }
}
