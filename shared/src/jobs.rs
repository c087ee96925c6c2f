//! Jobs: the unit of work a worker executes, whether run one-shot from the command line, by the single-machine
//! matrix command or leased from the coordinator. The same [`JobSpec`] gives the same bits on the same profile.
use crate::experiment::{DatasetKind, ModelKind, ReproSpec};
use crate::ids::ArtifactId;
use serde::{Deserialize, Serialize};

/// A TorchScript model trained into a folder log on one device and replayed on every device: one cell of its
/// cross-device matrix per (writer, verifier). The file is read from the worker's own file system (as the data
/// sets are) and must have the sha256 the coordinator found when it planned the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorchSpec {
    /// The TorchScript file, as the sweep names it.
    pub model: String,
    /// Its sha256 (hex) when the sweep was planned.
    pub model_sha256: String,
    /// Training data.
    pub dataset: DatasetKind,
    /// The optimiser, as PyTorch defines it.
    pub optimizer: crate::optim::Optimizer,
    /// Batch size.
    pub batch_size: usize,
    /// Learning rate.
    pub eta: f64,
    /// Steps, each its own interval.
    pub steps: usize,
    /// Seed of the batch order.
    pub seed: u64,
}

impl TorchSpec {
    /// `torch-<file stem>-<data set>-b<b>-s<seed>`: what job ids, log folders and matrices are named after.
    pub fn tag(&self) -> String {
        let stem = std::path::Path::new(&self.model)
            .file_stem()
            .map_or("model".into(), |s| s.to_string_lossy().into_owned());
        format!("torch-{stem}-{}-b{}-s{}", self.dataset, self.batch_size, self.seed)
    }
}

/// Forging one step of a TorchScript model's log (a sweep's training run on its first device) against the run's
/// own optimiser: greedy search (naive scoring), local search from its batch, and optimisation forging of a
/// synthetic batch (Adam through the module's double backward), each arm run when its size is above 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorchForgeSpec {
    /// The training run forged.
    pub run: TorchSpec,
    /// The step i (theta_i to theta_{i+1}).
    pub step: usize,
    /// Pool of real examples the searches draw from, outside the logged batch (0: no search).
    pub pool: usize,
    /// Greedy candidates M.
    pub candidates: usize,
    /// Local search's accepted swaps at most (0: none).
    pub local_moves: usize,
    /// Adam iterations of optimisation forging (0: none).
    pub synthetic_iterations: usize,
    /// Synthetic inputs kept in the data's range and labels on the simplex.
    pub projected: bool,
}

/// Batch-shuffle experiment (the paper's Figure 4): one batch, `shuffles` random orders of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShuffleSpec {
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size.
    pub batch_size: usize,
    /// Learning rate.
    pub eta: f64,
    /// Number of shuffled orders (100 in the paper).
    pub shuffles: usize,
    /// Master seed.
    pub seed: u64,
}

/// Proof-of-Learning training run (Jia et al. 2021): SGD with checkpoints every `checkpoint_every` steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolSpec {
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size.
    pub batch_size: usize,
    /// Learning rate.
    pub eta: f64,
    /// Number of SGD steps.
    pub steps: usize,
    /// Checkpoint interval s (1 = every step).
    pub checkpoint_every: usize,
    /// Master seed (initial weights and batch order).
    pub seed: u64,
    /// The arithmetic of every step (absent: f32). The exact arm's log carries each step's rounding records, and its
    /// replay is checked bit for bit.
    #[serde(default, skip_serializing_if = "crate::experiment::Arithmetic::is_f32")]
    pub arithmetic: crate::experiment::Arithmetic,
}

/// Search-based forging of a Proof-of-Learning log (greedy, Thudi et al. 2022 / Kong et al. 2023, or local search).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgeSpec {
    /// The log being forged (an artifact written by a `PolTrain` job).
    pub pol: PolSpec,
    /// Points sampled from D' = D \ U to build candidates from.
    pub pool: usize,
    /// Candidate batches per step (M).
    pub candidates: usize,
    /// Steps of the log to forge (shard), `first..first+count`.
    pub first_step: usize,
    /// Number of steps in this shard.
    pub step_count: usize,
    /// Local-search move budget after greedy (0 = greedy only).
    pub local_moves: usize,
    /// Seed for the pool and candidates.
    pub seed: u64,
    /// The error the search minimises (L2 by default; Linf scores without the Gram expansion).
    #[serde(default)]
    pub norm: SearchNorm,
    /// Which steps are forged and which samples the forged log must not contain.
    #[serde(default)]
    pub scenario: ForgeScenario,
}

/// The norm a search attack minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchNorm {
    /// ||.||_2 (Gram-scored).
    #[default]
    L2,
    /// ||.||_inf (scored from summed gradient rows).
    Linf,
}

/// What a forged log must hide.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ForgeScenario {
    /// Forge every step of the shard with a batch disjoint from its original one (the per-step forging error).
    #[default]
    EveryStep,
    /// Unlearning: every step whose batch holds a sample of U gets a batch from D \ U.
    Unlearn {
        /// Training-set indices of U.
        samples: Vec<usize>,
    },
    /// Refuting membership of one sample x: the steps that used it get batches without it.
    Membership {
        /// Training-set index of x.
        sample: usize,
    },
}

/// Optimisation forging (the paper's Algorithm 1): Adam over a synthetic batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamSpec {
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size.
    pub batch_size: usize,
    /// Learning rate of the SGD update being matched.
    pub eta: f64,
    /// Adam iterations I.
    pub iterations: usize,
    /// Run seed (10 runs with different seeds in Figure 2).
    pub seed: u64,
    /// Clamp inputs to [0, 1] and keep labels on the simplex.
    #[serde(default)]
    pub projected: bool,
    /// How the step size moves (the paper's constant alpha unless given; left out of the JSON then, so specs and
    /// job ids written before it existed stay the same).
    #[serde(default, skip_serializing_if = "StepSchedule::is_constant")]
    pub schedule: StepSchedule,
    /// Iterations of the search for a forgery inside the data domain that starts from the best iterate (0: none;
    /// left out of the JSON then).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub domain_iterations: usize,
    /// The optimiser over the synthetic batch (the paper's Adam unless given; left out of the JSON then).
    #[serde(default, skip_serializing_if = "ForgeOptimiser::is_adam")]
    pub optimiser: ForgeOptimiser,
}

impl AdamSpec {
    /// The attack's name in tables: "adam", "adam-projected", "lbfgs", "lbfgs-projected".
    pub fn attack(&self) -> String {
        let projected = if self.projected { "-projected" } else { "" };
        format!("{}{projected}", self.optimiser.name())
    }
}

/// The optimiser of optimisation forging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForgeOptimiser {
    /// Adam, the paper's Algorithm 1.
    #[default]
    Adam,
    /// L-BFGS (history 10, backtracking line search), every objective evaluation counted against the iterations.
    Lbfgs,
}

impl ForgeOptimiser {
    /// Whether this is Adam.
    pub fn is_adam(&self) -> bool {
        *self == ForgeOptimiser::Adam
    }

    /// Its name ("adam", "lbfgs").
    pub fn name(&self) -> &'static str {
        match self {
            ForgeOptimiser::Adam => "adam",
            ForgeOptimiser::Lbfgs => "lbfgs",
        }
    }
}

impl std::str::FromStr for ForgeOptimiser {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        [ForgeOptimiser::Adam, ForgeOptimiser::Lbfgs]
            .into_iter()
            .find(|o| o.name() == s)
            .ok_or_else(|| format!("unknown optimiser {s:?} (expected adam or lbfgs)"))
    }
}

/// How Adam's step size moves over the iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum StepSchedule {
    /// The paper's constant alpha.
    #[default]
    Constant,
    /// Cosine decay from alpha towards 0 over each `period` iterations, then back to alpha (warm restarts, after
    /// Loshchilov and Hutter's SGDR).
    CosineRestarts {
        /// Iterations per cycle.
        period: usize,
    },
}

impl StepSchedule {
    /// Whether this is the constant schedule.
    pub fn is_constant(&self) -> bool {
        *self == StepSchedule::Constant
    }

    /// The factor on alpha at iteration `t` (1-based).
    pub fn factor(&self, t: usize) -> f64 {
        match *self {
            StepSchedule::Constant => 1.0,
            StepSchedule::CosineRestarts { period } => {
                let p = period.max(1);
                let k = t.saturating_sub(1) % p;
                0.5 * (1.0 + (std::f64::consts::PI * k as f64 / p as f64).cos())
            }
        }
    }

    /// A file-name suffix ("" for the constant schedule, "-cosine100" for restarts every 100), the one spelling
    /// that the worker's grids and the report's curve figures share.
    pub fn tag(&self) -> String {
        match *self {
            StepSchedule::Constant => String::new(),
            StepSchedule::CosineRestarts { period } => format!("-cosine{period}"),
        }
    }

    /// In words, for tables ("" for the constant schedule).
    pub fn words(&self) -> String {
        match *self {
            StepSchedule::Constant => String::new(),
            StepSchedule::CosineRestarts { period } => format!("cosine restarts every {period}"),
        }
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::StepSchedule;

    #[test]
    fn cosine_restarts_decay_then_restart() {
        let s = StepSchedule::CosineRestarts { period: 4 };
        let f: Vec<f64> = (1..=6).map(|t| s.factor(t)).collect();
        assert_eq!(f[0], 1.0);
        assert!(f[1] < f[0] && f[2] < f[1] && f[3] < f[2] && f[3] > 0.0, "{f:?}");
        assert_eq!(f[4], 1.0, "restart at t = 5: {f:?}");
        assert_eq!(StepSchedule::Constant.factor(7), 1.0);
        let json = serde_json::to_string(&s).expect("json");
        assert_eq!(json, r#"{"kind":"cosine-restarts","period":4}"#);
    }
}

/// The exact logistic-regression construction of Proposition 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prop2Spec {
    /// Batch size.
    pub batch_size: usize,
    /// Seed for theta, the batch and the random combinations.
    pub seed: u64,
    /// Learning rate of the verified update (the error is ||eta (G' - G)||).
    #[serde(default = "default_eta")]
    pub eta: f64,
    /// Iterations of the search for a forgery inside the data domain that starts from the exact construction (0:
    /// none; left out of the JSON then).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub domain_iterations: usize,
}

fn default_eta() -> f64 {
    0.01
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum JobSpec {
    /// Write a reproduction log on this profile.
    WriteLog { spec: ReproSpec },
    /// Write the same reproduction log again in a fresh process of this profile: the matrix diagonal, which shows
    /// run-to-run nondeterminism (cuDNN auto-tuning, atomics) that a second computation in one process could hide.
    RepeatLog { spec: ReproSpec },
    /// Recompute a reproduction log (an artifact) on this profile.
    VerifyLog { spec: ReproSpec, log: ArtifactId },
    /// Batch-shuffle errors.
    Shuffle { spec: ShuffleSpec },
    /// Train and write a Proof-of-Learning log.
    PolTrain { spec: PolSpec },
    /// Replay a Proof-of-Learning log; `epsilon` is the pass threshold (L2) when given.
    PolVerify {
        spec: PolSpec,
        log: ArtifactId,
        epsilon: Option<f64>,
    },
    /// Greedy (and optionally local-search) forging of a shard of a PoL log.
    Forge { spec: ForgeSpec, log: ArtifactId },
    /// Adam optimisation forging.
    AdamForge { spec: AdamSpec },
    /// The Proposition 2 construction.
    Prop2 { spec: Prop2Spec },
    /// One triple of a reproduction log traced site by site on this profile (where devices part).
    Trace { spec: ReproSpec, triple: usize },
    /// Train a TorchScript model into a folder log on this profile.
    TorchTrain { spec: TorchSpec },
    /// Replay the folder log `log` that profile `writer` trained.
    TorchVerify {
        spec: TorchSpec,
        log: ArtifactId,
        writer: String,
    },
    /// Batch-shuffle errors of a TorchScript model at the file's own parameters (plain SGD, as Figure 4).
    TorchShuffle { spec: TorchSpec, shuffles: usize },
    /// Forging of one step of the packed folder log `log` of `spec.run`.
    TorchForge { spec: TorchForgeSpec, log: ArtifactId },
}

impl JobSpec {
    /// Short kind name for tables and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::WriteLog { .. } => "write-log",
            JobSpec::RepeatLog { .. } => "repeat-log",
            JobSpec::VerifyLog { .. } => "verify-log",
            JobSpec::Shuffle { .. } => "shuffle",
            JobSpec::PolTrain { .. } => "pol-train",
            JobSpec::PolVerify { .. } => "pol-verify",
            JobSpec::Forge { .. } => "forge",
            JobSpec::AdamForge { .. } => "adam-forge",
            JobSpec::Prop2 { .. } => "prop2",
            JobSpec::Trace { .. } => "trace",
            JobSpec::TorchTrain { .. } => "torch-train",
            JobSpec::TorchVerify { .. } => "torch-verify",
            JobSpec::TorchShuffle { .. } => "torch-shuffle",
            JobSpec::TorchForge { .. } => "torch-forge",
        }
    }
    /// Artifacts the job needs before it can run.
    pub fn inputs(&self) -> Vec<&ArtifactId> {
        match self {
            JobSpec::VerifyLog { log, .. }
            | JobSpec::PolVerify { log, .. }
            | JobSpec::Forge { log, .. }
            | JobSpec::TorchVerify { log, .. }
            | JobSpec::TorchForge { log, .. } => vec![log],
            _ => vec![],
        }
    }
}

/// An artifact a job produced, content-addressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// Content id (BLAKE3) of the bytes.
    pub id: ArtifactId,
    /// What it is, e.g. "repro-log" or "pol-log".
    pub role: String,
    /// Size in bytes.
    pub size: u64,
}

/// What a job returns: a typed JSON result (the experiment's report, provenance included) and its artifacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOutcome {
    /// The report, as JSON; its schema depends on the job kind.
    pub result: serde_json::Value,
    /// Artifacts written.
    pub artifacts: Vec<ArtifactRef>,
    /// Wall-clock seconds of the computation itself.
    pub compute_seconds: f64,
}
