//! glibc malloc tuning for the worker process.
//!
//! Every SGD step allocates and frees tensors of 0.1-30 MB (theta, the batch, activations, gradients). With glibc's
//! defaults those are served by `mmap` or trimmed back to the kernel with `brk` on every free, so each step faults
//! its memory in again: measured on LeNet-5 at b = 100, a quarter of the step time was page faults. Keeping freed
//! memory in the process (high trim threshold, a fixed 32 MB mmap threshold, 64 MB top pad) removes that cost. Only
//! allocation placement changes, never a computed value. Skipped when the user tunes malloc through the environment.
use std::os::raw::c_int;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn mallopt(param: c_int, value: c_int) -> c_int;
}

/// glibc `mallopt` parameters (malloc.h).
const M_TRIM_THRESHOLD: c_int = -1;
const M_TOP_PAD: c_int = -2;
const M_MMAP_THRESHOLD: c_int = -3;

/// Applies the tuning; returns whether it was applied (false off glibc or when the environment tunes malloc).
pub fn tune() -> bool {
    let user_tuned = [
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_TOP_PAD_",
        "GLIBC_TUNABLES",
    ]
    .iter()
    .any(|k| std::env::var_os(k).is_some());
    if user_tuned {
        return false;
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    let settings = [
        (M_MMAP_THRESHOLD, 32 << 20),
        (M_TRIM_THRESHOLD, 1 << 30),
        (M_TOP_PAD, 64 << 20),
    ];
    // SAFETY: mallopt takes plain integers and only changes allocator parameters, under the arena lock.
    settings
        .iter()
        .all(|&(param, value)| unsafe { mallopt(param, value) } == 1)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    let _ = (M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD);
    false
}
