//! Equivalence classes of a matrix's devices: bitwise-identical devices form one class, shown in every table format
//! and usable to order heatmaps.
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::measures::ErrorMeasures;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::tables::{Cell, CrossDeviceMatrix, DeviceLabel, MatrixKey};

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

fn cell(l2: f64) -> Option<Cell> {
    let m = ErrorMeasures {
        l2,
        l2_sq: l2 * l2,
        l2_sq_per_dim: l2 * l2 / 10.0,
        linf: l2,
        rel: l2,
    };
    Some(Cell::of(&[m, m]))
}

/// Devices a, b, c, d: b and d recompute each other exactly, a and c are each alone; one cell of c is missing.
fn matrix() -> CrossDeviceMatrix {
    let l2 = |w: usize, v: usize| {
        if w == v || (w % 2 == 1 && v % 2 == 1) {
            0.0
        } else {
            1e-7 * (w + v + 1) as f64
        }
    };
    let mut cells: Vec<Vec<Option<Cell>>> = (0..4).map(|w| (0..4).map(|v| cell(l2(w, v))).collect()).collect();
    cells[2][0] = None;
    CrossDeviceMatrix {
        key: MatrixKey {
            experiment: "reproduction".into(),
            model: ModelKind::Lenet5,
            dataset: DatasetKind::Mnist,
            batch_size: 100,
            arithmetic: Default::default(),
        },
        devices: ["a", "b", "c", "d"].iter().map(|n| label(n)).collect(),
        cells,
    }
}

#[test]
fn identical_devices_share_a_class_everywhere() {
    let m = matrix();
    assert_eq!(m.classes(), vec![0, 1, 2, 1]);
    assert_eq!(m.class_names(), vec!["A", "B", "C", "B"]);
    assert_eq!(m.classes_line(), "A = {a}, B = {b, d}, C = {c}");
    let md = m.to_markdown(forgebench_shared::measures::Measure::L2);
    assert!(md.contains("- [B] d @ h ("), "{md}");
    assert!(
        md.contains("Equivalence classes (bitwise identical results on every triple): A = {a}"),
        "{md}"
    );
    let csv = m.to_csv();
    assert!(
        csv.lines().next().unwrap().ends_with(",writer_class,verifier_class"),
        "{csv}"
    );
    let row = csv.lines().find(|l| l.contains(",b,d,")).expect("b->d row");
    assert!(row.ends_with(",B,B"), "{row}");
    let json = serde_json::to_value(&m).expect("json");
    assert_eq!(json["classes"], serde_json::json!(["A", "B", "C", "B"]));
    let d = &json["devices"][3];
    assert_eq!((d["class"].as_str(), d["host"].as_str()), (Some("B"), Some("h")), "{d}");
    assert_eq!(d["device_id"].as_str(), Some(m.devices[3].id().0.as_str()));
    assert_eq!(d["profile"]["name"], "d", "the label itself is kept");
    let back: CrossDeviceMatrix = serde_json::from_value(json).expect("reads back");
    assert_eq!(back, m);
    let sorted = m.by_class();
    let names: Vec<_> = sorted.devices.iter().map(|d| d.profile.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "d", "c"]);
    assert_eq!(sorted.cells[1][2], m.cells[1][3], "cells move with their devices");
    assert_eq!(sorted.cells[3][0], None, "the missing cell moves too");
}

#[test]
fn devices_sharing_a_profile_are_named_by_host() {
    let mut m = matrix();
    m.devices[3].profile.name = "b".into();
    m.devices[3].fingerprint.hostname = "labb".into();
    assert_eq!(m.classes_line(), "A = {a}, B = {b @ h, b @ labb}, C = {c}");
    assert_ne!(m.devices[1].id(), m.devices[3].id(), "two hosts, two devices");
}

#[test]
fn a_nonzero_or_missing_cell_separates_devices() {
    let mut m = matrix();
    m.cells[3][1] = cell(1e-9);
    assert_eq!(m.classes(), vec![0, 1, 2, 3], "one direction differing is enough");
    let mut m = matrix();
    m.cells[1][3] = None;
    assert_eq!(m.classes(), vec![0, 1, 2, 3], "an uncomputed cell proves nothing");
    let mut m = matrix();
    m.cells[1][3] = cell(f64::NAN);
    assert_eq!(m.classes(), vec![0, 1, 2, 3], "NaN is not zero");
}
