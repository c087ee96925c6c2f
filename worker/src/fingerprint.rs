//! What this worker actually runs on: CPU model and ISA flags, libtorch version and build configuration, and every
//! GPU the CUDA driver reports (through cudarc with dynamic loading, so a machine without a driver simply says so).
use crate::shim;
use forgebench_shared::fingerprint::{DeviceFingerprint, GpuInfo};
use forgebench_shared::provenance::code_version;

/// The libtorch version the worker was compiled against and runs with (`TORCH_VERSION` of its headers).
pub fn libtorch_version() -> String {
    shim::torch_version()
}

/// Collects the fingerprint of this process.
pub fn collect() -> DeviceFingerprint {
    let (cpu_model, cpu_flags) = cpu_info();
    let (cuda_driver, gpus) = cuda_info();
    DeviceFingerprint {
        hostname: hostname(),
        cpu_model,
        cpu_flags,
        libtorch_version: libtorch_version(),
        libtorch_config: shim::show_config(),
        cuda_driver,
        gpus,
        code_version: code_version(),
        threads: tch::get_num_threads().max(0) as u32,
        settings_in_force: crate::profile::in_force(),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

const ISA_PREFIXES: [&str; 6] = ["sse4", "avx", "fma", "amx", "f16c", "bmi2"];

fn cpu_info() -> (String, Vec<String>) {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| forgebench_shared::host_cpu::cpuinfo_field(&text, name);
    let model = field("model name")
        .or_else(|| field("Model"))
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let flags = field("flags")
        .or_else(|| field("Features"))
        .unwrap_or_default()
        .split_whitespace()
        .filter(|f| ISA_PREFIXES.iter().any(|p| f.starts_with(p)) || f.starts_with("asimd") || f.starts_with("sve"))
        .map(str::to_owned)
        .collect();
    (model, flags)
}

fn cuda_info() -> (String, Vec<GpuInfo>) {
    // SAFETY: only probes whether libcuda can be opened.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return ("no CUDA driver library (libcuda) found".into(), Vec::new());
    }
    match std::panic::catch_unwind(query_gpus) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => (format!("CUDA driver present but unusable: {e}"), Vec::new()),
        Err(_) => ("CUDA driver present but loading it failed".into(), Vec::new()),
    }
}

fn query_gpus() -> Result<(String, Vec<GpuInfo>), String> {
    use cudarc::driver::{result, sys};
    result::init().map_err(|e| format!("cuInit: {e:?}"))?;
    let mut version = 0i32;
    // SAFETY: the driver is initialised and the out-pointer is valid.
    unsafe { sys::cuDriverGetVersion(&mut version) }
        .result()
        .map_err(|e| format!("{e:?}"))?;
    let count = result::device::get_count().map_err(|e| format!("{e:?}"))?;
    let mut gpus = Vec::new();
    for ordinal in 0..count {
        let dev = result::device::get(ordinal).map_err(|e| format!("{e:?}"))?;
        let attr = |a| unsafe { result::device::get_attribute(dev, a) }.unwrap_or(-1);
        let uuid = result::device::get_uuid(dev).map_err(|e| format!("{e:?}"))?;
        gpus.push(GpuInfo {
            ordinal: ordinal as u32,
            name: result::device::get_name(dev).unwrap_or_default(),
            uuid: format_uuid(&uuid.bytes.map(|b| b as u8)),
            compute_capability: (
                attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) as u32,
                attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) as u32,
            ),
            // SAFETY: valid device handle.
            total_memory_bytes: unsafe { result::device::total_mem(dev) }.unwrap_or(0) as u64,
        });
    }
    Ok((format!("driver {version}, {count} device(s)"), gpus))
}

/// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as nvidia-smi and CUDA_VISIBLE_DEVICES spell it.
pub fn format_uuid(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "GPU-{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
