//! A benchmark worker: the real protocol over its own connection (register, long-poll leases, heartbeats while a
//! job runs, artifact download and upload, report), with a sleep of fixed length as the job's computation. The
//! sleep is measured and reported as `compute_seconds`, so everything else a job costs is coordinator overhead.
use super::fake;
use forgebench_coordinator::{CoordError, Result};
use forgebench_proto::auth::BearerToken;
use forgebench_proto::client::{Target, WorkerClient};
use forgebench_proto::transfer::{download, upload};
use forgebench_proto::v1::{self as pb, report_request::Outcome};
use forgebench_proto::PROTOCOL_VERSION;
use forgebench_shared::jobs::{JobOutcome, JobSpec};
use forgebench_shared::profile::DeviceProfile;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// Long-poll length the worker asks for (the real worker's).
const LEASE_WAIT_MS: u32 = 5_000;

/// Progress shared by the workers of one run: the last report to land stamps the end and wakes the runner.
pub struct Tally {
    /// Jobs the sweep has.
    pub total: usize,
    done: AtomicUsize,
    /// When the sweep was submitted (a lease call made before only waits for it).
    pub start: OnceLock<Instant>,
    /// When the last job was reported.
    pub end: OnceLock<Instant>,
    /// Signalled (with a stored permit) once every job is reported.
    pub finished: Notify,
}

impl Tally {
    /// A tally for `total` jobs.
    pub fn new(total: usize) -> Tally {
        Tally {
            total,
            done: AtomicUsize::new(0),
            start: OnceLock::new(),
            end: OnceLock::new(),
            finished: Notify::new(),
        }
    }

    fn record(&self) {
        if self.done.fetch_add(1, Ordering::SeqCst) + 1 == self.total {
            let _ = self.end.set(Instant::now());
            self.finished.notify_one();
        }
    }
}

/// Seconds a worker spent in each part of its jobs, summed over them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Phases {
    /// The lease calls that returned a job (waiting for one to become ready included).
    pub lease: f64,
    /// Downloading inputs.
    pub inputs: f64,
    /// The job's computation (the measured sleeps).
    pub compute: f64,
    /// Writing and uploading outputs.
    pub outputs: f64,
    /// Reporting the result.
    pub report: f64,
}

impl Phases {
    /// Adds `o` to these.
    pub fn add(&mut self, o: &Phases) {
        self.lease += o.lease;
        self.inputs += o.inputs;
        self.compute += o.compute;
        self.outputs += o.outputs;
        self.report += o.report;
    }
}

/// What one worker did.
#[derive(Debug, Default, Clone, Copy)]
pub struct WorkerTotals {
    /// Jobs reported done.
    pub jobs: usize,
    /// Where the time went.
    pub phases: Phases,
}

/// How a worker runs.
#[derive(Clone)]
pub struct WorkerSpec {
    /// Coordinator to join.
    pub target: Target,
    /// Cluster token.
    pub token: String,
    /// Its profile.
    pub profile: DeviceProfile,
    /// Scratch directory.
    pub dir: PathBuf,
    /// Length of each job's computation.
    pub job: Duration,
}

/// Connects and registers; returns the client, the worker id and the heartbeat period.
pub async fn join(w: &WorkerSpec) -> Result<(WorkerClient, String, Duration)> {
    let mut c = w.target.worker(&BearerToken::new(&w.token)?).await?;
    let req = pb::RegisterRequest {
        protocol_version: PROTOCOL_VERSION,
        profile: Some((&w.profile).into()),
        fingerprint: Some((&fake::fingerprint(&w.profile.name)).into()),
        worker_name: format!("{}-bench", w.profile.name),
    };
    let r = c
        .register(req)
        .await
        .map_err(|s| CoordError::remote("register", s))?
        .into_inner();
    Ok((c, r.worker_id, Duration::from_millis(r.heartbeat_ms.max(50) as u64)))
}

/// Leases and runs jobs until `stop` turns true.
pub async fn run(
    w: WorkerSpec,
    mut c: WorkerClient,
    id: String,
    heartbeat: Duration,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) -> Result<WorkerTotals> {
    let mut totals = WorkerTotals::default();
    loop {
        let req = pb::LeaseRequest {
            worker_id: id.clone(),
            wait_ms: LEASE_WAIT_MS,
        };
        let asked = Instant::now();
        let leased = tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ok(totals),
            r = c.lease_job(req) => r.map_err(|s| CoordError::remote("lease job", s))?.into_inner().job,
        };
        let Some(job) = leased else { continue };
        let lease = tally
            .start
            .get()
            .map_or(asked, |s| asked.max(*s))
            .elapsed()
            .as_secs_f64();
        let beat = tokio::spawn(heartbeats(c.clone(), id.clone(), job.clone(), heartbeat));
        let done = run_one(&w, &mut c, &id, job).await;
        beat.abort();
        totals.phases.add(&Phases { lease, ..done? });
        totals.jobs += 1;
        tally.record();
    }
}

/// Runs one leased job to its report; returns where its time went (the lease aside).
async fn run_one(w: &WorkerSpec, c: &mut WorkerClient, id: &str, job: pb::LeasedJob) -> Result<Phases> {
    let spec: JobSpec = serde_json::from_str(&job.spec_json).map_err(|e| CoordError::json("job spec", e))?;
    let mut t = Phases::default();
    let mut clock = Instant::now();
    let mut lap = || {
        let now = Instant::now();
        let secs = now.duration_since(clock).as_secs_f64();
        clock = now;
        secs
    };
    let mut inputs = Vec::new();
    for a in &job.inputs {
        inputs.push(download(c, &a.content_id, &w.dir.join("inputs")).await?);
    }
    t.inputs = lap();
    tokio::time::sleep(w.job).await;
    t.compute = lap();
    let job_dir = w.dir.join("jobs");
    std::fs::create_dir_all(&job_dir).map_err(|e| CoordError::io(&job_dir, e))?;
    let (result, files) = fake::execute(&spec, &w.profile, &inputs, &job_dir)?;
    for (r, path) in &files {
        let h = pb::ArtifactHeader {
            content_id: r.id.0.clone(),
            size: r.size,
            role: r.role.clone(),
        };
        upload(c, path, h).await?;
    }
    let outcome = JobOutcome {
        result,
        artifacts: files.into_iter().map(|(r, _)| r).collect(),
        compute_seconds: t.compute,
    };
    let json = serde_json::to_string(&outcome).map_err(|e| CoordError::json("outcome", e))?;
    t.outputs = lap();
    let req = pb::ReportRequest {
        worker_id: id.to_owned(),
        job_id: job.job_id.clone(),
        attempt: job.attempt,
        outcome: Some(Outcome::OutcomeJson(json)),
    };
    let state = c
        .report_result(req)
        .await
        .map_err(|s| CoordError::remote("report result", s))?
        .into_inner()
        .job_state;
    t.report = lap();
    if state != "done" {
        return Err(CoordError::Process(format!(
            "{}: state {state} after a good report",
            job.job_id
        )));
    }
    Ok(t)
}

/// Keeps the lease of `job` alive as the real worker does: a beat every period after the first.
async fn heartbeats(mut c: WorkerClient, id: String, job: pb::LeasedJob, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let req = pb::HeartbeatRequest {
            worker_id: id.clone(),
            job_id: Some(job.job_id.clone()),
            attempt: Some(job.attempt),
        };
        // A failed beat only matters if the lease then expires, which the report would reveal.
        let _ = c.heartbeat(req).await;
    }
}
