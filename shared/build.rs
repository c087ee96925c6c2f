//! Records the git revision for provenance (`FORGEBENCH_GIT_REV`), when the crate is built from a checkout.
use std::process::Command;

fn main() {
    let rev = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let rev = if dirty && !rev.is_empty() {
        format!("{rev}-dirty")
    } else {
        rev
    };
    println!("cargo:rustc-env=FORGEBENCH_GIT_REV={rev}");
    for p in ["../.git/HEAD", "../.git/logs/HEAD"] {
        if std::path::Path::new(p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
