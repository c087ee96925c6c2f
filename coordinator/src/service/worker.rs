//! The worker-facing service: registration, heartbeats, leasing (long poll), results and artifact streams.
use super::Coordinator;
use crate::error::CoordError;
use forgebench_proto::transfer::{check_id, chunks_of, receive};
use forgebench_proto::v1::worker_service_server::WorkerService;
use forgebench_proto::v1::{self as pb, artifact_chunk::Part, report_request::Outcome};
use forgebench_proto::{ProtoError, PROTOCOL_VERSION};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::ids::{JobId, WorkerId};
use forgebench_shared::jobs::JobOutcome;
use forgebench_shared::profile::DeviceProfile;
use std::pin::Pin;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

type Reply<T> = Result<Response<T>, Status>;

impl Coordinator {
    fn lease_ms(&self) -> i64 {
        self.settings().lease.as_millis() as i64
    }
}

impl Coordinator {
    /// The typed outcome in `json`, checked against `job` (see [`crate::validate`]).
    fn checked_outcome(&self, job: &JobId, json: &str) -> crate::error::Result<JobOutcome> {
        let outcome: JobOutcome = serde_json::from_str(json).map_err(|e| CoordError::json("outcome_json", e))?;
        let store = &self.settings().artifacts_dir;
        crate::validate::outcome(self.ledger(), store, &self.ledger().job(job)?, &outcome)?;
        Ok(outcome)
    }
}

fn leased(l: crate::ledger::Leased) -> Result<pb::LeasedJob, Status> {
    let spec_json = serde_json::to_string(&l.spec).map_err(|e| CoordError::json("job spec", e))?;
    Ok(pb::LeasedJob {
        job_id: l.job_id.0,
        sweep_id: l.sweep_id.0,
        attempt: l.attempt,
        spec_json,
        deadline_unix_ms: l.deadline_ms.max(0) as u64,
        inputs: l
            .inputs
            .into_iter()
            .map(|a| pb::ArtifactHeader {
                content_id: a.id.0,
                size: a.size,
                role: a.role,
            })
            .collect(),
    })
}

#[tonic::async_trait]
impl WorkerService for Coordinator {
    async fn register(&self, req: Request<pb::RegisterRequest>) -> Reply<pb::RegisterResponse> {
        let r = req.into_inner();
        if r.protocol_version != PROTOCOL_VERSION {
            return Err(Status::failed_precondition(format!(
                "protocol version {} is not the coordinator's {PROTOCOL_VERSION}; upgrade the worker",
                r.protocol_version
            )));
        }
        let profile = DeviceProfile::try_from(
            r.profile
                .ok_or(ProtoError::Missing("profile"))
                .map_err(CoordError::from)?,
        )
        .map_err(CoordError::from)?;
        let fp: DeviceFingerprint = r
            .fingerprint
            .ok_or(ProtoError::Missing("fingerprint"))
            .map_err(CoordError::from)?
            .into();
        if r.worker_name.is_empty() {
            return Err(Status::invalid_argument("worker_name is empty"));
        }
        let (id, device) = self.ledger().register_worker(&r.worker_name, &profile, &fp)?;
        tracing::info!(worker = %id, device = %device, profile = %profile.name, host = %fp.hostname,
            cpu = %fp.cpu_model, "worker registered");
        self.join(&device)?;
        self.wake();
        let s = self.settings();
        Ok(Response::new(pb::RegisterResponse {
            worker_id: id.0,
            heartbeat_ms: s.heartbeat.as_millis() as u32,
            lease_ms: s.lease.as_millis() as u32,
            bulk_port: self.bulk_port() as u32,
        }))
    }

    #[tracing::instrument(name = "heartbeat", skip_all, fields(worker = %req.get_ref().worker_id))]
    async fn heartbeat(&self, req: Request<pb::HeartbeatRequest>) -> Reply<pb::HeartbeatResponse> {
        let r = req.into_inner();
        let worker = WorkerId(r.worker_id);
        self.ledger().touch_worker(&worker)?;
        let lease_valid = match (r.job_id, r.attempt) {
            (Some(job), Some(attempt)) => self
                .ledger()
                .extend_lease(&worker, &JobId(job), attempt, self.lease_ms())?,
            _ => true,
        };
        Ok(Response::new(pb::HeartbeatResponse { lease_valid }))
    }

    #[tracing::instrument(name = "lease_job", skip_all, fields(worker = %req.get_ref().worker_id))]
    async fn lease_job(&self, req: Request<pb::LeaseRequest>) -> Reply<pb::LeaseResponse> {
        let r = req.into_inner();
        let worker = WorkerId(r.worker_id);
        let device = self.ledger().touch_worker(&worker)?;
        let wait = std::time::Duration::from_millis(r.wait_ms as u64).min(self.settings().max_wait);
        let until = tokio::time::Instant::now() + wait;
        loop {
            // Registered before looking, so a job that becomes ready in between still wakes us.
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(l) = self.ledger().lease_next(&worker, &device, self.lease_ms())? {
                tracing::info!(worker = %worker, job = %l.job_id, attempt = l.attempt, "job leased");
                return Ok(Response::new(pb::LeaseResponse { job: Some(leased(l)?) }));
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return Ok(Response::new(pb::LeaseResponse { job: None }));
            }
        }
    }

    #[tracing::instrument(name = "report_result", skip_all, fields(worker = %req.get_ref().worker_id))]
    async fn report_result(&self, req: Request<pb::ReportRequest>) -> Reply<pb::ReportResponse> {
        let r = req.into_inner();
        let (worker, job) = (WorkerId(r.worker_id), JobId(r.job_id));
        self.ledger().touch_worker(&worker)?;
        let state = match r
            .outcome
            .ok_or(ProtoError::Missing("outcome"))
            .map_err(CoordError::from)?
        {
            Outcome::OutcomeJson(j) => match self.checked_outcome(&job, &j) {
                Ok(outcome) => self.ledger().report(&worker, &job, r.attempt, Ok(&outcome))?,
                Err(e) => {
                    // The attempt fails (and is retried) only if this worker still holds it.
                    let why = format!("result refused: {e}");
                    tracing::warn!(worker = %worker, job = %job, attempt = r.attempt, error = %e, "result refused");
                    let state = self.ledger().report(&worker, &job, r.attempt, Err(&why))?;
                    self.wake();
                    return Err(Status::invalid_argument(format!(
                        "{why} (the job is {})",
                        state.as_str()
                    )));
                }
            },
            Outcome::Error(e) => {
                tracing::warn!(worker = %worker, job = %job, attempt = r.attempt, error = %e, "attempt failed");
                self.ledger().report(&worker, &job, r.attempt, Err(&e))?
            }
        };
        tracing::info!(worker = %worker, job = %job, state = state.as_str(), "result recorded");
        self.wake();
        Ok(Response::new(pb::ReportResponse {
            job_state: state.as_str().into(),
        }))
    }

    async fn upload_artifact(&self, req: Request<Streaming<pb::ArtifactChunk>>) -> Reply<pb::UploadResponse> {
        let mut stream = req
            .into_inner()
            .map(|c| c.map_err(|s| ProtoError::status("upload stream", s)));
        // The header announces the size: admit it before a byte is written.
        let first = stream.next().await.transpose().map_err(CoordError::from)?;
        let size = match first.as_ref().and_then(|c| c.part.as_ref()) {
            Some(Part::Header(h)) => h.size,
            _ => return Err(CoordError::from(ProtoError::Missing("artifact header (the first chunk)")).into()),
        };
        let _space = self.admit_upload(size)?;
        let stream = tokio_stream::iter(first.map(Ok)).chain(stream);
        let (header, _, existed) = receive(stream, &self.settings().artifacts_dir).await.map_err(|e| {
            tracing::warn!(error = %e, "artifact upload rejected");
            CoordError::from(e)
        })?;
        self.ledger()
            .add_artifact(&header.content_id, header.size, &header.role)?;
        Ok(Response::new(pb::UploadResponse {
            content_id: header.content_id,
            already_present: existed,
        }))
    }

    type DownloadArtifactStream = Pin<Box<dyn Stream<Item = Result<pb::ArtifactChunk, Status>> + Send>>;

    async fn download_artifact(&self, req: Request<pb::DownloadRequest>) -> Reply<Self::DownloadArtifactStream> {
        let id = req.into_inner().content_id;
        check_id(&id).map_err(CoordError::from)?;
        let size = self
            .ledger()
            .artifact_size(&id)?
            .ok_or_else(|| CoordError::NotFound(format!("artifact {id}")))?;
        let path = self.settings().artifacts_dir.join(&id);
        let header = pb::ArtifactHeader {
            content_id: id,
            size,
            role: String::new(),
        };
        Ok(Response::new(Box::pin(chunks_of(path, header).map(Ok))))
    }
}
