//! The one error enum of the shared crate.
use std::path::PathBuf;

/// Errors raised by configuration, data loading and other pure logic.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// A data file is malformed; names the file and the problem.
    #[error("data file {path}: {problem}")]
    Data { path: PathBuf, problem: String },
    /// An I/O failure on a named file.
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    /// A configuration value is invalid; names the key.
    #[error("config {key}: {problem}")]
    Config { key: String, problem: String },
    /// A TOML document failed to parse (unknown keys included); the message names the key and line.
    #[error("{path}: {message}")]
    Toml { path: PathBuf, message: String },
    /// A worker's process environment does not match its profile.
    #[error("profile {profile}: environment variable {var} is {actual:?} but the profile needs {expected:?}")]
    ProfileEnv {
        profile: String,
        var: String,
        expected: Option<String>,
        actual: Option<String>,
    },
    /// Anything else that is a caller error, with its explanation.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of the shared crate.
pub type Result<T> = std::result::Result<T, SharedError>;

impl SharedError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SharedError::Io {
            path: path.into(),
            error: source,
        }
    }
    /// A data-format problem in `path`.
    pub fn data(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        SharedError::Data {
            path: path.into(),
            problem: problem.into(),
        }
    }
    /// A configuration problem at `key`.
    pub fn config(key: impl Into<String>, problem: impl Into<String>) -> Self {
        SharedError::Config {
            key: key.into(),
            problem: problem.into(),
        }
    }
}
