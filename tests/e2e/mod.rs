//! Helpers of the whole-cluster tests: the built binaries, a throw-away cluster.toml, processes that are killed
//! when a test ends, polling instead of sleeping, and the single-machine matrix to compare with.
#![allow(dead_code)]
use forgebench_shared::tables::CrossDeviceMatrix;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The directory of the built binaries (`target/<profile>`), found from this test executable.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir").to_path_buf();
    for b in ["forgebench", "forgebench-worker"] {
        assert!(
            dir.join(b).exists(),
            "{} is missing: run `cargo build --workspace --bins` before these tests (scripts/test.sh does)",
            dir.join(b).display()
        );
    }
    dir
}

/// A free loopback port (the listener is dropped, so a race is possible but unlikely).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A cluster in a temporary folder: its cluster.toml (three CPU profiles, one sweep "s"), ledger and token.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Cluster {
    /// A cluster whose sweep is `sweep_body` (the keys after `name = "s"`).
    pub fn new(sweep_body: &str) -> Cluster {
        Self::with_tables(sweep_body, "")
    }

    /// A cluster with further top-level tables (e.g. `[slurm]`) after the sweep.
    pub fn with_tables(sweep_body: &str, tables: &str) -> Cluster {
        Self::build(sweep_body, "", tables)
    }

    /// A cluster whose `[coordinator]` table has the further lines `coordinator_keys`.
    pub fn with_coordinator_keys(sweep_body: &str, coordinator_keys: &str) -> Cluster {
        Self::build(sweep_body, coordinator_keys, "")
    }

    fn build(sweep_body: &str, coordinator_keys: &str, tables: &str) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let toml = format!(
            "default_sweep = \"s\"\n[coordinator]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{d}/token\"\n\
             ledger = \"{d}/ledger.sqlite\"\nlease_seconds = 4.0\nheartbeat_seconds = 0.5\nmax_attempts = 3\n\
             {coordinator_keys}\n{profiles}\n[[sweep]]\nname = \"s\"\n{sweep_body}\n{tables}",
            d = dir.path().display(),
            profiles = profiles_toml()
        );
        std::fs::write(dir.path().join("cluster.toml"), toml).expect("write cluster.toml");
        Cluster { dir, port }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `forgebench --config <this> ARGS`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin_dir().join("forgebench"));
        c.arg("--config").arg(self.path().join("cluster.toml")).args(args);
        c.env_remove("FORGEBENCH_TOKEN").env_remove("FORGEBENCH_COORDINATOR");
        c
    }

    /// Spawns `forgebench ARGS` with output to `<dir>/<log>`.
    pub fn spawn(&self, args: &[&str], log: &str) -> Proc {
        let f = std::fs::File::create(self.path().join(log)).expect("log");
        let child = self
            .cmd(args)
            .stdout(f.try_clone().expect("clone"))
            .stderr(f)
            .spawn()
            .expect("spawn forgebench");
        Proc(child)
    }

    /// The ledger.
    pub fn ledger(&self) -> forgebench_coordinator::ledger::Ledger {
        forgebench_coordinator::ledger::Ledger::open(&self.path().join("ledger.sqlite")).expect("ledger")
    }

    /// The matrices `up` wrote to `<out>/results/matrices`, sorted by file name.
    pub fn results_matrices(out: &Path) -> Vec<CrossDeviceMatrix> {
        let dir = out.join("results").join("matrices");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("matrices folder")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("matrix json"))
            .collect()
    }
}

impl Drop for Cluster {
    /// Workers started through `forgebench worker` are grandchildren: kill whatever still runs in this folder.
    fn drop(&mut self) {
        let path = self.dir.path().to_string_lossy().into_owned();
        for pid in pids_with(&["forgebench", &path]) {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    }
}

/// This machine's three CPU profiles (`default_cpu_profiles`): cpu-avx512 where the CPU has AVX-512, else
/// cpu-compat (AVX-512 kernels would die of an illegal instruction), then cpu-avx2 and cpu-default.
pub fn profile_names() -> Vec<String> {
    forgebench_shared::profile::default_cpu_profiles()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// Those profiles as cluster.toml's `[[profile]]` tables.
pub fn profiles_toml() -> String {
    let mut s = String::new();
    for p in forgebench_shared::profile::default_cpu_profiles() {
        let c = &p.cpu;
        s.push_str(&format!(
            "[[profile]]\nname = {:?}\ndevice = \"cpu\"\n[profile.cpu]\n",
            p.name
        ));
        for (k, v) in [
            ("aten_cpu_capability", &c.aten_cpu_capability),
            ("dnnl_max_cpu_isa", &c.dnnl_max_cpu_isa),
            ("mkl_enable_instructions", &c.mkl_enable_instructions),
            ("mkl_cbwr", &c.mkl_cbwr),
        ] {
            if let Some(v) = v {
                s.push_str(&format!("{k} = {v:?}\n"));
            }
        }
        if let Some(t) = c.threads {
            s.push_str(&format!("threads = {t}\n"));
        }
        if let Some(o) = c.onednn {
            s.push_str(&format!("onednn = {o}\n"));
        }
    }
    s
}

/// A child process killed (SIGKILL) when dropped, so a failing test leaves nothing behind.
pub struct Proc(pub Child);

impl Proc {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
    /// Waits for it to exit, up to `secs`.
    pub fn wait(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if let Some(s) = self.0.try_wait().expect("try_wait") {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGKILL to `pid`.
pub fn kill9(pid: u32) {
    let ok = Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(ok.success(), "kill -9 {pid}");
}

/// A process's command line, arguments joined by spaces (empty when it is gone).
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

/// Processes whose command line contains every one of `parts`.
pub fn pids_with(parts: &[&str]) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if parts.iter().all(|p| cmd.contains(p)) {
            out.push(pid);
        }
    }
    out
}

/// Like [`pids_with`], less the processes whose parent matches too: a worker forks a child for each `run-job`,
/// and until that child execs it carries its parent's command line, so it would be counted as a second worker.
pub fn root_pids_with(parts: &[&str]) -> Vec<u32> {
    let all = pids_with(parts);
    all.iter()
        .copied()
        .filter(|p| parent(*p).is_none_or(|pp| !all.contains(&pp)))
        .collect()
}

/// A process's parent pid, from `/proc/PID/stat` (whose second field, the name, may hold spaces: read after its `)`).
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `cond` every 50 ms for up to `secs` seconds.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// The single-machine matrix command (`forgebench-worker matrix`) on the same parameters.
pub fn single_machine_matrix(out: &Path, model: &str, b: usize, triples: usize, seed: u64) -> CrossDeviceMatrix {
    let st = Command::new(bin_dir().join("forgebench-worker"))
        .args(["matrix", "--model", model, "--batch-size", &b.to_string()])
        .args(["--triples", &triples.to_string(), "--seed", &seed.to_string()])
        .arg("--out")
        .arg(out)
        .output()
        .expect("run matrix");
    assert!(
        st.status.success(),
        "matrix command failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).expect("matrix.json")).expect("json")
}

/// `m` with its devices in the order of `like`'s (matched by device id), for comparing matrices whose devices were
/// listed in another order (the hardware database lists them in the order the ledger first saw them).
pub fn reordered_like(m: &CrossDeviceMatrix, like: &CrossDeviceMatrix) -> CrossDeviceMatrix {
    let pos: Vec<usize> = like
        .devices
        .iter()
        .map(|d| {
            m.devices
                .iter()
                .position(|x| x.id() == d.id())
                .expect("the same devices")
        })
        .collect();
    CrossDeviceMatrix {
        key: m.key.clone(),
        devices: pos.iter().map(|&i| m.devices[i].clone()).collect(),
        cells: pos
            .iter()
            .map(|&i| pos.iter().map(|&j| m.cells[i][j].clone()).collect())
            .collect(),
    }
}

/// Asserts that two matrices have bit-identical cells (every measure, every statistic) and the same devices.
pub fn assert_same_cells(a: &CrossDeviceMatrix, b: &CrossDeviceMatrix) {
    let names = |m: &CrossDeviceMatrix| m.devices.iter().map(|d| d.profile.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "device order");
    assert_eq!((a.key.model, a.key.batch_size), (b.key.model, b.key.batch_size));
    for (w, (ra, rb)) in a.cells.iter().zip(&b.cells).enumerate() {
        for (v, (ca, cb)) in ra.iter().zip(rb).enumerate() {
            let (ca, cb) = (ca.as_ref().expect("cell a"), cb.as_ref().expect("cell b"));
            let (ja, jb) = (
                serde_json::to_string(&ca.summary).expect("json"),
                serde_json::to_string(&cb.summary).expect("json"),
            );
            assert_eq!(ja, jb, "cell ({w}, {v}) differs:\n{ja}\n{jb}");
            assert_eq!(
                ca.summary.l2.max.to_bits(),
                cb.summary.l2.max.to_bits(),
                "cell ({w}, {v}) max L2: {} vs {}",
                ca.summary.l2.max,
                cb.summary.l2.max
            );
        }
    }
}
