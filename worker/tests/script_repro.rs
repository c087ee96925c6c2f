//! The reproduction commands given a TorchScript file (`update`, `write-log`, `verify`, `trace`, `explain`,
//! `matrix`): its triples start at the file's own parameters; for the bundled TorchScript LeNet-5 they are the
//! built-in LeNet-5's steps bit for bit, every command agrees with the others, a changed result is flagged at its
//! triple alone, and a log given the wrong model, or options only the built-in models have, is refused by name;
//! `adam-forge` forges such a triple.
mod torch_common;

use forgebench_shared::data::{self, Split};
use forgebench_shared::experiment::{DatasetKind, ModelKind, Precision};
use forgebench_worker::models::script::ScriptNet;
use forgebench_worker::repro::VerifyReport;
use forgebench_worker::torchrun::triples::{self, Triples};
use forgebench_worker::update::{sgd_update, Batch};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tch::Device;
use torch_common::tmp;

fn model(name: &str) -> PathBuf {
    data::bundled_dir().join("models").join(format!("{name}.pt"))
}

/// The worker in the ambient profile.
fn worker(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forgebench-worker"))
        .env_remove("FORGEBENCH_PROFILE_JSON")
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn refused(o: Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains(needle),
        "expected {needle:?} in: {err}"
    );
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn torchscript_lenets_triples_are_the_builtins_steps_at_the_files_parameters_bit_for_bit() {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let net = ScriptNet::load(&model("lenet5"), Device::Cpu).unwrap();
    let t = Triples {
        batch_size: 32,
        eta: 0.01,
        triples: 2,
        seed: 5,
    };
    let theta0 = net.theta().unwrap();
    for k in 0..2 {
        let s = triples::step(&net, &t, k, &theta0, &ds, Device::Cpu).unwrap();
        let b = Batch::gather(&ds, &t.batch_k(k, ds.n), Device::Cpu, Precision::F32).unwrap();
        let u = sgd_update(ModelKind::Lenet5, &theta0, &b, t.eta).unwrap();
        let want = Vec::<f32>::try_from(&u.theta_next).unwrap();
        let differ = s
            .theta_next
            .iter()
            .zip(&want)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(differ, 0, "triple {k}: {differ} of {} values differ", want.len());
    }
}

fn args<'a>(file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--model", file, "--batch-size", "16", "--triples", "3", "--seed", "4"];
    a.extend_from_slice(extra);
    a
}

#[test]
fn update_write_log_and_verify_agree_and_a_changed_triple_is_flagged_alone() {
    let lenet = model("lenet5");
    let file = lenet.to_str().unwrap();
    let log = tmp("lenet.safetensors");
    let log_s = log.to_str().unwrap();
    let mut a = vec!["write-log"];
    a.extend(args(file, &["--out", log_s]));
    ok(worker(&a));
    let upd = tmp("theta-next-2.bin");
    let mut a = vec!["update"];
    a.extend(args(file, &["--k", "2", "--out", upd.to_str().unwrap()]));
    ok(worker(&a));
    let stored = triples::read_log(&log).unwrap();
    let dim = stored.manifest.dim;
    assert_eq!(stored.manifest.model.sha256.len(), 64);
    assert_eq!(f32s(&std::fs::read(&upd).unwrap()), stored.theta_next[2 * dim..3 * dim]);

    let verify = |log: &Path, extra: &[&str]| -> VerifyReport {
        let out = tmp("report.json");
        let mut a = vec!["verify", "--log", log.to_str().unwrap(), "--out", out.to_str().unwrap()];
        a.extend_from_slice(extra);
        ok(worker(&a));
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
    };
    let r = verify(&log, &[]);
    let l2: Vec<f64> = r.per_triple.iter().map(|e| e.l2).collect();
    assert_eq!(l2, [0.0; 3], "its own profile replays its log bit for bit");

    // Triple 1's result changed by 0.5 in one value: flagged, and only it.
    let mut bytes = std::fs::read(&log).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let at = 8 + header + dim * 4 + 100 * 4;
    let v = f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) + 0.5;
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let changed = tmp("changed.safetensors");
    std::fs::write(&changed, &bytes).unwrap();
    let r = verify(&changed, &["--threshold", "1e-3"]);
    assert_eq!(r.flagged, [1], "{:?}", r.per_triple);
    assert!((r.per_triple[1].l2 - 0.5).abs() < 1e-6, "{}", r.per_triple[1].l2);

    // The wrong model, a truncated log, and options of the built-in models only.
    let resnet = model("resnet20");
    refused(
        worker(&["verify", "--log", log_s, "--model", resnet.to_str().unwrap()]),
        "sha256",
    );
    let cut = tmp("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    refused(worker(&["verify", "--log", cut.to_str().unwrap()]), "cut.safetensors");
    let mut a = vec!["update"];
    a.extend(args(file, &["--precision", "f64", "--out", upd.to_str().unwrap()]));
    refused(worker(&a), "f32");
    let mut a = vec!["write-log"];
    a.extend(args(file, &["--arithmetic", "exact", "--out", log_s]));
    refused(worker(&a), "exact arm");
    refused(
        worker(&["bench-loop", "--model", file, "--triples", "1"]),
        "the commands that take a TorchScript model",
    );
    // A missing file is named, and its cause printed once (not again as the error's source).
    let o = worker(&["convert", "--value", "1e-8", "--from", "l2", "--model", "missing.pt"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("missing.pt"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

#[test]
fn matrix_and_explain_of_a_torchscript_model_across_two_profiles() {
    let lenet = model("lenet5");
    let file = lenet.to_str().unwrap();
    let out = tmp("matrix");
    let mut a = vec!["matrix"];
    a.extend(args(
        file,
        &["--profiles", "cpu-avx2,cpu-default", "--out", out.to_str().unwrap()],
    ));
    let text = ok(worker(&a));
    assert!(text.contains("reproduction triples"), "{text}");
    let m: forgebench_shared::torchrun::TorchMatrix =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    assert!(m.triples);
    assert_eq!(m.devices, ["cpu-avx2", "cpu-default"]);
    torch_common::assert_benign(&m);
    let out = tmp("explain");
    let mut a = vec!["explain"];
    a.extend(args(
        file,
        &["--pair", "cpu-avx2,cpu-default", "--out", out.to_str().unwrap()],
    ));
    let text = ok(worker(&a));
    assert!(text.contains("| conv1.weight.grad |"), "{text}");
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("explain.json")).unwrap()).unwrap();
    assert_eq!(e["first_differing"], "model.forward", "{e}");
    let last = e["sites"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["site"], "update");
    assert!(last["differing"].as_u64().unwrap() > 0, "{last}");
}

#[test]
fn adam_forge_of_a_torchscript_model_forges_a_triple_at_its_parameters() {
    let lenet = model("lenet5");
    let file = lenet.to_str().unwrap();
    let text = ok(worker(&[
        "adam-forge",
        "--model",
        file,
        "--batch-size",
        "16",
        "--iterations",
        "20",
        "--seed",
        "3",
        "--runs",
        "2",
    ]));
    let reports: Vec<forgebench_shared::torch_forge::TorchForgeReport> = serde_json::from_str(&text).unwrap();
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert_eq!(r.optimizer, forgebench_shared::optim::Optimizer::Plain);
        assert_eq!(r.model.sha256.len(), 64);
        assert_eq!(r.benign.l2, 0.0, "the triple's own batch replays bit for bit here");
        let synthetic = r.synthetic.as_ref().expect("the Adam arm ran").error.l2;
        // 100 times the largest benign cell of this model's triples across profiles (1.25e-8).
        assert!(
            synthetic.is_finite() && synthetic > 1.25e-6,
            "seed {}: {synthetic:e}",
            r.seed
        );
    }
    refused(
        worker(&["adam-forge", "--model", file, "--matrix", "matrix.json"]),
        "for the built-in models",
    );
}
