//! Builds the C++ shim (`cpp/shim.cpp`, `cpp/torch_ops.cpp`) against the same libtorch headers that torch-sys links, and gives the
//! worker's binaries and tests an rpath to libtorch so nobody has to set `LD_LIBRARY_PATH`.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=cpp/shim.cpp");
    println!("cargo:rerun-if-changed=cpp/torch_ops.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    // torch-sys declares `links = "tch"` and exports its libtorch lib folder as metadata.
    let lib =
        PathBuf::from(std::env::var("DEP_TCH_LIBTORCH_LIB").expect("torch-sys did not export DEP_TCH_LIBTORCH_LIB"));
    let root = lib.parent().expect("libtorch lib folder has a parent").to_path_buf();
    let include = root.join("include");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .std("c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .file("cpp/shim.cpp")
        .file("cpp/torch_ops.cpp")
        .compile("forgebench_shim");
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
    // rpath for every binary, test and bench of this package (and, through the env var below, for dependents).
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    println!("cargo:rustc-env=FORGEBENCH_LIBTORCH_LIB={}", lib.display());
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        // Without --no-as-needed the linker drops libtorch_cuda (nothing references it by symbol) and CUDA stays
        // unavailable at run time.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
