//! The coordinator under faults and abuse, with fake workers over real gRPC and the bulk channel on loopback:
//! crowds of idle connections, oversized uploads and a full store, malformed and mismatched results, and a
//! restart while a job is running.
mod common;

use common::*;
use forgebench_coordinator::aggregate::matrices;
use forgebench_coordinator::ledger::JobState;
use forgebench_coordinator::store::StoreLimits;
use forgebench_proto::auth::BearerToken;
use forgebench_proto::bulk::BulkTarget;
use forgebench_proto::transfer::upload;
use forgebench_proto::v1::{self as pb, report_request::Outcome};
use forgebench_shared::config::SweepConfig;
use forgebench_shared::content::id_of_bytes;
use forgebench_shared::jobs::{ArtifactRef, JobOutcome};
use forgebench_shared::profile::default_cpu_profiles_for;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

fn sweep() -> SweepConfig {
    SweepConfig::from_toml_str(SWEEP).expect("valid sweep")
}

/// Runs the test sweep with one fake worker per CPU profile until it completes; returns its wall time.
async fn timed_sweep(dir: &std::path::Path) -> Duration {
    let (coord, running) = coordinator(dir, 5_000, 3).await;
    let started = Instant::now();
    let (id, _, _) = coord.submit(&sweep()).expect("submit");
    let mut tasks = Vec::new();
    for p in default_cpu_profiles_for(None) {
        let (d, name) = (dir.join(&p.name), format!("{}-w", p.name));
        tasks.push(tokio::spawn(fake_worker(
            target(&running),
            p,
            name,
            d,
            Behaviour::Work,
            100,
        )));
    }
    let c = coord.clone();
    let done = wait_for(60, move || {
        c.ledger().sweep_status(&id).map(|s| s.complete()).unwrap_or(false)
    })
    .await;
    let took = started.elapsed();
    assert!(done, "the sweep completed");
    for t in tasks {
        t.abort();
    }
    running.shutdown().await.expect("shutdown");
    took
}

/// Holds `n` silent connections to `addr`, opening a new one whenever the server closes one, until aborted.
fn crowd(addr: std::net::SocketAddr, n: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            set.spawn(async move {
                // Bounded: each slot reconnects at most 50 times.
                for _ in 0..50 {
                    let Ok(mut s) = TcpStream::connect(addr).await else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let mut b = [0u8; 64];
                    let _ = s.read(&mut b).await;
                }
            });
        }
        while set.join_next().await.is_some() {}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_connections_on_every_port_do_not_stall_a_sweep() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = timed_sweep(&dir.path().join("clean")).await;

    let d = dir.path().join("crowded");
    let (coord, running) = coordinator(&d, 5_000, 3).await;
    let bulk_addr = running.bulk_addr().expect("bulk channel on");
    let crowds = [crowd(running.addr(), 200), crowd(bulk_addr, 200)];
    // Let the crowd take its places before the workers arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let (id, _, _) = coord.submit(&sweep()).expect("submit");
    let mut tasks = Vec::new();
    for p in default_cpu_profiles_for(None) {
        let (wd, name) = (d.join(&p.name), format!("{}-w", p.name));
        tasks.push(tokio::spawn(fake_worker(
            target(&running),
            p,
            name,
            wd,
            Behaviour::Work,
            100,
        )));
    }
    let c = coord.clone();
    let done = wait_for(60, move || {
        c.ledger().sweep_status(&id).map(|s| s.complete()).unwrap_or(false)
    })
    .await;
    let crowded = started.elapsed();
    assert!(done, "the sweep completed under the crowd");
    eprintln!("sweep without idle connections {clean:?}, with 200 on each port {crowded:?}");
    assert!(
        crowded <= clean + Duration::from_secs(3),
        "with 200 idle connections on each port the sweep took {crowded:?}, without them {clean:?}"
    );
    // A silent connection is closed by the server after the first-bytes deadline (the HTTP/2 server speaks first:
    // read to the end).
    for addr in [bulk_addr, running.addr()] {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let mut sink = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(8), s.read_to_end(&mut sink)).await;
        assert!(closed.is_ok(), "the idle connection to {addr} was closed by the server");
    }
    for c in crowds {
        c.abort();
    }
    for t in tasks {
        t.abort();
    }
    running.shutdown().await.expect("shutdown");
}

fn artifact(dir: &std::path::Path, name: &str, len: usize) -> (std::path::PathBuf, pb::ArtifactHeader) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8 ^ name.len() as u8).collect();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("write");
    let header = pb::ArtifactHeader {
        content_id: id_of_bytes(&bytes),
        size: len as u64,
        role: "repro-log".into(),
    };
    (path, header)
}

fn store_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir.join("artifacts"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_uploads_and_a_full_quota_are_resource_exhausted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = settings(dir.path(), 5_000, 3);
    s.store = StoreLimits {
        max_artifact_bytes: 1000,
        quota_bytes: 1500,
        min_free_bytes: 0,
    };
    let (coord, running) = coordinator_with(dir.path(), s, "127.0.0.1:0").await;
    let mut c = client(&running, TOKEN).await;
    let token = BearerToken::new(TOKEN).expect("token");
    let bulk = BulkTarget::new(&target(&running), running.bulk_addr().expect("bulk").port(), &token).expect("bulk");
    let src = tempfile::tempdir().expect("src");

    let (big, big_h) = artifact(src.path(), "big", 2000);
    let e = upload(&mut c, &big, big_h.clone()).await.unwrap_err();
    assert_eq!(e.code(), Some(tonic::Code::ResourceExhausted), "gRPC: {e}");
    assert!(e.to_string().contains("max_artifact_bytes"), "{e}");
    let e = bulk.upload(&big, big_h.clone()).await.unwrap_err();
    assert_eq!(e.code(), Some(tonic::Code::ResourceExhausted), "bulk: {e}");
    assert!(
        store_files(dir.path()).is_empty(),
        "nothing stored: {:?}",
        store_files(dir.path())
    );

    let (a, a_h) = artifact(src.path(), "a", 1000);
    bulk.upload(&a, a_h.clone()).await.expect("fits");
    let (b, b_h) = artifact(src.path(), "bb", 1000);
    for e in [
        upload(&mut c, &b, b_h.clone()).await.unwrap_err(),
        bulk.upload(&b, b_h.clone()).await.unwrap_err(),
    ] {
        assert_eq!(e.code(), Some(tonic::Code::ResourceExhausted), "{e}");
        assert!(e.to_string().contains("store_quota_bytes"), "{e}");
    }
    assert_eq!(
        store_files(dir.path()),
        vec![a_h.content_id.clone()],
        "only the first artifact is stored"
    );
    assert_eq!(coord.ledger().artifact_size(&b_h.content_id).expect("index"), None);
    running.shutdown().await.expect("shutdown");
}

/// Registers a fake worker of the first CPU profile and leases its next job.
async fn lease(c: &mut forgebench_proto::client::WorkerClient, worker: &str) -> pb::LeasedJob {
    let r = c
        .lease_job(pb::LeaseRequest {
            worker_id: worker.into(),
            wait_ms: 2_000,
        })
        .await
        .expect("lease");
    r.into_inner().job.expect("a job is ready")
}

async fn report(
    c: &mut forgebench_proto::client::WorkerClient,
    worker: &str,
    job: &pb::LeasedJob,
    json: String,
) -> Result<pb::ReportResponse, tonic::Status> {
    c.report_result(pb::ReportRequest {
        worker_id: worker.into(),
        job_id: job.job_id.clone(),
        attempt: job.attempt,
        outcome: Some(Outcome::OutcomeJson(json)),
    })
    .await
    .map(|r| r.into_inner())
}

/// Runs a write job with the fake executor in `work`, uploads its artifacts and returns its outcome.
async fn fake_write(
    c: &mut forgebench_proto::client::WorkerClient,
    spec: &forgebench_shared::jobs::JobSpec,
    p: &forgebench_shared::profile::DeviceProfile,
    work: &std::path::Path,
) -> JobOutcome {
    let (v, files) = fake_execute(spec, p, &[], work).expect("fake write");
    for (r, path) in &files {
        let h = pb::ArtifactHeader {
            content_id: r.id.0.clone(),
            size: r.size,
            role: r.role.clone(),
        };
        upload(c, path, h).await.expect("upload");
    }
    JobOutcome {
        result: v,
        artifacts: files.into_iter().map(|(r, _)| r).collect::<Vec<ArtifactRef>>(),
        compute_seconds: 0.1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_and_mismatched_results_are_refused_and_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (coord, running) = coordinator(dir.path(), 5_000, 5).await;
    let one =
        SweepConfig::from_toml_str(&SWEEP.replace("devices = \"all\"", "devices = [\"cpu-avx512\"]")).expect("sweep");
    let (id, _, _) = coord.submit(&one).expect("submit");
    let p = default_cpu_profiles_for(None).remove(0);
    let mut c = client(&running, TOKEN).await;
    let w = register(&mut c, &p, "w").await.expect("register");

    // The write job: malformed JSON, then an outcome without the log its verifier reads.
    let job = lease(&mut c, &w).await;
    assert!(job.spec_json.contains("write-log"), "{}", job.spec_json);
    let e = report(&mut c, &w, &job, "{not json".into()).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    let job = lease(&mut c, &w).await;
    assert_eq!(job.attempt, 2, "the refused attempt failed and the job was retried");
    let empty = JobOutcome {
        result: serde_json::json!({}),
        artifacts: vec![],
        compute_seconds: 0.1,
    };
    let e = report(&mut c, &w, &job, serde_json::to_string(&empty).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("repro-log"),
        "names the missing artifact: {}",
        e.message()
    );

    // A log written on another host under the same profile name: another device, never merged into this one.
    let job = lease(&mut c, &w).await;
    assert_eq!(job.attempt, 3);
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("dir");
    let spec = serde_json::from_str(&job.spec_json).expect("spec");
    let mut elsewhere = fake_write(&mut c, &spec, &p, &work).await;
    elsewhere.result["provenance"]["fingerprint"]["hostname"] = "labb".into();
    let e = report(&mut c, &w, &job, serde_json::to_string(&elsewhere).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("labb") && e.message().contains("bound to device"),
        "{}",
        e.message()
    );

    // A proper write, then a verify result that claims another writer.
    let job = lease(&mut c, &w).await;
    assert_eq!(job.attempt, 4);
    let ok = fake_write(&mut c, &spec, &p, &work).await;
    let r = report(&mut c, &w, &job, serde_json::to_string(&ok).unwrap())
        .await
        .expect("accepted");
    assert_eq!(r.job_state, "done");

    let verify = lease(&mut c, &w).await;
    let spec = serde_json::from_str(&verify.spec_json).expect("spec");
    let log = work.join(format!("log-{}", p.name));
    let (mut v, _) = fake_execute(&spec, &p, &[log], &work).expect("fake verify");
    let honest = v.clone();
    v["writer_profile"] = "cpu-other".into();
    let lie = JobOutcome {
        result: v,
        artifacts: vec![],
        compute_seconds: 0.1,
    };
    let e = report(&mut c, &w, &verify, serde_json::to_string(&lie).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    let verify = lease(&mut c, &w).await;
    assert_eq!(verify.attempt, 2);
    let good = JobOutcome {
        result: honest,
        artifacts: vec![],
        compute_seconds: 0.1,
    };
    report(&mut c, &w, &verify, serde_json::to_string(&good).unwrap())
        .await
        .expect("accepted");
    let jobs = coord.ledger().sweep_jobs(&id).expect("jobs");
    assert!(jobs.iter().all(|j| j.state == JobState::Done), "every job done");
    let m = matrices(coord.ledger(), &id, None).expect("a done sweep always aggregates");
    assert!(m.iter().all(|m| m.cells.iter().flatten().all(|c| c.is_some())));
    running.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_coordinator_keeps_the_running_lease() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lease_ms = 1_500;
    let (coord, running) = coordinator(dir.path(), lease_ms, 3).await;
    let addr = running.addr().to_string();
    let one =
        SweepConfig::from_toml_str(&SWEEP.replace("devices = \"all\"", "devices = [\"cpu-avx512\"]")).expect("sweep");
    let (id, _, _) = coord.submit(&one).expect("submit");
    let p = default_cpu_profiles_for(None).remove(0);
    let mut c = client(&running, TOKEN).await;
    let w = register(&mut c, &p, "w").await.expect("register");
    let job = lease(&mut c, &w).await;
    // The coordinator goes away for longer than the lease had left; the worker keeps computing.
    running.shutdown().await.expect("shutdown");
    drop(coord);
    tokio::time::sleep(Duration::from_millis(2 * lease_ms)).await;
    let (coord, running) = coordinator_with(dir.path(), settings(dir.path(), lease_ms, 3), &addr).await;
    // Well past the reaper's first rounds: the restored lease has its grace period.
    tokio::time::sleep(Duration::from_millis(lease_ms / 2)).await;
    let mut c = client(&running, TOKEN).await;
    let beat = c
        .heartbeat(pb::HeartbeatRequest {
            worker_id: w.clone(),
            job_id: Some(job.job_id.clone()),
            attempt: Some(job.attempt),
        })
        .await
        .expect("heartbeat");
    assert!(beat.into_inner().lease_valid, "the lease survived the restart");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("dir");
    let spec = serde_json::from_str(&job.spec_json).expect("spec");
    let ok = fake_write(&mut c, &spec, &p, &work).await;
    let r = report(&mut c, &w, &job, serde_json::to_string(&ok).unwrap())
        .await
        .expect("accepted");
    assert_eq!(r.job_state, "done");
    let row = coord
        .ledger()
        .job(&forgebench_shared::ids::JobId(job.job_id.clone()))
        .expect("job");
    assert_eq!((row.state, row.attempts), (JobState::Done, 1), "not redone");
    let _ = id;
    running.shutdown().await.expect("shutdown");
}
