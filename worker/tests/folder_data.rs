//! A user's own data set (`--dataset PATH`): a TorchScript LeNet-5 trained on MNIST examples saved as `.npy` and as
//! safetensors arrays, its log verified where it was trained and in another CPU profile; other data under the same
//! name is refused, and Python's reader of the bundled module computes the same sha256 as forgebench.
mod torch_common;

use forgebench_shared::data::{self, folder, Split};
use forgebench_shared::experiment::DatasetKind;
use forgebench_shared::torchrun::{TorchLogManifest, MANIFEST_FILE};
use npyz::WriterBuilder;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::path::{Path, PathBuf};
use std::process::Command;
use torch_common::{profiles, python, repo, tmp, verify, verify_ambient};

const WORKER: &str = env!("CARGO_BIN_EXE_forgebench-worker");
const N: usize = 96;

fn npy<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], values: &[T]) {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut out)
        .begin_nd()
        .unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(path, out.into_inner()).unwrap();
}

/// The first `N` bundled MNIST training examples, as bytes, and their labels.
fn mnist_bytes() -> (Vec<u8>, Vec<i64>) {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let pixels = ds.images[..N * 784]
        .iter()
        .map(|&v| (v * 255.0).round() as u8)
        .collect();
    (pixels, ds.labels[..N].iter().map(|&l| i64::from(l)).collect())
}

fn npy_folder(name: &str, labels: &[i64]) -> PathBuf {
    let d = tmp(name);
    std::fs::create_dir_all(&d).unwrap();
    let (pixels, _) = mnist_bytes();
    npy(&d.join(folder::INPUTS_NPY), &[N as u64, 1, 28, 28], &pixels);
    npy(&d.join(folder::LABELS_NPY), &[N as u64], labels);
    d
}

fn safetensors_folder(name: &str) -> PathBuf {
    let d = tmp(name);
    std::fs::create_dir_all(&d).unwrap();
    let (pixels, labels) = mnist_bytes();
    let floats: Vec<u8> = pixels
        .iter()
        .flat_map(|&b| (f32::from(b) / 255.0).to_le_bytes())
        .collect();
    let labels: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
    let views = vec![
        (
            "inputs",
            TensorView::new(Dtype::F32, vec![N, 1, 28, 28], &floats).unwrap(),
        ),
        ("labels", TensorView::new(Dtype::I64, vec![N], &labels).unwrap()),
    ];
    safetensors::serialize_to_file(views, None, &d.join(folder::SAFETENSORS_FILE)).unwrap();
    d
}

fn train(data: &Path, out: &Path) -> TorchLogManifest {
    let model = repo().join("data/models/lenet5.pt");
    let o = Command::new(WORKER)
        .env_remove("FORGEBENCH_PROFILE_JSON")
        .args(["pol-train", "--model", model.to_str().unwrap(), "--dataset"])
        .arg(data)
        .args([
            "--batch-size",
            "16",
            "--steps",
            "3",
            "--eta",
            "0.05",
            "--seed",
            "3",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "pol-train: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join(MANIFEST_FILE)).unwrap()).unwrap()
}

/// Python's `forgebench_log.folder(dir).sha256`.
fn python_sha(dir: &Path) -> String {
    let out = tmp(&format!("{}.sha", dir.file_name().unwrap().to_string_lossy()));
    let code = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport forgebench_log\nd = forgebench_log.folder({:?})\n\
         assert tuple(d.images.shape) == ({N}, 1, 28, 28) and d.labels.dtype == forgebench_log.torch.int64\n\
         open({:?}, 'w').write(d.sha256)\n",
        repo().join("worker/python").display().to_string(),
        dir.display().to_string(),
        out.display().to_string()
    );
    let script = tmp("sha.py");
    std::fs::write(&script, code).unwrap();
    python(&[script.to_str().unwrap()]);
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn a_folder_data_set_trains_verifies_and_guards_its_hash() {
    let (_, labels) = mnist_bytes();
    for (form, dir) in [
        ("npy", npy_folder("data-npy", &labels)),
        ("safetensors", safetensors_folder("data-st")),
    ] {
        let log = tmp(&format!("log-{form}"));
        let m = train(&dir, &log);
        let ds = data::load(DatasetKind::Folder, &dir, Split::Train).unwrap();
        assert_eq!((m.dataset.kind, m.dataset.n), (DatasetKind::Folder, N), "{form}");
        assert_eq!(
            m.dataset.sha256, ds.sha256,
            "{form}: the manifest records the data's sha256"
        );
        assert_eq!(
            m.dataset.path.as_deref().map(PathBuf::from),
            ds.folder(),
            "{form}: and its folder"
        );
        assert_eq!(
            python_sha(&dir),
            ds.sha256,
            "{form}: Python's reader hashes the files as forgebench does"
        );
        // The recorded folder is found without being named; bit for bit where the log was trained.
        let r = verify_ambient(&log, &[], &format!("{form}-here"));
        assert!(
            r.passed && r.intervals.iter().all(|i| i.error.l2 == 0.0),
            "{form}: {:?}",
            r.intervals
        );
        let other = &profiles()[2];
        let (ok, r, err) = verify(
            other,
            &log,
            &["--dataset", dir.to_str().unwrap(), "--epsilon", "1e-4"],
            form,
        );
        assert!(ok, "{form} in {}: {err}", other.name);
        assert_eq!(r.unwrap().intervals.len(), 3);
    }
    // The same arrays but one label changed: other data, refused before any replay, naming where it was read.
    let mut tampered = labels.clone();
    tampered[5] = (tampered[5] + 1) % 10;
    let other = npy_folder("data-tampered", &tampered);
    let (ok, _, err) = verify(
        &profiles()[0],
        &tmp("log-npy"),
        &["--dataset", other.to_str().unwrap()],
        "tampered",
    );
    assert!(!ok && err.contains("data-tampered") && err.contains("sha256"), "{err}");
    // Python's reader refuses what forgebench's loader refuses, before a run trains on data it cannot verify.
    let mut wide = labels.clone();
    wide[0] = 300;
    let bad = npy_folder("data-wide", &wide);
    let code = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport forgebench_log\ntry:\n    forgebench_log.folder({:?})\n\
         except ValueError as e:\n    assert '0..=255' in str(e), e\nelse:\n    raise SystemExit('accepted')\n",
        repo().join("worker/python").display().to_string(),
        bad.display().to_string()
    );
    let script = tmp("wide.py");
    std::fs::write(&script, code).unwrap();
    python(&[script.to_str().unwrap()]);
    // A built-in model trains on the official sets only.
    let o = Command::new(WORKER)
        .args(["pol-train", "--model", "lenet5", "--steps", "1", "--dataset"])
        .arg(&other)
        .arg("--out")
        .arg(tmp("builtin.safetensors"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("TorchScript model"), "{err}");
}

#[test]
fn a_log_in_the_one_file_form_reads_as_its_streamed_original() {
    use forgebench_shared::torchrun::{TENSORS_FILE, TORCH_LOG_FORMAT};
    use forgebench_worker::torchrun::forgebench_log;
    let (_, labels) = mnist_bytes();
    let (dir, log) = (npy_folder("data-one-file", &labels), tmp("log-streamed"));
    let m = train(&dir, &log);
    assert_eq!(m.format, forgebench_shared::torchrun::STREAMED_FORMAT);
    let full = forgebench_log::complete_manifest(&log).unwrap();
    assert_eq!(
        (full.steps, full.checkpoints.clone(), full.lr.len()),
        (3, vec![0, 1, 2, 3], 3)
    );
    let run = forgebench_log::read(&log, forgebench_log::manifest(&log).unwrap()).unwrap();
    // The same run as one log.safetensors, the form logs were first written in.
    let one = tmp("log-one-file");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::copy(log.join("model.pt"), one.join("model.pt")).unwrap();
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let idx = run
        .batches
        .iter()
        .flatten()
        .flat_map(|&i| (i as i64).to_le_bytes())
        .collect();
    owned.push(("indices".into(), Dtype::I64, vec![3, 16], idx));
    for (k, c) in run.checkpoints.iter().enumerate() {
        let theta = c.theta.iter().flat_map(|v| v.to_le_bytes()).collect();
        owned.push((format!("theta.{k}"), Dtype::F32, vec![c.theta.len()], theta));
    }
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &one.join(TENSORS_FILE)).unwrap();
    let mut m1 = full.clone();
    m1.format = TORCH_LOG_FORMAT.into();
    std::fs::write(one.join(MANIFEST_FILE), serde_json::to_string(&m1).unwrap()).unwrap();
    let again = forgebench_log::read(&one, forgebench_log::manifest(&one).unwrap()).unwrap();
    assert_eq!(again.batches, run.batches);
    assert_eq!(again.lr, run.lr);
    let thetas = |r: &forgebench_worker::torchrun::TorchRun| -> Vec<(usize, Vec<f32>)> {
        r.checkpoints.iter().map(|c| (c.step, c.theta.clone())).collect()
    };
    assert_eq!(thetas(&again), thetas(&run));
    let r = verify_ambient(&one, &[], "one-file");
    assert!(
        r.passed && r.layout == TORCH_LOG_FORMAT,
        "{} {:?}",
        r.layout,
        r.intervals
    );
}
