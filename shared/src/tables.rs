//! Aggregated cross-device tables: the matrix of reproduction errors (rows: the device that wrote the log,
//! columns: the device that verified it) and the benign-versus-attack table, with Markdown, CSV and JSON output.
//! Pure data and formatting, shared by the single-machine matrix command, the coordinator and the reports.
use crate::experiment::{Arithmetic, DatasetKind, ModelKind};
use crate::fingerprint::DeviceFingerprint;
use crate::measures::{json, nan_max, Measure, MeasureSummary};
use crate::profile::DeviceProfile;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

mod classes;
pub use classes::class_name;

/// A device column/row of a matrix: profile plus what the worker reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceLabel {
    /// The profile.
    pub profile: DeviceProfile,
    /// The fingerprint of the worker that ran it.
    pub fingerprint: DeviceFingerprint,
}

impl DeviceLabel {
    /// The device's id (profile and fingerprint: [`crate::device::device_id`]).
    pub fn id(&self) -> crate::ids::DeviceId {
        crate::device::device_id(&self.profile, &self.fingerprint)
    }

    /// Header text, e.g. "cpu-avx2 @ laba (AMD EPYC; cpu, aten avx2, 1 thread)"; the host is left out when unknown.
    pub fn header(&self) -> String {
        let ord = match &self.profile.device {
            crate::profile::Device::CudaOrdinal(o) => Some(*o),
            crate::profile::Device::CudaUuid(u) => {
                self.fingerprint.gpus.iter().find(|g| &g.uuid == u).map(|g| g.ordinal)
            }
            crate::profile::Device::Cpu => None,
        };
        let host = match self.fingerprint.hostname.as_str() {
            "" => String::new(),
            h => format!(" @ {h}"),
        };
        format!(
            "{}{host} ({}; {})",
            self.profile.name,
            self.fingerprint.hardware_label(ord),
            self.profile.label()
        )
    }
}

/// One cell: the summary of every per-triple measure of one (writer, verifier) pair, and each triple's L2 (the
/// samples of the benign distribution that calibrated verdicts are drawn from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Per-measure summaries over the K triples.
    pub summary: MeasureSummary,
    /// L2 of each triple, in log order (empty in files written before they were kept, and in pooled cells).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "json::vec")]
    pub l2: Vec<f64>,
}

impl Cell {
    /// The cell of these per-triple measures.
    pub fn of(per_triple: &[crate::measures::ErrorMeasures]) -> Cell {
        Cell {
            summary: MeasureSummary::of(per_triple),
            l2: per_triple.iter().map(|m| m.l2).collect(),
        }
    }

    /// A cell known only by its summary.
    pub fn summarised(summary: MeasureSummary) -> Cell {
        Cell {
            summary,
            l2: Vec::new(),
        }
    }
}

/// Which experiment a matrix belongs to, e.g. reproduction of LeNet/MNIST at b = 100.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MatrixKey {
    /// "reproduction", "pol", ...
    pub experiment: String,
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size.
    pub batch_size: usize,
    /// The arithmetic of the steps (absent: f32).
    #[serde(default, skip_serializing_if = "Arithmetic::is_f32")]
    pub arithmetic: Arithmetic,
}

impl MatrixKey {
    /// "reproduction lenet5/mnist b=100", with " (exact arithmetic)" for the exact arm.
    pub fn title(&self) -> String {
        let arm = match self.arithmetic {
            Arithmetic::F32 => "",
            Arithmetic::Exact => " (exact arithmetic)",
        };
        format!(
            "{} {}/{} b={}{arm}",
            self.experiment, self.model, self.dataset, self.batch_size
        )
    }
}

/// A D x D cross-device matrix. Its JSON carries each device's equivalence class (`classes`, derived from the
/// cells and ignored when read back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "MatrixJson", from = "MatrixJson")]
pub struct CrossDeviceMatrix {
    /// What was measured.
    pub key: MatrixKey,
    /// Devices, in row and column order.
    pub devices: Vec<DeviceLabel>,
    /// `cells[writer][verifier]`; `None` while not (yet) computed.
    pub cells: Vec<Vec<Option<Cell>>>,
}

/// The JSON form of [`CrossDeviceMatrix`].
#[derive(Serialize, Deserialize)]
struct MatrixJson {
    key: MatrixKey,
    devices: Vec<DeviceJson>,
    cells: Vec<Vec<Option<Cell>>>,
    #[serde(default)]
    classes: Vec<String>,
}

/// A device as a matrix's JSON lists it: the label plus, derived from it and ignored when read back, its id, host
/// and equivalence class.
#[derive(Serialize, Deserialize)]
struct DeviceJson {
    #[serde(flatten)]
    label: DeviceLabel,
    #[serde(default)]
    device_id: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    class: String,
}

impl From<CrossDeviceMatrix> for MatrixJson {
    fn from(m: CrossDeviceMatrix) -> Self {
        let classes = m.class_names();
        let devices = m
            .devices
            .into_iter()
            .zip(&classes)
            .map(|(label, class)| DeviceJson {
                device_id: label.id().0,
                host: label.fingerprint.hostname.clone(),
                class: class.clone(),
                label,
            })
            .collect();
        MatrixJson {
            key: m.key,
            devices,
            cells: m.cells,
            classes,
        }
    }
}

impl From<MatrixJson> for CrossDeviceMatrix {
    fn from(j: MatrixJson) -> Self {
        CrossDeviceMatrix {
            key: j.key,
            devices: j.devices.into_iter().map(|d| d.label).collect(),
            cells: j.cells,
        }
    }
}

fn pick(s: &MeasureSummary, m: Measure) -> &crate::measures::Summary {
    match m {
        Measure::L2 => &s.l2,
        Measure::L2Sq => &s.l2_sq,
        Measure::L2SqPerDim => &s.l2_sq_per_dim,
    }
}

fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::L2 => "L2",
        Measure::L2Sq => "L2^2",
        Measure::L2SqPerDim => "L2^2/dim",
    }
}

impl CrossDeviceMatrix {
    /// The largest benign error (max over cells of the max measure), the figure attacks are compared with; NaN when
    /// any cell's is, `None` when no cell is computed.
    pub fn largest(&self, m: Measure) -> Option<f64> {
        nan_max(self.cells.iter().flatten().flatten().map(|c| pick(&c.summary, m).max))
    }

    /// Markdown table: each cell "mean / max" of the measure (a non-finite value reads "NaN", "inf" or "-inf").
    pub fn to_markdown(&self, m: Measure) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "**{}** ({} mean / max over triples; rows: log writer, columns: verifier)\n",
            self.key.title(),
            measure_name(m)
        );
        s.push_str("| writer \\ verifier |");
        for d in &self.devices {
            let _ = write!(s, " {} |", d.profile.name);
        }
        s.push_str("\n|---|");
        s.push_str(&"---|".repeat(self.devices.len()));
        s.push('\n');
        for (i, row) in self.cells.iter().enumerate() {
            let _ = write!(s, "| {} |", self.devices[i].profile.name);
            for c in row {
                match c {
                    Some(c) => {
                        let v = pick(&c.summary, m);
                        let _ = write!(
                            s,
                            " {} / {} |",
                            crate::numfmt::error(v.mean),
                            crate::numfmt::error(v.max)
                        );
                    }
                    None => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
        s.push('\n');
        for (d, c) in self.devices.iter().zip(self.class_names()) {
            let _ = writeln!(s, "- [{c}] {}", d.header());
        }
        let _ = writeln!(
            s,
            "\nEquivalence classes (bitwise identical results on every triple): {}",
            self.classes_line()
        );
        s
    }

    /// CSV with one line per (writer, verifier) pair and every measure's mean and max ("NaN", "inf", "-inf" for
    /// non-finite values, which `f64::from_str` reads back).
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "experiment,model,dataset,batch_size,writer,verifier,n,l2_mean,l2_max,l2sq_mean,l2sq_max,l2sqdim_mean,l2sqdim_max,linf_max,rel_mean,rel_max,writer_class,verifier_class\n",
        );
        let classes = self.class_names();
        for (i, row) in self.cells.iter().enumerate() {
            for (j, c) in row.iter().enumerate() {
                let Some(c) = c else { continue };
                let x = &c.summary;
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{},{}",
                    self.key.experiment,
                    self.key.model,
                    self.key.dataset,
                    self.key.batch_size,
                    self.devices[i].profile.name,
                    self.devices[j].profile.name,
                    x.l2.n,
                    x.l2.mean,
                    x.l2.max,
                    x.l2_sq.mean,
                    x.l2_sq.max,
                    x.l2_sq_per_dim.mean,
                    x.l2_sq_per_dim.max,
                    x.linf.max,
                    x.rel.mean,
                    x.rel.max,
                    classes[i],
                    classes[j]
                );
            }
        }
        s
    }
}

/// One attack's error beside the benign reference, for the paper-style Table 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackRow {
    /// "greedy", "local-search", "adam", "adam-projected", "prop2".
    pub attack: String,
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size.
    pub batch_size: usize,
    /// Attack error in L2 (what the comparison uses).
    #[serde(with = "json")]
    pub error_l2: f64,
    /// Parameters of the attack in words, e.g. "n=1000, M=10000".
    pub parameters: String,
    /// Largest benign L2 error for the same model, data set and b, if measured.
    #[serde(default, with = "json::opt")]
    pub benign_l2: Option<f64>,
    /// The forged batch against the exact verifier, where measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_arm: Option<crate::results::ExactArmCheck>,
    /// L2 of every forged step, where the attack forged several (greedy and local search, one per PoL step); empty
    /// when `error_l2` is the attack's one step.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "json::vec")]
    pub step_errors_l2: Vec<f64>,
}

impl AttackRow {
    /// The L2 of each forged step: [`AttackRow::step_errors_l2`], or `error_l2` alone.
    pub fn steps_l2(&self) -> Vec<f64> {
        if self.step_errors_l2.is_empty() {
            vec![self.error_l2]
        } else {
            self.step_errors_l2.clone()
        }
    }

    /// error / largest benign error: how many times above benign noise the attack stays (NaN when either is NaN;
    /// none when the benign error is 0 or missing).
    pub fn ratio(&self) -> Option<f64> {
        ratio(self.error_l2, self.benign_l2)
    }

    /// The verdict of a PoL verifier calibrated at `benign_l2` x [`crate::verdict::POL_MARGIN`].
    pub fn verdict(&self) -> crate::verdict::Verdict {
        crate::verdict::Verdict::at(self.error_l2, self.benign_l2, crate::verdict::POL_MARGIN)
    }
}

/// `error / benign`, none when `benign` is missing or 0. `!= 0.0`, not `> 0.0`, so that a NaN benign figure gives a
/// NaN ratio rather than a blank one.
pub fn ratio(error: f64, benign: Option<f64>) -> Option<f64> {
    benign.filter(|b| *b != 0.0).map(|b| error / b)
}
