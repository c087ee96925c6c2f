//! What is computed: models, data sets, precisions and the reproduction-log parameters.
use serde::{Deserialize, Serialize};
use std::fmt;

/// The models of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Multinomial logistic regression 784x10 without bias (7,840 parameters), as in the paper's analysis.
    Logreg,
    /// Multinomial logistic regression 784x10 with bias (7,850 parameters).
    LogregBias,
    /// LeNet-5 (61,706 parameters), MNIST.
    Lenet5,
    /// VGGmini (5,747,210 parameters), CIFAR-10.
    Vggmini,
}

impl ModelKind {
    /// All models, in table order.
    pub const ALL: [ModelKind; 4] = [
        ModelKind::Logreg,
        ModelKind::LogregBias,
        ModelKind::Lenet5,
        ModelKind::Vggmini,
    ];
    /// Stable lower-case name used in files, configs and tables.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Logreg => "logreg",
            ModelKind::LogregBias => "logreg-bias",
            ModelKind::Lenet5 => "lenet5",
            ModelKind::Vggmini => "vggmini",
        }
    }
    /// Number of trainable parameters (the dimension of theta).
    pub fn param_count(self) -> usize {
        match self {
            ModelKind::Logreg => 7_840,
            ModelKind::LogregBias => 7_850,
            ModelKind::Lenet5 => 61_706,
            ModelKind::Vggmini => 5_747_210,
        }
    }
    /// The data set the model is trained on in the paper.
    pub fn default_dataset(self) -> DatasetKind {
        match self {
            ModelKind::Vggmini => DatasetKind::Cifar10,
            _ => DatasetKind::Mnist,
        }
    }
    /// Whether the batch gradient is the mean of independent per-example gradients (no BatchNorm coupling).
    pub fn per_example_separable(self) -> bool {
        !matches!(self, ModelKind::Vggmini)
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelKind::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            if s.ends_with(".pt") {
                format!(
                    "{s:?} is a TorchScript file, and this command takes a built-in model (logreg, logreg-bias, \
                         lenet5, vggmini); the commands that take a TorchScript model are update, write-log, verify, \
                         trace, explain, matrix, shuffle, pol-train, pol-verify, torch-matrix and torch-forge (a step of \
                         a folder log)"
                )
            } else {
                format!("unknown model {s:?} (expected one of logreg, logreg-bias, lenet5, vggmini)")
            }
        })
    }
}

/// The data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// MNIST, 28x28 grey, 10 classes (IDX files).
    Mnist,
    /// CIFAR-10, 3x32x32 colour, 10 classes (binary batches).
    Cifar10,
    /// A user's own arrays in one folder (`inputs.npy` and `labels.npy`, or `data.safetensors`): its example
    /// shape and classes are the arrays' own (see `data::folder`).
    Folder,
}

impl DatasetKind {
    /// Stable lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Folder => "folder",
        }
    }
    /// Shape of one example, channels first (None for a folder: its arrays say, in `Dataset::shape`).
    pub fn example_shape(self) -> Option<[usize; 3]> {
        match self {
            DatasetKind::Mnist => Some([1, 28, 28]),
            DatasetKind::Cifar10 => Some([3, 32, 32]),
            DatasetKind::Folder => None,
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DatasetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mnist" => Ok(DatasetKind::Mnist),
            "cifar10" | "cifar-10" => Ok(DatasetKind::Cifar10),
            _ => Err(format!("unknown dataset {s:?} (expected mnist or cifar10)")),
        }
    }
}

/// Floating-point precision of a computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats (the default, as in training).
    #[default]
    F32,
    /// 64-bit floats (reference computations).
    F64,
}

/// The arithmetic a training step is computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arithmetic {
    /// The models' kernels in f32, as trained in the paper: results depend on the device's summation order.
    #[default]
    F32,
    /// After Srivastava, Arora & Boneh (2024): every layer's output and gradient computed in f64 and rounded to
    /// f32, the writer recording which way each value near a rounding boundary went, so that a verifier whose
    /// f64 error stays below the threshold reproduces the writer's f32 values bit for bit.
    Exact,
}

impl Arithmetic {
    /// Both arms, in table order.
    pub const ALL: [Arithmetic; 2] = [Arithmetic::F32, Arithmetic::Exact];
    /// Stable lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Arithmetic::F32 => "f32",
            Arithmetic::Exact => "exact",
        }
    }
    /// Whether this is the default arm (serialised specs leave it out, so their ids predate the exact arm).
    pub fn is_f32(&self) -> bool {
        *self == Arithmetic::F32
    }
}

impl fmt::Display for Arithmetic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Arithmetic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Arithmetic::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown arithmetic {s:?} (expected f32 or exact)"))
    }
}

/// Parameters of a reproduction log: K triples (theta_k, B_k, update) drawn from `seed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReproSpec {
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size b.
    pub batch_size: usize,
    /// Learning rate eta (0.01 in the paper).
    pub eta: f64,
    /// Number of triples K (100 in the paper).
    pub triples: usize,
    /// Master seed; theta_k and B_k derive from it through the portable RNG.
    pub seed: u64,
    /// Store theta_k and the batch indices in the log too (`--full`).
    #[serde(default)]
    pub full: bool,
    /// The arithmetic of every step (absent: f32).
    #[serde(default, skip_serializing_if = "Arithmetic::is_f32")]
    pub arithmetic: Arithmetic,
    /// The exact arm's rounding tolerance in units of each site's f64 resolution (absent: the worker's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_units: Option<f64>,
}
