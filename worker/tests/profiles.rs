//! Device profiles are processes: the same update in two CPU profiles, each run twice in its own process, is
//! bitwise repeatable within a profile and differs, by benign amounts, across profiles.
use forgebench_shared::profile::DeviceProfile;
use forgebench_worker::cli::spawn::command_with;
use std::path::Path;

fn worker() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_forgebench-worker"))
}

fn profile(name: &str, cap: &str, onednn: Option<bool>) -> DeviceProfile {
    let mut p = DeviceProfile::cpu(name);
    p.cpu.aten_cpu_capability = Some(cap.into());
    p.cpu.threads = Some(1);
    p.cpu.onednn = onednn;
    p
}

/// Runs `update` for triple 0 of a small spec in a fresh process of `p`; returns theta_next.
fn update(p: &DeviceProfile, model: &str, tag: &str) -> Vec<f32> {
    let out = std::env::temp_dir().join(format!("fb-prof-{}-{model}-{}-{tag}.bin", std::process::id(), p.name));
    let status = command_with(worker(), p)
        .unwrap()
        .args([
            "update",
            "--model",
            model,
            "--batch-size",
            "100",
            "--seed",
            "7",
            "--out",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "update in profile {} failed", p.name);
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn lenet_update_is_repeatable_per_profile_and_differs_across_profiles() {
    let a = profile("cpu-default", "default", None);
    let b = profile("cpu-avx2", "avx2", None);
    let (a1, a2) = (update(&a, "lenet5", "1"), update(&a, "lenet5", "2"));
    let (b1, b2) = (update(&b, "lenet5", "1"), update(&b, "lenet5", "2"));
    assert_eq!(a1.len(), 61_706);
    assert!(
        a1.iter().zip(&a2).all(|(x, y)| x.to_bits() == y.to_bits()),
        "profile default is not bitwise repeatable"
    );
    assert!(
        b1.iter().zip(&b2).all(|(x, y)| x.to_bits() == y.to_bits()),
        "profile avx2 is not bitwise repeatable"
    );
    let gap = l2(&a1, &b1);
    assert!(
        gap > 1e-10 && gap < 1e-5,
        "L2 gap between default and avx2 kernels is {gap:e}, expected in (1e-10, 1e-5)"
    );
}

#[test]
fn onednn_switch_changes_lenet_but_not_logreg() {
    let on = profile("onednn-on", "avx2", Some(true));
    let off = profile("onednn-off", "avx2", Some(false));
    let gap_lenet = l2(&update(&on, "lenet5", "x"), &update(&off, "lenet5", "x"));
    let gap_logreg = l2(&update(&on, "logreg", "x"), &update(&off, "logreg", "x"));
    assert!(
        gap_lenet > 0.0,
        "oneDNN on/off gave identical LeNet updates (gap {gap_lenet:e})"
    );
    assert_eq!(
        gap_logreg, 0.0,
        "oneDNN on/off changed the logistic-regression update (gap {gap_logreg:e})"
    );
}

#[test]
fn mismatched_environment_is_refused() {
    let p = profile("cpu-avx2", "avx2", None);
    let out = std::env::temp_dir().join(format!("fb-refuse-{}.bin", std::process::id()));
    let res = command_with(worker(), &p)
        .unwrap()
        .env("ATEN_CPU_CAPABILITY", "default")
        .args(["update", "--model", "logreg", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        !res.status.success(),
        "a worker whose environment contradicts its profile ran anyway"
    );
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("ATEN_CPU_CAPABILITY") && err.contains("cpu-avx2"),
        "unhelpful refusal: {err}"
    );
}

/// `fingerprint` in a fresh process of `p`: its exit status, stdout and stderr.
fn fingerprint_of(p: &DeviceProfile) -> (bool, String, String) {
    let o = command_with(worker(), p).unwrap().arg("fingerprint").output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn settings_in_force_are_read_back_and_a_capability_not_in_force_is_refused() {
    let avx2 = profile("cpu-avx2", "avx2", Some(false));
    let (ok, out, err) = fingerprint_of(&avx2);
    assert!(ok, "fingerprint failed: {err}");
    let fp: forgebench_shared::fingerprint::DeviceFingerprint = serde_json::from_str(&out).expect("fingerprint json");
    let s = &fp.settings_in_force;
    assert_eq!(s.get("aten_cpu_capability").map(String::as_str), Some("avx2"), "{s:?}");
    assert_eq!(s.get("onednn").map(String::as_str), Some("false"), "{s:?}");
    assert_eq!(s.get("threads").map(String::as_str), Some("1"), "{s:?}");
    // cuDNN's TF32 is on unless switched off: an unset switch reads as the library default.
    assert_eq!(s.get("tf32_cudnn").map(String::as_str), Some("true"), "{s:?}");
    // SVE kernels do not exist on x86-64: ATen falls back, and the worker must refuse rather than run on it.
    if cfg!(target_arch = "x86_64") {
        let (ok, _, err) = fingerprint_of(&profile("cpu-sve", "sve256", None));
        assert!(!ok, "a profile whose capability is not in force must not start");
        assert!(
            err.contains("sve256") && err.contains("ATen dispatches to"),
            "names both: {err}"
        );
    }
}
