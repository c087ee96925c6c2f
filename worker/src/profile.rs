//! Applies a device profile inside the worker process: refuses to run when the environment libtorch loaded with
//! differs from the profile's, then sets the in-process switches through the shim.
use crate::error::{Result, WorkerError};
use crate::shim::{self, Flag};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::profile::{Device, DeviceProfile};
use std::collections::BTreeMap;

/// Checks the process environment against `profile`, applies threads, oneDNN and the GPU flags, and refuses to
/// run when the CPU capability ATen dispatches to is not the one requested (libtorch falls back silently when the
/// CPU or the build lacks it).
pub fn apply(profile: &DeviceProfile) -> Result<()> {
    profile.validate()?;
    profile.check_env(|k| std::env::var(k).ok())?;
    apply_in_process(profile)?;
    if let Some(want) = &profile.cpu.aten_cpu_capability {
        let got = shim::cpu_capability();
        if !got.eq_ignore_ascii_case(want) {
            return Err(WorkerError::Device(format!(
                "profile {}: ATEN_CPU_CAPABILITY={want} was requested, but ATen dispatches to {got} (this CPU or \
                 this libtorch build lacks {want}); pick a capability this machine has",
                profile.name
            )));
        }
    }
    Ok(())
}

/// The numeric settings libtorch reports in force now, read back rather than taken from the profile: the CPU
/// capability ATen dispatches to, intra- and inter-op threads, oneDNN, and the cuDNN, determinism and TF32 switches
/// (a switch never set reads as the library's default, which is what runs). Environment settings libtorch reads
/// at load and cannot report (oneDNN's and MKL's ISA, MKL's CBWR) are recorded as the environment held them.
pub fn in_force() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("aten_cpu_capability".into(), shim::cpu_capability().to_lowercase());
    m.insert("threads".into(), tch::get_num_threads().to_string());
    m.insert("interop_threads".into(), tch::get_num_interop_threads().to_string());
    for (name, flag) in [
        ("onednn", Flag::Mkldnn),
        ("cudnn_benchmark", Flag::CudnnBenchmark),
        ("cudnn_deterministic", Flag::CudnnDeterministic),
        ("deterministic_algorithms", Flag::DeterministicAlgorithms),
        ("tf32_cublas", Flag::Tf32Cublas),
        ("tf32_cudnn", Flag::Tf32Cudnn),
    ] {
        let v = shim::get_flag(flag).map_or_else(|| "unreadable".to_owned(), |b| b.to_string());
        m.insert(name.into(), v);
    }
    for var in [
        "DNNL_MAX_CPU_ISA",
        "MKL_ENABLE_INSTRUCTIONS",
        "MKL_CBWR",
        "CUBLAS_WORKSPACE_CONFIG",
    ] {
        let v = std::env::var(var).unwrap_or_else(|_| "unset (library default)".into());
        m.insert(format!("env {var}"), v);
    }
    m
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
        let why = if cfg!(feature = "cuda") {
            "this machine has no usable GPU"
        } else {
            "this worker was built without the `cuda` feature"
        };
        return Err(WorkerError::Device(format!(
            "profile {} needs CUDA but libtorch sees no CUDA device: {why} (driver: {})",
            profile.name, fp.cuda_driver
        )));
    }
    let count = tch::Cuda::device_count();
    if i64::from(ordinal) >= count {
        return Err(WorkerError::Device(format!(
            "profile {}: CUDA device {ordinal} does not exist; libtorch sees {count} (CUDA_VISIBLE_DEVICES: {})",
            profile.name,
            std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_else(|_| "unset".into())
        )));
    }
    Ok(tch::Device::Cuda(ordinal as usize))
}
