//! Provenance: what every result records about how it was computed.
use crate::fingerprint::DeviceFingerprint;
use crate::profile::DeviceProfile;
use serde::{Deserialize, Serialize};

/// forgebench's version and the git revision it was built from (when built from a checkout).
pub fn code_version() -> String {
    match option_env!("FORGEBENCH_GIT_REV") {
        Some(rev) if !rev.is_empty() => format!("forgebench {} ({rev})", env!("CARGO_PKG_VERSION")),
        _ => format!("forgebench {}", env!("CARGO_PKG_VERSION")),
    }
}

/// Where and how a result was computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// [`code_version`] of the process that computed it.
    pub code_version: String,
    /// The profile it ran under.
    pub profile: DeviceProfile,
    /// The worker's fingerprint (libtorch version and configuration included).
    pub fingerprint: DeviceFingerprint,
    /// Seeds used, by purpose.
    pub seeds: Vec<(String, u64)>,
}

impl Provenance {
    /// The device the result was computed on.
    pub fn device_id(&self) -> crate::ids::DeviceId {
        crate::device::device_id(&self.profile, &self.fingerprint)
    }
}
