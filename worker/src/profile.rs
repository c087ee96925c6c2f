//! Applies a device profile inside the worker process: refuses to run when the environment libtorch loaded with
//! differs from the profile's, then sets the in-process switches through the shim.
use crate::error::{Result, WorkerError};
use crate::shim::{self, Flag};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::profile::{Device, DeviceProfile};

/// Checks the process environment against `profile` and applies threads, oneDNN and the GPU flags.
pub fn apply(profile: &DeviceProfile) -> Result<()> {
    profile.validate()?;
    profile.check_env(|k| std::env::var(k).ok())?;
    apply_in_process(profile)
}

/// Applies only the in-process settings (threads, oneDNN, cuDNN, TF32), without checking the environment.
pub fn apply_in_process(profile: &DeviceProfile) -> Result<()> {
    if let Some(t) = profile.cpu.threads {
        tch::set_num_threads(t as i32);
    }
    shim::set_flag(Flag::Mkldnn, profile.cpu.onednn.unwrap_or(true)).map_err(WorkerError::Device)?;
    let g = &profile.gpu;
    for (flag, value) in [
        (Flag::CudnnBenchmark, g.cudnn_benchmark),
        (Flag::CudnnDeterministic, g.cudnn_deterministic),
        (Flag::DeterministicAlgorithms, g.deterministic_algorithms),
        (Flag::Tf32Cublas, g.tf32_cublas),
        (Flag::Tf32Cudnn, g.tf32_cudnn),
    ] {
        if let Some(v) = value {
            shim::set_flag(flag, v).map_err(WorkerError::Device)?;
        }
    }
    Ok(())
}

/// The tch device of a profile, resolving a UUID through the fingerprint's GPU list.
pub fn tch_device(profile: &DeviceProfile, fp: &DeviceFingerprint) -> Result<tch::Device> {
    let ordinal = match &profile.device {
        Device::Cpu => return Ok(tch::Device::Cpu),
        Device::CudaOrdinal(o) => *o,
        Device::CudaUuid(u) => fp
            .gpus
            .iter()
            .find(|g| &g.uuid == u)
            .map(|g| g.ordinal)
            .ok_or_else(|| {
                WorkerError::Device(format!(
                    "profile {}: no GPU with UUID {u} (driver: {})",
                    profile.name, fp.cuda_driver
                ))
            })?,
    };
    if !tch::Cuda::is_available() {
        return Err(WorkerError::Device(format!(
            "profile {} needs CUDA but libtorch sees no CUDA device (built without the `cuda` feature? driver: {})",
            profile.name, fp.cuda_driver
        )));
    }
    Ok(tch::Device::Cuda(ordinal as usize))
}
