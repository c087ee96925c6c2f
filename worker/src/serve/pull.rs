//! The pull loop: lease a job, fetch its inputs, execute it on a blocking thread while heartbeats keep the lease,
//! upload the artifacts, report. Coordinator outages are waited out; a lost lease drops the result; a failed
//! transfer fails the attempt, never the worker.
use super::artifacts::{fetch, store};
use super::session::{classify, Failure, Registered, Session};
use crate::error::{Result, WorkerError};
use crate::jobs::ExecOutput;
use forgebench_proto::bulk::BulkTarget;
use forgebench_proto::v1::{self as pb, report_request::Outcome};
use forgebench_proto::ProtoError;
use forgebench_shared::ids::ArtifactId;
use forgebench_shared::jobs::JobSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Runs one job: spec, local input files, the job's work directory. Called on a blocking thread, so the tensors it
/// creates never leave that thread.
pub type Executor = Arc<dyn Fn(&JobSpec, &HashMap<ArtifactId, PathBuf>, &Path) -> Result<ExecOutput> + Send + Sync>;

const LEASE_WAIT_MS: u32 = 5_000;

/// Pulls and runs jobs until `max_jobs` (when given) have been run; returns how many ran.
pub async fn pull_loop(session: Session, exec: Executor, work_dir: PathBuf, max_jobs: Option<usize>) -> Result<usize> {
    let mut done = 0usize;
    loop {
        let mut reg = session.register().await?;
        let span = tracing::info_span!("worker", id = %reg.worker_id, profile = %session.profile.name);
        loop {
            if max_jobs.is_some_and(|m| done >= m) {
                return Ok(done);
            }
            let req = pb::LeaseRequest {
                worker_id: reg.worker_id.clone(),
                wait_ms: LEASE_WAIT_MS,
            };
            let job = match reg.client.lease_job(req).await {
                Ok(r) => r.into_inner().job,
                Err(s) => match classify(s.code()) {
                    Failure::Fatal => return Err(ProtoError::status("lease job", s).into()),
                    f => {
                        tracing::warn!(status = %s.message(), ?f, "lease failed; reconnecting");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        break;
                    }
                },
            };
            let Some(job) = job else { continue };
            let job_span = tracing::info_span!(parent: &span, "job", id = %job.job_id, attempt = job.attempt);
            run_one(&session, &mut reg, &exec, &work_dir, job)
                .instrument(job_span)
                .await?;
            done += 1;
        }
    }
}

/// A file-system-safe name for a job id.
fn dir_name(job_id: &str, attempt: u32) -> String {
    let safe: String = job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-a{attempt}")
}

async fn run_one(
    session: &Session,
    reg: &mut Registered,
    exec: &Executor,
    work_dir: &Path,
    job: pb::LeasedJob,
) -> Result<()> {
    let lost = Arc::new(AtomicBool::new(false));
    let beat = tokio::spawn(heartbeats(
        reg.client.clone(),
        reg.worker_id.clone(),
        job.clone(),
        reg.heartbeat,
        lost.clone(),
    ));
    let job_dir = work_dir.join("jobs").join(dir_name(&job.job_id, job.attempt));
    let result = execute(reg, exec, work_dir, &job_dir, &job).await;
    beat.abort();
    if lost.load(Ordering::SeqCst) {
        tracing::warn!("the lease was lost while running; dropping the result");
        return Ok(());
    }
    let outcome = match result {
        Ok(out) => match upload_all(session, reg, &out).await {
            Ok(()) => match serde_json::to_string(&out.outcome) {
                Ok(j) => Outcome::OutcomeJson(j),
                Err(e) => Outcome::Error(format!("outcome not serialisable: {e}")),
            },
            // A refused or broken upload fails this attempt, with its reason; the worker goes on with the next job.
            Err(e) => {
                tracing::warn!(error = %e, "uploading the job's artifacts failed");
                Outcome::Error(format!("uploading the job's artifacts: {e}"))
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "job failed");
            Outcome::Error(e.to_string())
        }
    };
    report(session, reg, &job, outcome).await?;
    // Artifacts are with the coordinator now; the inputs cache stays for the next job that needs them.
    let _ = tokio::fs::remove_dir_all(&job_dir).await;
    Ok(())
}

async fn execute(
    reg: &mut Registered,
    exec: &Executor,
    work_dir: &Path,
    job_dir: &Path,
    job: &pb::LeasedJob,
) -> Result<ExecOutput> {
    let spec: JobSpec =
        serde_json::from_str(&job.spec_json).map_err(|e| WorkerError::Invalid(format!("job spec: {e}")))?;
    let mut inputs = HashMap::new();
    for a in &job.inputs {
        let path = fetch(
            &mut reg.client,
            reg.bulk.as_ref(),
            &a.content_id,
            &work_dir.join("inputs"),
        )
        .await?;
        inputs.insert(ArtifactId(a.content_id.clone()), path);
    }
    let (exec, job_dir) = (exec.clone(), job_dir.to_path_buf());
    let started = std::time::Instant::now();
    tracing::info!(kind = spec.kind(), "running");
    let out = tokio::task::spawn_blocking(move || exec(&spec, &inputs, &job_dir))
        .await
        .map_err(|e| WorkerError::Invalid(format!("the job thread panicked: {e}")))??;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "finished");
    Ok(out)
}

async fn heartbeats(
    mut client: forgebench_proto::client::WorkerClient,
    worker_id: String,
    job: pb::LeasedJob,
    every: Duration,
    lost: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let req = pb::HeartbeatRequest {
            worker_id: worker_id.clone(),
            job_id: Some(job.job_id.clone()),
            attempt: Some(job.attempt),
        };
        match client.heartbeat(req).await {
            Ok(r) if !r.get_ref().lease_valid => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Ok(_) => {}
            // The coordinator may be restarting: keep trying, the lease outlives a few missed beats.
            Err(s) => tracing::debug!(status = %s.message(), "heartbeat failed"),
        }
    }
}

/// Retries `call` through coordinator outages, reconnecting between tries; gives up on fatal answers.
async fn patiently<T, F, Fut>(
    session: &Session,
    reg: &mut Registered,
    what: &str,
    mut call: F,
) -> std::result::Result<T, ProtoError>
where
    F: FnMut(forgebench_proto::client::WorkerClient, Option<BulkTarget>) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, ProtoError>>,
{
    loop {
        match call(reg.client.clone(), reg.bulk.clone()).await {
            Ok(v) => return Ok(v),
            Err(e)
                if matches!(
                    e.code().map(classify),
                    Some(Failure::Retry | Failure::Reregister) | None
                ) && !matches!(e, ProtoError::Io { .. }) =>
            {
                tracing::warn!(error = %e, "{what} failed; retrying");
                tokio::time::sleep(Duration::from_millis(300)).await;
                if let Ok(r) = session.register().await {
                    *reg = r;
                }
            }
            Err(e) => return Err(e),
        }
    }
}

async fn upload_all(session: &Session, reg: &mut Registered, out: &ExecOutput) -> Result<()> {
    for (r, path) in &out.files {
        let header = pb::ArtifactHeader {
            content_id: r.id.0.clone(),
            size: r.size,
            role: r.role.clone(),
        };
        patiently(session, reg, "upload", |mut c, bulk| {
            let h = header.clone();
            async move { store(&mut c, bulk.as_ref(), path, h).await }
        })
        .await?;
        tracing::debug!(artifact = %r.id, bytes = r.size, "uploaded");
    }
    Ok(())
}

async fn report(session: &Session, reg: &mut Registered, job: &pb::LeasedJob, outcome: Outcome) -> Result<()> {
    let worker_id = reg.worker_id.clone();
    let res = patiently(session, reg, "report", |mut c, _| {
        let req = pb::ReportRequest {
            worker_id: worker_id.clone(),
            job_id: job.job_id.clone(),
            attempt: job.attempt,
            outcome: Some(outcome.clone()),
        };
        async move {
            c.report_result(req)
                .await
                .map_err(|s| ProtoError::status("report result", s))
        }
    })
    .await;
    match res {
        Ok(r) => {
            tracing::info!(state = %r.get_ref().job_state, "reported");
            Ok(())
        }
        Err(e) if e.code() == Some(tonic::Code::FailedPrecondition) => {
            tracing::warn!(error = %e, "result dropped: the lease was lost");
            Ok(())
        }
        // The coordinator refused the result and counted the attempt as failed; it will be retried.
        Err(e) if e.code().map(classify) == Some(Failure::Refused) => {
            tracing::warn!(error = %e, "result refused by the coordinator");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
