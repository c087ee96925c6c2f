//! Fixtures shared by the crate's unit tests: a device fingerprint and a sweep recorded in a ledger.
use crate::ledger::{Ledger, SweepRecord};
use crate::plan::{expand, sweep_identity};
use forgebench_shared::config::SweepConfig;
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::ids::{DeviceId, SweepId};
use forgebench_shared::profile::DeviceProfile;

/// A CPU-only fingerprint with the given CPU model.
pub fn fingerprint(cpu_model: &str) -> DeviceFingerprint {
    DeviceFingerprint {
        hostname: "h".into(),
        cpu_model: cpu_model.into(),
        cpu_flags: vec![],
        libtorch_version: "2.13".into(),
        libtorch_config: String::new(),
        cuda_driver: "none".into(),
        gpus: vec![],
        code_version: "t".into(),
        threads: 1,
        settings_in_force: Default::default(),
    }
}

/// The device of `profile` on [`fingerprint`]`("cpu")`, the one [`record_sweep`] expands over.
pub fn device(l: &Ledger, profile: &DeviceProfile) -> DeviceId {
    l.add_device(profile, &fingerprint("cpu")).expect("device")
}

/// Records `cfg` over one device per profile ([`device`]) and expands it with `attempts` attempts per job; returns
/// its id and whether the same sweep was already recorded.
pub fn record_sweep(l: &Ledger, cfg: &SweepConfig, profiles: &[DeviceProfile], attempts: u32) -> (SweepId, bool) {
    let (id, fp) = sweep_identity(cfg, profiles);
    let text = toml::to_string(cfg).expect("sweep as TOML");
    let rec = SweepRecord {
        id: &id,
        name: &cfg.name,
        fingerprint: &fp,
        config_toml: &text,
        profiles,
    };
    let existed = l.insert_sweep(rec).expect("insert");
    for p in profiles {
        l.attach_device(&id, &device(l, p)).expect("attach");
    }
    let devices = l.sweep_devices(&id).expect("devices");
    l.add_jobs(&id, &expand(&id, cfg, profiles, &devices), attempts)
        .expect("jobs");
    (id, existed)
}
