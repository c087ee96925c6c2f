//! Where two devices part: one step of a log traced site by site (every inexact layer's output on the way forward,
//! every gradient on the way back, then the update), in one profile's process. Comparing two traces is pure
//! arithmetic and lives in [`forgebench_shared::trace`].
//!
//! The f32 arm's trace runs the same operations as the update kernel one at a time ([`exact::backprop`]); a test
//! checks that its result equals [`crate::update::sgd_update`]'s bit for bit. The exact arm's trace holds each
//! site's f64 values before rounding, so its comparison gives the margin that the rounding records protect: the
//! largest f64 discrepancy between the two devices, in gaps between adjacent f32 values.
pub use forgebench_shared::trace::{compare, read_trace, write_trace, Explanation, SiteDiff, Trace};

use crate::arithmetic::{exact, Arithmetic};
use crate::error::Result;
use crate::tensors;
use crate::update::Batch;
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::{Precision, ReproSpec};
use tch::Tensor;

/// Traces triple `k` of `spec` on `device`.
pub fn trace(spec: &ReproSpec, k: usize, ds: &Dataset, device: tch::Device) -> Result<Trace> {
    let theta = crate::repro::theta_k(spec, k);
    let idx = crate::repro::batch_k(spec, k, ds.n);
    let mut sites = Vec::new();
    match spec.arithmetic {
        Arithmetic::F32 => {
            let batch = Batch::gather(ds, &idx, device, Precision::F32)?;
            let theta_t = tensors::from_f32(&theta, device);
            let grads = exact::backprop::gradients(spec.model, &theta_t, &batch, &mut |name, t| {
                sites.push((name, tensors::to_f64(t)?));
                Ok(t.shallow_clone())
            })?;
            let _guard = tch::no_grad_guard();
            let flat = Tensor::f_cat(&grads.iter().map(|g| g.flatten(0, -1)).collect::<Vec<_>>(), 0)?;
            // The update kernel's own order: step = eta * grad, then theta - step, in f32.
            let next = theta_t.f_sub(&flat.f_mul_scalar(spec.eta)?)?;
            sites.push(("update".into(), tensors::to_f64(&next)?));
        }
        Arithmetic::Exact => {
            let batch = Batch::gather(ds, &idx, device, Precision::F64)?;
            let labels = exact::Labels::Hard(&batch.y);
            exact::step_traced(spec.model, &theta, &batch.x, labels, spec.eta, &mut sites)?;
        }
    }
    Ok(Trace {
        arithmetic: spec.arithmetic,
        sites,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use forgebench_shared::data::{self, Split};
    use forgebench_shared::experiment::{DatasetKind, ModelKind};

    #[test]
    fn the_f32_trace_ends_at_the_update_kernels_result_bit_for_bit() {
        let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
        for model in [ModelKind::Logreg, ModelKind::Lenet5] {
            let spec = ReproSpec {
                model,
                dataset: DatasetKind::Mnist,
                batch_size: 16,
                eta: 0.01,
                triples: 1,
                seed: 2,
                full: false,
                arithmetic: Arithmetic::F32,
                tolerance_units: None,
            };
            let t = trace(&spec, 0, &ds, tch::Device::Cpu).unwrap();
            let (name, last) = t.sites.last().unwrap();
            assert_eq!(name, "update");
            let theta = tensors::from_f32(&crate::repro::theta_k(&spec, 0), tch::Device::Cpu);
            let batch = Batch::gather(
                &ds,
                &crate::repro::batch_k(&spec, 0, ds.n),
                tch::Device::Cpu,
                Precision::F32,
            )
            .unwrap();
            let u = crate::update::sgd_update(model, &theta, &batch, spec.eta).unwrap();
            let want = tensors::to_f32(&u.theta_next).unwrap();
            let differ = want.iter().zip(last).filter(|(a, b)| **a as f64 != **b).count();
            assert_eq!(
                differ,
                0,
                "{model}: {differ} of {} values differ from the kernel's",
                want.len()
            );
        }
    }
}
