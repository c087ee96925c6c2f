//! NaN and infinity are visible, never lost: maxima and summaries propagate NaN, JSON keeps non-finite values as
//! words and reads them back, tables print them, and a non-finite benign reference makes a verdict undetermined.
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::measures::{measures, nan_max, ErrorMeasures, Measure, Summary};
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::tables::{AttackRow, Cell, CrossDeviceMatrix, DeviceLabel, MatrixKey};
use forgebench_shared::verdict::{Verdict, POL_MARGIN};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

/// `a` and `b` are the same value, NaN counting as equal to NaN (`==` would call two NaNs different).
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

fn assert_same(got: f64, want: f64, what: &str) {
    assert!(same(got, want), "{what}: got {got}, expected {want}");
}

#[test]
fn nan_max_sees_a_nan_anywhere() {
    assert_eq!(nan_max([1.0, 3.0, 2.0]), Some(3.0));
    for at in 0..4 {
        let mut v = vec![1.0, 5.0, -2.0, 4.0];
        v[at] = NAN;
        let got = nan_max(v.iter().copied()).expect("not empty");
        assert!(got.is_nan(), "NaN at {at} of {v:?}: got {got}, expected NaN");
    }
    let got = nan_max([NAN, NAN]).expect("not empty");
    assert!(got.is_nan(), "all NaN: got {got}");
}

#[test]
fn nan_max_of_infinities_and_of_nothing() {
    assert_eq!(nan_max([1.0, INF, 2.0]), Some(INF));
    assert_eq!(nan_max([-INF, -1.0]), Some(-1.0));
    assert_eq!(nan_max([-INF]), Some(-INF));
    let got = nan_max([INF, NAN, -INF]).expect("not empty");
    assert!(got.is_nan(), "NaN beside infinities: got {got}");
    assert_eq!(nan_max(std::iter::empty()), None);
}

#[test]
fn a_summary_with_a_nan_is_nan_throughout() {
    for at in 0..3 {
        let mut v = vec![3.0, 1.0, 2.0];
        v[at] = NAN;
        let s = Summary::of(&v);
        assert_eq!(s.n, 3, "{v:?}");
        for (name, x) in [("mean", s.mean), ("median", s.median), ("min", s.min), ("max", s.max)] {
            assert!(x.is_nan(), "{name} of {v:?}: got {x}, expected NaN");
        }
    }
    let s = Summary::of(&[1.0, INF, 2.0]);
    assert_eq!((s.mean, s.median, s.min, s.max), (INF, 2.0, 1.0, INF), "{s:?}");
    let s = Summary::of(&[]);
    assert_eq!((s.n, s.mean, s.max), (0, 0.0, 0.0), "{s:?}");
}

#[test]
fn a_nan_difference_reaches_every_measure() {
    let a = [1.0f32, f32::NAN, 3.0];
    let b = [1.0f32, 2.0, 5.0];
    let m = measures(&a, &b, Some(&b));
    for (name, x) in [("l2", m.l2), ("l2_sq", m.l2_sq), ("linf", m.linf), ("rel", m.rel)] {
        assert!(x.is_nan(), "{name}: got {x}, expected NaN");
    }
    let m = measures(&b, &a, Some(&a));
    assert!(m.rel.is_nan(), "a NaN reference gives a NaN gap, got {}", m.rel);
}

fn em(l2: f64) -> ErrorMeasures {
    ErrorMeasures {
        l2,
        l2_sq: l2 * l2,
        l2_sq_per_dim: l2,
        linf: l2,
        rel: l2,
    }
}

#[test]
fn non_finite_values_are_words_in_json_and_read_back() {
    for (v, word) in [(NAN, "NaN"), (INF, "inf"), (-INF, "-inf")] {
        let m = em(v);
        let json = serde_json::to_value(m).expect("serializes");
        assert_eq!(json["l2"], word, "{v} in {json}");
        assert_eq!(json["linf"], word, "{v} in {json}");
        let text = serde_json::to_string(&m).expect("serializes");
        let back: ErrorMeasures = serde_json::from_str(&text).expect("reads back");
        assert_same(back.l2, v, &text);
        assert_same(back.l2_sq, v * v, &text);
    }
    let back: ErrorMeasures = serde_json::from_str(&serde_json::to_string(&em(1.5e-7)).expect("json")).expect("back");
    assert_eq!(back, em(1.5e-7), "finite values stay numbers");
    // A file written before non-finite values had words carries them as null: read as NaN, not refused.
    let old = r#"{"l2": null, "l2_sq": 1, "l2_sq_per_dim": 2.5, "linf": "NaN", "rel": 0}"#;
    let back: ErrorMeasures = serde_json::from_str(old).expect("legacy null reads");
    assert!(back.l2.is_nan(), "null l2 read as {}", back.l2);
    assert_eq!((back.l2_sq, back.l2_sq_per_dim), (1.0, 2.5));
    let bad = r#"{"l2": "1.5", "l2_sq": 1, "l2_sq_per_dim": 2.5, "linf": 0, "rel": 0}"#;
    let err = serde_json::from_str::<ErrorMeasures>(bad).expect_err("a number in a string is malformed");
    assert!(
        err.to_string().contains("\"NaN\""),
        "the error says what is expected: {err}"
    );
}

fn row(error_l2: f64, benign_l2: Option<f64>) -> AttackRow {
    AttackRow {
        step_errors_l2: Vec::new(),
        attack: "greedy".into(),
        model: ModelKind::Lenet5,
        dataset: DatasetKind::Mnist,
        batch_size: 100,
        error_l2,
        parameters: "n=1, M=1".into(),
        benign_l2,
        exact_arm: None,
    }
}

#[test]
fn an_optional_nan_is_not_a_missing_value() {
    let r = row(NAN, Some(NAN));
    let json = serde_json::to_value(&r).expect("serializes");
    assert_eq!(
        (&json["error_l2"], &json["benign_l2"]),
        (&"NaN".into(), &"NaN".into()),
        "{json}"
    );
    let back: AttackRow = serde_json::from_value(json).expect("reads back");
    assert!(back.error_l2.is_nan(), "{back:?}");
    assert!(
        back.benign_l2.is_some_and(f64::is_nan),
        "NaN benign read back as {:?}",
        back.benign_l2
    );
    let json = serde_json::to_value(row(1.0, None)).expect("serializes");
    assert!(json["benign_l2"].is_null(), "{json}");
    let back: AttackRow = serde_json::from_value(json).expect("reads back");
    assert_eq!(back.benign_l2, None);
}

fn label(name: &str) -> DeviceLabel {
    DeviceLabel {
        profile: DeviceProfile::cpu(name),
        fingerprint: DeviceFingerprint {
            hostname: "h".into(),
            cpu_model: "test cpu".into(),
            cpu_flags: Vec::new(),
            libtorch_version: "0".into(),
            libtorch_config: String::new(),
            cuda_driver: "none".into(),
            gpus: Vec::new(),
            code_version: "test".into(),
            threads: 1,
            settings_in_force: Default::default(),
        },
    }
}

/// A 2 x 2 matrix whose cell (writer, verifier) holds the per-triple L2 errors `l2[writer][verifier]`.
fn matrix(l2: [[&[f64]; 2]; 2]) -> CrossDeviceMatrix {
    CrossDeviceMatrix {
        key: MatrixKey {
            experiment: "reproduction".into(),
            model: ModelKind::Lenet5,
            dataset: DatasetKind::Mnist,
            batch_size: 100,
            arithmetic: Default::default(),
        },
        devices: vec![label("cpu-a"), label("cpu-b")],
        cells: l2
            .iter()
            .map(|r| {
                r.iter()
                    .map(|errs| {
                        let items: Vec<_> = errs.iter().map(|e| em(*e)).collect();
                        Some(Cell::of(&items))
                    })
                    .collect()
            })
            .collect(),
    }
}

#[test]
fn a_nan_cell_shows_in_every_table_format() {
    let m = matrix([[&[0.0, 0.0], &[1e-6, NAN]], [&[2e-6, 3e-6], &[0.0, 0.0]]]);
    let largest = m.largest(Measure::L2).expect("cells");
    assert!(largest.is_nan(), "one NaN triple: largest is {largest}, expected NaN");
    let md = m.to_markdown(Measure::L2);
    let line = md
        .lines()
        .find(|l| l.starts_with("| cpu-a |"))
        .unwrap_or_else(|| panic!("no cpu-a row in {md}"));
    assert!(line.contains("| NaN / NaN |"), "the NaN cell in Markdown: {line}");
    assert!(md.contains("| 2.50e-6 / 3.00e-6 |"), "finite cells unchanged: {md}");
    let csv = m.to_csv();
    let cell = csv
        .lines()
        .find(|l| l.contains(",cpu-a,cpu-b,"))
        .unwrap_or_else(|| panic!("no cpu-a/cpu-b line in {csv}"));
    let l2_max: f64 = cell
        .split(',')
        .nth(8)
        .expect("l2_max column")
        .parse()
        .expect("CSV reads back");
    assert!(l2_max.is_nan(), "CSV l2_max {l2_max} of {cell}");
    let json = serde_json::to_string(&m).expect("serializes");
    let back: CrossDeviceMatrix = serde_json::from_str(&json).expect("reads back");
    let got = back.largest(Measure::L2).expect("cells");
    assert!(got.is_nan(), "after JSON: largest {got}");
    let inf = matrix([[&[INF], &[1.0]], [&[-INF], &[0.0]]]);
    assert_eq!(inf.largest(Measure::L2), Some(INF));
    let md = inf.to_markdown(Measure::L2);
    assert!(md.contains("| inf / inf |") && md.contains("| -inf / -inf |"), "{md}");
}

#[test]
fn every_cell_nan_makes_every_attack_undetermined() {
    let m = matrix([[&[NAN], &[NAN]], [&[NAN], &[NAN]]]);
    let benign = m.largest(Measure::L2);
    for error in [0.0, 1e-9, 3.25e-2, INF, NAN] {
        let r = row(error, benign);
        assert_eq!(
            r.verdict(),
            Verdict::Undetermined,
            "error {error} against benign {benign:?}"
        );
        assert_ne!(r.verdict(), Verdict::NotDetected);
        let ratio = r.ratio().expect("a NaN benign figure is a figure");
        assert!(ratio.is_nan(), "ratio {ratio} of {error} over {benign:?}");
    }
    // With one finite cell left the largest is still NaN: one broken benign run taints the reference.
    let m = matrix([[&[1e-6], &[NAN]], [&[2e-6], &[1e-6]]]);
    assert_eq!(row(1.0, m.largest(Measure::L2)).verdict(), Verdict::Undetermined);
    // A finite reference keeps the existing rule: a NaN attack error is detected.
    let m = matrix([[&[1e-6], &[2e-6]], [&[3e-6], &[1e-6]]]);
    let benign = m.largest(Measure::L2);
    assert_eq!(benign, Some(3e-6));
    assert_eq!(row(NAN, benign).verdict(), Verdict::Detected);
    assert_eq!(row(3e-5, benign).verdict(), Verdict::NotDetected);
    assert_eq!(Verdict::at(3e-5, benign, POL_MARGIN), Verdict::NotDetected);
    assert_eq!(row(1.0, None).verdict(), Verdict::Undetermined, "no reference at all");
}
