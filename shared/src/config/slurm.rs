//! The optional `[slurm]` table of `cluster.toml`: how `forgebench slurm launch` asks Slurm for worker tasks.
//!
//! Every value ends up in a generated sbatch script, so validation is strict: names are plain words, one-line
//! values cannot smuggle a second line into the script, and the time limit must be one of Slurm's formats.
use crate::error::{Result, SharedError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// GPUs per node: one count for every node, or a count per named node (heterogeneous machines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GpusPerNode {
    /// The same number of GPUs on each of the job's nodes.
    Count(u32),
    /// Node name to its GPU count; the job is placed on exactly these nodes.
    PerNode(BTreeMap<String, u32>),
}

impl GpusPerNode {
    /// All GPUs the job asks for, given its node count (ignored for a per-node map).
    pub fn total(&self, nodes: u32) -> u32 {
        match self {
            GpusPerNode::Count(n) => n * nodes,
            GpusPerNode::PerNode(m) => m.values().sum(),
        }
    }
}

/// The `[slurm]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    /// `--partition` (a comma-separated list is allowed, as in Slurm).
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--time`, in a Slurm format: "minutes", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS".
    pub time_limit: Option<String>,
    /// `--nodes`; with a per-node GPU map it must equal the number of nodes named there.
    pub nodes: Option<u32>,
    /// CPUs of each worker task; default: the profile's `cpu.threads`, else 1.
    pub cpus_per_task: Option<u32>,
    /// `--mem-per-cpu` (e.g. "4G"), needed where memory is a consumable resource so that tasks do not each
    /// claim the whole node's memory.
    pub mem_per_cpu: Option<String>,
    /// GPUs per node; required when the sweep selects GPU profiles (one worker task per GPU).
    pub gpus_per_node: Option<GpusPerNode>,
    /// The GRES type of the GPUs (e.g. "a100" for `--gres=gpu:a100:N`); any type when absent.
    pub gpu_type: Option<String>,
    /// Worker tasks per CPU profile.
    #[serde(default = "one")]
    pub cpu_workers: u32,
    /// Where Slurm writes the job's and tasks' output; default: the launch's run directory.
    pub output_dir: Option<PathBuf>,
    /// Shell lines run before the workers start (`module load ...`, `source venv/bin/activate`).
    #[serde(default)]
    pub setup: Vec<String>,
    /// Further sbatch options, one per entry (e.g. "--qos=high", "--constraint=avx512").
    #[serde(default)]
    pub sbatch_options: Vec<String>,
    /// How many times the watcher resubmits a sweep's ended Slurm jobs while the sweep still has work.
    #[serde(default = "three")]
    pub resubmit_limit: u32,
    /// How often the watcher asks Slurm about the sweep's jobs, in seconds.
    #[serde(default = "thirty")]
    pub poll_seconds: f64,
}

impl Default for SlurmConfig {
    /// The same values as an empty `[slurm]` table.
    fn default() -> Self {
        SlurmConfig {
            partition: None,
            account: None,
            time_limit: None,
            nodes: None,
            cpus_per_task: None,
            mem_per_cpu: None,
            gpus_per_node: None,
            gpu_type: None,
            cpu_workers: one(),
            output_dir: None,
            setup: Vec::new(),
            sbatch_options: Vec::new(),
            resubmit_limit: three(),
            poll_seconds: thirty(),
        }
    }
}

fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn thirty() -> f64 {
    30.0
}

/// A word safe to put into an sbatch line unquoted: letters, digits and `extra`.
fn plain(v: &str, extra: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// Whether `t` is one of Slurm's time formats (or UNLIMITED/INFINITE).
pub fn is_slurm_time(t: &str) -> bool {
    if t == "UNLIMITED" || t == "INFINITE" {
        return true;
    }
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, t),
    };
    if days.is_some_and(|d| !digits(d)) {
        return false;
    }
    let parts: Vec<&str> = rest.split(':').collect();
    parts.len() <= 3 && parts.iter().all(|p| digits(p))
}

impl SlurmConfig {
    /// Checks every value; errors name the key (`slurm.<key>`).
    pub fn validate(&self) -> Result<()> {
        let key = |k: &str| format!("slurm.{k}");
        for (k, v, extra) in [
            ("partition", &self.partition, "._-,"),
            ("account", &self.account, "._-"),
            ("mem_per_cpu", &self.mem_per_cpu, ""),
            ("gpu_type", &self.gpu_type, "._-"),
        ] {
            if let Some(v) = v {
                if !plain(v, extra) {
                    return Err(SharedError::config(
                        key(k),
                        format!("{v:?}: use letters, digits or {extra:?}"),
                    ));
                }
            }
        }
        if let Some(t) = &self.time_limit {
            if !is_slurm_time(t) {
                return Err(SharedError::config(
                    key("time_limit"),
                    format!("{t:?} is not a Slurm time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)"),
                ));
            }
        }
        for (k, v) in [
            ("nodes", self.nodes),
            ("cpus_per_task", self.cpus_per_task),
            ("cpu_workers", Some(self.cpu_workers)),
        ] {
            if v == Some(0) {
                return Err(SharedError::config(key(k), "must be at least 1"));
            }
        }
        match &self.gpus_per_node {
            Some(GpusPerNode::Count(0)) => {
                return Err(SharedError::config(key("gpus_per_node"), "must be at least 1"));
            }
            // `total` multiplies the count by the nodes in u32.
            Some(GpusPerNode::Count(n)) if n.checked_mul(self.nodes.unwrap_or(1)).is_none() => {
                return Err(SharedError::config(
                    key("gpus_per_node"),
                    format!("{n} GPUs on each of {} nodes exceed u32::MAX", self.nodes.unwrap_or(1)),
                ));
            }
            Some(GpusPerNode::PerNode(m)) => {
                // `total` sums the map in u32; a sum past it would overflow there.
                if m.values().try_fold(0u32, |a, &n| a.checked_add(n)).is_none() {
                    return Err(SharedError::config(
                        key("gpus_per_node"),
                        "the GPUs of all nodes exceed u32::MAX",
                    ));
                }
                if m.is_empty() {
                    return Err(SharedError::config(key("gpus_per_node"), "names no node"));
                }
                for (node, n) in m {
                    if !plain(node, "._-") || *n == 0 {
                        return Err(SharedError::config(
                            key("gpus_per_node"),
                            format!("{node:?} = {n}: a node name (letters, digits, '.', '_', '-') and at least 1 GPU"),
                        ));
                    }
                }
                if self.nodes.is_some_and(|n| n as usize != m.len()) {
                    return Err(SharedError::config(
                        key("nodes"),
                        format!("is {:?} but gpus_per_node names {} nodes", self.nodes, m.len()),
                    ));
                }
            }
            _ => {}
        }
        for (i, line) in self.setup.iter().enumerate() {
            if line.contains(['\n', '\r']) {
                return Err(SharedError::config(format!("slurm.setup[{i}]"), "one line per entry"));
            }
        }
        for (i, opt) in self.sbatch_options.iter().enumerate() {
            if !opt.starts_with('-') || opt.contains(['\n', '\r']) {
                return Err(SharedError::config(
                    format!("slurm.sbatch_options[{i}]"),
                    format!("{opt:?}: one option per entry, starting with '-'"),
                ));
            }
        }
        // The watcher sleeps `Duration::from_secs_f64(poll_seconds)`, which panics past u64 seconds.
        if !(self.poll_seconds > 0.0 && std::time::Duration::try_from_secs_f64(self.poll_seconds).is_ok()) {
            return Err(SharedError::config(
                key("poll_seconds"),
                format!("{} is not a positive number of seconds below 2^64", self.poll_seconds),
            ));
        }
        Ok(())
    }
}
