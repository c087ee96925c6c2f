//! A sweep: a grid over experiment kind, model, data set, batch size and seed, on a selection of devices.
use crate::error::{Result, SharedError};
use crate::experiment::{DatasetKind, ModelKind};
use crate::profile::DeviceProfile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

mod kinds;

pub use kinds::ExperimentKind;

/// Which devices a sweep covers: `"all"` or a list of selectors, each a profile name or a GPU name (matched
/// against the fingerprints of registered workers, e.g. "RTX 4090").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DevicesRaw", into = "DevicesRaw")]
pub enum DeviceSelection {
    /// Every profile of the cluster.
    All,
    /// Profiles matching any of these selectors.
    Select(Vec<String>),
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum DevicesRaw {
    One(String),
    Many(Vec<String>),
}

impl TryFrom<DevicesRaw> for DeviceSelection {
    type Error = String;
    fn try_from(r: DevicesRaw) -> std::result::Result<Self, String> {
        match r {
            DevicesRaw::One(s) if s == "all" => Ok(DeviceSelection::All),
            DevicesRaw::One(s) => Err(format!("devices = {s:?}: expected \"all\" or a list of selectors")),
            DevicesRaw::Many(v) if v.is_empty() => Err("devices = []: select at least one device".into()),
            DevicesRaw::Many(v) => Ok(DeviceSelection::Select(v)),
        }
    }
}

impl From<DeviceSelection> for DevicesRaw {
    fn from(d: DeviceSelection) -> Self {
        match d {
            DeviceSelection::All => DevicesRaw::One("all".into()),
            DeviceSelection::Select(v) => DevicesRaw::Many(v),
        }
    }
}

impl DeviceSelection {
    /// The selected profiles, in `profiles` order. `gpu_names` gives the GPU names seen for a profile's workers.
    /// A selector that matches nothing is an error naming it.
    pub fn select(
        &self,
        profiles: &[DeviceProfile],
        gpu_names: impl Fn(&DeviceProfile) -> Vec<String>,
    ) -> Result<Vec<DeviceProfile>> {
        let sel = match self {
            DeviceSelection::All => return Ok(profiles.to_vec()),
            DeviceSelection::Select(s) => s,
        };
        let matches = |p: &DeviceProfile, s: &str| p.name == s || gpu_names(p).iter().any(|g| g.contains(s));
        for s in sel {
            if !profiles.iter().any(|p| matches(p, s)) {
                let known: Vec<_> = profiles.iter().map(|p| p.name.as_str()).collect();
                return Err(SharedError::config(
                    "devices",
                    format!(
                        "selector {s:?} matches no profile or GPU (profiles: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(profiles
            .iter()
            .filter(|p| sel.iter().any(|s| matches(p, s)))
            .cloned()
            .collect())
    }
}

fn default_eta() -> f64 {
    0.01
}

/// One `[[sweep]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Unique name.
    pub name: String,
    /// Experiment kinds.
    pub experiments: Vec<ExperimentKind>,
    /// Models: built-in names, or paths of TorchScript files (`.pt`; trained on MNIST, or each of `datasets`,
    /// with PyTorch's SGD; `torch_models` says the data set and optimiser of each).
    #[serde(default)]
    pub models: Vec<ModelEntry>,
    /// TorchScript models: each trained on every device and replayed on every device, its cross-device matrix
    /// beside the built-in models' (with `reproduction` among the experiments; steps = `triples`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub torch_models: Vec<TorchModel>,
    /// Data sets; each model's own when absent.
    pub datasets: Option<Vec<DatasetKind>>,
    /// Batch sizes.
    pub batch_sizes: Vec<usize>,
    /// Master seeds.
    pub seeds: Vec<u64>,
    /// Triples per reproduction log (K).
    pub triples: usize,
    /// Learning rate.
    #[serde(default = "default_eta")]
    pub eta: f64,
    /// Devices covered.
    pub devices: DeviceSelection,
    /// Per-kind model lists replacing `models` for that kind (e.g. `{ prop2 = ["logreg"] }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models_for: BTreeMap<ExperimentKind, Vec<ModelKind>>,
    /// Shuffled orders per shuffle experiment (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shuffles: Option<usize>,
    /// SGD steps of the PoL training run behind `pol`, `greedy` and `local` (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pol_steps: Option<usize>,
    /// PoL checkpoint interval s; forging needs 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pol_checkpoint_every: Option<usize>,
    /// L2 pass threshold of PoL replays; absent: exact replay required (epsilon 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pol_epsilon: Option<f64>,
    /// Steps of the PoL log forged, from step 0 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge_steps: Option<usize>,
    /// Pool size n that forging candidates are drawn from (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge_pool: Option<usize>,
    /// Candidate batches M scored per forged step (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge_candidates: Option<usize>,
    /// Local-search move budget of `local` (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_moves: Option<usize>,
    /// Adam iterations I of `adam` and `adam-projected` (default 100); one run per seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adam_iterations: Option<usize>,
    /// Optimisers of `adam` and `adam-projected`, one run of each per seed (default `["adam"]`, the paper's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimisers: Option<Vec<crate::jobs::ForgeOptimiser>>,
    /// Adam's step size follows a cosine with warm restarts every this many iterations (default: the paper's
    /// constant alpha).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adam_cosine_restarts: Option<usize>,
    /// Iterations of the search for a forgery inside the data domain after `adam`, `adam-projected` and `prop2`
    /// (default: no search).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_iterations: Option<usize>,
    /// Arithmetic arms of the reproduction matrices (default `["f32"]`). The exact arm is always verified
    /// exhaustively: its verifier applies the writer's rounding records, which a comparison of two independently
    /// written logs cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arithmetic: Option<Vec<crate::experiment::Arithmetic>>,
    /// Trace triple 0 of every reproduction spec site by site on every device, so the report says for each matrix
    /// cell where the two devices part (default false: one extra job per device and spec, and an artifact of every
    /// activation and gradient of one step).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub explain: bool,
    /// How the reproduction matrix is computed (default `linear`).
    #[serde(default, skip_serializing_if = "Verification::is_linear")]
    pub verification: Verification,
    /// Devices expected per selected profile (default 1 each), e.g. `{ cpu-avx2 = 2 }`: the sweep is complete only
    /// once that many devices of the profile have joined and finished. A matching device that registers while the
    /// sweep runs joins it whether expected or not.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expect_devices: BTreeMap<String, u32>,
}

/// One entry of a sweep's `models`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelEntry {
    /// A built-in model by name.
    Builtin(ModelKind),
    /// The path of a TorchScript file.
    Script(String),
}

/// A TorchScript model of a sweep: `{ file = "data/models/resnet20.pt", dataset = "cifar10", optimizer = { kind =
/// "sgd", momentum = 0.9 } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorchModel {
    /// The file (relative to the working directory of the coordinator and of every worker).
    pub file: String,
    /// Training data (default MNIST).
    #[serde(default = "mnist")]
    pub dataset: DatasetKind,
    /// The optimiser (default PyTorch's SGD without momentum).
    #[serde(default = "torch_sgd")]
    pub optimizer: crate::optim::Optimizer,
    /// The sweep's kinds this model runs (default: every one of [`TorchModel::KINDS`] the sweep lists), e.g. to
    /// leave out local search, whose every move replays b (n - b) swaps through the module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiments: Option<Vec<ExperimentKind>>,
}

impl TorchModel {
    /// The kinds a TorchScript model runs: its matrix, shuffles and forging. PoL replay is its matrix, and the
    /// Proposition 2 construction is logistic regression's.
    pub const KINDS: [ExperimentKind; 6] = [
        ExperimentKind::Reproduction,
        ExperimentKind::Shuffle,
        ExperimentKind::Greedy,
        ExperimentKind::Local,
        ExperimentKind::Adam,
        ExperimentKind::AdamProjected,
    ];

    /// Whether this model runs `kind` in `cfg`.
    pub fn runs(&self, cfg: &SweepConfig, kind: ExperimentKind) -> bool {
        cfg.experiments.contains(&kind)
            && Self::KINDS.contains(&kind)
            && self.experiments.as_ref().is_none_or(|e| e.contains(&kind))
    }
}

fn mnist() -> DatasetKind {
    DatasetKind::Mnist
}

fn torch_sgd() -> crate::optim::Optimizer {
    crate::optim::Optimizer::SGD
}

/// How a D-device reproduction matrix is computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verification {
    /// Each device writes its log and repeats it in a fresh process (2D model runs); the coordinator computes the
    /// pairwise distances from the stored logs in f64. Recomputing device i's seeded log on device j computes
    /// exactly what device j computes writing its own, so the cells are those of `exhaustive`, bit for bit.
    #[default]
    Linear,
    /// Every device recomputes every device's log (D + D^2 model runs), as the paper's experiment does.
    Exhaustive,
}

impl Verification {
    fn is_linear(&self) -> bool {
        *self == Verification::Linear
    }
}

impl SweepConfig {
    /// Parses one sweep table (the form `submit` sends); errors name unknown keys.
    pub fn from_toml_str(text: &str) -> Result<SweepConfig> {
        Self::from_toml_str_at(text, Path::new("<sweep>"))
    }

    /// Parses one sweep table read from `path`, which names the source in TOML errors (validation errors name the
    /// key), so that a bad sweep file is reported as that file rather than as `<sweep>`.
    pub fn from_toml_str_at(text: &str, path: &Path) -> Result<SweepConfig> {
        let s: SweepConfig = toml::from_str(text).map_err(|e| SharedError::Toml {
            path: path.into(),
            message: e.to_string(),
        })?;
        s.validate()?;
        Ok(s)
    }

    /// Reads and parses a sweep file (the form `submit --file` takes); errors name the file or the key.
    pub fn load(path: &Path) -> Result<SweepConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| SharedError::io(path, e))?;
        Self::from_toml_str_at(&text, path)
    }

    /// Checks the grid; errors name the key.
    pub fn validate(&self) -> Result<()> {
        let key = |k: &str| format!("sweep.{}.{k}", self.name);
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(SharedError::config(
                "sweep.name",
                format!("{:?}: use letters, digits, '-', '_' or '.'", self.name),
            ));
        }
        for (k, empty) in [
            ("experiments", self.experiments.is_empty()),
            ("models", self.models.is_empty() && self.torch_models.is_empty()),
            ("datasets", self.datasets.as_ref().is_some_and(|d| d.is_empty())),
            ("batch_sizes", self.batch_sizes.is_empty()),
            ("seeds", self.seeds.is_empty()),
        ] {
            if empty {
                return Err(SharedError::config(key(k), "must not be empty"));
            }
        }
        if self.batch_sizes.contains(&0) {
            return Err(SharedError::config(
                key("batch_sizes"),
                "a batch size must be at least 1",
            ));
        }
        if self.triples == 0 {
            return Err(SharedError::config(key("triples"), "must be at least 1"));
        }
        if !(self.eta.is_finite() && self.eta > 0.0) {
            return Err(SharedError::config(
                key("eta"),
                format!("{} is not a positive learning rate", self.eta),
            ));
        }
        if let Some(a) = &self.arithmetic {
            if a.is_empty() {
                return Err(SharedError::config(key("arithmetic"), "must not be empty"));
            }
            if !self.experiments.contains(&ExperimentKind::Reproduction) {
                return Err(SharedError::config(
                    key("arithmetic"),
                    "applies to reproduction matrices: add \"reproduction\" to experiments or remove the key",
                ));
            }
        }
        for m in &self.models {
            if let ModelEntry::Script(s) = m {
                if !s.ends_with(".pt") {
                    return Err(SharedError::config(
                        key("models"),
                        format!(
                            "{s:?} is neither a built-in model (logreg, logreg-bias, lenet5, vggmini) nor a \
                             TorchScript file (.pt)"
                        ),
                    ));
                }
            }
        }
        for (i, t) in self.torch_model_list().iter().enumerate() {
            if !TorchModel::KINDS.iter().any(|&k| t.runs(self, k)) {
                return Err(SharedError::config(
                    key("torch_models"),
                    format!(
                        "{} runs none of the experiments: TorchScript models run reproduction (their \
                         cross-device matrix), shuffle, greedy, local, adam and adam-projected; add one of them to \
                         experiments or remove the model",
                        t.file
                    ),
                ));
            }
            for k in t.experiments.iter().flatten() {
                if !self.experiments.contains(k) || !TorchModel::KINDS.contains(k) {
                    return Err(SharedError::config(
                        key(&format!("torch_models[{i}].experiments")),
                        format!(
                            "{} is not among the sweep's experiments that a TorchScript model runs",
                            k.name()
                        ),
                    ));
                }
            }
        }
        if !self.torch_model_list().is_empty()
            && self.experiments.contains(&ExperimentKind::Shuffle)
            && self.batch_sizes.iter().any(|&b| b < 2)
        {
            return Err(SharedError::config(
                key("batch_sizes"),
                "shuffle: a batch of one example has a single order; use batch sizes >= 2",
            ));
        }
        for (i, t) in self.torch_models.iter().enumerate() {
            if t.file.is_empty() {
                return Err(SharedError::config(
                    key(&format!("torch_models[{i}].file")),
                    "must name a file",
                ));
            }
            if let Some(p) = t.optimizer.problem() {
                return Err(SharedError::config(key(&format!("torch_models[{i}].optimizer")), p));
            }
        }
        for (profile, &n) in &self.expect_devices {
            if n == 0 {
                return Err(SharedError::config(
                    key(&format!("expect_devices.{profile}")),
                    "expect at least 1 device (leave the profile out for the default of 1)",
                ));
            }
        }
        self.validate_kinds()
    }

    /// The arithmetic arms of the reproduction matrices, each once, in the order listed.
    pub fn arithmetics(&self) -> Vec<crate::experiment::Arithmetic> {
        let mut out = Vec::new();
        for &a in self
            .arithmetic
            .as_deref()
            .unwrap_or(&[crate::experiment::Arithmetic::F32])
        {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// Devices of `profile` the sweep waits for.
    pub fn expected_devices(&self, profile: &str) -> u32 {
        self.expect_devices.get(profile).copied().unwrap_or(1)
    }

    /// The (model, data set) pairs of the grid's built-in models.
    pub fn model_datasets(&self) -> Vec<(ModelKind, DatasetKind)> {
        self.pairs(&self.builtin_models())
    }

    /// The built-in models of `models`.
    pub fn builtin_models(&self) -> Vec<ModelKind> {
        let builtin = |m: &ModelEntry| match m {
            ModelEntry::Builtin(k) => Some(*k),
            ModelEntry::Script(_) => None,
        };
        self.models.iter().filter_map(builtin).collect()
    }

    /// Every TorchScript model: `torch_models`, then the paths in `models` (on MNIST or each of `datasets`, with
    /// PyTorch's SGD).
    pub fn torch_model_list(&self) -> Vec<TorchModel> {
        let mut out = self.torch_models.clone();
        let datasets = self.datasets.clone().unwrap_or_else(|| vec![DatasetKind::Mnist]);
        for m in &self.models {
            if let ModelEntry::Script(file) = m {
                out.extend(datasets.iter().map(|&dataset| TorchModel {
                    file: file.clone(),
                    dataset,
                    optimizer: torch_sgd(),
                    experiments: None,
                }));
            }
        }
        out
    }

    /// `models` crossed with the data sets (each model's own when `datasets` is absent).
    fn pairs(&self, models: &[ModelKind]) -> Vec<(ModelKind, DatasetKind)> {
        let mut out = Vec::new();
        for &m in models {
            match &self.datasets {
                Some(ds) => out.extend(ds.iter().map(|&d| (m, d))),
                None => out.push((m, m.default_dataset())),
            }
        }
        out
    }
}
