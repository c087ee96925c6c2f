//! Leasing the planned jobs that read their dependency's artifact: the role picks the input, and a dependency
//! without it fails its dependents with the reason.
use super::*;
use crate::ledger::{JobState, Ledger};
use forgebench_shared::jobs::{ArtifactRef, JobOutcome};

fn fingerprint() -> forgebench_shared::fingerprint::DeviceFingerprint {
    crate::testing::fingerprint("cpu")
}

fn ledger_with(cfg: &SweepConfig, profiles: &[DeviceProfile]) -> Ledger {
    let l = Ledger::in_memory().expect("ledger");
    crate::testing::record_sweep(&l, cfg, profiles, 1);
    l
}

fn artifact(l: &Ledger, tag: &str, role: &str) -> ArtifactRef {
    let id = format!("{tag:0>64}");
    l.add_artifact(&id, 5, role).expect("index");
    ArtifactRef {
        id: id.as_str().into(),
        role: role.into(),
        size: 5,
    }
}

fn done(artifacts: Vec<ArtifactRef>) -> JobOutcome {
    JobOutcome {
        result: serde_json::json!({}),
        artifacts,
        compute_seconds: 0.1,
    }
}

#[test]
fn dependent_jobs_lease_with_their_dependency_artifact() {
    let p = vec![DeviceProfile::cpu("a")];
    let l = ledger_with(&kind_sweep("\"greedy\"", ""), &p);
    let w = l.register_worker("w", &p[0], &fingerprint()).expect("register").0;
    let train = l
        .lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
        .expect("lease")
        .expect("train");
    assert!(matches!(train.spec, JobSpec::PolTrain { .. }));
    assert!(
        l.lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
            .expect("lease")
            .is_none(),
        "forging waits for the log"
    );
    // Image grids listed first: the role, not the position, picks the input.
    let log = artifact(&l, "1", POL_LOG);
    let out = done(vec![artifact(&l, "9", IMAGE_BATCH), log.clone()]);
    l.report(&w, &train.job_id, 1, Ok(&out)).expect("report");
    let forge = l
        .lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
        .expect("lease")
        .expect("forge");
    assert!(
        matches!(&forge.spec, JobSpec::Forge { log: id, .. } if id == &log.id),
        "{:?}",
        forge.spec
    );
    assert_eq!(forge.inputs, vec![log]);
    let forged = artifact(&l, "2", FORGED_POL_LOG);
    l.report(&w, &forge.job_id, 1, Ok(&done(vec![forged.clone()])))
        .expect("report");
    let verify = l
        .lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
        .expect("lease")
        .expect("replay");
    assert!(
        matches!(&verify.spec, JobSpec::PolVerify { log: id, .. } if id == &forged.id),
        "{:?}",
        verify.spec
    );
    assert_eq!(verify.inputs, vec![forged]);
}

#[test]
fn a_dependency_without_the_role_fails_its_dependents_with_the_reason() {
    let p = vec![DeviceProfile::cpu("a")];
    let cfg = kind_sweep("\"pol\"", "");
    let l = ledger_with(&cfg, &p);
    let w = l.register_worker("w", &p[0], &fingerprint()).expect("register").0;
    let train = l
        .lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
        .expect("lease")
        .expect("train");
    let wrong = done(vec![artifact(&l, "3", "repro-log")]);
    l.report(&w, &train.job_id, 1, Ok(&wrong)).expect("report");
    assert!(
        l.lease_next(&w, &crate::testing::device(&l, &DeviceProfile::cpu("a")), 10_000)
            .expect("lease")
            .is_none(),
        "nothing runnable is left"
    );
    let (id, _) = sweep_identity(&cfg, &p);
    let jobs = l.sweep_jobs(&id).expect("jobs");
    let v = jobs.iter().find(|j| j.id.0.ends_with("/verify@a")).expect("replay job");
    assert_eq!(v.state, JobState::Failed);
    let status = l.sweep_status(&id).expect("status");
    assert!(
        status
            .failures
            .iter()
            .any(|f| f.contains("\"pol-log\"") && f.contains("repro-log")),
        "{:?}",
        status.failures
    );
}
