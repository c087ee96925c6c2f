//! The launcher against a real single-node Slurm (Debian's slurm-wlm and munge on loopback, started by
//! scripts/slurm/start-slurm.sh): launch a sweep's CPU workers with `sbatch` (a stand-in `forgebench` records its
//! environment and sleeps), see the tasks run in `squeue`, lose the job to an outside `scancel`, let the watcher
//! resubmit it, finish the sweep, and let the watcher cancel the replacement, leaving nothing in `squeue`.
//!
//! Needs root (slurmd runs as root) and, on a machine without Slurm, apt; it skips, saying why, only without those.
mod slurm_common;

use forgebench_coordinator::ledger::{Ledger, SweepRecord};
use forgebench_coordinator::plan::{expand, sweep_identity};
use forgebench_coordinator::slurm::{
    launch, poll, run, script_path, Event, LaunchOptions, SlurmCmd, SlurmCtl, SlurmFlags, SlurmJobId, SlurmState,
    WatchPolicy,
};
use forgebench_shared::config::{ClusterConfig, SweepConfig};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::ids::SweepId;
use slurm_common::{in_squeue, scancel_by_hand, wait_for, RealSlurm};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const TOKEN: &str = "slurm-real-token-5f0c9a";

/// Three one-thread CPU profiles (DIR is filled in); `--overcommit` lets their three tasks share a machine with fewer cores.
const CLUSTER: &str = r#"
[coordinator]
listen = "127.0.0.1:50999"
ledger = "DIR/ledger.sqlite"
token_file = "DIR/cluster-token"
[[profile]]
name = "cpu-avx512"
[profile.cpu]
aten_cpu_capability = "avx512"
threads = 1
[[profile]]
name = "cpu-avx2"
[profile.cpu]
aten_cpu_capability = "avx2"
threads = 1
[[profile]]
name = "cpu-default"
[profile.cpu]
aten_cpu_capability = "default"
threads = 1
onednn = false
[slurm]
time_limit = "5"
sbatch_options = ["--overcommit"]
"#;

/// The environments the stand-in forgebench recorded for `job`, by worker name.
fn recorded(dir: &Path, job: &SlurmJobId) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for e in std::fs::read_dir(dir).expect("record dir") {
        let body = std::fs::read_to_string(e.expect("entry").path()).unwrap_or_default();
        let Some(name) = body.split_whitespace().skip_while(|w| *w != "--name").nth(1) else {
            continue;
        };
        if name.contains(&format!("@slurm-{job}.")) && body.ends_with("END\n") {
            out.insert(name.to_owned(), body);
        }
    }
    out
}

fn submit_sweep(l: &Ledger, cfg: &ClusterConfig, name: &str) -> SweepId {
    let text = format!("name = \"{name}\"\n")
        + "experiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [10]\nseeds = [0]\ntriples = 2\n\
           devices = \"all\"\n";
    let sweep = SweepConfig::from_toml_str(&text).expect("sweep");
    let (id, fp) = sweep_identity(&sweep, &cfg.profiles);
    let rec = SweepRecord {
        id: &id,
        name,
        fingerprint: &fp,
        config_toml: &text,
        profiles: &cfg.profiles,
    };
    l.insert_sweep(rec).expect("insert");
    for p in &cfg.profiles {
        let d = l.add_device(p, &fingerprint()).expect("device");
        l.attach_device(&id, &d).expect("attach");
    }
    let devices = l.sweep_devices(&id).expect("devices");
    l.add_jobs(&id, &expand(&id, &sweep, &cfg.profiles, &devices), 1)
        .expect("jobs");
    id
}

/// The fingerprint of the test's devices and of the workers that end the sweep.
fn fingerprint() -> DeviceFingerprint {
    DeviceFingerprint {
        hostname: "h".into(),
        cpu_model: "c".into(),
        cpu_flags: vec![],
        libtorch_version: "t".into(),
        libtorch_config: String::new(),
        cuda_driver: "none".into(),
        gpus: vec![],
        code_version: "t".into(),
        threads: 1,
        settings_in_force: Default::default(),
    }
}

/// Fails every job of the sweep once (one attempt each), which completes it.
fn finish_sweep(l: &Ledger, cfg: &ClusterConfig) {
    for p in &cfg.profiles {
        let (w, d) = l
            .register_worker(&format!("w-{}", p.name), p, &fingerprint())
            .expect("register");
        while let Some(j) = l.lease_next(&w, &d, 60_000).expect("lease") {
            l.report(&w, &j.job_id, j.attempt, Err("ended by the test"))
                .expect("report");
        }
    }
}

#[test]
fn launch_lose_resubmit_and_cancel_on_a_real_slurm() {
    let Some(slurm) = RealSlurm::start("slurm_real") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("cluster.toml");
    let text = CLUSTER.replace("DIR", &dir.path().display().to_string());
    std::fs::write(&config_path, &text).expect("config");
    let cfg = ClusterConfig::from_toml_str(&text, &config_path).expect("config");
    let (run_dir, rec) = (dir.path().join("run"), dir.path().join("rec"));
    std::fs::create_dir_all(&rec).expect("rec dir");
    let fake = dir.path().join("forgebench");
    let body = format!(
        "#!/bin/bash\n{{ echo \"ARGS $*\"; env; echo END; }} > {}/$$.txt\nexec sleep 30\n",
        rec.display()
    );
    std::fs::write(&fake, body).expect("fake");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let token_file = dir.path().join("token");
    forgebench_coordinator::slurm::private_token_file(&token_file, TOKEN).expect("token");
    let cli = slurm.cli();
    let opts = LaunchOptions {
        slurm: None,
        label: "slurm-real".into(),
        config_path: config_path.clone(),
        forgebench: Some(fake.clone()),
        workdir: Some(dir.path().to_path_buf()),
        cli: cli.clone(),
    };
    let ledger = Ledger::open(&cfg.coordinator.ledger).expect("ledger");
    let sweep = submit_sweep(&ledger, &cfg, "slurm-real");

    let job = launch(&cfg, &cfg.profiles, "127.0.0.1:50999", &token_file, &run_dir, &opts).expect("sbatch");
    let script = script_path(&run_dir, &job);
    assert!(!std::fs::read_to_string(&script).expect("script kept").contains(TOKEN));
    ledger.record_slurm_job(&sweep, &job, &script).expect("record");
    wait_for("the job to run", || cli.state(&job).ok() == Some(SlurmState::Running));
    assert!(in_squeue(&job));
    wait_for("three worker tasks", || recorded(&rec, &job).len() == 3);
    for (name, body) in recorded(&rec, &job) {
        let profile = name.split('@').next().expect("profile in name");
        let p = cfg.profiles.iter().find(|p| p.name == profile).expect("profile");
        let env: HashMap<&str, &str> = body.lines().filter_map(|l| l.split_once('=')).collect();
        p.check_env(|k| env.get(k).map(|v| v.to_string()))
            .expect("task has its profile's environment");
        assert!(body.contains(&format!("--token-file {}", token_file.display())) && !body.contains(TOKEN));
    }
    let policy = WatchPolicy { resubmit_limit: 1 };
    let ev = poll(&ledger, &cli, &sweep, policy).expect("poll");
    assert!(
        matches!(
            &ev[..],
            [Event::Changed {
                to: SlurmState::Running,
                ..
            }]
        ),
        "{ev:?}"
    );
    assert_eq!(
        poll(&ledger, &cli, &sweep, policy).expect("poll"),
        vec![],
        "running, work left: nothing to do"
    );

    // An outside scancel loses the workers while the sweep still has work: the watcher resubmits.
    scancel_by_hand(&job);
    wait_for("the job to end", || !in_squeue(&job));
    let ev = poll(&ledger, &cli, &sweep, policy).expect("poll");
    let Some(Event::Resubmitted { new, .. }) = ev.last() else {
        panic!("expected a resubmission: {ev:?}")
    };
    let new = new.clone();
    assert!(
        matches!(
            &ev[0],
            Event::Changed {
                to: SlurmState::Cancelled,
                ..
            }
        ),
        "{ev:?}"
    );
    wait_for("the replacement's workers", || recorded(&rec, &new).len() == 3);
    assert!(in_squeue(&new));

    // Once the sweep is complete, the watcher cancels the replacement; nothing of the sweep is left queued.
    finish_sweep(&ledger, &cfg);
    let ev = poll(&ledger, &cli, &sweep, policy).expect("poll");
    assert!(
        matches!(ev.last(), Some(Event::Stopped { jobs, .. }) if jobs == std::slice::from_ref(&new)),
        "{ev:?}"
    );
    wait_for("squeue to drop the sweep's jobs", || {
        !in_squeue(&job) && !in_squeue(&new)
    });
    let states: Vec<_> = ledger
        .slurm_jobs(Some(&sweep))
        .expect("rows")
        .into_iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(states, [SlurmState::Cancelled, SlurmState::Stopped]);

    // The command line: `slurm launch` records the job with its sweep, `slurm cancel` ends it for good. They use
    // the Slurm tools as a shell would, so SLURM_CONF goes into this (single-test) process's environment.
    std::env::set_var("SLURM_CONF", slurm_common::slurm_conf());
    let second = submit_sweep(&ledger, &cfg, "slurm-cli");
    let launch_cmd = |sweep: &str| SlurmCmd::Launch {
        sweep: Some(sweep.into()),
        coordinator: Some("127.0.0.1:50999".into()),
        run_dir: Some(run_dir.clone()),
        forgebench: Some(fake.clone()),
        dry_run: false,
        flags: SlurmFlags::default(),
    };
    // The configured token file is readable by all; the launcher hands the tasks a private copy.
    std::fs::write(dir.path().join("cluster-token"), TOKEN).expect("token");
    run(&cfg, &config_path, &launch_cmd("slurm-cli")).expect("forgebench slurm launch");
    let mode = std::fs::metadata(run_dir.join("token"))
        .expect("copy")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let rows = ledger.slurm_jobs(Some(&second)).expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let cli_job = rows[0].job.clone();
    wait_for("the launched workers", || recorded(&rec, &cli_job).len() == 3);
    run(&cfg, &config_path, &SlurmCmd::Status { sweep: None }).expect("forgebench slurm status");
    assert_eq!(
        ledger.slurm_jobs(Some(&second)).expect("rows")[0].state,
        SlurmState::Running
    );
    let cancel = SlurmCmd::Cancel {
        sweep: "slurm-cli".into(),
    };
    run(&cfg, &config_path, &cancel).expect("forgebench slurm cancel");
    wait_for("squeue to drop the cancelled job", || !in_squeue(&cli_job));
    assert_eq!(
        ledger.slurm_jobs(Some(&second)).expect("rows")[0].state,
        SlurmState::Stopped
    );
    let err = run(&cfg, &config_path, &launch_cmd(&sweep.0)).expect_err("the first sweep is complete");
    assert!(err.to_string().contains("is complete"), "{err}");
}
