//! A worker's session with the coordinator: connecting with back-off, registering, and classifying failures into
//! "retry", "register again" and "give up".
use crate::error::Result;
use forgebench_proto::auth::BearerToken;
use forgebench_proto::bulk::BulkTarget;
use forgebench_proto::client::{Target, WorkerClient};
use forgebench_proto::v1 as pb;
use forgebench_proto::{ProtoError, PROTOCOL_VERSION};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::profile::DeviceProfile;
use std::time::Duration;
use tonic::Code;

/// Connection parameters and identity of a worker.
#[derive(Debug, Clone)]
pub struct Session {
    /// The coordinator.
    pub target: Target,
    /// The token.
    pub token: BearerToken,
    /// Stable worker name.
    pub name: String,
    /// The profile this process runs.
    pub profile: DeviceProfile,
    /// What it runs on.
    pub fingerprint: DeviceFingerprint,
}

/// A registered connection.
pub struct Registered {
    /// The client.
    pub client: WorkerClient,
    /// The coordinator's id for this worker.
    pub worker_id: String,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// The coordinator's bulk channel for artifact bytes, when it runs one.
    pub bulk: Option<BulkTarget>,
}

/// How to react to a failed call.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The coordinator is away; try again after a pause.
    Retry,
    /// The coordinator forgot this worker; register again.
    Reregister,
    /// The coordinator refuses this request for good (malformed, over a limit, corrupt bytes): asking again
    /// cannot help, so the attempt it belongs to fails.
    Refused,
    /// Nothing will fix it (wrong token, wrong protocol).
    Fatal,
}

/// Classifies a status code.
pub fn classify(code: Code) -> Failure {
    match code {
        Code::NotFound => Failure::Reregister,
        Code::Unauthenticated | Code::FailedPrecondition | Code::PermissionDenied => Failure::Fatal,
        Code::InvalidArgument | Code::ResourceExhausted | Code::DataLoss | Code::OutOfRange => Failure::Refused,
        _ => Failure::Retry,
    }
}

impl Session {
    /// A session (not connected yet).
    pub fn new(
        target: Target,
        token: BearerToken,
        name: String,
        profile: DeviceProfile,
        fingerprint: DeviceFingerprint,
    ) -> Self {
        Session {
            target,
            token,
            name,
            profile,
            fingerprint,
        }
    }

    /// Connects and registers, retrying with back-off while the coordinator is unreachable; fatal answers (wrong
    /// token, protocol mismatch) end the worker.
    pub async fn register(&self) -> Result<Registered> {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.try_register().await {
                Ok(r) => return Ok(r),
                Err(e) if e.code().map(classify) == Some(Failure::Fatal) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "coordinator unreachable; retrying in {pause:?}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    async fn try_register(&self) -> std::result::Result<Registered, ProtoError> {
        let mut client = self.target.worker(&self.token).await?;
        let req = pb::RegisterRequest {
            protocol_version: PROTOCOL_VERSION,
            profile: Some((&self.profile).into()),
            fingerprint: Some((&self.fingerprint).into()),
            worker_name: self.name.clone(),
        };
        let r = client
            .register(req)
            .await
            .map_err(|s| ProtoError::status("register", s))?
            .into_inner();
        let bulk = match u16::try_from(r.bulk_port) {
            Ok(0) | Err(_) => None,
            Ok(port) => Some(BulkTarget::new(&self.target, port, &self.token)?),
        };
        tracing::info!(worker = %r.worker_id, profile = %self.profile.name, bulk = ?bulk.as_ref().map(|b| b.addr()),
            "registered");
        Ok(Registered {
            client,
            worker_id: r.worker_id,
            heartbeat: Duration::from_millis(r.heartbeat_ms.max(50) as u64),
            bulk,
        })
    }
}
