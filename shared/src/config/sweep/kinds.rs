//! The experiment kinds of a sweep: their parameters with defaults, the (model, data set) grid of each kind, and
//! the checks that keep every job of the grid runnable.
use super::SweepConfig;
use crate::error::{Result, SharedError};
use crate::experiment::{DatasetKind, ModelKind};
use serde::{Deserialize, Serialize};

/// Experiment kinds the cluster knows how to expand into jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExperimentKind {
    /// Reproduction logs: one log per device, every (log, verifier) pair verified, the diagonal included.
    Reproduction,
    /// Batch-order shuffles (Figure 4), on every device.
    Shuffle,
    /// A Proof-of-Learning run trained on the first device and replayed on every device.
    Pol,
    /// Greedy search forging of the PoL log; the forged log is replayed on every device.
    Greedy,
    /// Greedy then local-search forging of the PoL log; the forged log is replayed on every device.
    Local,
    /// Adam optimisation forging (Algorithm 1), unconstrained, on the first device.
    Adam,
    /// Adam optimisation forging with inputs clamped to [0, 1] and labels on the simplex, on the first device.
    AdamProjected,
    /// The Proposition 2 construction (logistic regression on MNIST only), on the first device.
    Prop2,
}

impl ExperimentKind {
    /// Every kind, in expansion order.
    pub const ALL: [ExperimentKind; 8] = [
        ExperimentKind::Reproduction,
        ExperimentKind::Shuffle,
        ExperimentKind::Pol,
        ExperimentKind::Greedy,
        ExperimentKind::Local,
        ExperimentKind::Adam,
        ExperimentKind::AdamProjected,
        ExperimentKind::Prop2,
    ];
    /// Name used in job ids, TOML and tables.
    pub fn name(self) -> &'static str {
        match self {
            ExperimentKind::Reproduction => "reproduction",
            ExperimentKind::Shuffle => "shuffle",
            ExperimentKind::Pol => "pol",
            ExperimentKind::Greedy => "greedy",
            ExperimentKind::Local => "local",
            ExperimentKind::Adam => "adam",
            ExperimentKind::AdamProjected => "adam-projected",
            ExperimentKind::Prop2 => "prop2",
        }
    }
    /// Whether the kind forges a PoL log (and so trains one first).
    pub fn forges_pol(self) -> bool {
        matches!(self, ExperimentKind::Greedy | ExperimentKind::Local)
    }
}

/// Defaults of the optional sweep keys, small enough for the bundled data on single-thread CPUs.
pub mod defaults {
    /// `shuffles`.
    pub const SHUFFLES: usize = 20;
    /// `pol_steps`.
    pub const POL_STEPS: usize = 4;
    /// `pol_checkpoint_every`.
    pub const POL_CHECKPOINT_EVERY: usize = 1;
    /// `forge_steps`.
    pub const FORGE_STEPS: usize = 1;
    /// `forge_pool`.
    pub const FORGE_POOL: usize = 500;
    /// `forge_candidates`.
    pub const FORGE_CANDIDATES: usize = 100;
    /// `local_moves`.
    pub const LOCAL_MOVES: usize = 100;
    /// `adam_iterations`.
    pub const ADAM_ITERATIONS: usize = 100;
}

impl SweepConfig {
    /// Shuffled orders per shuffle experiment.
    pub fn shuffles(&self) -> usize {
        self.shuffles.unwrap_or(defaults::SHUFFLES)
    }
    /// SGD steps of the PoL run.
    pub fn pol_steps(&self) -> usize {
        self.pol_steps.unwrap_or(defaults::POL_STEPS)
    }
    /// PoL checkpoint interval.
    pub fn pol_checkpoint_every(&self) -> usize {
        self.pol_checkpoint_every.unwrap_or(defaults::POL_CHECKPOINT_EVERY)
    }
    /// Forged steps per PoL log.
    pub fn forge_steps(&self) -> usize {
        self.forge_steps.unwrap_or(defaults::FORGE_STEPS)
    }
    /// Forging pool size n.
    pub fn forge_pool(&self) -> usize {
        self.forge_pool.unwrap_or(defaults::FORGE_POOL)
    }
    /// Forging candidates M.
    pub fn forge_candidates(&self) -> usize {
        self.forge_candidates.unwrap_or(defaults::FORGE_CANDIDATES)
    }
    /// Local-search moves.
    pub fn local_moves(&self) -> usize {
        self.local_moves.unwrap_or(defaults::LOCAL_MOVES)
    }
    /// Adam iterations.
    pub fn adam_iterations(&self) -> usize {
        self.adam_iterations.unwrap_or(defaults::ADAM_ITERATIONS)
    }

    /// Optimisers of the optimisation-forging kinds, in a stable order without repeats.
    pub fn optimisers(&self) -> Vec<crate::jobs::ForgeOptimiser> {
        let mut v = self
            .optimisers
            .clone()
            .unwrap_or_else(|| vec![crate::jobs::ForgeOptimiser::Adam]);
        v.sort();
        v.dedup();
        v
    }

    /// Adam's step-size schedule.
    pub fn adam_schedule(&self) -> crate::jobs::StepSchedule {
        self.adam_cosine_restarts
            .map_or(crate::jobs::StepSchedule::Constant, |period| {
                crate::jobs::StepSchedule::CosineRestarts { period }
            })
    }

    /// Iterations of the domain search after Adam and Proposition 2 (0: none).
    pub fn domain_iterations(&self) -> usize {
        self.domain_iterations.unwrap_or(0)
    }

    /// The models `kind` runs on: its `models_for` entry, else `models`.
    pub fn models_of(&self, kind: ExperimentKind) -> Vec<ModelKind> {
        self.models_for
            .get(&kind)
            .cloned()
            .unwrap_or_else(|| self.builtin_models())
    }

    /// The (model, data set) pairs `kind` runs on.
    pub fn kind_model_datasets(&self, kind: ExperimentKind) -> Vec<(ModelKind, DatasetKind)> {
        self.pairs(&self.models_of(kind))
    }

    /// Checks every kind against its models, data sets and parameters; errors name the key.
    pub(super) fn validate_kinds(&self) -> Result<()> {
        let key = |k: &str| format!("sweep.{}.{k}", self.name);
        for (i, k) in self.experiments.iter().enumerate() {
            if self.experiments[..i].contains(k) {
                return Err(SharedError::config(
                    key("experiments"),
                    format!("{} is listed twice", k.name()),
                ));
            }
        }
        for (k, models) in &self.models_for {
            if !self.experiments.contains(k) {
                return Err(SharedError::config(
                    key(&format!("models_for.{}", k.name())),
                    format!("{} is not among the experiments", k.name()),
                ));
            }
            if models.is_empty() {
                return Err(SharedError::config(
                    key(&format!("models_for.{}", k.name())),
                    "must not be empty",
                ));
            }
        }
        for (name, v) in [
            ("shuffles", self.shuffles),
            ("pol_steps", self.pol_steps),
            ("pol_checkpoint_every", self.pol_checkpoint_every),
            ("forge_steps", self.forge_steps),
            ("forge_pool", self.forge_pool),
            ("forge_candidates", self.forge_candidates),
            ("local_moves", self.local_moves),
            ("adam_iterations", self.adam_iterations),
            ("adam_cosine_restarts", self.adam_cosine_restarts),
            ("domain_iterations", self.domain_iterations),
        ] {
            if v == Some(0) {
                return Err(SharedError::config(key(name), "must be at least 1"));
            }
        }
        if self.optimisers.as_ref().is_some_and(|o| o.is_empty()) {
            return Err(SharedError::config(key("optimisers"), "must not be empty"));
        }
        if let Some(e) = self.pol_epsilon {
            if !(e.is_finite() && e >= 0.0) {
                return Err(SharedError::config(
                    key("pol_epsilon"),
                    format!("{e} is not a threshold >= 0"),
                ));
            }
        }
        for &kind in &self.experiments {
            for (model, dataset) in self.kind_model_datasets(kind) {
                if let Some(problem) = self.unsupported(kind, model, dataset) {
                    let k = if self.models_for.contains_key(&kind) {
                        format!("models_for.{}", kind.name())
                    } else {
                        "models".to_owned()
                    };
                    return Err(SharedError::config(key(&k), format!("{}: {problem}", kind.name())));
                }
            }
        }
        self.validate_forging(&key)
    }

    /// Why `kind` cannot run `model` on `dataset`, if it cannot.
    fn unsupported(&self, kind: ExperimentKind, model: ModelKind, dataset: DatasetKind) -> Option<String> {
        use ExperimentKind as K;
        match kind {
            // Reproduction keeps its historical behaviour: the worker checks the pair.
            K::Reproduction => None,
            K::Prop2 if (model, dataset) != (ModelKind::Logreg, DatasetKind::Mnist) => Some(format!(
                "the Proposition 2 construction exists for logistic regression without bias on MNIST only \
                 (logreg/mnist), not {model}/{dataset}; list prop2's models under models_for.prop2 = [\"logreg\"]"
            )),
            _ if kind != K::Prop2 && dataset != model.default_dataset() => Some(format!(
                "model {model} takes {} inputs, not {dataset}",
                model.default_dataset()
            )),
            K::Shuffle if self.batch_sizes.iter().any(|&b| b < 2) => {
                Some("a batch of one example has a single order; use batch sizes >= 2".into())
            }
            _ => None,
        }
    }

    /// Forging reads every step's endpoints from the PoL log and draws whole batches from its pool.
    fn validate_forging(&self, key: &dyn Fn(&str) -> String) -> Result<()> {
        if !self.experiments.iter().any(|k| k.forges_pol()) {
            return Ok(());
        }
        if self.pol_checkpoint_every() != 1 {
            return Err(SharedError::config(
                key("pol_checkpoint_every"),
                format!(
                    "greedy and local forging need a checkpoint after every step (1), got {}",
                    self.pol_checkpoint_every()
                ),
            ));
        }
        if self.forge_steps() > self.pol_steps() {
            return Err(SharedError::config(
                key("forge_steps"),
                format!(
                    "{} forged steps exceed the PoL run's {} steps",
                    self.forge_steps(),
                    self.pol_steps()
                ),
            ));
        }
        let b = self.batch_sizes.iter().copied().max().unwrap_or(0);
        if self.forge_pool() < b {
            return Err(SharedError::config(
                key("forge_pool"),
                format!("a pool of {} cannot hold a batch of {b}", self.forge_pool()),
            ));
        }
        Ok(())
    }
}
