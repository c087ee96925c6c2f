//! Reproduction logs: exact self-verification, benign cross-profile error, tamper detection, and the standard
//! safetensors layout.
use forgebench_shared::data::{self, Split};
use forgebench_shared::experiment::{DatasetKind, ModelKind, ReproSpec};
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::{code_version, Provenance};
use forgebench_worker::cli::spawn::command_with;
use forgebench_worker::repro::{read_log, verify_log, write_log, VerifyReport};
use safetensors::SafeTensors;
use std::path::{Path, PathBuf};

fn spec(model: ModelKind, b: usize, k: usize, full: bool) -> ReproSpec {
    ReproSpec {
        model,
        dataset: DatasetKind::Mnist,
        batch_size: b,
        eta: 0.01,
        triples: k,
        seed: 3,
        full,
        arithmetic: Default::default(),
        tolerance_units: None,
    }
}

fn provenance(name: &str) -> Provenance {
    Provenance {
        code_version: code_version(),
        profile: DeviceProfile::cpu(name),
        fingerprint: forgebench_worker::fingerprint::collect(),
        seeds: vec![("seed".into(), 3)],
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fb-repro-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn cpu(name: &str, cap: &str) -> DeviceProfile {
    let mut p = DeviceProfile::cpu(name);
    p.cpu.aten_cpu_capability = Some(cap.into());
    p.cpu.threads = Some(1);
    p
}

fn run(p: &DeviceProfile, args: &[&str]) -> String {
    let out = command_with(Path::new(env!("CARGO_BIN_EXE_forgebench-worker")), p)
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} in {} failed: {}",
        p.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn verify_in(p: &DeviceProfile, log: &Path) -> VerifyReport {
    let report = tmp(&format!("verify-{}.json", p.name));
    run(
        p,
        &[
            "verify",
            "--log",
            log.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
        ],
    );
    serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
}

#[test]
fn writer_profile_reproduces_exactly_and_another_profile_within_benign_noise() {
    let (a, b) = (cpu("cpu-avx2", "avx2"), cpu("cpu-default", "default"));
    let log = tmp("lenet-b100.safetensors");
    let l = log.to_str().unwrap();
    run(
        &a,
        &[
            "write-log",
            "--model",
            "lenet5",
            "--batch-size",
            "100",
            "--triples",
            "3",
            "--seed",
            "3",
            "--out",
            l,
        ],
    );
    let same = verify_in(&a, &log);
    assert_eq!(same.per_triple.len(), 3);
    assert!(
        same.per_triple.iter().all(|e| e.l2 == 0.0),
        "writer's own profile gave {:?}",
        same.summary.l2
    );
    let other = verify_in(&b, &log);
    let max = other.summary.l2.max;
    assert!(
        max > 0.0 && max < 1e-5,
        "cross-profile LeNet b=100 error {max:e}, expected in (0, 1e-5)"
    );
    assert_eq!(
        (other.writer_profile.as_str(), other.verifier_profile.as_str()),
        ("cpu-avx2", "cpu-default")
    );
}

#[test]
fn tampered_theta_is_flagged_at_that_triple() {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let s = spec(ModelKind::Lenet5, 32, 4, true);
    let path = tmp("full.safetensors");
    write_log(&s, &ds, tch::Device::Cpu, provenance("w"), &path, |_| {}).unwrap();
    let clean = verify_log(
        &read_log(&path).unwrap(),
        &ds,
        tch::Device::Cpu,
        provenance("v"),
        Some(1e-6),
        |_| {},
    )
    .unwrap();
    assert!(
        clean.flagged.is_empty() && clean.used_stored_inputs,
        "clean full log flagged: {:?}",
        clean.flagged
    );

    // Change one stored theta_k (k = 2) by 1e-3 in one coordinate, rewrite the file in the standard format.
    let mut log = read_log(&path).unwrap();
    let dim = log.manifest.dim;
    log.theta.as_mut().unwrap()[2 * dim + 17] += 1e-3;
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let theta_bytes: Vec<u8> = log
        .theta
        .as_ref()
        .unwrap()
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let mut views: Vec<(String, safetensors::tensor::TensorView)> = Vec::new();
    for name in ["theta_next", "batch_indices"] {
        views.push((name.into(), st.tensor(name).unwrap()));
    }
    views.push((
        "theta".into(),
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4, dim], &theta_bytes).unwrap(),
    ));
    let tampered = tmp("tampered.safetensors");
    safetensors::serialize_to_file(views, meta.metadata().clone(), &tampered).unwrap();

    let r = verify_log(
        &read_log(&tampered).unwrap(),
        &ds,
        tch::Device::Cpu,
        provenance("v"),
        Some(1e-6),
        |_| {},
    )
    .unwrap();
    assert_eq!(
        r.flagged,
        vec![2],
        "expected only triple 2 flagged, errors {:?}",
        r.per_triple.iter().map(|e| e.l2).collect::<Vec<_>>()
    );
    assert!(
        r.per_triple[2].l2 > 5e-4,
        "tampered triple error {:e}",
        r.per_triple[2].l2
    );
}

#[test]
fn log_is_standard_safetensors_with_manifest() {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let s = spec(ModelKind::Logreg, 16, 2, false);
    let path = tmp("logreg.safetensors");
    write_log(&s, &ds, tch::Device::Cpu, provenance("w"), &path, |_| {}).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.names(), vec!["theta_next"]);
    let t = st.tensor("theta_next").unwrap();
    assert_eq!((t.dtype(), t.shape()), (safetensors::Dtype::F32, &[2usize, 7840][..]));
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&meta.metadata().as_ref().unwrap()["forgebench.manifest"]).unwrap();
    assert_eq!(manifest["spec"]["model"], "logreg");
    assert_eq!(manifest["dataset_sha256"], ds.sha256.as_str());
    assert!(manifest["provenance"]["fingerprint"]["libtorch_version"]
        .as_str()
        .unwrap()
        .starts_with("2.13"));
    assert!(
        path.with_extension("json").exists(),
        "no human-readable manifest beside the log"
    );
    let seeds_only = verify_log(
        &read_log(&path).unwrap(),
        &ds,
        tch::Device::Cpu,
        provenance("v"),
        None,
        |_| {},
    )
    .unwrap();
    assert!(!seeds_only.used_stored_inputs && seeds_only.summary.l2.max == 0.0);
}

#[test]
fn log_from_other_data_is_refused() {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let path = tmp("other-data.safetensors");
    write_log(
        &spec(ModelKind::Logreg, 8, 1, false),
        &ds,
        tch::Device::Cpu,
        provenance("w"),
        &path,
        |_| {},
    )
    .unwrap();
    let test_split = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Test).unwrap();
    let err = verify_log(
        &read_log(&path).unwrap(),
        &test_split,
        tch::Device::Cpu,
        provenance("v"),
        None,
        |_| {},
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("sha256"), "{err}");
}

#[test]
fn weights_and_batches_are_bit_identical_across_profiles() {
    // The portable RNG, not torch's, draws theta_k and B_k: full logs written in two profiles store the same bits.
    let read = |p: &DeviceProfile| {
        let path = tmp(&format!("rng-{}.safetensors", p.name));
        let l = path.to_str().unwrap();
        run(
            p,
            &[
                "write-log",
                "--model",
                "lenet5",
                "--batch-size",
                "20",
                "--triples",
                "2",
                "--full",
                "--out",
                l,
            ],
        );
        let log = read_log(&path).unwrap();
        (log.theta.unwrap(), log.indices.unwrap(), log.theta_next)
    };
    let (ta, ia, na) = read(&cpu("cpu-avx2", "avx2"));
    let (tb, ib, nb) = read(&cpu("cpu-default", "default"));
    assert!(
        ta.iter().zip(&tb).all(|(a, b)| a.to_bits() == b.to_bits()),
        "theta_k differs across profiles"
    );
    assert_eq!(ia, ib, "batch indices differ across profiles");
    assert!(
        na.iter().zip(&nb).any(|(a, b)| a.to_bits() != b.to_bits()),
        "updates identical: profiles had no effect"
    );
}

#[test]
fn truncated_log_is_a_clear_error() {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let path = tmp("truncate.safetensors");
    write_log(
        &spec(ModelKind::Logreg, 8, 2, false),
        &ds,
        tch::Device::Cpu,
        provenance("w"),
        &path,
        |_| {},
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = tmp("truncated.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let err = read_log(&cut).err().expect("a truncated log was accepted").to_string();
    assert!(
        err.contains("truncated.safetensors"),
        "error does not name the file: {err}"
    );
}
