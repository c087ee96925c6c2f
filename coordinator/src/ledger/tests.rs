//! Ledger tests: leasing order and dependencies, retries, lease expiry, resubmission and reopening from disk.
use super::*;
use forgebench_shared::config::SweepConfig;
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::jobs::{ArtifactRef, JobOutcome, JobSpec};
use forgebench_shared::profile::{default_cpu_profiles_for, DeviceProfile};

fn fingerprint() -> DeviceFingerprint {
    crate::testing::fingerprint("cpu")
}

fn submit(l: &Ledger, profiles: &[DeviceProfile], max_attempts: u32) -> forgebench_shared::ids::SweepId {
    let text =
        "name = \"t\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [10]\nseeds = [0]\n\
                triples = 2\ndevices = \"all\"\nverification = \"exhaustive\"\n";
    let cfg = SweepConfig::from_toml_str(text).expect("valid");
    let (id, existed) = crate::testing::record_sweep(l, &cfg, profiles, max_attempts);
    assert!(!existed);
    let (again, existed) = crate::testing::record_sweep(l, &cfg, profiles, max_attempts);
    assert!(existed && again == id, "idempotent");
    id
}

fn outcome(l: &Ledger, tag: &str) -> JobOutcome {
    let id = format!("{:0>64}", tag);
    l.add_artifact(&id, 3, "repro-log").expect("index");
    JobOutcome {
        result: serde_json::json!({ "tag": tag }),
        artifacts: vec![ArtifactRef {
            id: id.as_str().into(),
            role: "repro-log".into(),
            size: 3,
        }],
        compute_seconds: 0.5,
    }
}

#[test]
fn verify_waits_for_its_log_and_names_it() {
    let l = Ledger::in_memory().expect("ledger");
    let p = vec![DeviceProfile::cpu("a")];
    let sweep = submit(&l, &p, 3);
    let w = l.register_worker("wa", &p[0], &fingerprint()).expect("register").0;
    let first = l
        .lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
        .expect("lease")
        .expect("a job");
    assert!(matches!(first.spec, JobSpec::WriteLog { .. }));
    assert!(
        l.lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
            .expect("lease")
            .is_none(),
        "verify waits for the log"
    );
    assert!(
        l.lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("b")), 10_000)
            .expect("lease")
            .is_none(),
        "no job for another profile"
    );
    let out = outcome(&l, "1");
    assert_eq!(
        l.report(&w, &first.job_id, 1, Ok(&out)).expect("report"),
        JobState::Done
    );
    let second = l
        .lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
        .expect("lease")
        .expect("the verify job");
    match &second.spec {
        JobSpec::VerifyLog { log, .. } => assert_eq!(log, &out.artifacts[0].id),
        other => panic!("expected verify-log, got {other:?}"),
    }
    assert_eq!(second.inputs, out.artifacts);
    l.report(&w, &second.job_id, 1, Ok(&outcome(&l, "2"))).expect("report");
    assert!(l.sweep_status(&sweep).expect("status").complete());
}

#[test]
fn retries_then_fails_with_error_and_dependents() {
    let l = Ledger::in_memory().expect("ledger");
    let p = vec![DeviceProfile::cpu("a")];
    let sweep = submit(&l, &p, 2);
    let w = l.register_worker("wa", &p[0], &fingerprint()).expect("register").0;
    for attempt in 1..=2 {
        let j = l
            .lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
            .expect("lease")
            .expect("job");
        assert_eq!(j.attempt, attempt);
        let state = l.report(&w, &j.job_id, attempt, Err("boom")).expect("report");
        assert_eq!(
            state,
            if attempt == 1 {
                JobState::Pending
            } else {
                JobState::Failed
            }
        );
    }
    let s = l.sweep_status(&sweep).expect("status");
    assert_eq!(s.counts, [0, 0, 0, 2], "the write failed and its verify with it");
    assert!(s.failures[0].contains("boom"), "{:?}", s.failures);
    assert_eq!(l.resubmit(&sweep, true, 2).expect("resubmit"), 2);
    let j = l
        .lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
        .expect("lease")
        .expect("requeued");
    assert_eq!(j.attempt, 3, "attempts keep counting across resubmission");
}

#[test]
fn expired_lease_requeues_and_stale_report_is_refused() {
    let l = Ledger::in_memory().expect("ledger");
    let p = vec![DeviceProfile::cpu("a")];
    submit(&l, &p, 3);
    let w1 = l.register_worker("w1", &p[0], &fingerprint()).expect("register").0;
    let w2 = l.register_worker("w2", &p[0], &fingerprint()).expect("register").0;
    let j = l
        .lease_next(&w1, &crate::testing::device(&l, &DeviceProfile::cpu("a")), -1)
        .expect("lease")
        .expect("job");
    assert_eq!(l.expire_leases().expect("expire"), 1);
    assert!(
        !l.extend_lease(&w1, &j.job_id, 1, 1000).expect("extend"),
        "the lease is gone"
    );
    let again = l
        .lease_next(&w2, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
        .expect("lease")
        .expect("requeued");
    assert_eq!((again.job_id.clone(), again.attempt), (j.job_id.clone(), 2));
    let err = l.report(&w1, &j.job_id, 1, Ok(&outcome(&l, "1"))).unwrap_err();
    assert!(matches!(err, crate::error::CoordError::Precondition(_)), "{err}");
}

#[test]
fn reopened_ledger_keeps_done_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("l.sqlite");
    let p = default_cpu_profiles_for(None);
    let (sweep, done) = {
        let l = Ledger::open(&path).expect("open");
        let sweep = submit(&l, &p, 3);
        let w = l.register_worker("w", &p[0], &fingerprint()).expect("register").0;
        let j = l
            .lease_next(&w, &crate::testing::device(&l, &p[0]), 10_000)
            .expect("lease")
            .expect("job");
        l.report(&w, &j.job_id, 1, Ok(&outcome(&l, "1"))).expect("report");
        (sweep, j.job_id)
    };
    let l = Ledger::open(&path).expect("reopen");
    let jobs = l.sweep_jobs(&sweep).expect("jobs");
    let row = jobs.iter().find(|j| j.id == done).expect("still there");
    assert_eq!((row.state, row.attempts), (JobState::Done, 1));
    assert_eq!(l.workers().expect("workers").len(), 1);
}

#[test]
fn restored_leases_get_a_grace_period_and_heartbeats_keep_them() {
    let l = Ledger::in_memory().expect("ledger");
    let p = default_cpu_profiles_for(None);
    submit(&l, &p, 3);
    let w = l.register_worker("w", &p[0], &fingerprint()).expect("register").0;
    // A lease already overdue, as a coordinator finds it after an outage.
    let j = l
        .lease_next(&w, &crate::testing::device(&l, &p[0]), -1)
        .expect("lease")
        .expect("job");
    assert_eq!(l.restore_leases(10_000).expect("restore"), 1);
    assert_eq!(
        l.expire_leases().expect("expire"),
        0,
        "the restored lease is not expired"
    );
    assert!(
        l.extend_lease(&w, &j.job_id, 1, 10_000).expect("extend"),
        "its holder keeps it"
    );
    l.report(&w, &j.job_id, 1, Ok(&outcome(&l, "1")))
        .expect("the result is accepted");
    let row = l.job(&j.job_id).expect("job");
    assert_eq!((row.state, row.attempts), (JobState::Done, 1));
}

#[test]
fn a_ledger_of_sha256_ids_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.sqlite");
    {
        // What an earlier forgebench left: the tables, no schema version.
        let c = rusqlite::Connection::open(&path).expect("sqlite");
        c.execute_batch("CREATE TABLE artifacts(id TEXT PRIMARY KEY, size INTEGER NOT NULL)")
            .expect("old table");
    }
    let e = Ledger::open(&path).err().expect("refused");
    let msg = e.to_string();
    assert!(msg.contains("old.sqlite") && msg.contains("SHA-256"), "{msg}");
    let fresh = dir.path().join("new.sqlite");
    Ledger::open(&fresh).expect("a new ledger");
    Ledger::open(&fresh).expect("reopened at its own version");
    let l = Ledger::open(&fresh).expect("again");
    assert_eq!(l.integrity_check().expect("check"), "ok");
}
