//! Sweep expansion: a validated [`SweepConfig`] and the devices that joined the sweep become jobs, each bound to
//! one device. Expansion is monotone: the jobs over devices d1..dn are those over d1..dn-1 plus the new device's,
//! so a device that joins a running sweep adds its jobs (ids name devices by [`SweepDevice::key`]).
//!
//! Reproduction, linear verification (the default): one `WriteLog` and one `RepeatLog` job per device; the
//! coordinator compares the stored logs ([`crate::aggregate`]). Exhaustive verification: one `WriteLog` job per
//! device, then a `VerifyLog` job for every (log, verifier) pair, the diagonal included. A verify job cannot name
//! its log before the log exists, so it is planned as [`Plan::VerifyOf`] the writer job and becomes a concrete
//! [`JobSpec`] when it is leased. The other kinds are
//! expanded in [`attacks`]; their jobs that read an artifact of another job are planned as
//! [`Plan::NeedsArtifact`] and completed the same way. A sweep's TorchScript models are expanded in [`torch`].
mod attacks;
#[cfg(test)]
mod tests;
mod torch;

pub use torch::TORCH_LOG;

use crate::ledger::SweepDevice;
use forgebench_shared::config::Verification;
use forgebench_shared::config::{ExperimentKind, SweepConfig};
use forgebench_shared::experiment::{Arithmetic, ReproSpec};
use forgebench_shared::ids::{ArtifactId, DeviceId, JobId, SweepId};
use forgebench_shared::jobs::{ForgeSpec, JobSpec, PolSpec, TorchForgeSpec, TorchSpec};
use forgebench_shared::profile::DeviceProfile;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Artifact role of a trained PoL log (as the worker's `PolTrain` job names it).
pub const POL_LOG: &str = "pol-log";
/// Artifact role of a forged PoL log (the worker's `Forge` job).
pub const FORGED_POL_LOG: &str = "forged-pol-log";
/// Artifact role of an image batch as JSON ([`forgebench_shared::results::ImageBatch`]), beside its PNG grid.
pub const IMAGE_BATCH: &str = "image-batch";
/// The role of a trace artifact (one triple traced site by site).
pub const TRACE: &str = "trace";

/// What a job will run, as the ledger stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "plan", rename_all = "kebab-case")]
pub enum Plan {
    /// A job whose spec is complete.
    Ready {
        /// The job.
        job: JobSpec,
    },
    /// Verify the log that `writer_job` produces.
    VerifyOf {
        /// The log's parameters.
        spec: ReproSpec,
        /// The job that writes the log.
        writer_job: JobId,
    },
    /// A job that reads the artifact of role `role` that job `dep` (its `depends_on`) produced.
    NeedsArtifact {
        /// The job, short of its input.
        job: ArtifactJob,
        /// The job whose outcome holds the artifact.
        dep: JobId,
        /// The artifact's role, e.g. "pol-log" or "forged-pol-log".
        role: String,
    },
}

/// A job whose input artifact is only known once another job is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ArtifactJob {
    /// Replay a PoL log (trained or forged).
    PolVerify {
        /// The training run the log records.
        spec: PolSpec,
        /// L2 pass threshold; `None`: exact replay.
        epsilon: Option<f64>,
    },
    /// Forge a PoL log.
    Forge {
        /// The attack.
        spec: ForgeSpec,
    },
    /// Replay a TorchScript model's folder log.
    TorchVerify {
        /// The training run.
        spec: TorchSpec,
        /// The device that trained it, by its job-id key (its profile's name for a profile's first device).
        writer: String,
        /// The device that replays it, likewise.
        verifier: String,
    },
    /// Forge one step of a TorchScript model's folder log.
    TorchForge {
        /// The attack and the run it forges.
        spec: TorchForgeSpec,
    },
}

impl ArtifactJob {
    /// The runnable job reading `log`.
    pub fn with_input(&self, log: ArtifactId) -> JobSpec {
        match self {
            ArtifactJob::PolVerify { spec, epsilon } => JobSpec::PolVerify {
                spec: spec.clone(),
                log,
                epsilon: *epsilon,
            },
            ArtifactJob::Forge { spec } => JobSpec::Forge {
                spec: spec.clone(),
                log,
            },
            ArtifactJob::TorchVerify { spec, writer, .. } => JobSpec::TorchVerify {
                spec: spec.clone(),
                log,
                writer: writer.clone(),
            },
            ArtifactJob::TorchForge { spec } => JobSpec::TorchForge {
                spec: spec.clone(),
                log,
            },
        }
    }
}

/// A job to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Stable id (the same sweep always expands to the same ids).
    pub id: JobId,
    /// Profile of the device.
    pub profile: String,
    /// The device that must run it.
    pub device: DeviceId,
    /// What it runs.
    pub plan: Plan,
    /// A job that must be done first.
    pub depends_on: Option<JobId>,
}

/// The sweep's id and the fingerprint that makes submission idempotent: the same grid over the same profiles is
/// the same sweep.
pub fn sweep_identity(cfg: &SweepConfig, profiles: &[DeviceProfile]) -> (SweepId, String) {
    let canon = serde_json::json!({ "sweep": cfg, "profiles": profiles });
    let fp = hex::encode(Sha256::digest(canon.to_string().as_bytes()));
    (SweepId(format!("{}-{}", cfg.name, &fp[..10])), fp)
}

/// Expands `cfg` over `devices` (in the order they joined) of the selected `profiles`: every kind in the order
/// listed. Single runs (PoL training and what reads it, forging, Adam, Proposition 2) go to the first device of
/// the first selected profile, and wait for it to join: they never move to whichever device came first.
pub fn expand(sweep: &SweepId, cfg: &SweepConfig, profiles: &[DeviceProfile], devices: &[SweepDevice]) -> Vec<NewJob> {
    let mut jobs = Vec::new();
    let first = profiles
        .first()
        .and_then(|p| devices.iter().find(|d| d.profile.name == p.name));
    for &kind in &cfg.experiments {
        for (model, dataset) in cfg.kind_model_datasets(kind) {
            for &batch_size in &cfg.batch_sizes {
                for &seed in &cfg.seeds {
                    let point = attacks::Point {
                        model,
                        dataset,
                        batch_size,
                        seed,
                    };
                    match kind {
                        ExperimentKind::Reproduction => {
                            for arithmetic in cfg.arithmetics() {
                                let spec = ReproSpec {
                                    model,
                                    dataset,
                                    batch_size,
                                    eta: cfg.eta,
                                    triples: cfg.triples,
                                    seed,
                                    full: false,
                                    arithmetic,
                                    tolerance_units: None,
                                };
                                // f32 keeps its old ids, so sweeps planned before the exact arm resume as they were.
                                let arm = match arithmetic {
                                    Arithmetic::F32 => String::new(),
                                    a => format!("-{a}"),
                                };
                                let stem = format!("{sweep}/repro-{model}-{dataset}-b{batch_size}-s{seed}{arm}");
                                let verification = match arithmetic {
                                    Arithmetic::F32 => cfg.verification,
                                    Arithmetic::Exact => Verification::Exhaustive,
                                };
                                reproduction(&stem, &spec, verification, cfg.explain, devices, &mut jobs);
                            }
                        }
                        _ => {
                            if let Some(first) = first {
                                attacks::expand_kind(sweep, cfg, kind, &point, first, devices, &mut jobs)
                            }
                        }
                    }
                }
            }
        }
    }
    torch::expand(sweep, cfg, first, devices, &mut jobs);
    jobs
}

fn reproduction(
    stem: &str,
    spec: &ReproSpec,
    verification: Verification,
    explain: bool,
    devices: &[SweepDevice],
    jobs: &mut Vec<NewJob>,
) {
    for w in devices {
        let write = JobSpec::WriteLog { spec: spec.clone() };
        jobs.push(job(write_job_id(stem, w), w, Plan::Ready { job: write }, None));
        if explain {
            // One triple traced site by site on every device: where the devices of each cell part.
            let trace = JobSpec::Trace {
                spec: spec.clone(),
                triple: 0,
            };
            jobs.push(job(
                format!("{stem}/trace@{}", w.key),
                w,
                Plan::Ready { job: trace },
                None,
            ));
        }
        if verification == Verification::Linear {
            let repeat = JobSpec::RepeatLog { spec: spec.clone() };
            let id = format!("{stem}/repeat@{}", w.key);
            jobs.push(job(id, w, Plan::Ready { job: repeat }, None));
        }
    }
    if verification == Verification::Linear {
        return;
    }
    for w in devices {
        let writer_job = JobId(write_job_id(stem, w));
        for v in devices {
            let plan = Plan::VerifyOf {
                spec: spec.clone(),
                writer_job: writer_job.clone(),
            };
            let id = format!("{stem}/verify-{}@{}", w.key, v.key);
            jobs.push(job(id, v, plan, Some(writer_job.clone())));
        }
    }
}

/// The job `id` bound to device `d`.
fn job(id: String, d: &SweepDevice, plan: Plan, depends_on: Option<JobId>) -> NewJob {
    NewJob {
        id: JobId(id),
        profile: d.profile.name.clone(),
        device: d.id.clone(),
        plan,
        depends_on,
    }
}

fn write_job_id(stem: &str, d: &SweepDevice) -> String {
    format!("{stem}/write@{}", d.key)
}
