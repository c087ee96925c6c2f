//! The report's calibrated verdicts against an independent computation from the same errors: every threshold,
//! false-alarm rate, ROC point, AUC and verdict in `tables/calibration.json` recomputed here by brute-force counting
//! (no sorting, no search), from the benign samples of the matrices and the attack rows' step errors.
mod report_common;

use forgebench_coordinator::report::{write_report, Named};
use forgebench_shared::experiment::{Arithmetic, DatasetKind, ModelKind};
use forgebench_shared::tables::{AttackRow, Cell};
use report_common::em;
use serde_json::Value;

/// Per-triple benign errors of a 3 x 3 matrix: fixture values with ties and one heavy tail, not measurements. The
/// pair (0, 1) is symmetric, as linear verification makes every pair; the others are not.
fn benign_cell(w: usize, v: usize) -> Vec<f64> {
    (0..40)
        .map(|k| {
            let base = if w == v { 0.0 } else { 1e-8 * (1.0 + (w + v) as f64) };
            let skew = if w + v == 1 { 0 } else { w * 3 };
            base + 1e-9 * ((k * 7 + skew) % 13) as f64 + if k == 39 && w == 2 { 5e-7 } else { 0.0 }
        })
        .collect()
}

fn row(attack: &str, steps: Vec<f64>) -> AttackRow {
    AttackRow {
        attack: attack.into(),
        model: ModelKind::Lenet5,
        dataset: DatasetKind::Mnist,
        batch_size: 100,
        error_l2: steps.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        parameters: "fixture".into(),
        benign_l2: None,
        exact_arm: None,
        step_errors_l2: steps,
    }
}

fn results() -> forgebench_coordinator::report::Results {
    let mut r = report_common::full_results();
    let m = r
        .matrices
        .iter_mut()
        .find(|m| m.value.key.model == ModelKind::Lenet5)
        .expect("a LeNet-5 matrix");
    assert_eq!(m.value.key.arithmetic, Arithmetic::F32);
    for w in 0..3 {
        for v in 0..3 {
            let per: Vec<_> = benign_cell(w, v).into_iter().map(|x| em(x, 61_706)).collect();
            m.value.cells[w][v] = Some(Cell::of(&per));
        }
    }
    // Attacks that overlap the benign tail, sit inside it, and lie far above it.
    r.attacks = vec![Named::new(
        "fixture-calibration",
        vec![
            row("overlapping", vec![3e-8, 4e-8, 6e-7, 2e-8, 5e-8]),
            row("inside", vec![1e-9, 2e-9]),
            row("far", vec![1e-3, 2e-3, f64::NAN]),
        ],
    )];
    r
}

fn f(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("number"),
        Value::String(s) => s.parse().expect("non-finite word"),
        other => panic!("not a number: {other}"),
    }
}

/// P(X <= k), X ~ Binomial(n, p), by the pmf's recurrence in plain f64.
fn cdf(k: usize, n: usize, p: f64) -> f64 {
    let mut pmf = (1.0 - p).powi(n as i32);
    let mut sum = pmf;
    for i in 1..=k {
        pmf *= (n - i + 1) as f64 / i as f64 * p / (1.0 - p);
        sum += pmf;
    }
    sum
}

#[test]
fn thresholds_roc_and_verdicts_match_a_brute_force_count() {
    let r = results();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_report(&r, dir.path()).expect("report");
    assert!(
        files.figures.iter().any(|p| p.ends_with("roc-lenet5-mnist-b100.svg")),
        "{:?}",
        files.figures
    );
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("tables/calibration.json")).expect("calibration.json"),
    )
    .expect("json");
    let setting = json["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["model"] == "lenet5")
        .expect("the LeNet-5 setting");
    // Off the diagonal; a pair of devices once when its two cells hold the same errors.
    let mut benign: Vec<f64> = Vec::new();
    for w in 0..3 {
        for v in 0..3 {
            if w != v && !(v < w && benign_cell(v, w) == benign_cell(w, v)) {
                benign.extend(benign_cell(w, v));
            }
        }
    }
    let n = benign.len();
    assert_eq!(setting["samples"].as_u64(), Some(n as u64));
    let above = |t: f64| benign.iter().filter(|b| **b > t).count();
    let largest = benign.iter().copied().fold(0.0, f64::max);
    assert_eq!(f(&setting["largest"]), largest);

    for pair in setting["rules"].as_array().expect("rules") {
        let (rule, th) = (&pair[0], &pair[1]);
        let t = f(&th["value"]);
        let want = match rule["rule"].as_str().expect("rule") {
            "margin" => 10.0 * largest,
            "false-alarm" => {
                let steps = rule["steps"].as_u64().expect("steps") as i32;
                let per_step = 1.0 - (1.0 - f(&rule["rate"])).powf(1.0 / steps as f64);
                assert!(
                    (f(&th["rate"]) - per_step).abs() < 1e-15,
                    "{} against {per_step}",
                    th["rate"]
                );
                // The smallest benign value with at most per_step x n values above it.
                benign
                    .iter()
                    .copied()
                    .filter(|c| above(*c) as f64 <= per_step * n as f64)
                    .fold(f64::INFINITY, f64::min)
            }
            other => panic!("rule {other}"),
        };
        assert_eq!(t, want, "threshold of {rule}: {t} against {want}");
        let k = above(t);
        assert_eq!(f(&th["false_alarm"]), k as f64 / n as f64, "{rule}");
        // The 95% bound: the rate at which k or fewer exceedances have probability 5%.
        let upper = f(&th["false_alarm_upper"]);
        assert!(
            (cdf(k, n, upper) - 0.05).abs() < 1e-6,
            "{rule}: bound {upper}, cdf {}",
            cdf(k, n, upper)
        );
    }

    let attacks = setting["attacks"].as_array().expect("attacks");
    assert_eq!(attacks.len(), 3);
    for a in attacks {
        let steps: Vec<f64> = a["steps_l2"].as_array().expect("steps").iter().map(f).collect();
        let caught = |t: f64| steps.iter().filter(|s| s.is_nan() || **s > t).count();
        // AUC: every (attack, benign) pair, ties half, a NaN step above everything.
        let mut wins = 0.0;
        for s in &steps {
            for b in &benign {
                wins += if s.is_nan() || s > b {
                    1.0
                } else if s == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
        let auc = wins / (steps.len() * n) as f64;
        assert!(
            (f(&a["auc"]) - auc).abs() < 1e-12,
            "{}: AUC {} against {auc}",
            a["attack"],
            a["auc"]
        );
        let roc = a["roc"].as_array().expect("roc");
        for p in roc {
            let t = f(&p["threshold"]);
            assert_eq!(f(&p["false_alarm"]), above(t) as f64 / n as f64);
            assert_eq!(f(&p["detection"]), caught(t) as f64 / steps.len() as f64);
        }
        assert_eq!(f(&roc.last().expect("point")["detection"]), 1.0);
        assert_eq!(f(&roc.last().expect("point")["false_alarm"]), 1.0);
        for v in a["verdicts"].as_array().expect("verdicts") {
            let t = f(&v["threshold"]["value"]);
            assert_eq!(f(&v["detection"]), caught(t) as f64 / steps.len() as f64);
            let word = if caught(t) > 0 { "detected" } else { "not-detected" };
            assert_eq!(v["verdict"], word, "{} at {t}", a["attack"]);
        }
    }
    let verdict = |name: &str, rule: usize| {
        let a = attacks.iter().find(|a| a["attack"] == name).expect("attack");
        a["verdicts"][rule]["verdict"].as_str().expect("word").to_owned()
    };
    // The 10x rule (third) passes the overlapping attack, whose worst step hides in the benign tail's shadow.
    assert_eq!(verdict("overlapping", 2), "not-detected");
    assert_eq!(verdict("inside", 0), "not-detected");
    assert_eq!(verdict("far", 1), "detected");

    // Table 1 carries the per-log rule's verdict.
    let t1: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("tables/table1.json")).expect("t1"))
        .expect("json");
    let line = t1["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|x| x["attack"] == "overlapping")
        .expect("row");
    assert_eq!(line["calibrated"]["rule"]["rule"], "false-alarm");
    assert_eq!(
        line["calibrated"]["verdict"].as_str(),
        Some(verdict("overlapping", 1).as_str())
    );
    let html = std::fs::read_to_string(&files.index_html).expect("html");
    assert!(html.contains("Calibrated verdicts") && html.contains("roc-lenet5-mnist-b100.svg"));
}
