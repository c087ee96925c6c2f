//! The forgebench gRPC protocol, compiled from `proto/` by the root `build.rs`.
//! prost types stay at this edge: `convert` maps them to the domain types of `forgebench-shared`; `auth`, `client`,
//! `transfer` and `bulk` hold what both ends of the cluster share (token check, connecting, checked artifact
//! streams over gRPC and over the bulk channel).

/// Generated prost and tonic code for package `forgebench.v1`.
pub mod v1 {
    tonic::include_proto!("forgebench.v1");
}

pub mod auth;
pub mod bulk;
pub mod client;
pub mod convert;
pub mod error;
pub mod transfer;

pub use error::ProtoError;

/// The cluster protocol version; a worker announcing another one is refused with FAILED_PRECONDITION.
pub const PROTOCOL_VERSION: u32 = 1;
