//! Markdown and HTML renderings of a [`ProvenanceBlock`]: one line per device (hardware, settings, ISA, GPUs,
//! driver, the libraries that pick kernels), the full profile and libtorch build folded away in HTML, the seeds and
//! the sweep's definition.
use super::html::esc;
use super::provenance::{DeviceProvenance, ProvenanceBlock, SeedEntry};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;

impl ProvenanceBlock {
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
                let _ = write!(
                    s,
                    "<li><details><summary>sweep definition</summary><pre>{}</pre></details></li>",
                    esc(&pretty(v))
                );
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
    let in_force = if f.settings_in_force.is_empty() {
        "not recorded".to_owned()
    } else {
        f.settings_in_force
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} on host {}; settings: {}; in force: {in_force}; ISA: {}; {}; CUDA driver: {}; libtorch {} ({}); {}",
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
            parts.push(
                line.trim_start_matches("- ")
                    .split(" (Git Hash")
                    .next()
                    .unwrap_or(line)
                    .to_owned(),
            );
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

fn compact_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("(not serialisable: {e})"))
}

fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("(not serialisable: {e})"))
}
