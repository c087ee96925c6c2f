//! Reproduction logs: K triples (theta_k, B_k, theta_k - eta * grad L(B_k; theta_k)) computed on one profile, and
//! their verification on another (the paper's Table 3 and its cross-device matrices).
//!
//! theta_k and B_k are drawn from the portable RNG: theta_k from the stream (seed, "theta", k), B_k as b distinct
//! training indices from (seed, "batch", k). A log stores the results; with `full` it also stores theta_k and the
//! batch indices so that any tool can recompute the triples without forgebench's RNG.
mod log;
mod verify;

pub(crate) use log::{f32_bytes, read_f32, read_manifest, read_with_manifest, save_tensors, tensor_bytes, META_KEY};
pub use log::{read_log, write_log, LogManifest, ReproLog, LOG_FORMAT};
pub(crate) use verify::first_difference;
pub use verify::{verify_log, VerifyReport};

use forgebench_shared::experiment::ReproSpec;
use forgebench_shared::rng::PortableRng;

/// theta_k of a log.
pub fn theta_k(spec: &ReproSpec, k: usize) -> Vec<f32> {
    crate::models::draw_theta(spec.model, spec.seed, k as u64)
}

/// B_k of a log: `b` distinct indices into a training set of `n` examples.
pub fn batch_k(spec: &ReproSpec, k: usize, n: usize) -> Vec<usize> {
    batch_indices(spec.seed, k, n, spec.batch_size)
}

/// B_k for master seed `seed`: `b` distinct indices into `n` examples, whatever the model (a TorchScript model's
/// triples draw the same batches as a built-in model's under the same seed).
pub fn batch_indices(seed: u64, k: usize, n: usize, b: usize) -> Vec<usize> {
    PortableRng::derived(seed, "batch", k as u64).sample_indices(n, b)
}
