//! forgebench worker: every numeric computation (tch over libtorch, cudarc for device discovery).
//!
//! A worker process is pinned to one device profile: settings libtorch reads at load time come from the
//! environment its spawner set, and [`profile::apply`] refuses to run when they do not match.
pub mod arithmetic;
pub mod cli;
pub mod datasets;
pub mod error;
pub mod explain;
pub mod fingerprint;
pub mod forge;
pub mod jobs;
pub mod malloc;
pub mod models;
pub mod optim;
pub mod pol;
pub mod profile;
pub mod progress;
pub mod repro;
pub mod serve;
pub mod shim;
pub mod shuffle;
pub mod tensors;
pub mod torchrun;
pub mod update;

pub use error::{Result, WorkerError};
