//! Test harness: a coordinator on 127.0.0.1:0 over a temporary ledger, and fake workers that speak the real
//! protocol but "compute" deterministic fake results (the coordinator-with-a-fake-dispatcher test level).
#![allow(dead_code)]
use forgebench_coordinator::aggregate::synthetic;
use forgebench_coordinator::ledger::Ledger;
use forgebench_coordinator::server::{start, Running};
use forgebench_coordinator::service::{Coordinator, Settings};
use forgebench_proto::auth::BearerToken;
use forgebench_proto::bulk::BulkTarget;
use forgebench_proto::client::{Target, WorkerClient};
use forgebench_proto::transfer::{download, upload};
use forgebench_proto::v1::{self as pb, report_request::Outcome};
use forgebench_proto::PROTOCOL_VERSION;
use forgebench_shared::content::id_of_file;
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::jobs::{ArtifactRef, JobOutcome, JobSpec};
use forgebench_shared::measures::{ErrorMeasures, MeasureSummary};
use forgebench_shared::profile::{default_cpu_profiles_for, DeviceProfile};
use forgebench_shared::provenance::Provenance;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const TOKEN: &str = "test-token";

pub const SWEEP: &str = "name = \"t\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [10]\n\
                         seeds = [0]\ntriples = 2\ndevices = \"all\"\nverification = \"exhaustive\"\n";

pub fn settings(dir: &Path, lease_ms: u64, max_attempts: u32) -> Settings {
    Settings {
        lease: Duration::from_millis(lease_ms),
        heartbeat: Duration::from_millis(lease_ms / 4),
        max_attempts,
        artifacts_dir: dir.join("artifacts"),
        profiles: default_cpu_profiles_for(None),
        max_wait: Duration::from_millis(500),
        bulk_port: Some(0),
        store: Default::default(),
        dashboard_port: None,
    }
}

/// A coordinator serving a ledger in `dir`.
pub async fn coordinator(dir: &Path, lease_ms: u64, max_attempts: u32) -> (Coordinator, Running) {
    coordinator_with(dir, settings(dir, lease_ms, max_attempts), "127.0.0.1:0").await
}

/// A coordinator with `settings` serving a ledger in `dir` on `addr`.
pub async fn coordinator_with(dir: &Path, settings: Settings, addr: &str) -> (Coordinator, Running) {
    let ledger = Ledger::open(&dir.join("ledger.sqlite")).expect("ledger");
    let coord = Coordinator::new(ledger, settings);
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let running = start(coord.clone(), listener, TOKEN, None, 1 << 20)
        .await
        .expect("serve");
    (coord, running)
}

pub fn target(running: &Running) -> Target {
    let mut t = Target::plain(running.addr().to_string());
    t.max_message_bytes = 1 << 20;
    t
}

pub async fn client(running: &Running, token: &str) -> WorkerClient {
    target(running)
        .worker(&BearerToken::new(token).expect("token"))
        .await
        .expect("connect")
}

pub fn fingerprint(profile: &str) -> DeviceFingerprint {
    DeviceFingerprint {
        hostname: "test".into(),
        cpu_model: format!("fake cpu of {profile}"),
        cpu_flags: vec![],
        libtorch_version: "none".into(),
        libtorch_config: String::new(),
        cuda_driver: "none".into(),
        gpus: vec![],
        code_version: "test".into(),
        threads: 1,
        settings_in_force: Default::default(),
    }
}

pub async fn register(c: &mut WorkerClient, profile: &DeviceProfile, name: &str) -> Result<String, tonic::Status> {
    let req = pb::RegisterRequest {
        protocol_version: PROTOCOL_VERSION,
        profile: Some(profile.into()),
        fingerprint: Some((&fingerprint(&profile.name)).into()),
        worker_name: name.into(),
    };
    Ok(c.register(req).await?.into_inner().worker_id)
}

/// The provenance of a fake worker of `profile` (its registration fingerprint).
pub fn provenance(profile: &DeviceProfile) -> Provenance {
    Provenance {
        code_version: "test".into(),
        profile: profile.clone(),
        fingerprint: fingerprint(&profile.name),
        seeds: vec![],
    }
}

/// The fake L2 of (writer, verifier): distinct per pair, zero on the diagonal.
pub fn fake_l2(writer: &str, verifier: &str) -> f64 {
    if writer == verifier {
        0.0
    } else {
        (writer.len() * 7 + verifier.len()) as f64 * 1e-7
    }
}

fn summary(l2: f64) -> MeasureSummary {
    let m = ErrorMeasures {
        l2,
        l2_sq: l2 * l2,
        l2_sq_per_dim: l2 * l2 / 7840.0,
        linf: l2,
        rel: l2,
    };
    MeasureSummary::of(&[m, m])
}

/// Fake execution: a write job writes bytes naming its writer; a verify job reads them back.
pub fn fake_execute(
    spec: &JobSpec,
    profile: &DeviceProfile,
    inputs: &[PathBuf],
    dir: &Path,
) -> Result<(serde_json::Value, Vec<(ArtifactRef, PathBuf)>), String> {
    match spec {
        JobSpec::WriteLog { spec } | JobSpec::RepeatLog { spec } => {
            let path = dir.join(format!("log-{}", profile.name));
            let offset = profile.name.len() as f32 * 1e-4;
            let m = synthetic::write_log(&path, spec, provenance(profile), offset).map_err(|e| e.to_string())?;
            let id = id_of_file(&path).map_err(|e| e.to_string())?;
            let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
            let r = ArtifactRef {
                id: id.as_str().into(),
                role: "repro-log".into(),
                size,
            };
            Ok((serde_json::to_value(m).map_err(|e| e.to_string())?, vec![(r, path)]))
        }
        JobSpec::VerifyLog { .. } => {
            let writer = synthetic::read_manifest(&inputs[0])
                .map_err(|e| e.to_string())?
                .provenance;
            let w = writer.profile.name.clone();
            let v = serde_json::json!({
                "writer_profile": w, "writer": writer, "verifier_profile": profile.name,
                "verifier": provenance(profile), "summary": summary(fake_l2(&w, &profile.name)),
            });
            Ok((v, vec![]))
        }
        other => Err(format!("fake executor cannot run {}", other.kind())),
    }
}

/// What a fake worker does with a leased job.
#[derive(Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// Run and report.
    Work,
    /// Lease one job and vanish (a killed worker).
    DieHolding,
    /// Fail jobs whose id contains the string.
    FailIf(&'static str),
}

/// Runs a fake worker until it has handled `max_jobs` jobs, found none for about 2.4 s, or (for `DieHolding`)
/// leased one.
pub async fn fake_worker(
    running_target: Target,
    profile: DeviceProfile,
    name: String,
    dir: PathBuf,
    behaviour: Behaviour,
    max_jobs: usize,
) -> usize {
    let mut c = running_target
        .worker(&BearerToken::new(TOKEN).expect("token"))
        .await
        .expect("connect");
    let reg = c
        .register(pb::RegisterRequest {
            protocol_version: PROTOCOL_VERSION,
            profile: Some((&profile).into()),
            fingerprint: Some((&fingerprint(&profile.name)).into()),
            worker_name: name.clone(),
        })
        .await
        .expect("register")
        .into_inner();
    let id = reg.worker_id;
    // Artifacts take the bulk channel when the coordinator runs one, as real workers do.
    let bulk = u16::try_from(reg.bulk_port)
        .ok()
        .filter(|p| *p != 0)
        .map(|p| BulkTarget::new(&running_target, p, &BearerToken::new(TOKEN).expect("token")).expect("bulk"));
    let mut handled = 0;
    // A worker with nothing left to do for a while leaves, so a test whose quota exceeds the work still ends.
    let mut idle = 0;
    while handled < max_jobs && idle < 8 {
        let r = c
            .lease_job(pb::LeaseRequest {
                worker_id: id.clone(),
                wait_ms: 300,
            })
            .await;
        let Ok(r) = r else { return handled };
        let Some(job) = r.into_inner().job else {
            idle += 1;
            continue;
        };
        idle = 0;
        handled += 1;
        if behaviour == Behaviour::DieHolding {
            return handled;
        }
        let spec: JobSpec = serde_json::from_str(&job.spec_json).expect("spec");
        let mut inputs = Vec::new();
        for a in &job.inputs {
            let into = dir.join("inputs");
            let got = match &bulk {
                Some(b) => b.download(&a.content_id, &into).await,
                None => download(&mut c, &a.content_id, &into).await,
            };
            inputs.push(got.expect("download"));
        }
        let jd = dir.join(format!("j{handled}"));
        std::fs::create_dir_all(&jd).expect("job dir");
        let fail = matches!(behaviour, Behaviour::FailIf(s) if job.job_id.contains(s));
        let result = if fail {
            Err("injected failure".to_owned())
        } else {
            fake_execute(&spec, &profile, &inputs, &jd)
        };
        let outcome = match result {
            Ok((v, files)) => {
                for (r, p) in &files {
                    let h = pb::ArtifactHeader {
                        content_id: r.id.0.clone(),
                        size: r.size,
                        role: r.role.clone(),
                    };
                    match &bulk {
                        Some(b) => b.upload(p, h).await.expect("bulk upload"),
                        None => upload(&mut c, p, h).await.expect("upload"),
                    };
                }
                let o = JobOutcome {
                    result: v,
                    artifacts: files.into_iter().map(|(r, _)| r).collect(),
                    compute_seconds: 0.01,
                };
                Outcome::OutcomeJson(serde_json::to_string(&o).expect("json"))
            }
            Err(e) => Outcome::Error(e),
        };
        let req = pb::ReportRequest {
            worker_id: id.clone(),
            job_id: job.job_id,
            attempt: job.attempt,
            outcome: Some(outcome),
        };
        if c.report_result(req).await.is_err() {
            return handled;
        }
    }
    handled
}

/// Polls `cond` every 20 ms for up to `secs` seconds.
pub async fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let until = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < until {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
