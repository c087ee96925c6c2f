//! Newtype ids, so a job id can never be passed where a sweep id is expected.
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

id_type!(
    /// Identifies a submitted sweep.
    SweepId
);
id_type!(
    /// Identifies one job of a sweep (stable across coordinator restarts).
    JobId
);
id_type!(
    /// Identifies a registered worker process.
    WorkerId
);
id_type!(
    /// The BLAKE3 hash (hex) of an artifact's bytes: artifacts are content-addressed (see [`crate::content`]).
    ArtifactId
);
id_type!(
    /// Identifies a device: a profile and the hardware and software it ran on, derived from the worker's measured
    /// fingerprint ([`crate::device::device_id`]).
    DeviceId
);
