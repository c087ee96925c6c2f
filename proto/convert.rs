//! The one place where prost messages meet the domain types of `forgebench-shared`: profiles and fingerprints go
//! both ways; a missing required field is an error naming it, never a panic.
use crate::error::ProtoError as ConvertError;
use crate::v1;
use forgebench_shared::fingerprint::{DeviceFingerprint, GpuInfo};
use forgebench_shared::profile::{CpuSettings, Device, DeviceProfile, GpuSettings};

impl From<&Device> for v1::DeviceSelector {
    fn from(d: &Device) -> Self {
        use v1::device_selector::Kind;
        let kind = match d {
            Device::Cpu => Kind::Cpu(true),
            Device::CudaOrdinal(o) => Kind::CudaOrdinal(*o),
            Device::CudaUuid(u) => Kind::CudaUuid(u.clone()),
        };
        v1::DeviceSelector { kind: Some(kind) }
    }
}

impl TryFrom<v1::DeviceSelector> for Device {
    type Error = ConvertError;
    fn try_from(d: v1::DeviceSelector) -> Result<Self, ConvertError> {
        use v1::device_selector::Kind;
        match d.kind.ok_or(ConvertError::Missing("profile.device.kind"))? {
            Kind::Cpu(_) => Ok(Device::Cpu),
            Kind::CudaOrdinal(o) => Ok(Device::CudaOrdinal(o)),
            Kind::CudaUuid(u) => Ok(Device::CudaUuid(u)),
        }
    }
}

impl From<&DeviceProfile> for v1::DeviceProfile {
    fn from(p: &DeviceProfile) -> Self {
        let c = &p.cpu;
        let g = &p.gpu;
        v1::DeviceProfile {
            name: p.name.clone(),
            device: Some((&p.device).into()),
            cpu: Some(v1::CpuSettings {
                threads: c.threads,
                aten_cpu_capability: c.aten_cpu_capability.clone(),
                dnnl_max_cpu_isa: c.dnnl_max_cpu_isa.clone(),
                mkl_cbwr: c.mkl_cbwr.clone(),
                mkl_enable_instructions: c.mkl_enable_instructions.clone(),
                onednn: c.onednn,
            }),
            gpu: Some(v1::GpuSettings {
                cudnn_benchmark: g.cudnn_benchmark,
                cudnn_deterministic: g.cudnn_deterministic,
                deterministic_algorithms: g.deterministic_algorithms,
                tf32_cublas: g.tf32_cublas,
                tf32_cudnn: g.tf32_cudnn,
                cublas_workspace_config: g.cublas_workspace_config.clone(),
                nvidia_tf32_override: g.nvidia_tf32_override,
            }),
        }
    }
}

impl TryFrom<v1::DeviceProfile> for DeviceProfile {
    type Error = ConvertError;
    fn try_from(p: v1::DeviceProfile) -> Result<Self, ConvertError> {
        let device = p.device.ok_or(ConvertError::Missing("profile.device"))?.try_into()?;
        // Absent settings messages mean "nothing set", exactly like the TOML defaults.
        let c = p.cpu.unwrap_or_default();
        let g = p.gpu.unwrap_or_default();
        let profile = DeviceProfile {
            name: p.name,
            device,
            cpu: CpuSettings {
                threads: c.threads,
                aten_cpu_capability: c.aten_cpu_capability,
                dnnl_max_cpu_isa: c.dnnl_max_cpu_isa,
                mkl_cbwr: c.mkl_cbwr,
                mkl_enable_instructions: c.mkl_enable_instructions,
                onednn: c.onednn,
            },
            gpu: GpuSettings {
                cudnn_benchmark: g.cudnn_benchmark,
                cudnn_deterministic: g.cudnn_deterministic,
                deterministic_algorithms: g.deterministic_algorithms,
                tf32_cublas: g.tf32_cublas,
                tf32_cudnn: g.tf32_cudnn,
                cublas_workspace_config: g.cublas_workspace_config,
                nvidia_tf32_override: g.nvidia_tf32_override,
            },
        };
        profile.validate().map_err(|e| ConvertError::Invalid {
            field: "profile",
            problem: e.to_string(),
        })?;
        Ok(profile)
    }
}

impl From<&DeviceFingerprint> for v1::DeviceFingerprint {
    fn from(f: &DeviceFingerprint) -> Self {
        v1::DeviceFingerprint {
            hostname: f.hostname.clone(),
            cpu_model: f.cpu_model.clone(),
            cpu_flags: f.cpu_flags.clone(),
            libtorch_version: f.libtorch_version.clone(),
            libtorch_config: f.libtorch_config.clone(),
            cuda_driver: f.cuda_driver.clone(),
            gpus: f
                .gpus
                .iter()
                .map(|g| v1::GpuInfo {
                    ordinal: g.ordinal,
                    name: g.name.clone(),
                    uuid: g.uuid.clone(),
                    compute_major: g.compute_capability.0,
                    compute_minor: g.compute_capability.1,
                    total_memory_bytes: g.total_memory_bytes,
                })
                .collect(),
            code_version: f.code_version.clone(),
            threads: f.threads,
            settings_in_force: f.settings_in_force.clone().into_iter().collect(),
        }
    }
}

impl From<v1::DeviceFingerprint> for DeviceFingerprint {
    fn from(f: v1::DeviceFingerprint) -> Self {
        DeviceFingerprint {
            hostname: f.hostname,
            cpu_model: f.cpu_model,
            cpu_flags: f.cpu_flags,
            libtorch_version: f.libtorch_version,
            libtorch_config: f.libtorch_config,
            cuda_driver: f.cuda_driver,
            gpus: f
                .gpus
                .into_iter()
                .map(|g| GpuInfo {
                    ordinal: g.ordinal,
                    name: g.name,
                    uuid: g.uuid,
                    compute_capability: (g.compute_major, g.compute_minor),
                    total_memory_bytes: g.total_memory_bytes,
                })
                .collect(),
            code_version: f.code_version,
            threads: f.threads,
            settings_in_force: f.settings_in_force.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forgebench_shared::profile::default_cpu_profiles;

    #[test]
    fn profiles_round_trip() {
        for p in default_cpu_profiles() {
            let msg: v1::DeviceProfile = (&p).into();
            let back = DeviceProfile::try_from(msg).expect("valid profile");
            assert_eq!(back, p);
        }
    }

    #[test]
    fn missing_device_is_named() {
        let mut msg: v1::DeviceProfile = (&DeviceProfile::cpu("x")).into();
        msg.device = None;
        let err = DeviceProfile::try_from(msg).unwrap_err();
        assert!(err.to_string().contains("profile.device"), "{err}");
    }
}
