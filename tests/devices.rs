//! Devices are hardware, on a whole loopback cluster of real processes: a fourth worker of `cpu-avx2` runs on
//! "another host" (its own UTS namespace with another host name), so the sweep has four devices, the two `cpu-avx2`
//! devices are never merged yet fall in one equivalence class, and linear verification runs no more than two model
//! runs per device and gives the exhaustive tables bit for bit.
mod e2e;

use e2e::{assert_same_cells, bin_dir, profile_names, wait_for, Cluster, Proc};
use forgebench_shared::ids::SweepId;
use forgebench_shared::tables::CrossDeviceMatrix;
use std::process::Command;

const GRID: &str = "experiments = [\"reproduction\"]\nmodels = [\"lenet5\"]\nbatch_sizes = [100]\nseeds = [4]\n\
                    triples = 2\ndevices = \"all\"\nexpect_devices = { cpu-avx2 = 2 }\n";

/// Whether this process may make a UTS namespace (root, or a kernel allowing unprivileged user namespaces).
fn can_unshare() -> bool {
    Command::new("unshare")
        .args(["--uts", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

fn tables(c: &Cluster, id: &SweepId) -> (Vec<CrossDeviceMatrix>, serde_json::Value) {
    let o = c
        .cmd(&["tables", "--sweep", &id.0, "--format", "json"])
        .output()
        .expect("tables");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        serde_json::from_slice(&o.stdout).expect("matrices"),
        serde_json::from_slice(&o.stdout).expect("json"),
    )
}

fn submit(c: &Cluster, args: &[&str]) -> SweepId {
    let o = c.cmd(&[&["submit"], args].concat()).output().expect("submit");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    SweepId(String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

#[test]
fn a_second_host_is_a_second_device_and_linear_tables_equal_exhaustive_ones() {
    if !can_unshare() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: `unshare --uts` must work there"
        );
        eprintln!("skipped: `unshare --uts` is not permitted here (run as root)");
        return;
    }
    let c = Cluster::new(GRID);
    let _coord = c.spawn(&["coordinator"], "coord.log");
    let addr = format!("127.0.0.1:{}", c.port);
    assert!(
        wait_for(30, || std::net::TcpStream::connect(&addr).is_ok()),
        "coordinator up"
    );
    let linear = submit(&c, &[]);
    let exhaustive_file = c.path().join("exhaustive.toml");
    std::fs::write(
        &exhaustive_file,
        format!("name = \"s-exhaustive\"\n{GRID}verification = \"exhaustive\"\n"),
    )
    .expect("write sweep");
    let exhaustive = submit(&c, &["--file", exhaustive_file.to_str().expect("utf-8")]);
    let mut workers: Vec<Proc> = Vec::new();
    for p in &profile_names() {
        let work = c.path().join(format!("w-{p}"));
        let args = ["worker", "--profile", p, "--work-dir", work.to_str().expect("utf-8")];
        workers.push(c.spawn(&args, &format!("{p}.log")));
    }
    // The fourth worker: cpu-avx2 again, on host "labb".
    let log = std::fs::File::create(c.path().join("labb.log")).expect("log");
    let work = c.path().join("w-labb");
    let child = Command::new("unshare")
        .args([
            "--uts",
            "sh",
            "-c",
            "echo labb > /proc/sys/kernel/hostname && exec \"$0\" \"$@\"",
        ])
        .arg(bin_dir().join("forgebench"))
        .arg("--config")
        .arg(c.path().join("cluster.toml"))
        .args(["worker", "--profile", "cpu-avx2", "--work-dir"])
        .arg(&work)
        .env_remove("FORGEBENCH_TOKEN")
        .env_remove("FORGEBENCH_COORDINATOR")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn the worker on labb");
    workers.push(Proc(child));
    let ledger = c.ledger();
    let complete = |id: &SweepId| ledger.sweep_status(id).map(|s| s.complete()).unwrap_or(false);
    assert!(
        wait_for(300, || complete(&linear) && complete(&exhaustive)),
        "both sweeps completed: {:?}",
        ledger.sweep_status(&linear)
    );

    let devices = ledger.sweep_devices(&linear).expect("devices");
    assert_eq!(devices.len(), 4, "four devices: {devices:?}");
    let avx2: Vec<_> = devices.iter().filter(|d| d.profile.name == "cpu-avx2").collect();
    assert_eq!(avx2.len(), 2);
    assert_ne!(avx2[0].id, avx2[1].id, "two hosts under one profile are two devices");
    let mut hosts: Vec<_> = avx2.iter().map(|d| d.fingerprint.hostname.as_str()).collect();
    hosts.sort();
    assert!(hosts.contains(&"labb") && hosts[0] != hosts[1], "{hosts:?}");
    let jobs = ledger.sweep_jobs(&linear).expect("jobs");
    for d in &devices {
        let runs = jobs.iter().filter(|j| j.device == d.id).count();
        assert!(runs <= 2, "{} ran {runs} model runs", d.key);
    }

    let (lin, lin_json) = tables(&c, &linear);
    let (exh, _) = tables(&c, &exhaustive);
    assert_eq!((lin.len(), exh.len()), (1, 1));
    assert_same_cells(&lin[0], &exh[0]);
    let m = &lin_json[0];
    let listed = m["devices"].as_array().expect("devices");
    assert_eq!(listed.len(), 4);
    let avx2: Vec<_> = listed.iter().filter(|d| d["profile"]["name"] == "cpu-avx2").collect();
    assert_eq!(avx2.len(), 2);
    assert_eq!(avx2[0]["class"], avx2[1]["class"], "one equivalence class: {avx2:?}");
    assert_ne!(avx2[0]["device_id"], avx2[1]["device_id"]);
    assert_ne!(avx2[0]["host"], avx2[1]["host"]);
    let other: Vec<_> = listed.iter().filter(|d| d["profile"]["name"] != "cpu-avx2").collect();
    assert!(other.iter().all(|d| d["class"] != avx2[0]["class"]), "{listed:?}");
    let off = lin[0].cells[0][2].as_ref().expect("cell").summary.l2.max;
    assert!(off > 0.0, "{} and cpu-default differ ({off})", profile_names()[0]);
}
