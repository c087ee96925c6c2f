//! Expansion of the kinds beside reproduction. Per-device experiments (shuffles, PoL replays) get a job on every
//! device of the sweep; single runs (PoL training, forging, Adam, Proposition 2) run on its first device.
//!
//! Job graph of one grid point `<tag>` = `<model>-<dataset>-b<b>-s<seed>` (ids below the sweep id; `<p>` is a
//! device's key, its profile and short id, `<first>` the first device's):
//! - shuffle: `shuffle-<tag>@<p>` for every device p;
//! - pol, greedy, local share `pol-<tag>/train@<first>` (planned once); pol adds `pol-<tag>/verify@<p>` reading
//!   its `pol-log`; greedy (local) adds `pol-<tag>/greedy@<first>` reading the `pol-log`, then
//!   `pol-<tag>/greedy/verify@<p>` replaying its `forged-pol-log` on every device;
//! - adam, adam-projected: `adam-<tag>@<first>`, `adam-projected-<tag>@<first>`, and with L-BFGS among the
//!   sweep's optimisers `lbfgs-<tag>@<first>`, `lbfgs-projected-<tag>@<first>`;
//! - prop2: `prop2-<tag>@<first>`.
use super::{ArtifactJob, NewJob, Plan, FORGED_POL_LOG, POL_LOG};
use crate::ledger::SweepDevice;
use forgebench_shared::config::{ExperimentKind, SweepConfig};
use forgebench_shared::experiment::{Arithmetic, DatasetKind, ModelKind};
use forgebench_shared::ids::{JobId, SweepId};
use forgebench_shared::jobs::{
    AdamSpec, ForgeScenario, ForgeSpec, JobSpec, PolSpec, Prop2Spec, SearchNorm, ShuffleSpec,
};

/// One point of a sweep's grid.
#[derive(Debug, Clone, Copy)]
pub(super) struct Point {
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size.
    pub batch_size: usize,
    /// Seed.
    pub seed: u64,
}

impl Point {
    fn tag(&self) -> String {
        format!("{}-{}-b{}-s{}", self.model, self.dataset, self.batch_size, self.seed)
    }
}

fn ready(id: String, device: &SweepDevice, job: JobSpec) -> NewJob {
    NewJob {
        id: JobId(id),
        profile: device.profile.name.clone(),
        device: device.id.clone(),
        plan: Plan::Ready { job },
        depends_on: None,
    }
}

fn needs(id: String, device: &SweepDevice, job: ArtifactJob, dep: &JobId, role: &str) -> NewJob {
    NewJob {
        id: JobId(id),
        profile: device.profile.name.clone(),
        device: device.id.clone(),
        plan: Plan::NeedsArtifact {
            job,
            dep: dep.clone(),
            role: role.to_owned(),
        },
        depends_on: Some(dep.clone()),
    }
}

/// Appends the jobs of `kind` at `pt`; `first` is the first of `devices` (the first to join the sweep).
pub(super) fn expand_kind(
    sweep: &SweepId,
    cfg: &SweepConfig,
    kind: ExperimentKind,
    pt: &Point,
    first: &SweepDevice,
    devices: &[SweepDevice],
    jobs: &mut Vec<NewJob>,
) {
    let tag = pt.tag();
    match kind {
        ExperimentKind::Reproduction => {}
        ExperimentKind::Shuffle => {
            let spec = ShuffleSpec {
                model: pt.model,
                dataset: pt.dataset,
                batch_size: pt.batch_size,
                eta: cfg.eta,
                shuffles: cfg.shuffles(),
                seed: pt.seed,
            };
            for p in devices {
                let job = JobSpec::Shuffle { spec: spec.clone() };
                jobs.push(ready(format!("{sweep}/shuffle-{tag}@{}", p.key), p, job));
            }
        }
        ExperimentKind::Pol | ExperimentKind::Greedy | ExperimentKind::Local => {
            let stem = format!("{sweep}/pol-{tag}");
            let pol = pol_spec(cfg, pt);
            let train = JobId(format!("{stem}/train@{}", first.key));
            // pol, greedy and local forge and replay the same log: train it once.
            if !jobs.iter().any(|j| j.id == train) {
                let job = JobSpec::PolTrain { spec: pol.clone() };
                jobs.push(ready(train.0.clone(), first, job));
            }
            let replay = |spec: &PolSpec, dep: &JobId, role: &str, id: &str, jobs: &mut Vec<NewJob>| {
                for p in devices {
                    let job = ArtifactJob::PolVerify {
                        spec: spec.clone(),
                        epsilon: cfg.pol_epsilon,
                    };
                    jobs.push(needs(format!("{id}@{}", p.key), p, job, dep, role));
                }
            };
            if kind == ExperimentKind::Pol {
                replay(&pol, &train, POL_LOG, &format!("{stem}/verify"), jobs);
                // The exact arm trains its own log and replays it bit for bit everywhere; forging stays on the
                // f32 log, whose verifier is the tolerant one the attacks target.
                if cfg.arithmetics().contains(&Arithmetic::Exact) {
                    let exact = PolSpec {
                        arithmetic: Arithmetic::Exact,
                        ..pol.clone()
                    };
                    let train = JobId(format!("{stem}-exact/train@{}", first.key));
                    let job = JobSpec::PolTrain { spec: exact.clone() };
                    jobs.push(ready(train.0.clone(), first, job));
                    replay(&exact, &train, POL_LOG, &format!("{stem}-exact/verify"), jobs);
                }
                return;
            }
            let forge = JobId(format!("{stem}/{}@{}", kind.name(), first.key));
            let job = ArtifactJob::Forge {
                spec: forge_spec(cfg, kind, pt, pol.clone()),
            };
            jobs.push(needs(forge.0.clone(), first, job, &train, POL_LOG));
            replay(
                &pol,
                &forge,
                FORGED_POL_LOG,
                &format!("{stem}/{}/verify", kind.name()),
                jobs,
            );
        }
        ExperimentKind::Adam | ExperimentKind::AdamProjected => {
            for optimiser in cfg.optimisers() {
                let spec = AdamSpec {
                    model: pt.model,
                    dataset: pt.dataset,
                    batch_size: pt.batch_size,
                    eta: cfg.eta,
                    iterations: cfg.adam_iterations(),
                    seed: pt.seed,
                    projected: kind == ExperimentKind::AdamProjected,
                    // The schedule moves Adam's step size; L-BFGS takes none.
                    schedule: if optimiser.is_adam() {
                        cfg.adam_schedule()
                    } else {
                        Default::default()
                    },
                    domain_iterations: cfg.domain_iterations(),
                    optimiser,
                };
                // Adam's ids are those of the paper's single optimiser; another's name their optimiser.
                let name = spec.attack();
                let id = format!("{sweep}/{name}-{tag}@{}", first.key);
                jobs.push(ready(id, first, JobSpec::AdamForge { spec }));
            }
        }
        ExperimentKind::Prop2 => {
            // Validation keeps prop2 to logreg/mnist, the only pair the construction (and the job) knows.
            let spec = Prop2Spec {
                batch_size: pt.batch_size,
                seed: pt.seed,
                eta: cfg.eta,
                domain_iterations: cfg.domain_iterations(),
            };
            let id = format!("{sweep}/prop2-{tag}@{}", first.key);
            jobs.push(ready(id, first, JobSpec::Prop2 { spec }));
        }
    }
}

fn pol_spec(cfg: &SweepConfig, pt: &Point) -> PolSpec {
    PolSpec {
        model: pt.model,
        dataset: pt.dataset,
        batch_size: pt.batch_size,
        eta: cfg.eta,
        steps: cfg.pol_steps(),
        checkpoint_every: cfg.pol_checkpoint_every(),
        seed: pt.seed,
        arithmetic: Default::default(),
    }
}

fn forge_spec(cfg: &SweepConfig, kind: ExperimentKind, pt: &Point, pol: PolSpec) -> ForgeSpec {
    ForgeSpec {
        pol,
        pool: cfg.forge_pool(),
        candidates: cfg.forge_candidates(),
        first_step: 0,
        step_count: cfg.forge_steps(),
        local_moves: if kind == ExperimentKind::Local {
            cfg.local_moves()
        } else {
            0
        },
        seed: pt.seed,
        norm: SearchNorm::L2,
        scenario: ForgeScenario::EveryStep,
    }
}
