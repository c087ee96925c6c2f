//! The coordinator with fake workers over real gRPC on loopback: scheduling, leases, retries, restarts, security.
mod common;

use common::*;
use forgebench_coordinator::aggregate::matrices;
use forgebench_coordinator::ledger::JobState;
use forgebench_proto::transfer::upload;
use forgebench_proto::v1 as pb;
use forgebench_shared::config::SweepConfig;
use forgebench_shared::content::id_of_bytes;
use forgebench_shared::measures::Measure;
use forgebench_shared::profile::{default_cpu_profiles_for, DeviceProfile};

fn sweep() -> SweepConfig {
    SweepConfig::from_toml_str(SWEEP).expect("valid sweep")
}

async fn run_workers(
    running: &forgebench_coordinator::server::Running,
    dir: &std::path::Path,
    b: Behaviour,
    max: usize,
) {
    let mut tasks = Vec::new();
    for p in default_cpu_profiles_for(None) {
        let d = dir.join(&p.name);
        let name = format!("{}-w", p.name);
        tasks.push(tokio::spawn(fake_worker(target(running), p, name, d, b, max)));
    }
    for t in tasks {
        t.await.expect("worker task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fake_workers_fill_the_matrix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let (sweep_id, n, existed) = coord.submit(&sweep()).expect("submit");
    assert_eq!(
        (n, existed),
        (0, false),
        "no device has registered: no job is planned yet"
    );
    assert!(
        coord.submit(&sweep()).expect("again").2,
        "resubmitting the same sweep is idempotent"
    );
    let done = {
        let c = coord.clone();
        let id = sweep_id.clone();
        move || c.ledger().sweep_status(&id).map(|s| s.complete()).unwrap_or(false)
    };
    let workers = tokio::spawn({
        let dir = dir.path().to_path_buf();
        let t = target(&running);
        async move {
            let mut tasks = Vec::new();
            for p in default_cpu_profiles_for(None) {
                tasks.push(tokio::spawn(fake_worker(
                    t.clone(),
                    p.clone(),
                    format!("{}-w", p.name),
                    dir.join(&p.name),
                    Behaviour::Work,
                    4,
                )));
            }
            for t in tasks {
                t.await.expect("worker");
            }
        }
    });
    assert!(wait_for(20, done).await, "the sweep completed");
    workers.await.expect("workers");
    let status = coord.ledger().sweep_status(&sweep_id).expect("status");
    assert_eq!(
        status.total(),
        3 + 9,
        "each device joined with its log and its verify jobs"
    );
    let m = matrices(coord.ledger(), &sweep_id, None).expect("tables");
    assert_eq!(m.len(), 1);
    let names: Vec<_> = m[0].devices.iter().map(|d| d.profile.name.clone()).collect();
    for (w, row) in m[0].cells.iter().enumerate() {
        for (v, cell) in row.iter().enumerate() {
            let cell = cell.as_ref().expect("every cell computed");
            let want = fake_l2(&names[w], &names[v]);
            assert_eq!(
                cell.summary.l2.max, want,
                "cell ({}, {}): {} vs {}",
                names[w], names[v], cell.summary.l2.max, want
            );
        }
    }
    assert!(m[0].to_markdown(Measure::L2).contains("fake cpu of cpu-avx2"));
    for j in coord.ledger().sweep_jobs(&sweep_id).expect("jobs") {
        assert_eq!((j.state, j.attempts), (JobState::Done, 1), "{}", j.id);
    }
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_lease_is_requeued_to_a_new_worker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (coord, running) = coordinator(dir.path(), 400, 3).await;
    let (sweep_id, _, _) = coord.submit(&sweep()).expect("submit");
    let avx2 = default_cpu_profiles_for(None)
        .into_iter()
        .find(|p| p.name == "cpu-avx2")
        .expect("profile");
    // A worker leases the avx2 log job and dies holding it.
    let held = fake_worker(
        target(&running),
        avx2.clone(),
        "dying".into(),
        dir.path().join("d"),
        Behaviour::DieHolding,
        1,
    )
    .await;
    assert_eq!(held, 1);
    run_workers(&running, dir.path(), Behaviour::Work, 4).await;
    let c = coord.clone();
    let id = sweep_id.clone();
    assert!(
        wait_for(10, move || c
            .ledger()
            .sweep_status(&id)
            .map(|s| s.complete())
            .unwrap_or(false))
        .await
    );
    let jobs = coord.ledger().sweep_jobs(&sweep_id).expect("jobs");
    let w = jobs
        .iter()
        .find(|j| j.id.0.ends_with("write@cpu-avx2"))
        .expect("avx2 log job");
    assert_eq!((w.state, w.attempts), (JobState::Done, 2), "expired once, then done");
    assert!(jobs
        .iter()
        .filter(|j| j.id != w.id)
        .all(|j| j.attempts == 1 && j.state == JobState::Done));
    running.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_job_is_retried_then_failed_and_resubmitted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (coord, running) = coordinator(dir.path(), 5_000, 2).await;
    let (sweep_id, _, _) = coord.submit(&sweep()).expect("submit");
    run_workers(&running, dir.path(), Behaviour::FailIf("verify-cpu-avx512@cpu-avx2"), 6).await;
    let s = coord.ledger().sweep_status(&sweep_id).expect("status");
    assert_eq!(s.counts, [0, 0, 11, 1], "one verify failed, the sweep went on");
    assert!(
        s.failures[0].contains("injected failure") && s.failures[0].contains("attempt 2/2"),
        "{:?}",
        s.failures
    );
    let m = matrices(coord.ledger(), &sweep_id, None).expect("tables");
    assert_eq!(m[0].cells.iter().flatten().filter(|c| c.is_none()).count(), 1);
    // resubmit --failed-only over the control API
    let mut ctl = target(&running)
        .control(&forgebench_proto::auth::BearerToken::new(TOKEN).expect("t"))
        .await
        .expect("control");
    let req = pb::ResubmitRequest {
        sweep_id: sweep_id.0.clone(),
        failed_only: true,
    };
    assert_eq!(ctl.resubmit(req).await.expect("resubmit").into_inner().requeued, 1);
    run_workers(&running, dir.path(), Behaviour::Work, 1).await;
    let c = coord.clone();
    let id = sweep_id.clone();
    assert!(
        wait_for(10, move || c
            .ledger()
            .sweep_status(&id)
            .map(|s| s.counts == [0, 0, 12, 0])
            .unwrap_or(false))
        .await
    );
    let jobs = coord.ledger().sweep_jobs(&sweep_id).expect("jobs");
    let f = jobs
        .iter()
        .find(|j| j.id.0.ends_with("verify-cpu-avx512@cpu-avx2"))
        .expect("job");
    assert_eq!(f.attempts, 3, "two failed attempts, one good");
    let status = ctl
        .get_status(pb::StatusRequest {
            sweep_id: sweep_id.0.clone(),
        })
        .await
        .expect("status")
        .into_inner();
    assert_eq!((status.sweeps[0].done, status.sweeps[0].failed), (12, 0));
    running.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarted_coordinator_resumes_without_redoing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sweep_id = {
        let (coord, running) = coordinator(dir.path(), 5_000, 3).await;
        let (id, _, _) = coord.submit(&sweep()).expect("submit");
        // Each worker runs two jobs, then the coordinator goes away.
        run_workers(&running, dir.path(), Behaviour::Work, 2).await;
        running.shutdown().await.expect("shutdown");
        id
    };
    let (coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let before = coord.ledger().sweep_status(&sweep_id).expect("status");
    assert_eq!(before.counts[2], 6, "six jobs were done before the restart");
    let (again, _, existed) = coord.submit(&sweep()).expect("resubmit after restart");
    assert!(
        existed && again == sweep_id,
        "the restarted coordinator recognises its sweep"
    );
    run_workers(&running, dir.path(), Behaviour::Work, 4).await;
    let c = coord.clone();
    let id = sweep_id.clone();
    assert!(
        wait_for(10, move || c
            .ledger()
            .sweep_status(&id)
            .map(|s| s.complete())
            .unwrap_or(false))
        .await
    );
    for j in coord.ledger().sweep_jobs(&sweep_id).expect("jobs") {
        assert_eq!((j.state, j.attempts), (JobState::Done, 1), "{} was not redone", j.id);
    }
    running.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn wrong_token_is_unauthenticated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let mut bad = client(&running, "not-the-token").await;
    let err = register(&mut bad, &DeviceProfile::cpu("cpu-avx2"), "x")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
    let mut ctl = target(&running)
        .control(&forgebench_proto::auth::BearerToken::new("nope").expect("t"))
        .await
        .expect("c");
    let err = ctl
        .get_status(pb::StatusRequest {
            sweep_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let mut good = client(&running, TOKEN).await;
    register(&mut good, &DeviceProfile::cpu("cpu-avx2"), "x")
        .await
        .expect("the right token works");
    running.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn protocol_mismatch_is_failed_precondition() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let mut c = client(&running, TOKEN).await;
    let req = pb::RegisterRequest {
        protocol_version: forgebench_proto::PROTOCOL_VERSION + 1,
        profile: Some((&DeviceProfile::cpu("a")).into()),
        fingerprint: Some((&fingerprint("a")).into()),
        worker_name: "w".into(),
    };
    let err = c.register(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("protocol version"), "{}", err.message());
    running.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn corrupted_upload_is_rejected_by_its_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let mut c = client(&running, TOKEN).await;
    let file = dir.path().join("a.bin");
    let good = vec![7u8; 3 << 20];
    std::fs::write(&file, &good).expect("write");
    let id = id_of_bytes(&good);
    // The announced hash is of the good bytes, the file on the wire has one flipped byte.
    let mut bad = good.clone();
    bad[1 << 20] ^= 1;
    let bad_file = dir.path().join("b.bin");
    std::fs::write(&bad_file, &bad).expect("write");
    let header = pb::ArtifactHeader {
        content_id: id.clone(),
        size: good.len() as u64,
        role: "repro-log".into(),
    };
    let err = upload(&mut c, &bad_file, header.clone()).await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::DataLoss), "{err}");
    assert_eq!(
        coord.ledger().artifact_size(&id).expect("index"),
        None,
        "nothing was recorded"
    );
    assert!(!dir.path().join("artifacts").join(&id).exists(), "nothing was stored");
    let short = pb::ArtifactHeader {
        size: good.len() as u64 + 1,
        ..header.clone()
    };
    assert_eq!(
        upload(&mut c, &file, short).await.unwrap_err().code(),
        Some(tonic::Code::DataLoss)
    );
    let ok = upload(&mut c, &file, header)
        .await
        .expect("the right bytes are accepted");
    assert!(!ok.already_present);
    let back = forgebench_proto::transfer::download(&mut c, &id, &dir.path().join("dl"))
        .await
        .expect("download");
    assert_eq!(std::fs::read(back).expect("read"), good);
    running.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn oversized_and_malformed_requests_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let mut c = client(&running, TOKEN).await;
    let huge = "x".repeat(2 << 20);
    let err = register(&mut c, &DeviceProfile::cpu("a"), &huge).await.unwrap_err();
    // The server refuses the body while the client still sends it: depending on who sees it first, the client gets
    // the status or the stream reset that carries it.
    assert!(
        matches!(
            err.code(),
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted | tonic::Code::Internal
        ),
        "{err}"
    );
    let mut ctl = target(&running)
        .control(&forgebench_proto::auth::BearerToken::new(TOKEN).expect("t"))
        .await
        .expect("c");
    let err = ctl
        .submit_sweep(pb::SubmitSweepRequest {
            sweep_toml: format!("{SWEEP}bogus_key = 1\n"),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("bogus_key"), "{}", err.message());
    let err = c
        .lease_job(pb::LeaseRequest {
            worker_id: "nobody".into(),
            wait_ms: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    // The coordinator still serves.
    register(&mut c, &DeviceProfile::cpu("a"), "fine")
        .await
        .expect("still serving");
    running.shutdown().await.expect("shutdown");
}
