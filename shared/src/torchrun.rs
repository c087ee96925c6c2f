//! A PyTorch user's training run as forgebench verifies it: the model file (TorchScript) and its identity, the
//! optimiser and learning-rate schedule, the data set and its transform, and the verification report. Two layouts
//! reach this form (the worker's `torchrun`): the log the bundled Python module writes (`worker/python/forgebench_log.py`,
//! [`TORCH_LOG_FORMAT`]) and the public Proof-of-Learning code's folder (Jia et al. 2021: `indices.npy`,
//! `model_step_{i}`, `hash.txt`).
use crate::experiment::DatasetKind;
use crate::measures::ErrorMeasures;
use crate::optim::Optimizer;
use crate::pol_strategy::Strategy;
use crate::provenance::Provenance;
use crate::results::InitCheck;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Format tag of a folder log whose tensors are one file ([`TENSORS_FILE`], as `pol-train --model` writes it).
pub const TORCH_LOG_FORMAT: &str = "forgebench-torch-log/1";
/// Format tag of the streamed folder log the Python module writes: a file per checkpoint, each written as it is
/// taken, the manifest's `steps`, `lr` and `checkpoints` empty (the files hold them).
pub const STREAMED_FORMAT: &str = "forgebench-torch-log/2";
/// The manifest's file name inside a log folder.
pub const MANIFEST_FILE: &str = "forgebench-log.json";
/// The tensors' file name inside a log folder.
pub const TENSORS_FILE: &str = "log.safetensors";

/// One parameter of a model, in `named_parameters()` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamInfo {
    /// Its name ("conv1.weight").
    pub name: String,
    /// Its shape.
    pub shape: Vec<i64>,
}

impl ParamInfo {
    /// Number of values.
    pub fn numel(&self) -> usize {
        self.shape.iter().map(|&d| d.max(0) as usize).product()
    }
}

/// Which model a result used: a built-in name, or a TorchScript file by its sha256 and parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelIdentity {
    /// The file as given (a TorchScript archive).
    pub file: String,
    /// sha256 (hex) of the file's bytes.
    pub sha256: String,
    /// Parameters in flattening order; theta is their concatenation.
    pub params: Vec<ParamInfo>,
}

impl ModelIdentity {
    /// Dimension of theta.
    pub fn dim(&self) -> usize {
        self.params.iter().map(ParamInfo::numel).sum()
    }
}

/// How stored examples become the model's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transform {
    /// `byte / 255`, as forgebench's loaders give it (and torchvision's `ToTensor`).
    Scaled,
    /// `ToTensor()` then `Normalize(0.5, 0.5)`: `(byte / 255 - 0.5) / 0.5`, the public PoL code's MNIST transform.
    Normalize05,
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transform::Scaled => "byte / 255",
            Transform::Normalize05 => "ToTensor, Normalize(0.5, 0.5)",
        })
    }
}

/// The data a run was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetRef {
    /// Which training set (forgebench's loader reads it from the data folder).
    pub kind: DatasetKind,
    /// sha256 as forgebench's loader computes it (MNIST: images file then labels file, decompressed).
    pub sha256: String,
    /// Number of examples.
    pub n: usize,
    /// The transform.
    pub transform: Transform,
    /// A folder data set's folder when the log was written: where a verifier looks unless told `--dataset PATH`
    /// (the sha256 decides either way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl DatasetRef {
    /// What a result records of `ds`, read through `transform`.
    pub fn of(ds: &crate::data::Dataset, transform: Transform) -> DatasetRef {
        DatasetRef {
            kind: ds.kind,
            sha256: ds.sha256.clone(),
            n: ds.n,
            transform,
            path: ds.folder().map(|p| p.display().to_string()),
        }
    }
}

/// Where and how the writer trained, as the Python module records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorchWriter {
    /// `torch.__version__`.
    pub torch_version: String,
    /// `torch.backends.cpu.get_cpu_capability()`.
    pub cpu_capability: String,
    /// `torch.get_num_threads()`.
    pub threads: u32,
    /// The device the model trained on ("cpu", "cuda:0").
    pub device: String,
    /// The program that trained ("python 3.11.7", "forgebench-worker <version>").
    pub program: String,
}

/// The Python module's manifest ([`MANIFEST_FILE`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorchLogManifest {
    /// [`TORCH_LOG_FORMAT`].
    pub format: String,
    /// The model file (relative to the log folder) and its identity.
    pub model: ModelIdentity,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// The learning rate of each step (the schedule as it ran).
    pub lr: Vec<f64>,
    /// Batch size.
    pub batch_size: usize,
    /// Steps taken.
    pub steps: usize,
    /// The steps after which checkpoints were taken (0 first, `steps` last).
    pub checkpoints: Vec<usize>,
    /// The training data.
    pub dataset: DatasetRef,
    /// Who wrote it.
    pub writer: TorchWriter,
    /// The seed of the run's initial weights and batch order, when the writer gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// File name of the note forgebench's export adds to the public PoL layout.
pub const EXPORT_NOTE_FILE: &str = "forgebench.json";

/// What the public layout does not record of a run forgebench exported into it: the layout's reader takes the
/// transform, optimiser and learning rate from here instead of from the public code's conventions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportNote {
    /// The built-in model that trained.
    pub model: String,
    /// Its optimiser.
    pub optimizer: Optimizer,
    /// The learning rate of every step.
    pub lr: f64,
    /// How examples became inputs.
    pub transform: Transform,
}

/// One replayed interval (checkpoint `from` to checkpoint `to`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalError {
    /// First step replayed.
    pub from_step: usize,
    /// The step after the last one replayed (the stored checkpoint compared with).
    pub to_step: usize,
    /// Distance of the replayed parameters from the stored checkpoint.
    pub error: ErrorMeasures,
}

/// The verification of a PyTorch user's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorchRunReport {
    /// The log folder as given.
    pub log: String,
    /// Its layout ("forgebench-torch-log/1", "forgebench-torch-log/2" or "public-pol").
    pub layout: String,
    /// The model file that was replayed.
    pub model: ModelIdentity,
    /// The optimiser replayed.
    pub optimizer: Optimizer,
    /// The data set's identity, checked before anything was replayed.
    pub dataset: DatasetRef,
    /// Who wrote the log, when it says.
    pub writer: Option<TorchWriter>,
    /// Who replayed it.
    pub verifier: Provenance,
    /// Each replayed interval, in order.
    pub intervals: Vec<IntervalError>,
    /// Which intervals were replayed.
    pub strategy: Strategy,
    /// Of the log's intervals (checkpoint i to i + 1), the ones replayed; `intervals` holds them in this order.
    pub replayed: Vec<usize>,
    /// How many intervals the log has.
    pub log_intervals: usize,
    /// The initialisation check of theta_0 (Kolmogorov-Smirnov against PyTorch's defaults, by parameter).
    pub init_check: Option<InitCheck>,
    /// The L2 pass threshold.
    pub epsilon: f64,
    /// How it was obtained.
    pub epsilon_source: String,
    /// Indices into `intervals` above epsilon (NaN errors included).
    pub failed: Vec<usize>,
    /// The steps of the failed intervals: what this strategy caught.
    pub caught_steps: Vec<usize>,
    /// No interval failed.
    pub passed: bool,
}

/// A TorchScript model's cross-device matrix: row i the profile that wrote the log, column j the one that replayed
/// it; each cell the largest and the mean L2 over the log's one-step intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorchMatrix {
    /// The model file.
    pub model: ModelIdentity,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// The training data.
    pub dataset: DatasetRef,
    /// Steps per log (each its own interval).
    pub steps: usize,
    /// Batch size.
    pub batch_size: usize,
    /// The profiles, rows and columns alike.
    pub devices: Vec<String>,
    /// Largest interval L2 per (writer, verifier); NaN while not replayed.
    #[serde(with = "crate::measures::json::rows")]
    pub l2_max: Vec<Vec<f64>>,
    /// Mean interval L2 per (writer, verifier).
    #[serde(with = "crate::measures::json::rows")]
    pub l2_mean: Vec<Vec<f64>>,
    /// Each verifier's provenance (its first report's), in profile order.
    pub verifiers: Vec<Provenance>,
    /// The logs are independent reproduction triples at the file's parameters (`matrix --model FILE.pt`), not a
    /// training run's steps: `steps` counts the triples and `optimizer` is plain SGD.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub triples: bool,
}

impl TorchMatrix {
    /// What the matrix is of: the file, its size and hash, the optimiser and the run.
    pub fn title(&self) -> String {
        let (steps, b, opt) = (self.steps, self.batch_size, &self.optimizer);
        let run = if self.triples {
            format!("{steps} reproduction triples of b={b} at the file's parameters ({opt})")
        } else {
            format!("{opt}, {steps} steps of b={b}")
        };
        format!(
            "{} ({} parameters, sha256 {}), {run} on {}",
            self.model.file,
            self.model.dim(),
            &self.model.sha256[..self.model.sha256.len().min(12)],
            self.dataset.kind
        )
    }

    /// The matrix of largest L2 as a markdown table.
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "{}: largest L2 per {} (rows: writer, columns: verifier)\n\n| writer \\ verifier |",
            self.title(),
            if self.triples { "triple" } else { "step" }
        );
        for d in &self.devices {
            s.push_str(&format!(" {d} |"));
        }
        s.push_str(&format!("\n|---|{}\n", "---|".repeat(self.devices.len())));
        for (d, row) in self.devices.iter().zip(&self.l2_max) {
            s.push_str(&format!("| {d} |"));
            for v in row {
                s.push_str(&format!(" {} |", crate::numfmt::error(*v)));
            }
            s.push('\n');
        }
        s
    }
}

impl TorchMatrix {
    /// An empty matrix of a run's identity, its devices added by [`TorchMatrix::put`].
    pub fn empty(model: ModelIdentity, optimizer: Optimizer, dataset: DatasetRef, steps: usize, b: usize) -> Self {
        TorchMatrix {
            model,
            optimizer,
            dataset,
            steps,
            batch_size: b,
            devices: Vec::new(),
            l2_max: Vec::new(),
            l2_mean: Vec::new(),
            verifiers: Vec::new(),
            triples: false,
        }
    }

    /// Index of `device`, added (its row and column NaN until filled) when new.
    fn index(&mut self, device: &str) -> usize {
        if let Some(i) = self.devices.iter().position(|d| d == device) {
            return i;
        }
        self.devices.push(device.to_owned());
        for row in self.l2_max.iter_mut().chain(self.l2_mean.iter_mut()) {
            row.push(f64::NAN);
        }
        let n = self.devices.len();
        self.l2_max.push(vec![f64::NAN; n]);
        self.l2_mean.push(vec![f64::NAN; n]);
        n - 1
    }

    /// Rows and columns in `order` (devices it does not name last, as they were).
    pub fn order_by(&mut self, order: &[String]) {
        let rank = |d: &String| order.iter().position(|o| o == d).unwrap_or(order.len());
        let mut idx: Vec<usize> = (0..self.devices.len()).collect();
        idx.sort_by_key(|&i| (rank(&self.devices[i]), i));
        let pick =
            |m: &[Vec<f64>]| -> Vec<Vec<f64>> { idx.iter().map(|&r| idx.iter().map(|&c| m[r][c]).collect()).collect() };
        self.l2_max = pick(&self.l2_max);
        self.l2_mean = pick(&self.l2_mean);
        self.devices = idx.iter().map(|&i| self.devices[i].clone()).collect();
        self.verifiers.sort_by_key(|p| rank(&p.profile.name));
    }

    /// Files the replay of device `writer`'s log by device `verifier` (`report`): the largest and the mean interval
    /// L2.
    pub fn put(&mut self, writer: &str, verifier: &str, report: &TorchRunReport) {
        let (w, v) = (self.index(writer), self.index(verifier));
        let l2: Vec<f64> = report.intervals.iter().map(|i| i.error.l2).collect();
        self.l2_max[w][v] = crate::measures::nan_max(l2.iter().copied()).unwrap_or(f64::NAN);
        self.l2_mean[w][v] = l2.iter().sum::<f64>() / l2.len().max(1) as f64;
        // A verifier's first report stands for it: where it ran, with what.
        let id = report.verifier.device_id();
        if !self.verifiers.iter().any(|p| p.device_id() == id) {
            self.verifiers.push(report.verifier.clone());
        }
    }
}
