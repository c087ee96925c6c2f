//! Expansion of a sweep's TorchScript models. For each model, batch size and seed (`<tag>` =
//! `torch-<stem>-<dataset>-b<b>-s<seed>`; `<p>` a device's key, `<first>` the first device's):
//! - reproduction: every device trains the model into a folder log (`<tag>/train@<p>`, artifact [`TORCH_LOG`]) and
//!   every device replays every device's log (`<tag>/verify-<w>@<v>`), the diagonal included: a TorchScript model
//!   has no stored per-step output to compare without a replay, so its matrix is always the exhaustive one;
//! - shuffle: `<tag>/shuffle@<p>` on every device, at the file's own parameters;
//! - greedy, local, adam: one job per forged step k, `<tag>/forge-<k>@<first>`, running the arms listed (greedy
//!   search whenever greedy or local is, local search when local is, unprojected optimisation forging when adam
//!   is) against `<tag>/train@<first>`'s log; adam-projected adds `<tag>/forge-projected-<k>@<first>`. The run's
//!   replay on every device is its matrix; pol and prop2 have no TorchScript form (the matrix is that replay, and
//!   the construction is logistic regression's).
use super::{job, ArtifactJob, NewJob, Plan};
use crate::ledger::SweepDevice;
use forgebench_shared::config::{ExperimentKind, SweepConfig, TorchModel};
use forgebench_shared::ids::{JobId, SweepId};
use forgebench_shared::jobs::{JobSpec, TorchForgeSpec, TorchSpec};
use sha2::{Digest, Sha256};

/// Artifact role of a trained folder log, packed into one file (the worker's `TorchTrain` job).
pub const TORCH_LOG: &str = "torch-log";

/// The file's sha256, or why it could not be read: a worker refuses the job naming the file either way, so a
/// sweep whose file is missing fails visibly rather than with no jobs.
fn sha256_of(file: &str) -> String {
    match std::fs::read(file) {
        Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
        Err(e) => format!("unreadable at planning: {e}"),
    }
}

/// The jobs of every TorchScript model of `cfg` over `devices`; `first` runs the single runs (forging).
pub(super) fn expand(
    sweep: &SweepId,
    cfg: &SweepConfig,
    first: Option<&SweepDevice>,
    devices: &[SweepDevice],
    jobs: &mut Vec<NewJob>,
) {
    for t in &cfg.torch_model_list() {
        let has = |k: ExperimentKind| t.runs(cfg, k);
        let sha = sha256_of(&t.file);
        for &batch_size in &cfg.batch_sizes {
            for &seed in &cfg.seeds {
                let spec = spec_of(t, &sha, cfg, batch_size, seed);
                let tag = format!("{sweep}/{}", crate::report::safe_name(&spec.tag()));
                if has(ExperimentKind::Reproduction) {
                    point(&tag, &spec, devices, jobs);
                }
                if has(ExperimentKind::Shuffle) {
                    for p in devices {
                        let job_spec = JobSpec::TorchShuffle {
                            spec: spec.clone(),
                            shuffles: cfg.shuffles(),
                        };
                        jobs.push(job(
                            format!("{tag}/shuffle@{}", p.key),
                            p,
                            Plan::Ready { job: job_spec },
                            None,
                        ));
                    }
                }
                if let Some(first) = first {
                    forging(&tag, &spec, cfg, &has, first, jobs);
                }
            }
        }
    }
}

/// The forging jobs of one run on `first`, after its training there (planned here when reproduction is not).
fn forging(
    tag: &str,
    run: &TorchSpec,
    cfg: &SweepConfig,
    has: &dyn Fn(ExperimentKind) -> bool,
    first: &SweepDevice,
    jobs: &mut Vec<NewJob>,
) {
    let search = has(ExperimentKind::Greedy) || has(ExperimentKind::Local);
    let mut arms = Vec::new();
    if search || has(ExperimentKind::Adam) {
        arms.push(("forge", false, search, has(ExperimentKind::Adam)));
    }
    if has(ExperimentKind::AdamProjected) {
        arms.push(("forge-projected", true, false, true));
    }
    if arms.is_empty() {
        return;
    }
    let train = JobId(format!("{tag}/train@{}", first.key));
    if !jobs.iter().any(|j| j.id == train) {
        let job_spec = JobSpec::TorchTrain { spec: run.clone() };
        jobs.push(job(train.0.clone(), first, Plan::Ready { job: job_spec }, None));
    }
    // Step k needs the checkpoints at k and k + 1: at most steps - 1 of them.
    for step in 0..cfg.forge_steps().min(run.steps.saturating_sub(1)) {
        for &(name, projected, search, synthetic) in &arms {
            let spec = TorchForgeSpec {
                run: run.clone(),
                step,
                pool: if search { cfg.forge_pool() } else { 0 },
                candidates: if search { cfg.forge_candidates() } else { 0 },
                local_moves: if has(ExperimentKind::Local) && search {
                    cfg.local_moves()
                } else {
                    0
                },
                synthetic_iterations: if synthetic { cfg.adam_iterations() } else { 0 },
                projected,
            };
            let plan = Plan::NeedsArtifact {
                job: ArtifactJob::TorchForge { spec },
                dep: train.clone(),
                role: TORCH_LOG.into(),
            };
            let id = format!("{tag}/{name}-{step}@{}", first.key);
            jobs.push(job(id, first, plan, Some(train.clone())));
        }
    }
}

fn spec_of(t: &TorchModel, sha: &str, cfg: &SweepConfig, batch_size: usize, seed: u64) -> TorchSpec {
    TorchSpec {
        model: t.file.clone(),
        model_sha256: sha.to_owned(),
        dataset: t.dataset,
        optimizer: t.optimizer.clone(),
        batch_size,
        eta: cfg.eta,
        steps: cfg.triples,
        seed,
    }
}

fn point(tag: &str, spec: &TorchSpec, devices: &[SweepDevice], jobs: &mut Vec<NewJob>) {
    for w in devices {
        let train = JobSpec::TorchTrain { spec: spec.clone() };
        jobs.push(job(
            format!("{tag}/train@{}", w.key),
            w,
            Plan::Ready { job: train },
            None,
        ));
    }
    for w in devices {
        let writer = JobId(format!("{tag}/train@{}", w.key));
        for v in devices {
            let plan = Plan::NeedsArtifact {
                job: ArtifactJob::TorchVerify {
                    spec: spec.clone(),
                    writer: w.key.clone(),
                    verifier: v.key.clone(),
                },
                dep: writer.clone(),
                role: TORCH_LOG.into(),
            };
            jobs.push(job(
                format!("{tag}/verify-{}@{}", w.key, v.key),
                v,
                plan,
                Some(writer.clone()),
            ));
        }
    }
}
