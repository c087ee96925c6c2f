//! Device identity: a device is a profile *and* the hardware and software it actually runs on. Its id is derived
//! from the worker's measured fingerprint, so two hosts under one profile name are two devices, and two processes
//! of one profile on one host (same CPU, GPU model, libtorch build and settings in force) are one device that may
//! share its jobs.
use crate::fingerprint::DeviceFingerprint;
use crate::ids::DeviceId;
use crate::profile::DeviceProfile;

/// Hex digits of a device id (BLAKE3 of its identity): 64 bits, far from any collision among a lab's devices.
const ID_HEX: usize = 16;

/// The stable id of `profile` running on `fp`: hashed over the profile and every identity field of the
/// fingerprint (host, CPU model and flags, libtorch version and build, CUDA driver, each GPU, thread count and the
/// settings in force). The code version is left out: a rebuild of forgebench runs on the same device.
pub fn device_id(profile: &DeviceProfile, fp: &DeviceFingerprint) -> DeviceId {
    let identity = serde_json::json!({
        "profile": profile,
        "hostname": fp.hostname,
        "cpu_model": fp.cpu_model,
        "cpu_flags": fp.cpu_flags,
        "libtorch_version": fp.libtorch_version,
        "libtorch_config": fp.libtorch_config,
        "cuda_driver": fp.cuda_driver,
        "gpus": fp.gpus,
        "threads": fp.threads,
        "settings_in_force": fp.settings_in_force,
    });
    let hash = blake3::hash(identity.to_string().as_bytes());
    DeviceId(format!("dev-{}", &hash.to_hex()[..ID_HEX]))
}

/// The first 6 hex digits of `id`, for job ids and labels (`cpu-avx2.3f9a1c`).
pub fn short(id: &DeviceId) -> &str {
    let hex = id.0.strip_prefix("dev-").unwrap_or(&id.0);
    &hex[..hex.len().min(6)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(host: &str) -> DeviceFingerprint {
        DeviceFingerprint {
            hostname: host.into(),
            cpu_model: "Xeon".into(),
            cpu_flags: vec!["avx2".into()],
            libtorch_version: "2.13.0".into(),
            libtorch_config: String::new(),
            cuda_driver: "none".into(),
            gpus: vec![],
            code_version: "a".into(),
            threads: 1,
            settings_in_force: [("aten_cpu_capability".to_owned(), "AVX2".to_owned())].into(),
        }
    }

    #[test]
    fn hosts_differ_code_versions_do_not() {
        let p = DeviceProfile::cpu("cpu-avx2");
        let a = device_id(&p, &fp("laba"));
        assert_eq!(a, device_id(&p, &fp("laba")), "stable");
        assert_ne!(a, device_id(&p, &fp("labb")), "two hosts are two devices");
        let mut rebuilt = fp("laba");
        rebuilt.code_version = "b".into();
        assert_eq!(a, device_id(&p, &rebuilt), "a rebuild runs on the same device");
        let mut other = fp("laba");
        other
            .settings_in_force
            .insert("aten_cpu_capability".into(), "DEFAULT".into());
        assert_ne!(a, device_id(&p, &other), "settings in force are part of the device");
        assert_ne!(
            a,
            device_id(&DeviceProfile::cpu("cpu-default"), &fp("laba")),
            "so is the profile"
        );
        assert!(a.0.starts_with("dev-") && a.0.len() == 4 + ID_HEX, "{a}");
        assert_eq!(short(&a).len(), 6);
    }
}
