//! The one error enum of the protocol crate: conversions, transport and artifact transfer.
use std::path::PathBuf;

/// What can go wrong at the protocol edge.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// A required field was absent.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// A field held a value the domain rejects.
    #[error("field {field}: {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Connecting failed.
    #[error("connecting to {endpoint}: {source}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: tonic::transport::Error,
    },
    /// The peer answered with an error status.
    #[error("{context}: {status_code:?}: {message}", status_code = .status.code(), message = .status.message())]
    Status {
        /// The call.
        context: &'static str,
        /// The status.
        status: tonic::Status,
    },
    /// A local file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The bulk channel's socket failed (the peer went away, a timeout): worth a retry or the gRPC path.
    #[error("bulk channel to {peer}: {error}")]
    Bulk {
        /// The other end.
        peer: String,
        /// Why.
        error: std::io::Error,
    },
    /// Bytes received do not match their announced hash or size.
    #[error("artifact {id}: {problem}")]
    Corrupt {
        /// The announced content id.
        id: String,
        /// What differs.
        problem: String,
    },
}

impl ProtoError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ProtoError::Io {
            path: path.into(),
            error: source,
        }
    }
    /// Wraps a failure of the bulk socket to `peer`.
    pub fn bulk(peer: impl Into<String>, source: std::io::Error) -> Self {
        ProtoError::Bulk {
            peer: peer.into(),
            error: source,
        }
    }
    /// Wraps a status returned by `context`.
    pub fn status(context: &'static str, status: tonic::Status) -> Self {
        ProtoError::Status { context, status }
    }
    /// The gRPC code when the peer answered with a status.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ProtoError::Status { status, .. } => Some(status.code()),
            _ => None,
        }
    }
}
