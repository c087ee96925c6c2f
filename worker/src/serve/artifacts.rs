//! Moving artifacts: over the coordinator's bulk channel when it runs one, over gRPC streams otherwise. A bulk
//! socket that cannot be reached (a firewall, a restarted coordinator on another port) falls back to gRPC for
//! that transfer; every other bulk answer (wrong token, corrupt bytes) is final, as it would be over gRPC.
use forgebench_proto::bulk::BulkTarget;
use forgebench_proto::client::WorkerClient;
use forgebench_proto::transfer::{download, upload};
use forgebench_proto::v1::{ArtifactHeader, UploadResponse};
use forgebench_proto::ProtoError;
use std::path::{Path, PathBuf};

/// Downloads artifact `id` into `dir/<id>` (hash-checked) and returns its path.
pub async fn fetch(
    client: &mut WorkerClient,
    bulk: Option<&BulkTarget>,
    id: &str,
    dir: &Path,
) -> Result<PathBuf, ProtoError> {
    if let Some(b) = bulk {
        match b.download(id, dir).await {
            Err(e @ ProtoError::Bulk { .. }) => tracing::warn!(error = %e, "bulk download failed; using gRPC"),
            done => return done,
        }
    }
    download(client, id, dir).await
}

/// Uploads `path`, announced by `header`.
pub async fn store(
    client: &mut WorkerClient,
    bulk: Option<&BulkTarget>,
    path: &Path,
    header: ArtifactHeader,
) -> Result<UploadResponse, ProtoError> {
    if let Some(b) = bulk {
        match b.upload(path, header.clone()).await {
            Err(e @ ProtoError::Bulk { .. }) => tracing::warn!(error = %e, "bulk upload failed; using gRPC"),
            done => return done,
        }
    }
    upload(client, path, header).await
}
