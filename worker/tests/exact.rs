//! The exact arithmetic arm: every profile reproduces every other's log bit for bit where the f32 arm does not, a
//! one-ulp change fails at its step, a prover's flipped or invented record is caught at its site, and a damaged
//! record tensor is a clear error.
use forgebench_shared::data::{self, Split};
use forgebench_shared::experiment::{Arithmetic, DatasetKind, ModelKind, ReproSpec};
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::{code_version, Provenance};
use forgebench_worker::arithmetic::exact::records::StepRecords;
use forgebench_worker::arithmetic::exact::round::{Record, Side};
use forgebench_worker::repro::{read_log, verify_log, write_log, VerifyReport};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fb-exact-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Runs the single-machine matrix over the built-in CPU profiles; the largest L2 of each cell, off the diagonal.
fn matrix(model: &str, b: usize, k: usize, arith: &str) -> Vec<f64> {
    let out = tmp(&format!("matrix-{model}-{arith}"));
    let status = Command::new(env!("CARGO_BIN_EXE_forgebench-worker"))
        .args(["matrix", "--model", model, "--arithmetic", arith])
        .args([
            "--batch-size",
            &b.to_string(),
            "--triples",
            &k.to_string(),
            "--seed",
            "4",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "matrix {model} {arith} failed");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    let cells = m["cells"].as_array().unwrap();
    assert!(cells.len() >= 3, "{model}: {} profiles", cells.len());
    let mut off = Vec::new();
    for (i, row) in cells.iter().enumerate() {
        for (j, c) in row.as_array().unwrap().iter().enumerate() {
            let max = c["summary"]["l2"]["max"].as_f64().unwrap();
            if arith == "exact" {
                assert_eq!(max, 0.0, "{model} b={b} exact: cell ({i}, {j}) has L2 {max:e}");
            }
            if i != j {
                off.push(max);
            }
        }
    }
    off
}

#[test]
fn exact_matrices_are_zero_on_every_profile_where_f32_matrices_are_not() {
    for (model, b, k) in [("logreg", 100, 2), ("lenet5", 100, 2), ("vggmini", 16, 1)] {
        matrix(model, b, k, "exact");
        let f32_off = matrix(model, b, k, "f32");
        assert!(
            f32_off.iter().any(|&e| e > 0.0),
            "{model} b={b}: the f32 arm's off-diagonal cells are all 0 ({f32_off:?}), so the profiles do not differ"
        );
    }
}

fn provenance(name: &str) -> Provenance {
    Provenance {
        code_version: code_version(),
        profile: DeviceProfile::cpu(name),
        fingerprint: forgebench_worker::fingerprint::collect(),
        seeds: vec![("seed".into(), 5)],
    }
}

fn spec(arithmetic: Arithmetic) -> ReproSpec {
    ReproSpec {
        model: ModelKind::Lenet5,
        dataset: DatasetKind::Mnist,
        batch_size: 32,
        eta: 0.01,
        triples: 3,
        seed: 5,
        full: true,
        arithmetic,
        tolerance_units: None,
    }
}

fn verify(path: &Path) -> VerifyReport {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    verify_log(
        &read_log(path).unwrap(),
        &ds,
        tch::Device::Cpu,
        provenance("v"),
        Some(1e-6),
        |_| {},
    )
    .unwrap()
}

fn write(arithmetic: Arithmetic, name: &str) -> PathBuf {
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let path = tmp(name);
    write_log(&spec(arithmetic), &ds, tch::Device::Cpu, provenance("w"), &path, |_| {}).unwrap();
    path
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A copy of the log at `src` with the named tensors replaced (dtype, shape, bytes), written to `dst`.
fn rewrite(src: &Path, dst: &Path, replace: &[(&str, Dtype, Vec<usize>, Vec<u8>)], drop: &[&str]) {
    let bytes = std::fs::read(src).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut views: Vec<(String, TensorView)> = Vec::new();
    for name in st.names() {
        if drop.contains(&name) {
            continue;
        }
        match replace.iter().find(|r| r.0 == name) {
            Some((_, dtype, shape, data)) => {
                views.push((name.to_owned(), TensorView::new(*dtype, shape.clone(), data).unwrap()))
            }
            None => views.push((name.to_owned(), st.tensor(name).unwrap())),
        }
    }
    safetensors::serialize_to_file(views, meta.metadata().clone(), dst).unwrap();
}

#[test]
fn one_ulp_in_a_checkpoint_fails_the_exact_verifier_at_that_step_and_passes_the_f32_one() {
    for arith in Arithmetic::ALL {
        let path = write(arith, &format!("ulp-{arith}.safetensors"));
        let clean = verify(&path);
        assert!(
            clean.flagged.is_empty(),
            "{arith}: clean log flagged {:?}",
            clean.flagged
        );
        let mut log = read_log(&path).unwrap();
        let dim = log.manifest.dim;
        let theta = log.theta.as_mut().unwrap();
        theta[dim + 40_000] = theta[dim + 40_000].next_up();
        let tampered = tmp(&format!("ulp-{arith}-tampered.safetensors"));
        rewrite(
            &path,
            &tampered,
            &[("theta", Dtype::F32, vec![3, dim], f32_bytes(theta))],
            &[],
        );
        let r = verify(&tampered);
        match arith {
            Arithmetic::F32 => assert!(
                r.flagged.is_empty(),
                "f32: one ulp is benign noise, yet flagged {:?} (L2 {:?})",
                r.flagged,
                r.per_triple.iter().map(|e| e.l2).collect::<Vec<_>>()
            ),
            Arithmetic::Exact => {
                assert_eq!(r.flagged, vec![1], "exact: flagged {:?}", r.flagged);
                let v = r.exact.as_ref().unwrap();
                let d = v.first_disagreement.as_ref().unwrap();
                assert!(!v.agreed && d.step == 1, "{v:?}");
                // One ulp of an fc1 weight vanishes when fc1's output is rounded; it survives into the update.
                assert_eq!(d.site.as_deref(), Some("update"), "{d:?}");
                let e = d.element.as_ref().unwrap();
                assert_eq!((e.index, e.parameter.as_str()), (40_000, "fc1.weight[37428]"), "{d:?}");
            }
        }
    }
}

#[test]
fn a_flipped_record_is_located_at_its_site_and_an_invented_one_is_refused() {
    let path = write(Arithmetic::Exact, "records.safetensors");
    let log = read_log(&path).unwrap();
    let info = log.manifest.exact.clone().unwrap();
    let mut steps: Vec<StepRecords> = log.records.clone().unwrap();
    // Flip the first side record of the first site that has one, in step 2.
    let (site, at) = steps[2]
        .sites
        .iter()
        .enumerate()
        .find_map(|(i, s)| {
            s.records
                .iter()
                .position(|r| !matches!(r.side, Side::Pinned(_)))
                .map(|j| (i, j))
        })
        .unwrap();
    let r = &mut steps[2].sites[site].records[at];
    r.side = if r.side == Side::Up { Side::Down } else { Side::Up };
    // Invent a record in step 0 at the update site, at the first element without one (not near a boundary).
    let upd = info.sites.iter().position(|s| s == "update").unwrap();
    let u = &mut steps[0].sites[upd].records;
    let free = (0..).find(|i| !u.iter().any(|r| r.index == *i)).unwrap();
    let at = u.iter().position(|r| r.index > free).unwrap_or(u.len());
    u.insert(
        at,
        Record {
            index: free,
            side: Side::Up,
        },
    );
    let mut packed = Vec::new();
    let mut offsets = 0i64.to_le_bytes().to_vec();
    for s in &steps {
        packed.extend(s.pack());
        offsets.extend((packed.len() as i64).to_le_bytes());
    }
    let n = packed.len();
    let forged = tmp("records-forged.safetensors");
    rewrite(
        &path,
        &forged,
        &[
            ("rounding_records", Dtype::U8, vec![n], packed),
            ("rounding_offsets", Dtype::I64, vec![4], offsets),
        ],
        &[],
    );
    let r = verify(&forged);
    assert_eq!(r.flagged, vec![0, 2], "flagged {:?}", r.flagged);
    let d = r.exact.unwrap().first_disagreement.unwrap();
    assert_eq!((d.step, d.site.as_deref()), (0, Some("update")), "{d:?}");
    let detail = d.detail.unwrap_or_default();
    assert!(
        detail.contains(&format!("record at index {free},")) && detail.contains("beyond the tolerance"),
        "step 0 detail: {detail}"
    );
    // Refused, the record changes nothing: the result agrees, and the step fails for the record alone.
    assert!(d.element.is_none(), "{:?}", d.element);
}

#[test]
fn a_log_without_its_records_is_a_clear_error_naming_the_file() {
    let path = write(Arithmetic::Exact, "missing.safetensors");
    let cut = tmp("missing-cut.safetensors");
    rewrite(&path, &cut, &[], &["rounding_records"]);
    let e = read_log(&cut)
        .err()
        .expect("a log without records was read")
        .to_string();
    assert!(
        e.contains("missing-cut.safetensors") && e.contains("rounding_records"),
        "{e}"
    );
    // Offsets that point past the records.
    let bad = tmp("missing-offsets.safetensors");
    let mut off = Vec::new();
    for v in [0i64, 1 << 40, 1 << 41, 1 << 42] {
        off.extend(v.to_le_bytes());
    }
    rewrite(&path, &bad, &[("rounding_offsets", Dtype::I64, vec![4], off)], &[]);
    let e = read_log(&bad).err().expect("bad offsets were read").to_string();
    assert!(e.contains("rounding_offsets of step 0"), "{e}");
}
