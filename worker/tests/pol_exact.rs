//! Proof-of-Learning in exact arithmetic: a log trained on one CPU profile replays bit for bit on every profile
//! (the f32 arm's log does not), a replaced batch fails exactly its interval, and one ulp in a checkpoint fails the
//! intervals it ends and starts, naming the element.
mod pol_common;

use forgebench_shared::experiment::{Arithmetic, ModelKind};
use forgebench_shared::profile::default_cpu_profiles;
use forgebench_shared::results::PolVerifyReport;
use forgebench_worker::cli::spawn::command_with;
use forgebench_worker::pol::{self, Epsilon};
use pol_common::{mnist, provenance, spec, tmp};
use std::path::Path;
use tch::Device;

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_forgebench-worker"))
}

/// `pol-verify` of `log` on `profile`: whether it passed, and its report.
fn verify_on(profile: &forgebench_shared::profile::DeviceProfile, log: &Path) -> (bool, PolVerifyReport) {
    let out = log.with_extension(format!("verify-{}.json", profile.name));
    let o = command_with(exe(), profile)
        .expect("command")
        .args(["pol-verify", "--log"])
        .arg(log)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("pol-verify runs");
    let report = serde_json::from_str(&std::fs::read_to_string(&out).expect("report written")).expect("report");
    (o.status.success(), report)
}

#[test]
fn an_exact_log_replays_bit_for_bit_on_every_profile_and_the_f32_log_does_not() {
    let profiles = default_cpu_profiles();
    assert!(profiles.len() >= 3, "{} profiles", profiles.len());
    let mut f32_failures = 0;
    for arith in ["exact", "f32"] {
        let log = tmp(&format!("lenet-{arith}.safetensors"));
        let o = command_with(exe(), &profiles[0])
            .expect("command")
            .args(["pol-train", "--model", "lenet5", "--batch-size", "16", "--steps", "4"])
            .args(["--checkpoint-every", "2", "--seed", "1", "--arithmetic", arith, "--out"])
            .arg(&log)
            .output()
            .expect("pol-train runs");
        assert!(o.status.success(), "pol-train: {}", String::from_utf8_lossy(&o.stderr));
        for p in &profiles {
            let (passed, r) = verify_on(p, &log);
            if arith == "exact" {
                let e = r.exact.as_ref().expect("an exact verdict");
                assert!(passed && e.agreed, "{}: {:?}", p.name, e.first_disagreement);
                assert!(r.per_interval.iter().all(|x| x.l2 == 0.0), "{}", p.name);
                assert!(e.records > 0, "records were applied");
            } else {
                assert!(r.exact.is_none());
                f32_failures += usize::from(!passed);
            }
        }
    }
    assert!(
        f32_failures > 0,
        "the f32 log replays exactly on another profile: the profiles do not differ"
    );
}

fn exact_log(name: &str) -> (pol::PolLog, std::path::PathBuf) {
    let mut sp = spec(ModelKind::Logreg, 10, 5, 1);
    sp.arithmetic = Arithmetic::Exact;
    let path = tmp(name);
    let m = pol::train(&sp, &mnist(), Device::Cpu, provenance(), &path).expect("train");
    let info = m.exact.as_ref().expect("the manifest describes the records");
    assert_eq!(info.records.len(), 5);
    (pol::read(&path).expect("read"), path)
}

#[test]
fn a_replaced_batch_fails_exactly_its_interval() {
    let (mut log, path) = exact_log("replaced.safetensors");
    let ds = mnist();
    let b = log.manifest.spec.batch_size;
    let used: Vec<i64> = log.indices.clone();
    log.indices[2 * b] = (0..ds.n as i64).find(|i| !used.contains(i)).expect("an unused example");
    pol::write(&log, &path).expect("write");
    let log = pol::read(&path).expect("read back");
    let r = pol::verify(&log, &ds, Device::Cpu, provenance(), Epsilon::given(1.0)).expect("verify");
    assert_eq!(r.failed_intervals, [2], "{:?}", r.exact);
    assert_eq!(r.epsilon, Some(0.0), "the exact arm ignores a tolerance");
    let d = r.exact.expect("verdict").first_disagreement.expect("a disagreement");
    assert_eq!(d.step, 2);
}

#[test]
fn one_ulp_in_a_checkpoint_fails_where_it_ends_and_starts_an_interval() {
    let (mut log, path) = exact_log("ulp.safetensors");
    let dim = log.manifest.dim;
    let e = 2 * dim + 4321;
    log.checkpoints[e] = log.checkpoints[e].next_up();
    pol::write(&log, &path).expect("write");
    let log = pol::read(&path).expect("read back");
    let r = pol::verify(&log, &mnist(), Device::Cpu, provenance(), Epsilon::exact()).expect("verify");
    assert!(!r.passed);
    assert_eq!(r.failed_intervals.first(), Some(&1), "{:?}", r.failed_intervals);
    let d = r.exact.expect("verdict").first_disagreement.expect("a disagreement");
    let el = d.element.expect("the element");
    assert_eq!((d.step, el.index, el.parameter.as_str()), (1, 4321, "fc.weight[4321]"));
    assert_eq!(
        el.stored,
        el.recomputed.next_up(),
        "{} against {}",
        el.stored,
        el.recomputed
    );
}

#[test]
fn an_exact_log_without_its_records_is_refused_naming_the_file() {
    let (mut log, path) = exact_log("norecords.safetensors");
    log.records = None;
    let e = pol::write(&log, &path).unwrap_err().to_string();
    assert!(
        e.contains("norecords.safetensors") && e.contains("rounding records"),
        "{e}"
    );
}
