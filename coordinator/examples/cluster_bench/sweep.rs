//! One cluster measurement: a fresh coordinator on loopback, one benchmark worker per CPU profile already
//! long-polling, then a reproduction sweep submitted over the control API. The clock runs from the submission to
//! the last report; the sweep must end with every job done and complete tables.
use super::worker::{self, Phases, Tally, WorkerSpec};
use forgebench_coordinator::ledger::Ledger;
use forgebench_coordinator::server::{start, Running};
use forgebench_coordinator::service::{Coordinator, Settings};
use forgebench_coordinator::{CoordError, Result};
use forgebench_proto::auth::BearerToken;
use forgebench_proto::client::Target;
use forgebench_proto::v1 as pb;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::tables::CrossDeviceMatrix;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The cluster token of the benchmark.
pub const TOKEN: &str = "cluster-bench-token";
/// Largest gRPC message either side accepts.
pub const MAX_MESSAGE: usize = 4 << 20;

/// Starts a coordinator over a fresh ledger in `dir`, covering `profiles`.
pub async fn coordinator(dir: &Path, profiles: Vec<DeviceProfile>, heartbeat: Duration) -> Result<Running> {
    let ledger = Ledger::open(&dir.join("ledger.sqlite"))?;
    let settings = Settings {
        // The shipped cluster.toml's lease; the heartbeat is a flag.
        lease: Duration::from_secs(30),
        heartbeat,
        max_attempts: 3,
        artifacts_dir: dir.join("artifacts"),
        profiles,
        max_wait: Duration::from_secs(10),
        bulk_port: Some(0),
        store: Default::default(),
        dashboard_port: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| CoordError::io("127.0.0.1:0", e))?;
    start(Coordinator::new(ledger, settings), listener, TOKEN, None, MAX_MESSAGE).await
}

/// A client target for `running`.
pub fn target(running: &Running) -> Target {
    let mut t = Target::plain(running.addr().to_string());
    t.max_message_bytes = MAX_MESSAGE;
    t
}

/// What one setting measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Jobs run.
    pub jobs: usize,
    /// Submission to last report, seconds.
    pub wall: f64,
    /// Summed compute seconds, as the coordinator's ledger adds them up.
    pub compute: f64,
    /// Where the workers' time went, summed over jobs.
    pub phases: Phases,
}

/// The sweep: `seeds` seeds of one small reproduction grid point, over every profile.
fn sweep_toml(name: &str, seeds: u64) -> String {
    let seeds: Vec<String> = (0..seeds).map(|s| s.to_string()).collect();
    format!(
        "name = \"{name}\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [10]\n\
         seeds = [{}]\ntriples = 1\ndevices = \"all\"\nverification = \"exhaustive\"\n",
        seeds.join(", ")
    )
}

/// Runs the sweep with jobs of length `job` over `workers` profiles in `dir`.
pub async fn measure(dir: &Path, workers: usize, seeds: u64, job: Duration, heartbeat: Duration) -> Result<Measured> {
    let profiles: Vec<DeviceProfile> = (0..workers)
        .map(|i| DeviceProfile::cpu(&format!("bench-cpu-{i}")))
        .collect();
    let running = coordinator(dir, profiles.clone(), heartbeat).await?;
    let expected = seeds as usize * (workers + workers * workers);
    let tally = Arc::new(Tally::new(expected));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for p in profiles {
        let spec = WorkerSpec {
            target: target(&running),
            token: TOKEN.into(),
            dir: dir.join("workers").join(&p.name),
            profile: p,
            job,
        };
        // Registration is set-up, not per-job cost: it finishes before the clock starts.
        let (client, id, beat) = worker::join(&spec).await?;
        tasks.spawn(worker::run(spec, client, id, beat, tally.clone(), stop_rx.clone()));
    }
    let token = BearerToken::new(TOKEN)?;
    let mut control = target(&running).control(&token).await?;
    let started = Instant::now();
    let _ = tally.start.set(started);
    let sub = control
        .submit_sweep(pb::SubmitSweepRequest {
            sweep_toml: sweep_toml(&format!("bench-{}ms", job.as_millis()), seeds),
        })
        .await
        .map_err(|s| CoordError::remote("submit sweep", s))?
        .into_inner();
    if sub.jobs as usize != expected {
        return Err(CoordError::Process(format!(
            "the sweep has {} jobs, {expected} expected",
            sub.jobs
        )));
    }
    // Generous: every job serialised on one worker, plus a second each for the protocol.
    let limit = job.mul_f64(expected as f64) + Duration::from_secs(expected as u64 + 60);
    tokio::select! {
        _ = tally.finished.notified() => {}
        Some(r) = tasks.join_next() => {
            r.map_err(|e| CoordError::Process(format!("worker task: {e}")))??;
            return Err(CoordError::Process("a worker stopped before the sweep ended".into()));
        }
        _ = tokio::time::sleep(limit) => return Err(CoordError::Process(format!("the sweep took over {limit:?}"))),
    }
    let end = tally.end.get().copied().unwrap_or_else(Instant::now);
    let _ = stop_tx.send(true);
    let (mut worker_jobs, mut phases) = (0, Phases::default());
    while let Some(r) = tasks.join_next().await {
        let t = r.map_err(|e| CoordError::Process(format!("worker task: {e}")))??;
        worker_jobs += t.jobs;
        phases.add(&t.phases);
    }
    let worker_compute = phases.compute;
    let status = control
        .get_status(pb::StatusRequest {
            sweep_id: sub.sweep_id.clone(),
        })
        .await
        .map_err(|s| CoordError::remote("status", s))?
        .into_inner();
    let s = status
        .sweeps
        .first()
        .ok_or_else(|| CoordError::NotFound(format!("status of {}", sub.sweep_id)))?;
    if s.done as usize != expected || s.failed != 0 || worker_jobs != expected {
        return Err(CoordError::Process(format!(
            "{} done and {} failed in the ledger, {worker_jobs} reported by workers, of {expected}",
            s.done, s.failed
        )));
    }
    if (s.compute_seconds - worker_compute).abs() > 1e-6 * worker_compute.max(1.0) {
        return Err(CoordError::Process(format!(
            "the ledger sums {} compute seconds, the workers measured {worker_compute}",
            s.compute_seconds
        )));
    }
    check_tables(&mut control, &sub.sweep_id, seeds as usize).await?;
    // An open client would hold the graceful shutdown.
    drop(control);
    running.shutdown().await?;
    Ok(Measured {
        jobs: expected,
        wall: end.duration_since(started).as_secs_f64(),
        compute: s.compute_seconds,
        phases,
    })
}

/// The outcomes were valid: one complete matrix per seed.
async fn check_tables(control: &mut forgebench_proto::client::ControlClient, sweep: &str, seeds: usize) -> Result<()> {
    let t = control
        .get_tables(pb::TablesRequest {
            sweep_id: sweep.to_owned(),
        })
        .await
        .map_err(|s| CoordError::remote("tables", s))?
        .into_inner();
    let m: Vec<CrossDeviceMatrix> =
        serde_json::from_str(&t.matrices_json).map_err(|e| CoordError::json("tables", e))?;
    let filled = m.iter().all(|x| x.cells.iter().flatten().all(|c| c.is_some()));
    if !t.complete || m.len() != seeds || !filled {
        return Err(CoordError::Process(format!(
            "tables: complete {}, {} matrices of {seeds}, every cell filled {filled}",
            t.complete,
            m.len()
        )));
    }
    Ok(())
}
