//! The provenance block printed under every table: code version, each device's profile settings and fingerprint,
//! libtorch version and build, the seeds, and the sweep's definition.
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::Provenance;
use forgebench_shared::tables::DeviceLabel;
use serde::Serialize;
use std::collections::BTreeSet;

/// One device that contributed to a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceProvenance {
    /// The profile, every setting.
    pub profile: DeviceProfile,
    /// What the worker reported.
    pub fingerprint: DeviceFingerprint,
}

/// A seed, where it was recorded and what it is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SeedEntry {
    /// The result or sweep key that recorded it.
    pub source: String,
    /// Its purpose.
    pub purpose: String,
    /// The value.
    pub value: u64,
}

/// Provenance of one table.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ProvenanceBlock {
    /// Code versions of the processes that computed the numbers (from fingerprints and results).
    pub code_versions: BTreeSet<String>,
    /// libtorch versions.
    pub libtorch_versions: BTreeSet<String>,
    /// Devices, each once.
    pub devices: Vec<DeviceProvenance>,
    /// Seeds.
    pub seeds: BTreeSet<SeedEntry>,
    /// The sweep's definition.
    pub sweep: Option<serde_json::Value>,
    /// What the block does not cover.
    pub notes: Vec<String>,
}

impl ProvenanceBlock {
    /// A block that starts with the sweep's definition and its seeds.
    pub fn new(sweep: Option<&serde_json::Value>) -> Self {
        let mut b = ProvenanceBlock {
            sweep: sweep.cloned(),
            ..Default::default()
        };
        if let Some(s) = sweep {
            collect_seeds(s, "sweep", &mut b.seeds);
        }
        b
    }

    /// Records a device of a matrix.
    pub fn add_device(&mut self, d: &DeviceLabel) {
        self.code_versions.insert(d.fingerprint.code_version.clone());
        self.libtorch_versions.insert(d.fingerprint.libtorch_version.clone());
        if !self
            .devices
            .iter()
            .any(|x| x.profile == d.profile && x.fingerprint == d.fingerprint)
        {
            self.devices.push(DeviceProvenance {
                profile: d.profile.clone(),
                fingerprint: d.fingerprint.clone(),
            });
        }
    }

    /// Records a result's provenance; `source` names the result.
    pub fn add(&mut self, source: &str, p: &Provenance) {
        self.code_versions.insert(p.code_version.clone());
        self.add_device(&DeviceLabel {
            profile: p.profile.clone(),
            fingerprint: p.fingerprint.clone(),
        });
        for (purpose, value) in &p.seeds {
            self.seeds.insert(SeedEntry {
                source: source.to_owned(),
                purpose: purpose.clone(),
                value: *value,
            });
        }
    }
}

/// Every number (or array of numbers) under a key that contains "seed", with its JSON path.
fn collect_seeds(v: &serde_json::Value, path: &str, out: &mut BTreeSet<SeedEntry>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                let p = format!("{path}.{k}");
                let nums: Vec<u64> = match x {
                    serde_json::Value::Number(n) => n.as_u64().into_iter().collect(),
                    serde_json::Value::Array(a) => a.iter().filter_map(|e| e.as_u64()).collect(),
                    _ => Vec::new(),
                };
                if k.to_ascii_lowercase().contains("seed") && !nums.is_empty() {
                    for value in nums {
                        out.insert(SeedEntry {
                            source: path.to_owned(),
                            purpose: k.clone(),
                            value,
                        });
                    }
                } else {
                    collect_seeds(x, &p, out);
                }
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_seeds(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}
