//! forgebench coordinator: scheduling, the durable ledger and aggregation. Never links libtorch.
//!
//! The coordinator owns a [`ledger::Ledger`] (SQLite) and serves two gRPC services (`proto/cluster.proto`):
//! workers register, lease jobs bound to their device, upload artifacts and report results; clients submit
//! sweeps, watch them and fetch the aggregated cross-device tables.
pub mod aggregate;
pub mod bulk;
pub mod cli;
pub mod dashboard;
pub mod dump;
pub mod error;
pub mod gate;
pub mod hwdb;
pub mod ledger;
pub mod local;
pub mod plan;
pub mod server;
pub mod service;
pub mod slurm;
pub mod store;
#[cfg(test)]
mod testing;
pub mod validate;

pub use error::{CoordError, Result};
pub mod report;
