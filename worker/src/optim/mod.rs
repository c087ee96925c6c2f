//! PyTorch's optimisers applied to a flat theta: each parameter's slice is updated by the C++ in
//! `cpp/torch_ops.cpp`, which calls ATen op for op as `torch.optim`'s single-tensor code does on CPU tensors.
//! Updating per parameter, not over all of theta at once, matters: an elementwise kernel's vectorised body and
//! scalar tail can round differently, and where the tail falls depends on the tensor's length.
pub mod diff;

use crate::error::{Result, WorkerError};
use forgebench_shared::optim::Optimizer;
use forgebench_shared::torchrun::ParamInfo;
use std::ffi::{c_char, c_int, c_void, CStr};
use tch::{Device, Kind, Tensor};

extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn fb_sgd_step(
        param: *mut c_void,
        grad: *mut c_void,
        buf: *mut c_void,
        has_buf: c_int,
        lr: f64,
        momentum: f64,
        dampening: f64,
        nesterov: c_int,
        weight_decay: f64,
        err: *mut c_char,
        cap: usize,
    ) -> c_int;
    #[allow(clippy::too_many_arguments)]
    fn fb_adam_step(
        param: *mut c_void,
        grad: *mut c_void,
        exp_avg: *mut c_void,
        exp_avg_sq: *mut c_void,
        step: f64,
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: c_int,
        err: *mut c_char,
        cap: usize,
    ) -> c_int;
}

/// An optimiser's state over a flat theta: PyTorch's step count and per-parameter buffers, each flattened like
/// theta, in [`Optimizer::state_names`] order.
pub struct OptState {
    /// Steps taken (`state['step']`; SGD's momentum buffer exists once this is above 0).
    pub step: u64,
    /// The buffers, 1-D f32 of theta's length.
    pub buffers: Vec<Tensor>,
}

impl OptState {
    /// The state before the first step.
    pub fn fresh(opt: &Optimizer, dim: usize, device: Device) -> OptState {
        OptState {
            step: 0,
            buffers: opt
                .state_names()
                .iter()
                .map(|_| Tensor::zeros([dim as i64], (Kind::Float, device)))
                .collect(),
        }
    }
}

fn ptr(t: &mut Tensor) -> *mut c_void {
    t.as_mut_ptr() as *mut c_void
}

fn slices(t: &Tensor, params: &[ParamInfo]) -> Result<Vec<Tensor>> {
    let mut out = Vec::with_capacity(params.len());
    let mut offset = 0i64;
    for p in params {
        let n = p.numel() as i64;
        out.push(t.f_narrow(0, offset, n)?.f_view(p.shape.as_slice())?);
        offset += n;
    }
    Ok(out)
}

/// One step of `opt` with learning rate `lr`: updates `theta` (1-D f32) and `state` in place from `grad`.
pub fn step(
    opt: &Optimizer,
    params: &[ParamInfo],
    theta: &Tensor,
    grad: &Tensor,
    state: &mut OptState,
    lr: f64,
) -> Result<()> {
    let _guard = tch::no_grad_guard();
    if *opt == Optimizer::Plain {
        // As the built-in logs step (crate::update::sgd_update): the step rounded, then subtracted.
        let mut theta = theta.shallow_clone();
        let _ = theta.f_sub_(&grad.f_mul_scalar(lr)?)?;
        state.step += 1;
        return Ok(());
    }
    let mut th = slices(theta, params)?;
    let mut g = slices(grad, params)?;
    let mut bufs: Vec<Vec<Tensor>> = state.buffers.iter().map(|b| slices(b, params)).collect::<Result<_>>()?;
    let mut err = vec![0u8; 1024];
    let e = err.as_mut_ptr() as *mut c_char;
    for i in 0..params.len() {
        // SAFETY: every pointer is a live at::Tensor owned by this frame; the C++ catches every exception.
        let rc = unsafe {
            match *opt {
                Optimizer::Plain => unreachable!("plain SGD returned above"),
                Optimizer::Sgd {
                    momentum,
                    dampening,
                    nesterov,
                    weight_decay,
                } => {
                    let mut none = Tensor::zeros([1], (Kind::Float, Device::Cpu));
                    let buf = match bufs.first_mut() {
                        Some(b) => ptr(&mut b[i]),
                        None => ptr(&mut none),
                    };
                    fb_sgd_step(
                        ptr(&mut th[i]),
                        ptr(&mut g[i]),
                        buf,
                        c_int::from(state.step > 0),
                        lr,
                        momentum,
                        dampening,
                        c_int::from(nesterov),
                        weight_decay,
                        e,
                        err.len(),
                    )
                }
                Optimizer::Adam {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    decoupled,
                } => {
                    let (a, b) = bufs.split_at_mut(1);
                    fb_adam_step(
                        ptr(&mut th[i]),
                        ptr(&mut g[i]),
                        ptr(&mut a[0][i]),
                        ptr(&mut b[0][i]),
                        (state.step + 1) as f64,
                        lr,
                        beta1,
                        beta2,
                        eps,
                        weight_decay,
                        c_int::from(decoupled),
                        e,
                        err.len(),
                    )
                }
            }
        };
        if rc != 0 {
            let text = CStr::from_bytes_until_nul(&err)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Err(WorkerError::Invalid(format!(
                "{opt} step of parameter {} failed in libtorch: {text}",
                params[i].name
            )));
        }
    }
    state.step += 1;
    Ok(())
}

#[cfg(test)]
mod tests;
