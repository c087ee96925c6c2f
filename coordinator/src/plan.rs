//! Sweep expansion: a validated [`SweepConfig`] and the selected profiles become jobs, each bound to one profile.
//!
//! Reproduction: one `WriteLog` job per profile, then a `VerifyLog` job for every (log, verifier) pair, the
//! diagonal included. A verify job cannot name its log before the log exists, so it is planned as
//! [`Plan::VerifyOf`] the writer job and becomes a concrete [`JobSpec`] when it is leased.
use forgebench_shared::config::{ExperimentKind, SweepConfig};
use forgebench_shared::experiment::ReproSpec;
use forgebench_shared::ids::{JobId, SweepId};
use forgebench_shared::jobs::JobSpec;
use forgebench_shared::profile::DeviceProfile;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// Expands `cfg` over `profiles` (already selected).
pub fn expand(sweep: &SweepId, cfg: &SweepConfig, profiles: &[DeviceProfile]) -> Vec<NewJob> {
    let mut jobs = Vec::new();
    for exp in &cfg.experiments {
        match exp {
            ExperimentKind::Reproduction => {
                for (model, dataset) in cfg.model_datasets() {
                    for &batch_size in &cfg.batch_sizes {
                        for &seed in &cfg.seeds {
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

#[cfg(test)]
mod tests {
    use super::*;
    use forgebench_shared::config::SweepConfig;
    use forgebench_shared::profile::default_cpu_profiles;

    fn sweep() -> SweepConfig {
        SweepConfig::from_toml_str(
            "name = \"t\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\", \"lenet5\"]\nbatch_sizes = [100]\n\
             seeds = [0, 1]\ntriples = 4\ndevices = \"all\"\n",
        )
        .expect("valid sweep")
    }

    #[test]
    fn reproduction_expands_to_logs_and_every_pair() {
        let profiles = default_cpu_profiles();
        let (id, _) = sweep_identity(&sweep(), &profiles);
        let jobs = expand(&id, &sweep(), &profiles);
        // 2 models x 2 seeds x (3 logs + 9 pairs)
        assert_eq!(jobs.len(), 2 * 2 * (3 + 9));
        let diag = jobs
            .iter()
            .filter(|j| j.id.0.ends_with("verify-cpu-avx2@cpu-avx2"))
            .count();
        assert_eq!(diag, 4, "the diagonal is verified as its own job");
        for j in &jobs {
            if let Some(dep) = &j.depends_on {
                assert!(jobs.iter().any(|w| &w.id == dep), "{} depends on a missing job", j.id);
            }
        }
        let ids: std::collections::HashSet<_> = jobs.iter().map(|j| &j.id).collect();
        assert_eq!(ids.len(), jobs.len(), "job ids are unique");
    }

    #[test]
    fn identity_is_stable_and_grid_sensitive() {
        let p = default_cpu_profiles();
        assert_eq!(sweep_identity(&sweep(), &p), sweep_identity(&sweep(), &p));
        let mut other = sweep();
        other.triples = 5;
        assert_ne!(sweep_identity(&sweep(), &p).0, sweep_identity(&other, &p).0);
    }
}
