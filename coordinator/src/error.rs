//! The one error enum of the coordinator crate, and its mapping to gRPC status codes.
use std::path::PathBuf;
use tonic::{Code, Status};

/// Errors of the ledger, the scheduler, the services and the command line.
#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    /// Configuration or domain validation from the shared crate.
    #[error(transparent)]
    Shared(#[from] forgebench_shared::SharedError),
    /// The protocol edge (conversions, connecting, transfers).
    #[error(transparent)]
    Proto(#[from] forgebench_proto::ProtoError),
    /// The SQLite ledger.
    #[error("ledger: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A JSON document stored in or sent to the ledger is malformed.
    #[error("{what}: {error}")]
    Json {
        /// What was being read.
        what: String,
        /// Why.
        error: serde_json::Error,
    },
    /// A named file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Serving failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// A remote call answered with an error.
    #[error("{context}: {code:?}: {message}", code = .status.code(), message = .status.message())]
    Remote {
        /// The call.
        context: &'static str,
        /// Its status.
        status: Status,
    },
    /// Something the caller named does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request does not fit the current state (wrong protocol, lost lease).
    #[error("{0}")]
    Precondition(String),
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
    /// Bytes do not match their hash.
    #[error("{0}")]
    DataLoss(String),
    /// A limit refuses the request (artifact size, store quota, free disk).
    #[error("{0}")]
    Exhausted(String),
    /// A child process or local task failed.
    #[error("{0}")]
    Process(String),
    /// Drawing a report figure or table failed (names the file).
    #[error("report: {0}")]
    Report(String),
}

/// Result alias of the coordinator crate.
pub type Result<T> = std::result::Result<T, CoordError>;

impl CoordError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoordError::Io {
            path: path.into(),
            error: source,
        }
    }
    /// A JSON failure while reading `what`.
    pub fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        CoordError::Json {
            what: what.into(),
            error: source,
        }
    }
    /// A failed remote call.
    pub fn remote(context: &'static str, status: Status) -> Self {
        CoordError::Remote { context, status }
    }
}

impl From<CoordError> for Status {
    fn from(e: CoordError) -> Status {
        let code = match &e {
            CoordError::Shared(_) | CoordError::Invalid(_) | CoordError::Json { .. } => Code::InvalidArgument,
            CoordError::Proto(p) => match p {
                forgebench_proto::ProtoError::Corrupt { .. } => Code::DataLoss,
                forgebench_proto::ProtoError::Io { .. } => Code::Internal,
                _ => Code::InvalidArgument,
            },
            CoordError::NotFound(_) => Code::NotFound,
            CoordError::Precondition(_) => Code::FailedPrecondition,
            CoordError::DataLoss(_) => Code::DataLoss,
            CoordError::Exhausted(_) => Code::ResourceExhausted,
            CoordError::Remote { status, .. } => status.code(),
            CoordError::Sql(_)
            | CoordError::Io { .. }
            | CoordError::Transport(_)
            | CoordError::Process(_)
            | CoordError::Report(_) => {
                tracing::error!(error = %e, "internal error");
                Code::Internal
            }
        };
        Status::new(code, e.to_string())
    }
}
