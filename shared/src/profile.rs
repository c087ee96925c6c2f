//! Device profiles: a device plus explicit numeric settings.
//!
//! Settings that libtorch reads while it loads (`ATEN_CPU_CAPABILITY`, `DNNL_MAX_CPU_ISA`, `MKL_CBWR`, ...) can only
//! be applied by whoever spawns the worker process, so a profile is a worker *process*: [`DeviceProfile::env`] gives
//! the exact environment to spawn it with, and [`DeviceProfile::check_env`] lets the worker refuse to start in any
//! other. In-process switches (threads, oneDNN, cuDNN, TF32) are applied by the worker through its C++ shim.
use crate::error::{Result, SharedError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The environment variable that carries the profile's name into the worker process.
pub const PROFILE_ENV: &str = "FORGEBENCH_PROFILE";

/// Every environment variable a profile controls. A spawner sets those the profile names and removes the others,
/// so that nothing inherited from the parent shell changes the numerics.
pub const MANAGED_ENV: [&str; 9] = [
    "ATEN_CPU_CAPABILITY",
    "DNNL_MAX_CPU_ISA",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUBLAS_WORKSPACE_CONFIG",
    "CUDA_DEVICE_ORDER",
    "NVIDIA_TF32_OVERRIDE",
];

/// Where a profile computes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Device {
    /// The host CPU.
    Cpu,
    /// A CUDA device by ordinal (PCI bus order).
    CudaOrdinal(u32),
    /// A CUDA device by UUID ("GPU-...").
    CudaUuid(String),
}

impl Device {
    /// Whether this is a GPU.
    pub fn is_cuda(&self) -> bool {
        !matches!(self, Device::Cpu)
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::CudaOrdinal(i) => write!(f, "cuda:{i}"),
            Device::CudaUuid(u) => write!(f, "cuda:{u}"),
        }
    }
}

impl From<Device> for String {
    fn from(d: Device) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for Device {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse()
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "cpu" {
            return Ok(Device::Cpu);
        }
        let rest = s
            .strip_prefix("cuda:")
            .ok_or_else(|| format!("device {s:?}: expected \"cpu\", \"cuda:<ordinal>\" or \"cuda:GPU-<uuid>\""))?;
        if let Ok(i) = rest.parse::<u32>() {
            Ok(Device::CudaOrdinal(i))
        } else if rest.starts_with("GPU-") && rest.len() > 4 {
            Ok(Device::CudaUuid(rest.to_owned()))
        } else {
            Err(format!(
                "device {s:?}: after \"cuda:\" expected an ordinal or a UUID starting with GPU-"
            ))
        }
    }
}

/// CPU numeric settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuSettings {
    /// Intra-op threads (also exported as OMP_NUM_THREADS and MKL_NUM_THREADS).
    pub threads: Option<u32>,
    /// `ATEN_CPU_CAPABILITY`: default, avx2, avx512 (x86) or the platform's own names.
    pub aten_cpu_capability: Option<String>,
    /// `DNNL_MAX_CPU_ISA` for oneDNN, e.g. AVX2 or AVX512_CORE.
    pub dnnl_max_cpu_isa: Option<String>,
    /// `MKL_CBWR` (conditional numerical reproducibility), e.g. COMPATIBLE or AVX2,STRICT.
    pub mkl_cbwr: Option<String>,
    /// `MKL_ENABLE_INSTRUCTIONS`, e.g. AVX2.
    pub mkl_enable_instructions: Option<String>,
    /// oneDNN (mkldnn) on or off; on when unset, as in libtorch.
    pub onednn: Option<bool>,
}

/// GPU numeric settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuSettings {
    /// cuDNN auto-tuning (the paper's cause of same-GPU drift).
    pub cudnn_benchmark: Option<bool>,
    /// cuDNN deterministic algorithms.
    pub cudnn_deterministic: Option<bool>,
    /// `torch.use_deterministic_algorithms`.
    pub deterministic_algorithms: Option<bool>,
    /// TF32 in cuBLAS matmuls.
    pub tf32_cublas: Option<bool>,
    /// TF32 in cuDNN convolutions (libtorch's default is on, Ampere and newer).
    pub tf32_cudnn: Option<bool>,
    /// `CUBLAS_WORKSPACE_CONFIG`, e.g. ":4096:8" (needed for deterministic cuBLAS).
    pub cublas_workspace_config: Option<String>,
    /// `NVIDIA_TF32_OVERRIDE` (false exports 0: TF32 off everywhere, whatever the process asks).
    pub nvidia_tf32_override: Option<bool>,
}

/// A named device profile.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceProfile {
    /// Unique name, e.g. "cpu-avx2" or "rtx4090-tf32".
    pub name: String,
    /// The device.
    #[serde(default = "default_device")]
    pub device: Device,
    /// CPU settings.
    #[serde(default)]
    pub cpu: CpuSettings,
    /// GPU settings (only for CUDA devices).
    #[serde(default)]
    pub gpu: GpuSettings,
}

fn default_device() -> Device {
    Device::Cpu
}

const ATEN_CAPS: [&str; 6] = ["default", "avx2", "avx512", "zvector", "vsx", "sve256"];

impl DeviceProfile {
    /// A CPU profile with no settings but a name.
    pub fn cpu(name: &str) -> Self {
        DeviceProfile {
            name: name.to_owned(),
            device: Device::Cpu,
            cpu: CpuSettings::default(),
            gpu: GpuSettings::default(),
        }
    }

    /// Checks names and values; errors name the offending key.
    pub fn validate(&self) -> Result<()> {
        let key = |k: &str| format!("profile.{}.{}", self.name, k);
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(SharedError::config(
                "profile.name",
                format!("{:?}: use letters, digits, '-', '_' or '.'", self.name),
            ));
        }
        if let Some(t) = self.cpu.threads {
            if t == 0 {
                return Err(SharedError::config(key("cpu.threads"), "must be at least 1"));
            }
        }
        if let Some(c) = &self.cpu.aten_cpu_capability {
            if !ATEN_CAPS.contains(&c.as_str()) {
                return Err(SharedError::config(
                    key("cpu.aten_cpu_capability"),
                    format!("{c:?} is not one of {ATEN_CAPS:?}"),
                ));
            }
        }
        for (k, v) in [
            ("cpu.dnnl_max_cpu_isa", &self.cpu.dnnl_max_cpu_isa),
            ("cpu.mkl_cbwr", &self.cpu.mkl_cbwr),
            ("cpu.mkl_enable_instructions", &self.cpu.mkl_enable_instructions),
            ("gpu.cublas_workspace_config", &self.gpu.cublas_workspace_config),
        ] {
            if let Some(v) = v {
                if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == '=') {
                    return Err(SharedError::config(key(k), format!("{v:?} is not a valid value")));
                }
            }
        }
        if !self.device.is_cuda() && self.gpu != GpuSettings::default() {
            return Err(SharedError::config(
                key("gpu"),
                "GPU settings on a CPU profile have no effect",
            ));
        }
        // With deterministic algorithms on, libtorch raises on every cuBLAS call unless cuBLAS's workspace is one
        // of the two deterministic configurations.
        let ws = self.gpu.cublas_workspace_config.as_deref();
        if self.gpu.deterministic_algorithms == Some(true) && !matches!(ws, Some(":4096:8" | ":16:8")) {
            return Err(SharedError::config(
                key("gpu.cublas_workspace_config"),
                format!(
                    "deterministic_algorithms = true needs \":4096:8\" or \":16:8\" (libtorch refuses every cuBLAS \
                     call otherwise), not {}",
                    ws.map_or("unset".to_owned(), |w| format!("{w:?}"))
                ),
            ));
        }
        Ok(())
    }

    /// The exact environment a worker of this profile is spawned with: `(name, Some(value))` to set,
    /// `(name, None)` to remove.
    pub fn env(&self) -> Vec<(String, Option<String>)> {
        let mut set: Vec<(&str, String)> = vec![(PROFILE_ENV, self.name.clone())];
        let c = &self.cpu;
        if let Some(v) = &c.aten_cpu_capability {
            set.push(("ATEN_CPU_CAPABILITY", v.clone()));
        }
        if let Some(v) = &c.dnnl_max_cpu_isa {
            set.push(("DNNL_MAX_CPU_ISA", v.clone()));
        }
        if let Some(v) = &c.mkl_cbwr {
            set.push(("MKL_CBWR", v.clone()));
        }
        if let Some(v) = &c.mkl_enable_instructions {
            set.push(("MKL_ENABLE_INSTRUCTIONS", v.clone()));
        }
        if let Some(t) = c.threads {
            set.push(("OMP_NUM_THREADS", t.to_string()));
            set.push(("MKL_NUM_THREADS", t.to_string()));
        }
        if self.device.is_cuda() {
            set.push(("CUDA_DEVICE_ORDER", "PCI_BUS_ID".to_owned()));
            if let Some(v) = &self.gpu.cublas_workspace_config {
                set.push(("CUBLAS_WORKSPACE_CONFIG", v.clone()));
            }
            if let Some(v) = self.gpu.nvidia_tf32_override {
                set.push(("NVIDIA_TF32_OVERRIDE", if v { "1" } else { "0" }.to_owned()));
            }
        }
        let mut out: Vec<(String, Option<String>)> =
            set.iter().map(|(k, v)| (k.to_string(), Some(v.clone()))).collect();
        for m in MANAGED_ENV {
            if !set.iter().any(|(k, _)| *k == m) {
                out.push((m.to_owned(), None));
            }
        }
        out
    }

    /// Compares the profile's environment with `lookup` (normally `std::env::var`), naming the first mismatch.
    pub fn check_env(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<()> {
        for (var, expected) in self.env() {
            let actual = lookup(&var);
            if actual != expected {
                return Err(SharedError::ProfileEnv {
                    profile: self.name.clone(),
                    var,
                    expected,
                    actual,
                });
            }
        }
        Ok(())
    }

    /// A short human label of the settings, e.g. "cpu, avx2, 1 thread, oneDNN off".
    pub fn label(&self) -> String {
        let mut parts = vec![self.device.to_string()];
        let c = &self.cpu;
        if let Some(v) = &c.aten_cpu_capability {
            parts.push(format!("aten {v}"));
        }
        if let Some(v) = &c.dnnl_max_cpu_isa {
            parts.push(format!("dnnl {v}"));
        }
        if let Some(v) = &c.mkl_cbwr {
            parts.push(format!("cbwr {v}"));
        }
        if let Some(v) = &c.mkl_enable_instructions {
            parts.push(format!("mkl {v}"));
        }
        if let Some(t) = c.threads {
            parts.push(format!("{t} thread{}", if t == 1 { "" } else { "s" }));
        }
        if c.onednn == Some(false) {
            parts.push("oneDNN off".into());
        }
        let g = &self.gpu;
        for (name, v) in [
            ("cudnn benchmark", g.cudnn_benchmark),
            ("cudnn deterministic", g.cudnn_deterministic),
            ("deterministic", g.deterministic_algorithms),
            ("TF32 cuBLAS", g.tf32_cublas),
            ("TF32 cuDNN", g.tf32_cudnn),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name} {}", if v { "on" } else { "off" }));
            }
        }
        parts.join(", ")
    }
}

/// Parses one profile from TOML text (a `[profile]`-style table), for command-line use and tests.
pub fn parse_profile_toml(text: &str) -> Result<DeviceProfile> {
    let p: DeviceProfile = toml::from_str(text).map_err(|e| SharedError::Toml {
        path: "<profile>".into(),
        message: e.to_string(),
    })?;
    p.validate()?;
    Ok(p)
}

/// Every built-in CPU profile: AVX-512 kernels, AVX2 kernels, AVX2 kernels with MKL in its compatible
/// (conditional numerical reproducibility) code path, and the portable default kernels with oneDNN off.
pub fn builtin_cpu_profiles() -> Vec<DeviceProfile> {
    // Each sets all three libraries' ISA alike (ATen's kernels, oneDNN's convolutions, MKL's GEMMs): a profile
    // named for an ISA runs on that ISA throughout, not ATen on AVX2 beside oneDNN and MKL on AVX-512.
    let mk = |name: &str, aten: &str, dnnl: &str, mkl: &str, onednn: Option<bool>| {
        let mut p = DeviceProfile::cpu(name);
        p.cpu.aten_cpu_capability = Some(aten.to_owned());
        p.cpu.dnnl_max_cpu_isa = Some(dnnl.to_owned());
        p.cpu.mkl_enable_instructions = Some(mkl.to_owned());
        p.cpu.threads = Some(1);
        p.cpu.onednn = onednn;
        p
    };
    let mut compat = mk("cpu-compat", "avx2", "AVX2", "AVX2", None);
    compat.cpu.mkl_cbwr = Some("COMPATIBLE".into());
    vec![
        mk("cpu-avx512", "avx512", "AVX512_CORE", "AVX512", None),
        mk("cpu-avx2", "avx2", "AVX2", "AVX2", None),
        compat,
        mk("cpu-default", "default", "SSE41", "SSE4_2", Some(false)),
    ]
}

/// Three built-in CPU profiles that differ numerically on this machine (one thread each, so they also run side by
/// side): AVX-512, AVX2 and the portable default kernels where the CPU has AVX-512; where it has not (AVX-512
/// kernels would die of an illegal instruction), MKL's compatible path on AVX2 takes AVX-512's place.
pub fn default_cpu_profiles() -> Vec<DeviceProfile> {
    default_cpu_profiles_for(crate::host_cpu::HostCpu::read().as_ref())
}

/// [`default_cpu_profiles`] for `host` (None: a CPU that cannot be read, taken to run them all).
pub fn default_cpu_profiles_for(host: Option<&crate::host_cpu::HostCpu>) -> Vec<DeviceProfile> {
    let first = if host.is_none_or(|h| h.runs_capability("avx512")) {
        "cpu-avx512"
    } else {
        "cpu-compat"
    };
    let all = builtin_cpu_profiles();
    [first, "cpu-avx2", "cpu-default"]
        .iter()
        .filter_map(|n| all.iter().find(|p| p.name == *n).cloned())
        .collect()
}

/// A CPU profile named `name` that matches the current process environment, for ad-hoc runs without a profile.
pub fn ambient_profile(name: &str, lookup: impl Fn(&str) -> Option<String>) -> DeviceProfile {
    let mut p = DeviceProfile::cpu(name);
    p.cpu.aten_cpu_capability = lookup("ATEN_CPU_CAPABILITY");
    p.cpu.dnnl_max_cpu_isa = lookup("DNNL_MAX_CPU_ISA");
    p.cpu.mkl_cbwr = lookup("MKL_CBWR");
    p.cpu.mkl_enable_instructions = lookup("MKL_ENABLE_INSTRUCTIONS");
    p.cpu.threads = lookup("OMP_NUM_THREADS").and_then(|t| t.parse().ok());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_setting_names_the_key() {
        let err = parse_profile_toml("name = \"x\"\n[cpu]\nthreads = 1\nturbo = true\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("turbo"), "{msg}");
    }

    #[test]
    fn bad_capability_names_the_key() {
        let err = parse_profile_toml("name = \"x\"\n[cpu]\naten_cpu_capability = \"avx3\"\n").unwrap_err();
        assert!(err.to_string().contains("cpu.aten_cpu_capability"), "{err}");
    }

    #[test]
    fn env_sets_and_removes() {
        let mut p = DeviceProfile::cpu("a");
        p.cpu.aten_cpu_capability = Some("avx2".into());
        p.cpu.threads = Some(1);
        let env = p.env();
        assert!(env.contains(&("ATEN_CPU_CAPABILITY".into(), Some("avx2".into()))));
        assert!(env.contains(&("MKL_CBWR".into(), None)));
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.clone());
        p.check_env(lookup).unwrap();
        let err = p.check_env(|_| None).unwrap_err();
        assert!(err.to_string().contains(PROFILE_ENV), "{err}");
    }

    #[test]
    fn device_parses() {
        assert_eq!("cuda:1".parse::<Device>().unwrap(), Device::CudaOrdinal(1));
        assert!(matches!("cuda:GPU-abc".parse::<Device>().unwrap(), Device::CudaUuid(_)));
        assert!("gpu0".parse::<Device>().is_err());
    }

    #[test]
    fn deterministic_algorithms_need_a_deterministic_cublas_workspace() {
        let mut p = DeviceProfile::cpu("gpu0");
        p.device = Device::CudaOrdinal(0);
        p.gpu.deterministic_algorithms = Some(true);
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("gpu.cublas_workspace_config") && e.contains("unset"), "{e}");
        p.gpu.cublas_workspace_config = Some(":0:0".into());
        assert!(p.validate().unwrap_err().to_string().contains("\":0:0\""));
        for ok in [":4096:8", ":16:8"] {
            p.gpu.cublas_workspace_config = Some(ok.into());
            p.validate().unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }
}
