//! The control service: sweep submission, status, resubmission and tables.
use super::Coordinator;
use crate::error::CoordError;
use forgebench_proto::v1 as pb;
use forgebench_proto::v1::control_service_server::ControlService;
use forgebench_shared::config::SweepConfig;
use forgebench_shared::ids::SweepId;
use tonic::{Request, Response, Status};

type Reply<T> = Result<Response<T>, Status>;

impl Coordinator {
    /// The sweep named by a request, or NOT_FOUND.
    fn sweep_ids(&self, id: &str) -> Result<Vec<SweepId>, CoordError> {
        let all = self.ledger().sweep_ids()?;
        if id.is_empty() {
            return Ok(all);
        }
        all.into_iter()
            .find(|s| s.0 == id)
            .map(|s| vec![s])
            .ok_or_else(|| CoordError::NotFound(format!("sweep {id}")))
    }

    /// Status of one sweep or all, plus the workers.
    pub fn status(&self, sweep: &str) -> Result<pb::StatusResponse, CoordError> {
        let mut sweeps = Vec::new();
        for id in self.sweep_ids(sweep)? {
            let s = self.ledger().sweep_status(&id)?;
            let slurm_jobs = self
                .ledger()
                .slurm_jobs(Some(&id))?
                .into_iter()
                .map(|j| format!("{} {}", j.job, j.state.as_str()))
                .collect();
            sweeps.push(pb::SweepStatus {
                sweep_id: s.id.0.clone(),
                name: s.name.clone(),
                total: s.total(),
                pending: s.counts[0],
                leased: s.counts[1],
                done: s.counts[2],
                failed: s.counts[3],
                compute_seconds: s.compute_seconds,
                failures: s.failures,
                slurm_jobs,
                awaiting_devices: s.awaiting,
                devices: self
                    .ledger()
                    .sweep_devices(&id)?
                    .iter()
                    .map(|d| format!("{} @ {} ({})", d.profile.name, d.fingerprint.hostname, d.id))
                    .collect(),
            });
        }
        let now = crate::ledger::now_ms();
        let workers = self
            .ledger()
            .workers()?
            .into_iter()
            .map(|w| pb::WorkerStatus {
                worker_id: w.id.0,
                hardware: w.fingerprint.hardware_label(None),
                profile: w.profile.name,
                last_seen_ms_ago: (now - w.last_seen_ms).max(0) as u64,
                running_job: w.running_job.map(|j| j.0),
            })
            .collect();
        Ok(pb::StatusResponse { sweeps, workers })
    }
}

#[tonic::async_trait]
impl ControlService for Coordinator {
    async fn submit_sweep(&self, req: Request<pb::SubmitSweepRequest>) -> Reply<pb::SubmitSweepResponse> {
        let cfg = SweepConfig::from_toml_str(&req.into_inner().sweep_toml).map_err(CoordError::from)?;
        let (id, jobs, existing) = self.submit(&cfg)?;
        Ok(Response::new(pb::SubmitSweepResponse {
            sweep_id: id.0,
            jobs: jobs as u32,
            existing,
        }))
    }

    async fn get_status(&self, req: Request<pb::StatusRequest>) -> Reply<pb::StatusResponse> {
        Ok(Response::new(self.status(&req.into_inner().sweep_id)?))
    }

    async fn resubmit(&self, req: Request<pb::ResubmitRequest>) -> Reply<pb::ResubmitResponse> {
        let r = req.into_inner();
        if r.sweep_id.is_empty() {
            return Err(Status::invalid_argument("sweep_id is required"));
        }
        let id = SweepId(r.sweep_id);
        self.ledger().sweep_status(&id)?;
        let n = self
            .ledger()
            .resubmit(&id, r.failed_only, self.settings().max_attempts)?;
        tracing::info!(sweep = %id, requeued = n, failed_only = r.failed_only, "resubmitted");
        self.wake();
        Ok(Response::new(pb::ResubmitResponse { requeued: n as u32 }))
    }

    async fn get_tables(&self, req: Request<pb::TablesRequest>) -> Reply<pb::TablesResponse> {
        let id = SweepId(req.into_inner().sweep_id);
        let complete = self.ledger().sweep_status(&id)?.complete();
        // Linear cells not cached yet are computed from the stored logs: off the reactor.
        let me = self.clone();
        let m = tokio::task::spawn_blocking(move || {
            crate::aggregate::matrices(me.ledger(), &id, Some(&me.settings().artifacts_dir))
        })
        .await
        .map_err(|e| Status::internal(format!("aggregating the tables: {e}")))??;
        let matrices_json = serde_json::to_string(&m).map_err(|e| CoordError::json("tables", e))?;
        Ok(Response::new(pb::TablesResponse {
            matrices_json,
            complete,
        }))
    }
}
