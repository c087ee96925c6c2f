//! `cluster.toml`: the coordinator's settings, the worker profiles and the named sweeps.
//!
//! Configuration is two-stage: the TOML file is parsed strictly (`deny_unknown_fields`, so a misspelt key is an
//! error naming it), command-line overrides are applied, and [`ClusterConfig::validate`] checks the result once.
//! Everything downstream takes the validated struct.
mod slurm;
mod sweep;

pub use slurm::{is_slurm_time, GpusPerNode, SlurmConfig};
pub use sweep::{DeviceSelection, ExperimentKind, ModelEntry, SweepConfig, TorchModel, Verification};

use crate::error::{Result, SharedError};
use crate::profile::DeviceProfile;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Longest lease (and so heartbeat) accepted: u32::MAX milliseconds, the width the protocol sends them in.
pub const MAX_LEASE_SECONDS: f64 = u32::MAX as f64 / 1000.0;

/// The environment variable a token is read from unless the config names another.
pub const DEFAULT_TOKEN_ENV: &str = "FORGEBENCH_TOKEN";

/// Optional TLS (rustls) for the coordinator's endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of the coordinator.
    pub cert: PathBuf,
    /// PEM private key of the coordinator.
    pub key: PathBuf,
    /// PEM CA certificate clients trust (defaults to `cert`, for a self-signed certificate).
    pub ca: Option<PathBuf>,
    /// Server name clients expect in the certificate.
    #[serde(default = "default_domain")]
    pub domain: String,
}

fn default_domain() -> String {
    "localhost".into()
}

/// The `[coordinator]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    /// Address the coordinator listens on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// File holding the shared token (created by `forgebench up` when missing).
    pub token_file: Option<PathBuf>,
    /// Environment variable that overrides the token file.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// The SQLite ledger; artifacts are stored in `artifacts/` beside it.
    pub ledger: PathBuf,
    /// A lease lasts this long without a heartbeat.
    #[serde(default = "default_lease")]
    pub lease_seconds: f64,
    /// Workers send heartbeats this often.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_seconds: f64,
    /// Attempts per job before it is marked failed.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Largest gRPC message accepted, in bytes (artifact chunks are smaller).
    #[serde(default = "default_message_bytes")]
    pub max_message_bytes: usize,
    /// TLS; plain HTTP/2 when absent.
    pub tls: Option<TlsConfig>,
    /// Moves artifact bytes over the bulk channel (a plain or TLS socket beside gRPC, same token); off, they go
    /// through gRPC streams at about a third of the speed.
    #[serde(default = "default_bulk")]
    pub bulk_transfer: bool,
    /// Port of the bulk channel on the listen address; 0 picks a free one (workers learn it when they register).
    #[serde(default)]
    pub bulk_port: u16,
    /// Serves the live dashboard (a web page behind the cluster token, same TLS) beside gRPC.
    #[serde(default = "default_bulk")]
    pub dashboard: bool,
    /// Port of the dashboard on the listen address; 0 picks a free one (the link printed at start names it).
    #[serde(default)]
    pub dashboard_port: u16,
    /// Largest artifact an upload may announce, in bytes. The default (8 GiB) holds the largest log forgebench
    /// writes, 100 VGGmini triples with `--full` (about 4.6 GB).
    #[serde(default = "default_max_artifact")]
    pub max_artifact_bytes: u64,
    /// Most bytes the artifact store may hold in all (default 256 GiB); an upload past it is refused.
    #[serde(default = "default_store_quota")]
    pub store_quota_bytes: u64,
    /// Free space an upload must leave on the store's file system (default 1 GiB), so the ledger can still write.
    #[serde(default = "default_min_free_disk")]
    pub min_free_disk_bytes: u64,
}

fn default_max_artifact() -> u64 {
    8 << 30
}
fn default_store_quota() -> u64 {
    256 << 30
}
fn default_min_free_disk() -> u64 {
    1 << 30
}

fn default_bulk() -> bool {
    true
}
fn default_token_env() -> String {
    DEFAULT_TOKEN_ENV.into()
}
fn default_lease() -> f64 {
    30.0
}
fn default_heartbeat() -> f64 {
    5.0
}
fn default_attempts() -> u32 {
    3
}
fn default_message_bytes() -> usize {
    4 << 20
}

/// The whole of `cluster.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The coordinator.
    pub coordinator: CoordinatorConfig,
    /// Device profiles; `forgebench up` starts one local worker per profile.
    #[serde(rename = "profile", default)]
    pub profiles: Vec<DeviceProfile>,
    /// The sweep `forgebench up` runs.
    pub default_sweep: Option<String>,
    /// Named sweeps.
    #[serde(rename = "sweep", default)]
    pub sweeps: Vec<SweepConfig>,
    /// How `forgebench slurm launch` asks Slurm for worker tasks (absent: Slurm defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmConfig>,
}

/// Command-line values that replace those of the file (the first stage of the two-stage configuration).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--ledger`.
    pub ledger: Option<PathBuf>,
    /// `--token-file`.
    pub token_file: Option<PathBuf>,
}

impl ClusterConfig {
    /// Parses and validates TOML text; `path` only names the source in errors.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<ClusterConfig> {
        let c: ClusterConfig = toml::from_str(text).map_err(|e| SharedError::Toml {
            path: path.into(),
            message: e.to_string(),
        })?;
        c.validate()?;
        Ok(c)
    }

    /// Reads, parses, applies `overrides` and validates a file.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<ClusterConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| SharedError::io(path, e))?;
        let mut c: ClusterConfig = toml::from_str(&text).map_err(|e| SharedError::Toml {
            path: path.into(),
            message: e.to_string(),
        })?;
        c.apply(overrides);
        c.validate()?;
        Ok(c)
    }

    /// Applies command-line overrides.
    pub fn apply(&mut self, o: &Overrides) {
        if let Some(l) = o.listen {
            self.coordinator.listen = l;
        }
        if let Some(l) = &o.ledger {
            self.coordinator.ledger = l.clone();
        }
        if let Some(t) = &o.token_file {
            self.coordinator.token_file = Some(t.clone());
        }
    }

    /// Checks every value; errors name the key.
    pub fn validate(&self) -> Result<()> {
        let c = &self.coordinator;
        if !(c.lease_seconds > 0.0 && c.heartbeat_seconds > 0.0 && c.heartbeat_seconds < c.lease_seconds) {
            return Err(SharedError::config(
                "coordinator.heartbeat_seconds",
                format!(
                    "must be positive and below lease_seconds ({} >= {})",
                    c.heartbeat_seconds, c.lease_seconds
                ),
            ));
        }
        // Workers learn both as u32 milliseconds, and the coordinator builds `Duration`s of them (which panics on
        // values past u64 seconds), so anything beyond u32::MAX ms (about 49 days) is refused here, by name.
        if c.lease_seconds > MAX_LEASE_SECONDS {
            return Err(SharedError::config(
                "coordinator.lease_seconds",
                format!(
                    "{} exceeds {MAX_LEASE_SECONDS} (u32::MAX milliseconds)",
                    c.lease_seconds
                ),
            ));
        }
        if c.max_attempts == 0 {
            return Err(SharedError::config("coordinator.max_attempts", "must be at least 1"));
        }
        if c.max_message_bytes < 1 << 20 {
            return Err(SharedError::config(
                "coordinator.max_message_bytes",
                "must be at least 1048576 (artifact chunks are 256 KiB)",
            ));
        }
        if c.max_artifact_bytes == 0 || c.max_artifact_bytes > c.store_quota_bytes {
            return Err(SharedError::config(
                "coordinator.max_artifact_bytes",
                format!(
                    "must be positive and at most store_quota_bytes ({} > {})",
                    c.max_artifact_bytes, c.store_quota_bytes
                ),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.profiles {
            p.validate()?;
            if !names.insert(p.name.as_str()) {
                return Err(SharedError::config(
                    "profile.name",
                    format!("{:?} appears twice", p.name),
                ));
            }
        }
        let mut sweeps = std::collections::HashSet::new();
        for s in &self.sweeps {
            s.validate()?;
            if !sweeps.insert(s.name.as_str()) {
                return Err(SharedError::config("sweep.name", format!("{:?} appears twice", s.name)));
            }
            // Without GPU profiles every selector must name a profile; GPU names are only known once workers
            // register, so with GPU profiles the check waits for submission.
            if !self.profiles.iter().any(|p| p.device.is_cuda()) {
                s.devices.select(&self.profiles, |_| Vec::new()).map_err(|e| match e {
                    SharedError::Config { problem, .. } => {
                        SharedError::config(format!("sweep.{}.devices", s.name), problem)
                    }
                    other => other,
                })?;
            }
        }
        if let Some(s) = &self.slurm {
            s.validate()?;
        }
        if let Some(d) = &self.default_sweep {
            if !sweeps.contains(d.as_str()) {
                return Err(SharedError::config(
                    "default_sweep",
                    format!("no [[sweep]] named {d:?}"),
                ));
            }
        }
        Ok(())
    }

    /// A sweep by name.
    pub fn sweep(&self, name: &str) -> Result<&SweepConfig> {
        self.sweeps.iter().find(|s| s.name == name).ok_or_else(|| {
            let known: Vec<_> = self.sweeps.iter().map(|s| s.name.as_str()).collect();
            SharedError::config(
                "sweep",
                format!("no sweep named {name:?} (known: {})", known.join(", ")),
            )
        })
    }
}

/// Reads the shared token: the environment variable `env` wins, else the file. Never logs the value.
pub fn read_token(env: &str, file: Option<&Path>) -> Result<String> {
    if let Ok(t) = std::env::var(env) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_owned());
        }
    }
    let Some(path) = file else {
        return Err(SharedError::config(
            "coordinator.token_file",
            format!("no token file and ${env} is not set"),
        ));
    };
    let t = std::fs::read_to_string(path).map_err(|e| SharedError::io(path, e))?;
    let t = t.trim();
    if t.is_empty() {
        return Err(SharedError::data(path, "the token file is empty"));
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests;
