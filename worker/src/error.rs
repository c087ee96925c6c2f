//! The one error enum of the worker crate.
use std::path::PathBuf;

/// Errors raised by the worker's numerics, I/O and process set-up.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Configuration, data or profile problem from the shared crate.
    #[error(transparent)]
    Shared(#[from] forgebench_shared::SharedError),
    /// libtorch raised an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An I/O failure on a named file.
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    /// An artifact (log, checkpoint) is malformed or does not match what it claims.
    #[error("artifact {path}: {problem}")]
    Artifact { path: PathBuf, problem: String },
    /// The requested device cannot be used here.
    #[error("device: {0}")]
    Device(String),
    /// The cluster protocol (connecting, artifact transfer, a refused call).
    #[error(transparent)]
    Protocol(#[from] forgebench_proto::ProtoError),
    /// A caller error, with its explanation.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of the worker crate.
pub type Result<T> = std::result::Result<T, WorkerError>;

impl WorkerError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        WorkerError::Io {
            path: path.into(),
            error: source,
        }
    }
    /// An artifact problem.
    pub fn artifact(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        WorkerError::Artifact {
            path: path.into(),
            problem: problem.into(),
        }
    }
}
