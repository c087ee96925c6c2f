//! A refused artifact upload fails its attempt, not the worker: with a store that accepts no log, every write job
//! fails with the coordinator's RESOURCE_EXHAUSTED reason after its attempts, and the worker processes are still
//! there, taking the jobs that follow.
mod e2e;

use e2e::*;
use forgebench_shared::ids::SweepId;

#[test]
fn a_refused_upload_fails_the_attempt_and_the_worker_goes_on() {
    let sweep = "experiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [10]\nseeds = [0]\n\
                 triples = 2\ndevices = [\"cpu-avx2\"]\n";
    // A two-triple logistic-regression log is about 63 KB: over the limit.
    let c = Cluster::with_coordinator_keys(
        sweep,
        "max_artifact_bytes = 1000\nstore_quota_bytes = 1000\nmin_free_disk_bytes = 0\n",
    );
    let _coord = c.spawn(&["coordinator"], "coordinator.log");
    let addr = format!("127.0.0.1:{}", c.port);
    assert!(
        wait_for(30, || std::net::TcpStream::connect(&addr).is_ok()),
        "coordinator up"
    );
    let work = c.path().join("w");
    let mut worker = c.spawn(
        &[
            "worker",
            "--profile",
            "cpu-avx2",
            "--work-dir",
            work.to_str().expect("utf-8"),
        ],
        "worker.log",
    );
    let o = c.cmd(&["submit"]).output().expect("submit");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = SweepId(String::from_utf8_lossy(&o.stdout).trim().to_owned());
    assert!(
        wait_for(120, || c
            .ledger()
            .sweep_status(&id)
            .map(|s| s.complete())
            .unwrap_or(false)),
        "the sweep ended"
    );
    let status = c.ledger().sweep_status(&id).expect("status");
    assert_eq!(
        status.counts[3],
        status.total(),
        "every job failed: {:?}",
        status.counts
    );
    let why = status.failures.join("\n");
    assert!(
        why.contains("uploading the job's artifacts") && why.contains("max_artifact_bytes"),
        "the failure names the refused upload: {why}"
    );
    let write = c
        .ledger()
        .sweep_jobs(&id)
        .expect("jobs")
        .into_iter()
        .find(|j| j.id.0.contains("write"))
        .expect("a write job");
    assert_eq!(write.attempts, 3, "each attempt was made, failed and retried");
    assert!(
        worker.0.try_wait().expect("try_wait").is_none(),
        "the worker is still running"
    );
}
