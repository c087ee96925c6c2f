//! Report test inputs: real cross-device matrices (tests/fixtures/report/matrices, written by the worker's `matrix`
//! command, 100 triples each, on three CPU profiles), real MNIST images from the bundled subset, and small synthetic
//! attack, Adam, shuffle, PoL and Proposition 2 results that are fixtures, not measurements.
#![allow(dead_code)]
use forgebench_coordinator::report::{load_results, Named, Results};
use forgebench_shared::data::{bundled_dir, load, Split};
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::jobs::{AdamSpec, PolSpec, Prop2Spec, ShuffleSpec};
use forgebench_shared::measures::{ErrorMeasures, MeasureSummary};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::results::{
    AdamReport, DomainForgery, DomainPoint, DomainReport, ImageBatch, InitCheck, LayerInit, PolVerifyReport,
    Prop2Report, ShuffleReport,
};
use forgebench_shared::tables::AttackRow;
use std::path::{Path, PathBuf};

/// The folder of real matrices.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")
}

/// Measures of a vector whose L2 is `l2` over `dim` parameters (Linf and rel are plausible fixture values).
pub fn em(l2: f64, dim: usize) -> ErrorMeasures {
    ErrorMeasures {
        l2,
        l2_sq: l2 * l2,
        l2_sq_per_dim: l2 * l2 / dim as f64,
        linf: l2 / 3.0,
        rel: l2 * 10.0,
    }
}

fn attack(attack: &str, model: ModelKind, b: usize, err: f64, params: &str, benign: Option<f64>) -> AttackRow {
    AttackRow {
        step_errors_l2: Vec::new(),
        attack: attack.into(),
        model,
        dataset: model.default_dataset(),
        batch_size: b,
        error_l2: err,
        parameters: params.into(),
        benign_l2: benign,
        exact_arm: None,
    }
}

/// Real matrices plus every synthetic kind of result.
pub fn full_results() -> Results {
    let mut r = load_results(&fixtures()).expect("fixture folder loads");
    assert_eq!(r.matrices.len(), 2, "the fixture folder holds two matrices");
    let dev = &r.matrices[0].value.devices[0];
    let prov = |seed: u64| Provenance {
        code_version: dev.fingerprint.code_version.clone(),
        profile: dev.profile.clone(),
        fingerprint: dev.fingerprint.clone(),
        seeds: vec![("run".into(), seed)],
    };
    r.attacks.push(Named::new(
        "fixture-search",
        vec![
            attack(
                "greedy",
                ModelKind::Lenet5,
                100,
                3.25e-2,
                "fixture: n=1000, M=10000",
                None,
            ),
            attack(
                "local-search",
                ModelKind::Lenet5,
                100,
                1.5e-2,
                "fixture: 500 moves",
                None,
            ),
            // No matrix for VGGmini here: the row's own benign figure is used.
            attack(
                "greedy",
                ModelKind::Vggmini,
                100,
                1.75,
                "fixture: n=500, M=1000",
                Some(3.0e-5),
            ),
        ],
    ));
    r.attacks.push(Named::new(
        "fixture-prop2",
        vec![attack("prop2", ModelKind::Logreg, 100, 2.0e-8, "fixture: rank 9", None)],
    ));
    let dim = ModelKind::Lenet5.param_count();
    for seed in 0..3u64 {
        let curve: Vec<f64> = (0..60)
            .map(|i| 1e-1 * 0.85f64.powi(i) * (1.0 + seed as f64 / 10.0) + 1e-5)
            .collect();
        let last = curve[curve.len() - 1];
        r.adam.push(Named::new(
            format!("fixture-adam-s{seed}"),
            AdamReport {
                spec: AdamSpec {
                    model: ModelKind::Lenet5,
                    dataset: DatasetKind::Mnist,
                    batch_size: 100,
                    eta: 0.01,
                    iterations: 59,
                    seed,
                    projected: false,
                    schedule: Default::default(),
                    domain_iterations: 0,
                    optimiser: Default::default(),
                },
                provenance: prov(seed),
                curve_l2: curve,
                final_error: em(last, dim),
                best: None,
                domain: None,
                exact_arm: None,
                optimizer: Default::default(),
            },
        ));
    }
    let errors: Vec<ErrorMeasures> = (0..40)
        .map(|i| em(if i % 10 == 0 { 0.0 } else { 1e-9 * (1 + i % 7) as f64 }, dim))
        .collect();
    r.shuffle.push(Named::new(
        "fixture-shuffle",
        ShuffleReport {
            spec: ShuffleSpec {
                model: ModelKind::Lenet5,
                dataset: DatasetKind::Mnist,
                batch_size: 100,
                eta: 0.01,
                shuffles: 40,
                seed: 7,
            },
            provenance: prov(7),
            summary: MeasureSummary::of(&errors),
            errors,
        },
    ));
    r.pol.push(Named::new("fixture-pol", pol(prov(11))));
    r.prop2.push(Named::new("fixture-prop2", prop2(prov(5))));
    r.grids.extend(grids());
    r.sweep = Some(serde_json::json!({ "name": "fixture-sweep", "seeds": [0, 1], "models": ["lenet5", "logreg"] }));
    // A results folder is read in file-name order; keep the fixtures in that order so round trips compare equal.
    r.attacks.sort_by(|a, b| a.name.cmp(&b.name));
    r.grids.sort_by(|a, b| a.name.cmp(&b.name));
    r
}

fn pol(p: Provenance) -> PolVerifyReport {
    let per: Vec<ErrorMeasures> = (0..8).map(|i| em(if i == 5 { 2e-3 } else { 4e-9 }, 61_706)).collect();
    PolVerifyReport {
        exact: None,
        // theta_0 failed its initialisation check at one tensor.
        init_check: Some(InitCheck {
            alpha: 0.01,
            passed: false,
            layers: vec![
                LayerInit {
                    name: "conv1.weight".into(),
                    values: 150,
                    expected: "U(-0.2000, 0.2000)".into(),
                    d: 0.05,
                    p_value: 0.8,
                },
                LayerInit {
                    name: "fc1.weight".into(),
                    values: 48_000,
                    expected: "U(-0.0500, 0.0500)".into(),
                    d: 0.2,
                    p_value: 1.5e-9,
                },
            ],
        }),
        spec: PolSpec {
            model: ModelKind::Lenet5,
            dataset: DatasetKind::Mnist,
            batch_size: 100,
            eta: 0.01,
            steps: 8,
            checkpoint_every: 1,
            seed: 11,
            arithmetic: Default::default(),
        },
        writer: p.clone(),
        verifier: p,
        per_interval: per,
        epsilon: Some(1e-6),
        epsilon_source: "given".into(),
        failed_intervals: vec![5],
        passed: false,
    }
}

fn prop2(p: Provenance) -> Prop2Report {
    Prop2Report {
        spec: Prop2Spec {
            batch_size: 100,
            seed: 5,
            eta: 0.01,
            domain_iterations: 120,
        },
        provenance: p,
        rank: 9,
        rank_tolerance: 1e-6,
        error_f32: em(2.0e-8, 7840),
        error_f64: em(3.0e-15, 7840),
        pixels_outside_unit: 0.42,
        label_simplex_violation: 0.3,
        batch_distance: 55.0,
        domain: Some(domain()),
        exact_arm: Some(forgebench_shared::results::ExactArmCheck {
            dim: 7840,
            differing: 7000,
            fixable_by_records: 3,
            l2: 2.5e-8,
        }),
    }
}

/// A domain search from the construction: exact at violation 30, 4.1e-4 in the domain, 6.2e-4 one-hot.
fn domain() -> DomainReport {
    let end = |l2: f64, one_hot: bool| DomainForgery {
        error_f32: em(l2, 7840),
        error_f64: em(l2, 7840),
        pixel_violation: 0.0,
        label_violation: 0.0,
        one_hot,
        nearest_real: 7.5,
        nearest_real_median: 8.0,
        exact_arm: None,
    };
    DomainReport {
        start: "prop2".into(),
        iterations: 120,
        path: [(30.0, 1e-15), (3.0, 2e-6), (0.3, 5e-5), (0.0, 4.1e-4)]
            .iter()
            .map(|&(violation, error_l2)| DomainPoint { violation, error_l2 })
            .collect(),
        soft: end(4.1e-4, false),
        hard: end(6.2e-4, true),
        real_neighbour_distance: 6.3,
    }
}

/// A real batch of 16 bundled MNIST training images, and a synthetic "forged" one derived from it that leaves [0, 1].
pub fn grids() -> Vec<Named<ImageBatch>> {
    let data = load(DatasetKind::Mnist, &bundled_dir(), Split::Train).expect("bundled MNIST loads");
    let idx: Vec<usize> = (0..16).collect();
    let (pixels, _) = data.gather(&idx);
    let forged: Vec<f32> = pixels
        .iter()
        .enumerate()
        .map(|(i, v)| 3.0 * v - 1.0 + (i % 5) as f32 * 0.1)
        .collect();
    vec![
        Named::new(
            "real",
            ImageBatch {
                title: "real MNIST batch (bundled subset)".into(),
                shape: [1, 28, 28],
                pixels,
            },
        ),
        Named::new(
            "forged-fixture",
            ImageBatch {
                title: "synthetic out-of-domain batch (fixture)".into(),
                shape: [1, 28, 28],
                pixels: forged,
            },
        ),
    ]
}

/// Minimal CSV reader for the report's own files (quoted fields with doubled quotes; no newline inside fields).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut fields = Vec::new();
            let mut cur = String::new();
            let mut quoted = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        cur.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(std::mem::take(&mut cur)),
                    _ => cur.push(c),
                }
            }
            fields.push(cur);
            fields
        })
        .collect()
}
