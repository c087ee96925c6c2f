//! forgebench shared: domain types, configuration and pure logic. Never links libtorch.
//!
//! Everything both the coordinator and the worker must agree on lives here: ids, device profiles and
//! fingerprints, experiment and job descriptions, error measures, the portable RNG and the data loaders.
pub mod calibration;
pub mod config;
pub mod content;
pub mod data;
pub mod device;
pub mod error;
pub mod experiment;
pub mod fingerprint;
pub mod host_cpu;
pub mod ids;
pub mod jobs;
pub mod ks;
pub mod measures;
pub mod numfmt;
pub mod optim;
pub mod pol_strategy;
pub mod profile;
pub mod provenance;
pub mod repro_log;
pub mod results;
pub mod rng;
pub mod rounding;
pub mod script_repro;
pub mod tables;
pub mod torch_forge;
pub mod torch_shuffle;
pub mod torchrun;
pub mod trace;
pub mod verdict;

pub use error::{Result, SharedError};
