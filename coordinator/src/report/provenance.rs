//! The provenance block printed under every table: code version, each device's profile settings and fingerprint,
//! libtorch version and build, the seeds, and the sweep's definition.
use super::html::esc;
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::Provenance;
use forgebench_shared::tables::DeviceLabel;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;

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

    /// Markdown rendering.
    pub fn markdown(&self) -> String {
        let mut s = String::from("**Provenance**\n\n");
        let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join("; ");
        let _ = writeln!(s, "- code version: {}", or_none(list(&self.code_versions)));
        let _ = writeln!(s, "- libtorch: {}", or_none(list(&self.libtorch_versions)));
        for d in &self.devices {
            let _ = writeln!(s, "- device `{}`: {}", d.profile.name, device_line(d));
            let _ = writeln!(s, "  - profile settings: `{}`", compact_json(&d.profile));
        }
        let _ = writeln!(s, "- seeds: {}", or_none(seed_line(&self.seeds)));
        for n in &self.notes {
            let _ = writeln!(s, "- note: {n}");
        }
        match &self.sweep {
            Some(v) => {
                let _ = writeln!(s, "- sweep definition:\n\n```json\n{}\n```", pretty(v));
            }
            None => s.push_str("- sweep definition: not given (no sweep.json in the results folder)\n"),
        }
        s
    }

    /// HTML rendering (escaped; long parts folded).
    pub fn html(&self) -> String {
        let mut s = String::from("<div class=\"prov\"><b>Provenance</b><ul>");
        let list = |set: &BTreeSet<String>| esc(&or_none(set.iter().cloned().collect::<Vec<_>>().join("; ")));
        let _ = write!(s, "<li>code version: {}</li>", list(&self.code_versions));
        let _ = write!(s, "<li>libtorch: {}</li>", list(&self.libtorch_versions));
        for d in &self.devices {
            let _ = write!(
                s,
                "<li>device <code>{}</code>: {}<details><summary>profile settings and libtorch build</summary>\
                 <pre>{}</pre><pre>{}</pre></details></li>",
                esc(&d.profile.name),
                esc(&device_line(d)),
                esc(&pretty(&d.profile)),
                esc(&d.fingerprint.libtorch_config)
            );
        }
        let _ = write!(s, "<li>seeds: {}</li>", esc(&or_none(seed_line(&self.seeds))));
        for n in &self.notes {
            let _ = write!(s, "<li>note: {}</li>", esc(n));
        }
        match &self.sweep {
            Some(v) => {
                let _ = write!(s, "<li><details><summary>sweep definition</summary><pre>{}</pre></details></li>", esc(&pretty(v)));
            }
            None => s.push_str("<li>sweep definition: not given (no sweep.json in the results folder)</li>"),
        }
        s.push_str("</ul></div>");
        s
    }
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "not recorded".into()
    } else {
        s
    }
}

fn device_line(d: &DeviceProvenance) -> String {
    let f = &d.fingerprint;
    let gpus = if f.gpus.is_empty() {
        "no GPU".to_owned()
    } else {
        f.gpus
            .iter()
            .map(|g| format!("{} {} ({} MiB)", g.label(), g.uuid, g.total_memory_bytes >> 20))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} on host {}; settings: {}; ISA: {}; {}; CUDA driver: {}; libtorch {} ({}); {}",
        f.cpu_model,
        f.hostname,
        d.profile.label(),
        f.cpu_flags.join(" "),
        gpus,
        f.cuda_driver,
        f.libtorch_version,
        config_summary(&f.libtorch_config),
        f.code_version
    )
}

/// The libraries that decide kernels (MKL, oneDNN, CUDA, cuDNN) out of `at::show_config()`'s text.
pub fn config_summary(cfg: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in cfg.lines().map(str::trim) {
        if line.contains("Math Kernel Library") || line.contains("MKL-DNN") || line.contains("CPU capability") {
            parts.push(line.trim_start_matches("- ").split(" (Git Hash").next().unwrap_or(line).to_owned());
        }
        for tok in line.split(", ") {
            if tok.starts_with("CUDA_VERSION=") || tok.starts_with("CUDNN_VERSION=") {
                parts.push(tok.to_owned());
            }
        }
    }
    if parts.is_empty() {
        "build configuration not reported".into()
    } else {
        parts.join("; ")
    }
}

fn seed_line(seeds: &BTreeSet<SeedEntry>) -> String {
    seeds
        .iter()
        .map(|e| format!("{} {}={}", e.source, e.purpose, e.value))
        .collect::<Vec<_>>()
        .join(", ")
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

fn compact_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("(not serialisable: {e})"))
}

fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("(not serialisable: {e})"))
}
