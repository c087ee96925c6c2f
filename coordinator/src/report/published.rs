//! The paper's published values, shown beside measured ones and always marked "published".
//!
//! Every figure of Suliman et al., "Data Forging Is Harder Than You Think": Table 1 (largest reproduction error
//! and the greedy attacks' errors per setting), Table 3 (the GTX 4090 / Tesla V100 matrices), Figure 2 (Adam),
//! Figure 3 (the Proposition 2 forgery) and Figure 4 (shuffles), each with its model, data set, b, measure and
//! source. Values are kept in the measure their source used and converted to L2 with [`convert`] and the
//! model's parameter count, as the paper's Appendix A.3.1 does.
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

/// What a published figure measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Table 1's largest hardware reproduction error of a setting.
    LargestBenign,
    /// One cell of a Table 3 matrix: the GPU that wrote the log and the one that verified it.
    Cell {
        /// The GPU that wrote the log (the row).
        writer: &'static str,
        /// The GPU that recomputed it (the column).
        verifier: &'static str,
    },
    /// Errors between shufflings of one batch (Figure 4).
    Shuffle,
    /// An attack's error; the name is [`forgebench_shared::tables::AttackRow::attack`]'s.
    Attack(&'static str),
}

/// One published figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    /// What it measures.
    pub kind: Kind,
    /// What the figure is, in words.
    pub what: &'static str,
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size.
    pub batch_size: usize,
    /// The value in the source's measure.
    pub value: f64,
    /// The measure the source used.
    pub measure: Measure,
    /// Whether the value is read off a figure or stated as approximate ("about").
    pub approximate: bool,
    /// Where it comes from: paper and table or figure.
    pub source: &'static str,
}

impl Published {
    /// Benign or attack.
    pub fn side(&self) -> Side {
        match self.kind {
            Kind::Attack(_) => Side::Attack,
            _ => Side::Benign,
        }
    }

    /// The value in L2.
    pub fn l2(&self) -> f64 {
        convert(self.value, self.measure, Measure::L2, self.model.param_count())
    }

    /// Whether the figure is for this model, data set and b.
    pub fn is_for(&self, model: ModelKind, dataset: DatasetKind, b: usize) -> bool {
        (self.model, self.dataset, self.batch_size) == (model, dataset, b)
    }

    /// The value as published, with its measure ("about 1e-3 L2", "1e-6 L2^2/dim").
    pub fn as_published(&self) -> String {
        let about = if self.approximate { "about " } else { "" };
        format!("{about}{:e} {}", self.value, measure_name(self.measure))
    }
}

macro_rules! fig {
    ($kind:expr, $what:expr, $model:ident, $data:ident, $b:expr, $v:expr, $m:ident, $approx:expr, $src:expr) => {
        Published {
            kind: $kind,
            what: $what,
            model: ModelKind::$model,
            dataset: DatasetKind::$data,
            batch_size: $b,
            value: $v,
            measure: Measure::$m,
            approximate: $approx,
            source: $src,
        }
    };
}

const fn cell(writer: &'static str, verifier: &'static str) -> Kind {
    Kind::Cell { writer, verifier }
}

const G4090: &str = "GTX 4090";
const V100: &str = "Tesla V100";
const T1: &str = "Suliman et al., Data Forging Is Harder Than You Think, Table 1";
const T1_KONG: &str = "Suliman et al., Table 1 (Kong et al. 2023's greedy search, converted to L2 by Suliman et al.)";
const T1_THUDI: &str = "Suliman et al., Table 1 and Appendix A.3.1 (Thudi et al. 2022 report L2^2 = 1e-6)";
const T1_KONG_VGG: &str = "Suliman et al., Table 1 and Appendix A.3.1 (Kong et al. 2023 report L2^2/dim = 1e-6)";
const T3A: &str = "Suliman et al., Table 3(a)";
const T3B: &str = "Suliman et al., Table 3(b)";
const T3C: &str = "Suliman et al., Table 3(c)";
const F2: &str = "Suliman et al., Figure 2 (10 Adam runs, b = 100)";
const F3: &str = "Suliman et al., Figure 3 and Section 4 (a forged 100-example MNIST batch)";
const F4: &str = "Suliman et al., Figure 4 and Appendix A.3.2 (100 shufflings of an MNIST batch)";
const REPR: &str = "largest hardware reproduction error (GTX 4090 and Tesla V100)";
const CELL: &str = "reproduction error, log written on the row GPU and verified on the column GPU";

/// Every published figure of the paper, in its order: Table 1, Table 3, Figure 2, Figure 3, Figure 4.
pub const PUBLISHED: [Published; 23] = [
    fig!(Kind::LargestBenign, REPR, Lenet5, Mnist, 100, 3.1e-6, L2, false, T1),
    fig!(
        Kind::Attack("greedy"),
        "greedy search attack (Kong et al. 2023)",
        Lenet5,
        Mnist,
        100,
        7.9e-3,
        L2,
        false,
        T1_KONG
    ),
    fig!(Kind::LargestBenign, REPR, Lenet5, Mnist, 1000, 2.1e-6, L2, false, T1),
    fig!(
        Kind::Attack("greedy"),
        "greedy search attack (Thudi et al. 2022)",
        Lenet5,
        Mnist,
        1000,
        1e-6,
        L2Sq,
        false,
        T1_THUDI
    ),
    fig!(Kind::LargestBenign, REPR, Vggmini, Cifar10, 100, 4.4e-4, L2, false, T1),
    fig!(
        Kind::Attack("greedy"),
        "greedy search attack (Kong et al. 2023)",
        Vggmini,
        Cifar10,
        100,
        1e-6,
        L2SqPerDim,
        false,
        T1_KONG_VGG
    ),
    fig!(cell(G4090, G4090), CELL, Lenet5, Mnist, 100, 1.3e-8, L2, false, T3A),
    fig!(cell(G4090, V100), CELL, Lenet5, Mnist, 100, 3.1e-6, L2, false, T3A),
    fig!(cell(V100, G4090), CELL, Lenet5, Mnist, 100, 3.1e-6, L2, false, T3A),
    fig!(cell(V100, V100), CELL, Lenet5, Mnist, 100, 0.0, L2, false, T3A),
    fig!(cell(G4090, G4090), CELL, Lenet5, Mnist, 1000, 2.2e-8, L2, false, T3B),
    fig!(cell(G4090, V100), CELL, Lenet5, Mnist, 1000, 2.1e-6, L2, false, T3B),
    fig!(cell(V100, G4090), CELL, Lenet5, Mnist, 1000, 2.1e-6, L2, false, T3B),
    fig!(cell(V100, V100), CELL, Lenet5, Mnist, 1000, 0.0, L2, false, T3B),
    fig!(cell(G4090, G4090), CELL, Vggmini, Cifar10, 100, 2.9e-7, L2, false, T3C),
    fig!(cell(G4090, V100), CELL, Vggmini, Cifar10, 100, 4.4e-4, L2, false, T3C),
    fig!(cell(V100, G4090), CELL, Vggmini, Cifar10, 100, 4.5e-4, L2, false, T3C),
    fig!(cell(V100, V100), CELL, Vggmini, Cifar10, 100, 0.0, L2, false, T3C),
    fig!(
        Kind::Attack("adam"),
        "Adam optimisation of a synthetic batch (Algorithm 1)",
        Lenet5,
        Mnist,
        100,
        1e-3,
        L2,
        true,
        F2
    ),
    fig!(
        Kind::Attack("adam"),
        "Adam optimisation of a synthetic batch (Algorithm 1)",
        Vggmini,
        Cifar10,
        100,
        1.38,
        L2,
        true,
        F2
    ),
    fig!(
        Kind::Attack("prop2"),
        "Proposition 2 forged batch",
        Logreg,
        Mnist,
        100,
        2.5e-8,
        L2,
        true,
        F3
    ),
    fig!(
        Kind::Shuffle,
        "error between shufflings of one batch",
        Logreg,
        Mnist,
        100,
        1e-8,
        L2,
        true,
        F4
    ),
    fig!(
        Kind::Shuffle,
        "error between shufflings of one batch",
        Logreg,
        Mnist,
        1000,
        1e-8,
        L2,
        true,
        F4
    ),
];

/// The published figures of one kind and setting, in the paper's order.
pub fn find(
    pred: impl Fn(&Kind) -> bool,
    model: ModelKind,
    dataset: DatasetKind,
    b: usize,
) -> impl Iterator<Item = &'static Published> {
    PUBLISHED
        .iter()
        .filter(move |p| pred(&p.kind) && p.is_for(model, dataset, b))
}

/// The published figure for an attack row's attack and setting.
pub fn for_attack(attack: &str, model: ModelKind, dataset: DatasetKind, b: usize) -> Option<&'static Published> {
    find(|k| matches!(k, Kind::Attack(a) if *a == attack), model, dataset, b).next()
}

/// Table 1's published largest reproduction error of a setting.
pub fn largest_benign(model: ModelKind, dataset: DatasetKind, b: usize) -> Option<&'static Published> {
    find(|k| *k == Kind::LargestBenign, model, dataset, b).next()
}

/// The published Table 3 matrix of a setting, as a text table of L2 values (rows: writer GPU).
pub fn matrix(model: ModelKind, dataset: DatasetKind, b: usize) -> Option<(TextTable, &'static str)> {
    let cells: Vec<_> = find(|k| matches!(k, Kind::Cell { .. }), model, dataset, b).collect();
    let first = cells.first()?;
    let mut gpus: Vec<&str> = Vec::new();
    for c in &cells {
        if let Kind::Cell { writer, .. } = c.kind {
            if !gpus.contains(&writer) {
                gpus.push(writer);
            }
        }
    }
    let mut headers = vec!["writer \\ verifier (published)".to_owned()];
    headers.extend(gpus.iter().map(|g| g.to_string()));
    let mut t = TextTable {
        headers,
        rows: Vec::new(),
    };
    for w in &gpus {
        let mut row = vec![w.to_string()];
        for v in &gpus {
            let c = cells.iter().find(|c| c.kind == cell(w, v));
            row.push(c.map_or("–".into(), |c| forgebench_shared::numfmt::error(c.l2())));
        }
        t.push(row);
    }
    Some((t, first.source))
}

/// Every published value as a table (callers title it as published).
pub fn table() -> TextTable {
    let mut t = TextTable::new(&["side", "what", "model", "dataset", "b", "as published", "L2", "source"]);
    for p in &PUBLISHED {
        let what = match p.kind {
            Kind::Cell { writer, verifier } => format!("{} (written on {writer}, verified on {verifier})", p.what),
            _ => p.what.to_owned(),
        };
        t.push(vec![
            format!("{:?}", p.side()).to_lowercase(),
            what,
            p.model.to_string(),
            p.dataset.to_string(),
            p.batch_size.to_string(),
            p.as_published(),
            forgebench_shared::numfmt::error(p.l2()),
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
    use ModelKind::*;

    #[test]
    fn conversions_follow_appendix_a31() {
        let kong = for_attack("greedy", Vggmini, DatasetKind::Cifar10, 100).expect("Table 1 has VGGmini");
        assert!(
            (kong.l2() - 2.398).abs() < 1e-3,
            "got {}, the paper says about 2.398",
            kong.l2()
        );
        let thudi = for_attack("greedy", Lenet5, DatasetKind::Mnist, 1000).expect("Table 1 has LeNet b=1000");
        assert!(
            (thudi.l2() - 1e-3).abs() < 1e-12,
            "got {}, the paper says 1e-3",
            thudi.l2()
        );
    }

    #[test]
    fn table3_matrices_are_square_and_match_table1() {
        for (m, d, b) in [(Lenet5, DatasetKind::Mnist, 100), (Lenet5, DatasetKind::Mnist, 1000)] {
            let (t, _) = matrix(m, d, b).expect("Table 3 has it");
            assert_eq!(t.rows.len(), 2);
            // Table 1's largest error is the largest off-diagonal cell of Table 3 for LeNet-5.
            let largest = largest_benign(m, d, b).expect("Table 1 has it").l2();
            let cells = find(|k| matches!(k, Kind::Cell { .. }), m, d, b).map(Published::l2);
            assert_eq!(cells.fold(0.0, f64::max), largest, "{m} b={b}");
        }
        assert!(matrix(Logreg, DatasetKind::Mnist, 100).is_none());
    }

    #[test]
    fn matching_is_by_attack_and_setting() {
        assert!(for_attack("greedy", Lenet5, DatasetKind::Mnist, 100).is_some());
        assert!(for_attack("greedy", Lenet5, DatasetKind::Mnist, 7).is_none());
        assert!(for_attack("local-search", Lenet5, DatasetKind::Mnist, 100).is_none());
        assert_eq!(
            for_attack("adam", Vggmini, DatasetKind::Cifar10, 100).map(|p| p.value),
            Some(1.38)
        );
        assert_eq!(
            for_attack("prop2", Logreg, DatasetKind::Mnist, 100).map(|p| p.value),
            Some(2.5e-8)
        );
        assert_eq!(
            find(|k| *k == Kind::Shuffle, Logreg, DatasetKind::Mnist, 1000).count(),
            1
        );
    }

    #[test]
    fn nothing_cites_anything_but_the_literature() {
        for p in &PUBLISHED {
            assert!(p.source.starts_with("Suliman et al."), "{}", p.source);
            assert!(!p.source.to_lowercase().contains("issue"), "{}", p.source);
        }
    }
}
