//! Expansion of a sweep's TorchScript models: for each model, batch size and seed, every device trains the model
//! into a folder log (`torch-<stem>-<dataset>-b<b>-s<seed>/train@<p>`, artifact [`TORCH_LOG`]) and every device
//! replays every device's log (`.../verify-<w>@<v>`), the diagonal included: a TorchScript model has no stored
//! per-step output to compare without a replay, so its matrix is always the exhaustive one.
use super::{job, ArtifactJob, NewJob, Plan};
use crate::ledger::SweepDevice;
use forgebench_shared::config::{SweepConfig, TorchModel};
use forgebench_shared::ids::{JobId, SweepId};
use forgebench_shared::jobs::{JobSpec, TorchSpec};
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

/// The jobs of every TorchScript model of `cfg` over `devices`.
pub(super) fn expand(sweep: &SweepId, cfg: &SweepConfig, devices: &[SweepDevice], jobs: &mut Vec<NewJob>) {
    for t in &cfg.torch_model_list() {
        let sha = sha256_of(&t.file);
        for &batch_size in &cfg.batch_sizes {
            for &seed in &cfg.seeds {
                let spec = spec_of(t, &sha, cfg, batch_size, seed);
                let tag = format!("{sweep}/{}", crate::report::safe_name(&spec.tag()));
                point(&tag, &spec, devices, jobs);
            }
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
