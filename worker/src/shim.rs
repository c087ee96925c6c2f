//! Safe wrappers over the C++ shim in `cpp/shim.cpp`, which reaches `at::globalContext()`.
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

extern "C" {
    fn fb_set_flag(which: c_int, value: c_int) -> c_int;
    fn fb_get_flag(which: c_int) -> c_int;
    fn fb_show_config(buf: *mut c_char, cap: usize) -> usize;
    fn fb_parallel_info(buf: *mut c_char, cap: usize) -> usize;
    fn fb_torch_version(buf: *mut c_char, cap: usize) -> usize;
    fn fb_cpu_capability(buf: *mut c_char, cap: usize) -> usize;
}

/// A libtorch global numeric switch reachable through the shim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `torch.backends.cudnn.benchmark`: cuDNN auto-tuning.
    CudnnBenchmark = 0,
    /// `torch.backends.cudnn.deterministic`.
    CudnnDeterministic = 1,
    /// `torch.use_deterministic_algorithms`.
    DeterministicAlgorithms = 2,
    /// `torch.backends.cuda.matmul.allow_tf32`.
    Tf32Cublas = 3,
    /// `torch.backends.cudnn.allow_tf32`.
    Tf32Cudnn = 4,
    /// `torch.backends.mkldnn.enabled` (oneDNN).
    Mkldnn = 5,
}

/// Sets a global flag; returns an error text when libtorch threw.
pub fn set_flag(flag: Flag, value: bool) -> Result<(), String> {
    // SAFETY: plain C call; the shim catches every C++ exception.
    let rc = unsafe { fb_set_flag(flag as c_int, value as c_int) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("libtorch refused to set {flag:?}={value} (code {rc})"))
    }
}

/// Reads a global flag.
pub fn get_flag(flag: Flag) -> Option<bool> {
    // SAFETY: plain C call; the shim catches every C++ exception.
    match unsafe { fb_get_flag(flag as c_int) } {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

fn read_string(f: unsafe extern "C" fn(*mut c_char, usize) -> usize) -> String {
    let mut cap = 4096usize;
    loop {
        let mut buf = vec![0u8; cap];
        // SAFETY: the shim writes at most `cap` bytes, NUL-terminated.
        let full = unsafe { f(buf.as_mut_ptr() as *mut c_char, cap) };
        if full < cap {
            let s = CStr::from_bytes_until_nul(&buf).map(|c| c.to_string_lossy().into_owned());
            return s.unwrap_or_default();
        }
        cap = full + 1;
    }
}

/// `at::show_config()`: the build configuration (compiler, MKL, oneDNN, CUDA versions).
pub fn show_config() -> String {
    read_string(fb_show_config)
}

/// `at::get_parallel_info()`: thread pools and their sizes.
pub fn parallel_info() -> String {
    read_string(fb_parallel_info)
}

/// `at::get_cpu_capability()`: the kernels ATen dispatches to ("DEFAULT", "AVX2", "AVX512", ...).
pub fn cpu_capability() -> String {
    read_string(fb_cpu_capability)
}

/// `TORCH_VERSION` of the libtorch headers the worker was built against, e.g. "2.13.0".
pub fn torch_version() -> String {
    read_string(fb_torch_version)
}
