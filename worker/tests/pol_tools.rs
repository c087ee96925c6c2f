//! Proof-of-Learning tooling: epsilon calibration from a reproduction matrix, the public PoL layout export, and the
//! `pol-train` / `pol-verify` command line.
mod pol_common;

use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::measures::ErrorMeasures;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::tables::{Cell, CrossDeviceMatrix, DeviceLabel, MatrixKey};
use forgebench_worker::pol;
use pol_common::{mnist, provenance, spec, tmp};
use safetensors::SafeTensors;
use tch::Device;

fn matrix(model: ModelKind, l2s: &[f64]) -> CrossDeviceMatrix {
    let e = |l2: f64| ErrorMeasures {
        l2,
        l2_sq: l2 * l2,
        l2_sq_per_dim: 0.0,
        linf: l2,
        rel: 0.0,
    };
    let label = DeviceLabel {
        profile: DeviceProfile::cpu("a"),
        fingerprint: forgebench_worker::fingerprint::collect(),
    };
    let cell = Cell::of(&l2s.iter().map(|&x| e(x)).collect::<Vec<_>>());
    let key = MatrixKey {
        experiment: "reproduction".into(),
        model,
        dataset: DatasetKind::Mnist,
        batch_size: 100,
        arithmetic: Default::default(),
    };
    CrossDeviceMatrix {
        key,
        devices: vec![label],
        cells: vec![vec![Some(cell)]],
    }
}

#[test]
fn epsilon_is_calibrated_from_the_largest_benign_l2() {
    let sp = spec(ModelKind::Lenet5, 100, 3, 1);
    let eps = pol::calibrate(&matrix(ModelKind::Lenet5, &[1e-7, 4e-7, 2e-7]), &sp, 10.0).unwrap();
    assert!((eps.value - 4e-6).abs() < 1e-18, "epsilon {} expected 4e-6", eps.value);
    assert!(eps.source.contains("margin 10"), "{}", eps.source);
    let err = pol::calibrate(&matrix(ModelKind::Logreg, &[1e-7]), &sp, 10.0).unwrap_err();
    assert!(err.to_string().contains("calibration matrix"), "{err}");
}

#[test]
fn export_writes_the_public_pol_layout() {
    let ds = mnist();
    let path = tmp("export.safetensors");
    pol::train(&spec(ModelKind::Lenet5, 8, 3, 2), &ds, Device::Cpu, provenance(), &path).unwrap();
    let log = pol::read(&path).unwrap();
    let dir = tmp("export-pol");
    pol::export_public(&log, &ds, &dir).unwrap();
    let npy = std::fs::read(dir.join("indices.npy")).unwrap();
    assert_eq!(&npy[..6], b"\x93NUMPY");
    assert_eq!(npy.len() % 8, 0);
    for (i, step) in [0usize, 2, 3].into_iter().enumerate() {
        let bytes = std::fs::read(dir.join(format!("model_step_{step}.safetensors"))).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let w = st.tensor("conv1.weight").unwrap();
        assert_eq!(w.shape(), &[6, 1, 5, 5]);
        let first = f32::from_le_bytes(w.data()[..4].try_into().unwrap());
        assert_eq!(first, log.checkpoint(i)[0], "checkpoint {i}");
        assert_eq!(st.tensor("fc3.bias").unwrap().shape(), &[10]);
    }
}

#[test]
fn cli_pol_verify_exits_nonzero_on_a_replaced_batch() {
    let exe = env!("CARGO_BIN_EXE_forgebench-worker");
    let path = tmp("cli.safetensors");
    let p = path.to_str().unwrap();
    let run = |args: &[&str]| std::process::Command::new(exe).args(args).output().unwrap();
    let train = [
        "pol-train",
        "--model",
        "logreg",
        "--batch-size",
        "10",
        "--steps",
        "3",
        "--out",
        p,
    ];
    let out = run(&train);
    assert!(
        out.status.success(),
        "pol-train: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = run(&["pol-verify", "--log", p]);
    assert!(
        ok.status.success(),
        "honest log: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let mut log = pol::read(&path).unwrap();
    log.indices.swap(0, 10); // step 0's first example into step 1 and back: both intervals change
    pol::write(&log, &path).unwrap();
    let bad = run(&["pol-verify", "--log", p, "--epsilon", "1e-6"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && stderr.contains("failed at intervals [0, 1]"),
        "stderr: {stderr}"
    );
}

#[test]
fn export_round_trips_through_the_public_layout_reader() {
    let exe = env!("CARGO_BIN_EXE_forgebench-worker");
    let log = tmp("roundtrip.safetensors");
    let dir = tmp("roundtrip-pol");
    let run = |args: &[&str]| std::process::Command::new(exe).args(args).output().unwrap();
    let out = run(&[
        "pol-train",
        "--model",
        "lenet5",
        "--batch-size",
        "16",
        "--steps",
        "4",
        "--checkpoint-every",
        "2",
        "--out",
        log.to_str().unwrap(),
        "--export-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The export names its model; replayed here it is the original log, bit for bit.
    let report = tmp("roundtrip.json");
    let out = run(&[
        "pol-verify",
        "--log",
        dir.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: forgebench_shared::torchrun::TorchRunReport =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r.layout, "public-pol");
    assert_eq!(r.intervals.len(), 2);
    assert!(r.intervals.iter().all(|i| i.error.l2 == 0.0), "{:?}", r.intervals);
}
