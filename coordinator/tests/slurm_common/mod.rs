//! A real single-node Slurm for integration tests: started with scripts/slurm/start-slurm.sh (Debian's slurm-wlm
//! and munge on loopback, installed through apt when missing), stopped again by the guard when this test binary
//! started it. Only a machine where that cannot work (not root, or apt cannot install) skips, saying why.
#![allow(dead_code)] // each test binary uses a part
use forgebench_coordinator::slurm::{SlurmCli, SlurmJobId};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Where start-slurm.sh keeps its configuration, state and logs (shared by every test that starts Slurm).
pub const SLURM_DIR: &str = "/tmp/single-node-slurm";

/// The slurm.conf clients need (`SLURM_CONF`).
pub fn slurm_conf() -> String {
    format!("{SLURM_DIR}/etc/slurm.conf")
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/slurm")
}

/// Runs a bash command line.
pub fn sh(cmd: &str) -> Output {
    Command::new("bash").arg("-c").arg(cmd).output().expect("bash runs")
}

/// A running Slurm; stops the daemons on drop (also when the test fails) if it started them.
pub struct RealSlurm {
    started: bool,
}

impl RealSlurm {
    /// Starts Slurm (or finds it running); `None`, after saying why, where this machine cannot run it.
    pub fn start(test: &str) -> Option<RealSlurm> {
        if String::from_utf8_lossy(&sh("id -u").stdout).trim() != "0" {
            eprintln!("SKIPPED {test}: not root (slurmd must run as root)");
            return None;
        }
        let up = format!("[[ $(cat /proc/$(cat {SLURM_DIR}/run/slurmctld.pid)/comm) == slurmctld ]]");
        let was_up = sh(&up).status.success();
        let out = Command::new(scripts().join("start-slurm.sh"))
            .env("SLURM_DIR", SLURM_DIR)
            .output()
            .expect("start-slurm.sh runs");
        if !out.status.success() {
            let log = String::from_utf8_lossy(&out.stderr);
            if !sh("command -v slurmctld").status.success() {
                eprintln!("SKIPPED {test}: Slurm is not installed and apt could not install it:\n{log}");
                return None;
            }
            panic!("start-slurm.sh failed with Slurm installed:\n{log}");
        }
        Some(RealSlurm { started: !was_up })
    }

    /// The Slurm client tools pointed at this Slurm.
    pub fn cli(&self) -> SlurmCli {
        SlurmCli::new().with_env("SLURM_CONF", slurm_conf())
    }
}

impl Drop for RealSlurm {
    fn drop(&mut self) {
        if self.started {
            let _ = Command::new(scripts().join("stop-slurm.sh"))
                .env("SLURM_DIR", SLURM_DIR)
                .output();
        }
    }
}

/// Waits up to a minute for `ok`, then fails naming `what`; says how long it took.
pub fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("slurm: {what} after {:.1} s", start.elapsed().as_secs_f64());
}

/// Whether plain `squeue` (pending, running, completing) still lists `job`.
pub fn in_squeue(job: &SlurmJobId) -> bool {
    let out = sh(&format!("SLURM_CONF={} squeue -h -j {job} -o %i", slurm_conf()));
    String::from_utf8_lossy(&out.stdout).trim() == job.0
}

/// Cancels `job` with plain `scancel`, as a person or an administrator would.
pub fn scancel_by_hand(job: &SlurmJobId) {
    let out = sh(&format!("SLURM_CONF={} scancel {job}", slurm_conf()));
    assert!(
        out.status.success(),
        "scancel: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
