//! An explanation in words: the settings in which two profiles differ, the site where their values part, and the
//! per-site table.
use super::{Explanation, SiteDiff};
use crate::numfmt::error as sci;
use crate::profile::DeviceProfile;
use serde::{Deserialize, Serialize};

/// The settings of `a` and `b` that differ, as "cpu.NAME a-value / b-value" ("unset" where a profile leaves it to
/// libtorch), from every CPU and GPU setting of the profiles, and the device.
pub fn settings_differences(a: &DeviceProfile, b: &DeviceProfile) -> Vec<String> {
    let fields = |p: &DeviceProfile| -> Vec<(String, String)> {
        let mut v = Vec::new();
        for (group, value) in [
            ("cpu", serde_json::to_value(&p.cpu)),
            ("gpu", serde_json::to_value(&p.gpu)),
        ] {
            if let Ok(serde_json::Value::Object(m)) = value {
                for (k, x) in m {
                    let text = match x {
                        serde_json::Value::Null => "unset".to_owned(),
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    v.push((format!("{group}.{k}"), text));
                }
            }
        }
        v
    };
    let (fa, fb) = (fields(a), fields(b));
    let get = |f: &[(String, String)], k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map_or_else(|| "unset".to_owned(), |(_, v)| v.clone())
    };
    let mut names: Vec<&str> = fa.iter().chain(&fb).map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    if a.device != b.device {
        out.push(format!("device {} / {}", a.device, b.device));
    }
    for n in names {
        let (x, y) = (get(&fa, n), get(&fb, n));
        if x != y {
            out.push(format!("{n} {x} / {y}"));
        }
    }
    out
}

/// The first differing site of a comparison and the last site (the update), for a one-line summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteSummary {
    /// The first site whose values differ; none when the traces agree bit for bit.
    pub first_differing: Option<SiteDiff>,
    /// Its position among the sites (0-based) and the number of sites.
    pub position: Option<(usize, usize)>,
    /// The last site (the update).
    pub last: Option<SiteDiff>,
}

impl Explanation {
    /// The first differing site and the last one.
    pub fn summary(&self) -> SiteSummary {
        let pos = self.sites.iter().position(|s| s.differing > 0);
        SiteSummary {
            first_differing: pos.map(|i| self.sites[i].clone()),
            position: pos.map(|i| (i, self.sites.len())),
            last: self.sites.last().cloned(),
        }
    }
}

/// The explanation as Markdown under `heading`: where `a` and `b` part, the settings that differ, every site.
pub fn markdown(e: &Explanation, a: &DeviceProfile, b: &DeviceProfile, heading: &str) -> String {
    let mut s = format!(
        "**{heading}, {} arm: {} ({}) against {} ({})**\n\n",
        e.arithmetic,
        a.name,
        a.label(),
        b.name,
        b.label()
    );
    let diffs = settings_differences(a, b);
    if !diffs.is_empty() {
        s += &format!("Settings that differ: {}.\n\n", diffs.join("; "));
    }
    s += &match &e.first_differing {
        Some(site) => format!("They part at {site}; every site before it is bit for bit equal.\n\n"),
        None => "Every site is bit for bit equal.\n\n".to_owned(),
    };
    s += "| site | values | differing | L2 | Linf | L2 / norm | max (f32 gaps) | max / exact-arm tolerance |\n\
          |---|---|---|---|---|---|---|---|\n";
    for d in &e.sites {
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            d.site,
            d.values,
            d.differing,
            sci(d.l2),
            sci(d.linf),
            sci(d.rel),
            sci(d.max_gaps),
            sci(d.over_tolerance)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_differ_name_each_field_and_both_values() {
        let mut a = DeviceProfile::cpu("a");
        let mut b = DeviceProfile::cpu("b");
        a.cpu.aten_cpu_capability = Some("avx2".into());
        b.cpu.onednn = Some(false);
        b.cpu.threads = Some(1);
        assert_eq!(
            settings_differences(&a, &b),
            [
                "cpu.aten_cpu_capability avx2 / unset",
                "cpu.onednn unset / false",
                "cpu.threads unset / 1"
            ]
        );
        assert!(settings_differences(&a, &a).is_empty());
    }
}
