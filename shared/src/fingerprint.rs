//! What a worker actually runs on, as it reports it at registration and records it in every result.
use serde::{Deserialize, Serialize};

/// One GPU as the CUDA driver reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuInfo {
    /// Ordinal in PCI bus order.
    pub ordinal: u32,
    /// Marketing name, e.g. "NVIDIA GeForce RTX 4090".
    pub name: String,
    /// "GPU-..." UUID.
    pub uuid: String,
    /// Compute capability (major, minor), e.g. (8, 9).
    pub compute_capability: (u32, u32),
    /// Total memory in bytes.
    pub total_memory_bytes: u64,
}

impl GpuInfo {
    /// "RTX 4090, sm_89".
    pub fn label(&self) -> String {
        let short = self.name.trim_start_matches("NVIDIA ").trim_start_matches("GeForce ");
        format!("{short}, sm_{}{}", self.compute_capability.0, self.compute_capability.1)
    }
}

/// A worker's hardware and software fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFingerprint {
    /// Host name.
    pub hostname: String,
    /// CPU model name from /proc/cpuinfo.
    pub cpu_model: String,
    /// SIMD-relevant ISA flags (sse4_2, avx, avx2, fma, avx512*, amx*).
    pub cpu_flags: Vec<String>,
    /// libtorch version, e.g. "2.13.0".
    pub libtorch_version: String,
    /// `at::show_config()`: compiler, MKL, oneDNN and CUDA versions of the libtorch build.
    pub libtorch_config: String,
    /// The CUDA driver as seen through cudarc, or plainly why none could be used.
    pub cuda_driver: String,
    /// Every visible GPU.
    pub gpus: Vec<GpuInfo>,
    /// forgebench version and git revision.
    pub code_version: String,
    /// Intra-op threads libtorch uses.
    pub threads: u32,
    /// The numeric settings libtorch reports in force once the profile is applied (read back, not requested):
    /// `aten_cpu_capability`, `threads`, `onednn`, `cudnn_benchmark`, ...; a library default is recorded as its
    /// value. Empty in fingerprints written before it was recorded.
    #[serde(default)]
    pub settings_in_force: std::collections::BTreeMap<String, String>,
}

impl DeviceFingerprint {
    /// A one-line hardware label for table headers: the GPU (if the profile uses one) or the CPU model.
    pub fn hardware_label(&self, gpu_ordinal: Option<u32>) -> String {
        match gpu_ordinal.and_then(|o| self.gpus.iter().find(|g| g.ordinal == o)) {
            Some(g) => g.label(),
            None => self.cpu_model.clone(),
        }
    }
}
