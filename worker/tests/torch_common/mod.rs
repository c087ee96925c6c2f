//! Fixtures of the tests against real PyTorch: Python's torch from `.libtorch/py` (scripts/setup-pytorch.sh), the
//! training script `worker/python/train.py`, three CPU profiles and `pol-verify` in a fresh process of each.
#![allow(dead_code)] // each test binary uses a part
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::torchrun::TorchRunReport;
use forgebench_worker::cli::spawn::command_with;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn worker() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_forgebench-worker"))
}

/// A scratch folder of this test process.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fb-torch-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Runs `python3 args` with the project's PyTorch; panics with its output when it fails.
pub fn python(args: &[&str]) {
    let py = repo().join(".libtorch/py");
    assert!(
        py.join("torch/__init__.py").is_file(),
        "Python's torch is not installed at {}: run scripts/setup-pytorch.sh",
        py.display()
    );
    let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .args(args)
        .env("PYTHONPATH", &py)
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python3 {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Trains with `worker/python/train.py` into `out` with `extra` arguments.
pub fn train(out: &Path, extra: &[&str]) {
    let script = repo().join("worker/python/train.py");
    let mut args = vec![script.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    python(&args);
}

/// This machine's three CPU profiles: AVX-512 (or, on a CPU without it, AVX2 with MKL's compatible path), AVX2
/// and ATen's portable kernels without oneDNN, one thread each.
pub fn profiles() -> Vec<DeviceProfile> {
    forgebench_shared::profile::default_cpu_profiles()
}

/// `pol-verify --log log` in a fresh worker process with no profile: the environment PyTorch trained in.
pub fn verify_ambient(log: &Path, extra: &[&str], tag: &str) -> TorchRunReport {
    let report = tmp(&format!("{tag}-ambient.json"));
    let _ = std::fs::remove_file(&report);
    let out = Command::new(worker())
        .env_remove("FORGEBENCH_PROFILE_JSON")
        .arg("pol-verify")
        .arg("--log")
        .arg(log)
        .arg("--out")
        .arg(&report)
        .args(extra)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(&text).expect("a TorchRunReport")
}

/// `pol-verify --log log extra` in a fresh process of `p`: whether it passed, its report, and its stderr.
pub fn verify(p: &DeviceProfile, log: &Path, extra: &[&str], tag: &str) -> (bool, Option<TorchRunReport>, String) {
    let report = tmp(&format!("{tag}-{}.json", p.name));
    let _ = std::fs::remove_file(&report);
    let out = command_with(worker(), p)
        .unwrap()
        .arg("pol-verify")
        .arg("--log")
        .arg(log)
        .arg("--out")
        .arg(&report)
        .args(extra)
        .output()
        .unwrap();
    let parsed = std::fs::read_to_string(&report)
        .ok()
        .map(|t| serde_json::from_str(&t).expect("a TorchRunReport"));
    (
        out.status.success(),
        parsed,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The report file `verify` wrote for `tag` in profile `p`.
pub fn report_path(p: &DeviceProfile, tag: &str) -> PathBuf {
    tmp(&format!("{tag}-{}.json", p.name))
}

/// A matrix of benign noise: every profile replays its own log bit for bit, every other profile within (0, 1e-5).
pub fn assert_benign(m: &forgebench_shared::torchrun::TorchMatrix) {
    for (w, row) in m.l2_max.iter().enumerate() {
        for (v, &e) in row.iter().enumerate() {
            if w == v {
                assert_eq!(e, 0.0, "{}: a profile replays its own log bit for bit", m.devices[w]);
            } else {
                assert!(e > 0.0 && e < 1e-5, "cell ({w}, {v}): {e:e}, benign noise expected");
            }
        }
    }
}
