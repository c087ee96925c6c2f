//! Published reference values, shown beside measured ones and always marked "published".
//!
//! Only figures whose value, measure and setting are stated in forgebench's design issues (2 to 7) are listed;
//! each row says where it comes from. Values are converted to L2 with [`convert`] and the model's parameter count.
//! Where a source does not state the model or the batch size, the field is `None` and the value is matched
//! only on what is stated (and never shown as if it were for a specific b).
use super::texttable::TextTable;
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::measures::{convert, Measure};
use serde::Serialize;

/// Which side of the comparison a published value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Benign reproduction noise.
    Benign,
    /// A forging attack's error.
    Attack,
}

/// One published figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    /// Benign or attack.
    pub side: Side,
    /// The attack name as in [`forgebench_shared::tables::AttackRow::attack`] ("greedy", "prop2"), for attacks.
    pub attack: Option<&'static str>,
    /// What the figure is.
    pub what: &'static str,
    /// Model, when the source states it.
    pub model: Option<ModelKind>,
    /// Data set, when the source states it.
    pub dataset: Option<DatasetKind>,
    /// Batch size, when the source states it.
    pub batch_size: Option<usize>,
    /// The value as published.
    pub value: f64,
    /// The measure it was published in.
    pub measure: Measure,
    /// Where it comes from.
    pub source: &'static str,
}

impl Published {
    /// The value in L2; `None` when that needs a parameter count the source does not give.
    pub fn l2(&self) -> Option<f64> {
        match (self.measure, self.model) {
            (Measure::L2, _) => Some(self.value),
            (m, Some(model)) => Some(convert(self.value, m, Measure::L2, model.param_count())),
            (_, None) => None,
        }
    }

    /// Whether this published attack figure applies to an attack row's setting.
    pub fn matches_attack(&self, attack: &str, model: ModelKind, dataset: DatasetKind, b: usize) -> bool {
        self.side == Side::Attack
            && self.attack == Some(attack)
            && self.model.is_none_or(|m| m == model)
            && self.dataset.is_none_or(|d| d == dataset)
            && self.batch_size.is_none_or(|x| x == b)
    }
}

/// The table of published values.
pub const PUBLISHED: [Published; 3] = [
    Published {
        side: Side::Benign,
        attack: None,
        what: "same-GPU reproduction error (matrix diagonal) on one RTX 4090, caused by cuDNN auto-tuning",
        model: None,
        dataset: None,
        batch_size: None,
        value: 1.3e-8,
        measure: Measure::L2,
        source:
            "Suliman et al., Data Forging Is Harder Than You Think, Table 3 (GTX 4090 log reproduced on a GTX 4090)",
    },
    Published {
        side: Side::Attack,
        attack: Some("greedy"),
        what: "forging error of Kong et al. (2023), whose attack is the greedy search: 1e-6 in L2^2/dim on VGGmini",
        model: Some(ModelKind::Vggmini),
        dataset: Some(DatasetKind::Cifar10),
        batch_size: None,
        value: 1e-6,
        measure: Measure::L2SqPerDim,
        source: "Kong et al. 2023, as Suliman et al. compare it in their Table 2 (error measures)",
    },
    Published {
        side: Side::Attack,
        attack: Some("prop2"),
        what: "verification error of the Proposition 2 forged batch (about 2.5e-8)",
        model: Some(ModelKind::Logreg),
        dataset: Some(DatasetKind::Mnist),
        batch_size: None,
        value: 2.5e-8,
        measure: Measure::L2,
        source: "Suliman et al., Figure 3 (the Proposition 2 forgery of a 100-example MNIST batch)",
    },
];

/// Published attack figures for an attack row's setting.
pub fn for_attack(attack: &str, model: ModelKind, dataset: DatasetKind, b: usize) -> Vec<&'static Published> {
    PUBLISHED
        .iter()
        .filter(|p| p.matches_attack(attack, model, dataset, b))
        .collect()
}

/// Every published value as a table (callers title it as published).
pub fn table() -> TextTable {
    let mut t = TextTable::new(&["side", "what", "model", "dataset", "b", "as published", "L2", "source"]);
    let or_not = |o: Option<String>| o.unwrap_or_else(|| "not stated".into());
    for p in &PUBLISHED {
        t.push(vec![
            format!("{:?}", p.side).to_lowercase(),
            p.what.into(),
            or_not(p.model.map(|m| m.to_string())),
            or_not(p.dataset.map(|d| d.to_string())),
            or_not(p.batch_size.map(|b| b.to_string())),
            format!("{:e} {}", p.value, measure_name(p.measure)),
            p.l2().map_or("–".into(), |v| format!("{v:.4e}")),
            p.source.into(),
        ]);
    }
    t
}

/// How a measure is written in tables.
pub fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::L2 => "L2",
        Measure::L2Sq => "L2^2",
        Measure::L2SqPerDim => "L2^2/dim",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kong_converts_to_about_2_398() {
        let l2 = PUBLISHED[1].l2().expect("VGGmini has a parameter count");
        assert!((l2 - 2.3973).abs() < 1e-3, "got {l2}, expected about 2.398");
    }

    #[test]
    fn matching_respects_stated_fields() {
        assert_eq!(
            for_attack("greedy", ModelKind::Vggmini, DatasetKind::Cifar10, 100).len(),
            1
        );
        assert!(for_attack("greedy", ModelKind::Lenet5, DatasetKind::Mnist, 100).is_empty());
        assert_eq!(for_attack("prop2", ModelKind::Logreg, DatasetKind::Mnist, 7).len(), 1);
        assert!(for_attack("adam", ModelKind::Logreg, DatasetKind::Mnist, 100).is_empty());
    }
}
