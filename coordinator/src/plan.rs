//! Sweep expansion: a validated [`SweepConfig`] and the selected profiles become jobs, each bound to one profile.
//!
//! Reproduction: one `WriteLog` job per profile, then a `VerifyLog` job for every (log, verifier) pair, the
//! diagonal included. A verify job cannot name its log before the log exists, so it is planned as
//! [`Plan::VerifyOf`] the writer job and becomes a concrete [`JobSpec`] when it is leased. The other kinds are
//! expanded in [`attacks`]; their jobs that read an artifact of another job are planned as
//! [`Plan::NeedsArtifact`] and completed the same way.
mod attacks;
#[cfg(test)]
mod tests;

use forgebench_shared::config::{ExperimentKind, SweepConfig};
use forgebench_shared::experiment::ReproSpec;
use forgebench_shared::ids::{ArtifactId, JobId, SweepId};
use forgebench_shared::jobs::{ForgeSpec, JobSpec, PolSpec};
use forgebench_shared::profile::DeviceProfile;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Artifact role of a trained PoL log (as the worker's `PolTrain` job names it).
pub const POL_LOG: &str = "pol-log";
/// Artifact role of a forged PoL log (the worker's `Forge` job).
pub const FORGED_POL_LOG: &str = "forged-pol-log";
/// Artifact role of an image batch as JSON ([`forgebench_shared::results::ImageBatch`]), beside its PNG grid.
pub const IMAGE_BATCH: &str = "image-batch";

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
        }
    }
}

/// A job to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Stable id (the same sweep always expands to the same ids).
    pub id: JobId,
    /// The profile that must run it.
    pub profile: String,
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

/// Expands `cfg` over `profiles` (already selected, at least one): every kind in the order listed.
pub fn expand(sweep: &SweepId, cfg: &SweepConfig, profiles: &[DeviceProfile]) -> Vec<NewJob> {
    let mut jobs = Vec::new();
    let Some(first) = profiles.first() else {
        return jobs;
    };
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
                            let spec = ReproSpec {
                                model,
                                dataset,
                                batch_size,
                                eta: cfg.eta,
                                triples: cfg.triples,
                                seed,
                                full: false,
                            };
                            let stem = format!("{sweep}/repro-{model}-{dataset}-b{batch_size}-s{seed}");
                            reproduction(&stem, &spec, profiles, &mut jobs);
                        }
                        _ => attacks::expand_kind(sweep, cfg, kind, &point, first, profiles, &mut jobs),
                    }
                }
            }
        }
    }
    jobs
}

fn reproduction(stem: &str, spec: &ReproSpec, profiles: &[DeviceProfile], jobs: &mut Vec<NewJob>) {
    for w in profiles {
        jobs.push(NewJob {
            id: JobId(format!("{stem}/write@{}", w.name)),
            profile: w.name.clone(),
            plan: Plan::Ready {
                job: JobSpec::WriteLog { spec: spec.clone() },
            },
            depends_on: None,
        });
    }
    for w in profiles {
        let writer_job = JobId(format!("{stem}/write@{}", w.name));
        for v in profiles {
            jobs.push(NewJob {
                id: JobId(format!("{stem}/verify-{}@{}", w.name, v.name)),
                profile: v.name.clone(),
                plan: Plan::VerifyOf {
                    spec: spec.clone(),
                    writer_job: writer_job.clone(),
                },
                depends_on: Some(writer_job.clone()),
            });
        }
    }
}
