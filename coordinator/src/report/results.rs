//! The results folder (layout in the parent module's header): reading it with validation, and writing it.
use super::{safe_name, write_file};
use crate::error::{CoordError, Result};
use forgebench_shared::results::{AdamReport, ImageBatch, PolVerifyReport, Prop2Report, ShuffleReport};
use forgebench_shared::tables::{AttackRow, CrossDeviceMatrix};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One input file's content and its name (the file stem; figures derived from it carry the name).
#[derive(Debug, Clone, PartialEq)]
pub struct Named<T> {
    /// File stem, e.g. "reproduction-lenet5-mnist-b100".
    pub name: String,
    /// The content.
    pub value: T,
}

impl<T> Named<T> {
    /// Pairs a value with its name.
    pub fn new(name: impl Into<String>, value: T) -> Self {
        Named {
            name: name.into(),
            value,
        }
    }
}

/// Everything a report is made from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// Cross-device matrices (Table 3, and the benign side of Table 1).
    pub matrices: Vec<Named<CrossDeviceMatrix>>,
    /// Attack rows (Table 1), one or more per file.
    pub attacks: Vec<Named<Vec<AttackRow>>>,
    /// Adam forging runs (Figure 2).
    pub adam: Vec<Named<AdamReport>>,
    /// Shuffle experiments (Figure 4).
    pub shuffle: Vec<Named<ShuffleReport>>,
    /// Proof-of-Learning replays.
    pub pol: Vec<Named<PolVerifyReport>>,
    /// Image batches, real and forged (Figure 3).
    pub grids: Vec<Named<ImageBatch>>,
    /// Proposition 2 constructions.
    pub prop2: Vec<Named<Prop2Report>>,
    /// TorchScript models' cross-device matrices.
    pub torch: Vec<Named<forgebench_shared::torchrun::TorchMatrix>>,
    /// TorchScript models' shuffle experiments.
    pub torch_shuffle: Vec<Named<forgebench_shared::torch_shuffle::TorchShuffleReport>>,
    /// TorchScript models' forged steps.
    pub torch_forge: Vec<Named<forgebench_shared::torch_forge::TorchForgeReport>>,
    /// Why the devices of each matrix differ (matched to a matrix by key).
    pub explanations: Vec<Named<forgebench_shared::trace::MatrixExplanation>>,
    /// The sweep's definition, as given.
    pub sweep: Option<serde_json::Value>,
    /// The rule of the calibrated verdicts: not read from the folder, the report command's choice (default: false
    /// alarms at most 1% per log of 100 steps).
    pub calibration: forgebench_shared::calibration::Rule,
}

/// One search inside the data domain as the results hold it: the run's name, its (model, data set, b), the search
/// and the run's provenance.
pub type DomainSearch<'a> = (
    &'a str,
    (
        forgebench_shared::experiment::ModelKind,
        forgebench_shared::experiment::DatasetKind,
        usize,
    ),
    &'a forgebench_shared::results::DomainReport,
    &'a forgebench_shared::provenance::Provenance,
);

impl Results {
    /// Every search inside the data domain: Proposition 2's, then the optimisation runs'.
    pub fn domain_searches(&self) -> impl Iterator<Item = DomainSearch<'_>> {
        use forgebench_shared::experiment::{DatasetKind, ModelKind};
        let prop2 = self.prop2.iter().filter_map(|n| {
            let setting = (ModelKind::Logreg, DatasetKind::Mnist, n.value.spec.batch_size);
            Some((n.name.as_str(), setting, n.value.domain.as_ref()?, &n.value.provenance))
        });
        let adam = self.adam.iter().filter_map(|n| {
            let s = &n.value.spec;
            let setting = (s.model, s.dataset, s.batch_size);
            Some((n.name.as_str(), setting, n.value.domain.as_ref()?, &n.value.provenance))
        });
        prop2.chain(adam)
    }

    /// Every attack row, in file order.
    pub fn attack_rows(&self) -> impl Iterator<Item = &AttackRow> {
        self.attacks.iter().flat_map(|n| n.value.iter())
    }

    /// Adds a matrix under a name derived from its key ("reproduction-lenet5-mnist-b100", "...-exact" for the exact
    /// arm, "-2" etc. when taken).
    pub fn push_matrix(&mut self, m: CrossDeviceMatrix) {
        let base = key_name(&m.key);
        let name = unique(&base, |n| self.matrices.iter().any(|x| x.name == n));
        self.matrices.push(Named::new(name, m));
    }

    /// Adds the explanation of a matrix's cells, named as [`Results::push_matrix`] names its matrix.
    pub fn push_explanation(&mut self, e: forgebench_shared::trace::MatrixExplanation) {
        let base = key_name(&e.key);
        let name = unique(&base, |n| self.explanations.iter().any(|x| x.name == n));
        self.explanations.push(Named::new(name, e));
    }
}

/// "reproduction-lenet5-mnist-b100", with "-exact" for the exact arm: the file stem of a matrix's entries.
fn key_name(k: &forgebench_shared::tables::MatrixKey) -> String {
    let arm = if k.arithmetic.is_f32() {
        String::new()
    } else {
        format!("-{}", k.arithmetic)
    };
    safe_name(&format!(
        "{}-{}-{}-b{}{arm}",
        k.experiment, k.model, k.dataset, k.batch_size
    ))
}

fn unique(base: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut name = base.to_owned();
    let mut i = 2;
    while taken(&name) {
        name = format!("{base}-{i}");
        i += 1;
    }
    name
}

/// An attack file holds one row or an array of rows.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<AttackRow>),
    One(Box<AttackRow>),
}

/// Reads a results folder. Missing entries are empty; a malformed file is an error naming it.
pub fn load_results(dir: &Path) -> Result<Results> {
    if !dir.is_dir() {
        return Err(CoordError::Invalid(format!(
            "results folder {}: not a directory",
            dir.display()
        )));
    }
    let attacks = load_dir::<OneOrMany>(dir, "attacks")?
        .into_iter()
        .map(|n| {
            let rows = match n.value {
                OneOrMany::Many(v) => v,
                OneOrMany::One(r) => vec![*r],
            };
            Named::new(n.name, rows)
        })
        .collect();
    let sweep_path = dir.join("sweep.json");
    let sweep = if sweep_path.is_file() {
        Some(read_json(&sweep_path)?)
    } else {
        None
    };
    let results = Results {
        matrices: load_dir(dir, "matrices")?,
        attacks,
        adam: load_dir(dir, "adam")?,
        shuffle: load_dir(dir, "shuffle")?,
        pol: load_dir(dir, "pol")?,
        grids: load_dir(dir, "grids")?,
        prop2: load_dir(dir, "prop2")?,
        explanations: load_dir(dir, "explain")?,
        torch: load_dir(dir, "torch")?,
        torch_shuffle: load_dir(dir, "torch-shuffle")?,
        torch_forge: load_dir(dir, "torch-forge")?,
        sweep,
        calibration: Default::default(),
    };
    validate(dir, &results)?;
    Ok(results)
}

/// Shapes the figures rely on: square matrices, whole images.
fn validate(dir: &Path, r: &Results) -> Result<()> {
    let bad = |sub: &str, name: &str, problem: String| {
        CoordError::Invalid(format!(
            "{}: {problem}",
            dir.join(sub).join(format!("{name}.json")).display()
        ))
    };
    for m in &r.matrices {
        let d = m.value.devices.len();
        if d == 0 {
            return Err(bad("matrices", &m.name, "no devices".into()));
        }
        if m.value.cells.len() != d || m.value.cells.iter().any(|row| row.len() != d) {
            return Err(bad(
                "matrices",
                &m.name,
                format!("cells is not {d} x {d} (one row and column per device)"),
            ));
        }
    }
    for g in &r.grids {
        let [c, h, w] = g.value.shape;
        let per = c * h * w;
        if !matches!(c, 1 | 3) || per == 0 || g.value.pixels.is_empty() || g.value.pixels.len() % per != 0 {
            return Err(bad(
                "grids",
                &g.name,
                format!(
                    "shape {:?} (channels 1 or 3) does not divide {} pixels into whole images",
                    g.value.shape,
                    g.value.pixels.len()
                ),
            ));
        }
    }
    Ok(())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| CoordError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| CoordError::json(path.display().to_string(), e))
}

fn load_dir<T: DeserializeOwned>(dir: &Path, sub: &str) -> Result<Vec<Named<T>>> {
    let d = dir.join(sub);
    if !d.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&d).map_err(|e| CoordError::io(&d, e))? {
        let p = entry.map_err(|e| CoordError::io(&d, e))?.path();
        if p.is_file() && p.extension().is_some_and(|x| x == "json") {
            paths.push(p);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Named::new(safe_name(&name), read_json(&p)?))
        })
        .collect()
}

/// Writes `results` in the results-folder layout under `dir` (created if needed). Names must be unique per section
/// and made of ASCII letters, digits, '.', '_' and '-'.
pub fn write_results(results: &Results, dir: &Path) -> Result<()> {
    write_dir(dir, "matrices", &results.matrices)?;
    write_dir(dir, "attacks", &results.attacks)?;
    write_dir(dir, "adam", &results.adam)?;
    write_dir(dir, "shuffle", &results.shuffle)?;
    write_dir(dir, "pol", &results.pol)?;
    write_dir(dir, "grids", &results.grids)?;
    write_dir(dir, "prop2", &results.prop2)?;
    write_dir(dir, "explain", &results.explanations)?;
    write_dir(dir, "torch", &results.torch)?;
    write_dir(dir, "torch-shuffle", &results.torch_shuffle)?;
    write_dir(dir, "torch-forge", &results.torch_forge)?;
    if let Some(s) = &results.sweep {
        write_json(&dir.join("sweep.json"), s)?;
    }
    Ok(())
}

fn write_dir<T: Serialize>(dir: &Path, sub: &str, items: &[Named<T>]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let d = dir.join(sub);
    std::fs::create_dir_all(&d).map_err(|e| CoordError::io(&d, e))?;
    for (i, n) in items.iter().enumerate() {
        if n.name.is_empty() || safe_name(&n.name) != n.name {
            return Err(CoordError::Invalid(format!(
                "{sub}: name {:?} is not a safe file name",
                n.name
            )));
        }
        if items[..i].iter().any(|m| m.name == n.name) {
            return Err(CoordError::Invalid(format!("{sub}: name {:?} is used twice", n.name)));
        }
        write_json(&d.join(format!("{}.json", n.name)), &n.value)?;
    }
    Ok(())
}

pub(crate) fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CoordError::json(path.display().to_string(), e))?;
    write_file(path, text.as_bytes())
}
