//! Tests of the Slurm launcher without a cluster: the rendered script (read and executed with stand-ins for
//! srun, nvidia-smi and forgebench), the ledger's records, and the watcher's decisions against a fake Slurm.
mod script;
mod watch;

use super::*;
use forgebench_shared::config::{ClusterConfig, SweepConfig};
use std::path::Path;

/// Two CPU profiles and one GPU profile, a `[slurm]` table with two GPUs per node.
pub(super) const CLUSTER: &str = r#"
[coordinator]
listen = "0.0.0.0:50151"
ledger = "runs/l.sqlite"

[[profile]]
name = "cpu-avx2"
[profile.cpu]
aten_cpu_capability = "avx2"
threads = 1

[[profile]]
name = "cpu-default"
[profile.cpu]
aten_cpu_capability = "default"
threads = 2
onednn = false

[[profile]]
name = "a100-strict"
device = "cuda:0"
[profile.gpu]
cublas_workspace_config = ":4096:8"
nvidia_tf32_override = false

[slurm]
partition = "gpu"
account = "lab-42"
time_limit = "2:00:00"
gpus_per_node = 2
setup = ["export SITE_READY=yes"]
sbatch_options = ["--qos=high"]
"#;

pub(super) fn cluster() -> ClusterConfig {
    ClusterConfig::from_toml_str(CLUSTER, Path::new("test.toml")).expect("valid test cluster")
}

#[test]
fn slurm_words_map_to_states() {
    assert_eq!(SlurmState::from_slurm("PENDING"), Some(SlurmState::Queued));
    assert_eq!(SlurmState::from_slurm("COMPLETING"), Some(SlurmState::Running));
    assert_eq!(SlurmState::from_slurm("CANCELLED by 0"), Some(SlurmState::Cancelled));
    assert_eq!(SlurmState::from_slurm("TIMEOUT"), Some(SlurmState::Failed));
    assert_eq!(SlurmState::from_slurm("PREEMPTED"), Some(SlurmState::Preempted));
    assert_eq!(SlurmState::from_slurm("WHATEVER"), None);
    for s in SlurmState::ALL {
        assert_eq!(SlurmState::parse(s.as_str()).expect("round trip"), s);
    }
    assert_eq!(SlurmJobId::parse_parsable("4242;ci\n").expect("id").0, "4242");
    assert!(SlurmJobId::parse_parsable("sbatch: error: oops").is_err());
}

#[test]
fn flags_override_and_extend_the_table() {
    let cfg = cluster();
    let flags = SlurmFlags {
        partition: Some("debug".into()),
        time: Some("30".into()),
        sbatch_options: vec!["--exclusive".into()],
        ..SlurmFlags::default()
    };
    let s = flags.apply(cfg.slurm.as_ref()).expect("valid");
    assert_eq!(
        (s.partition.as_deref(), s.account.as_deref()),
        (Some("debug"), Some("lab-42"))
    );
    assert_eq!(s.time_limit.as_deref(), Some("30"));
    assert_eq!(s.sbatch_options, ["--qos=high", "--exclusive"]);
    let bad = SlurmFlags {
        time: Some("soon".into()),
        ..SlurmFlags::default()
    };
    let err = bad.apply(None).expect_err("bad time").to_string();
    assert!(err.contains("slurm.time_limit"), "{err}");
}

#[test]
fn command_line_parses() {
    use clap::{CommandFactory, Parser};
    #[derive(Parser)]
    struct Top {
        #[command(subcommand)]
        cmd: SlurmCmd,
    }
    Top::command().debug_assert();
    let top = Top::try_parse_from([
        "forgebench",
        "launch",
        "--sweep",
        "repro-small",
        "--dry-run",
        "--partition",
        "gpu",
        "--sbatch-option=--qos=high",
        "--sbatch-option",
        "--exclusive",
        "--setup",
        "module load cuda",
        "--gpus-per-node",
        "4",
    ])
    .expect("parses");
    let SlurmCmd::Launch {
        sweep, dry_run, flags, ..
    } = top.cmd
    else {
        panic!("not launch")
    };
    assert_eq!((sweep.as_deref(), dry_run), (Some("repro-small"), true));
    assert_eq!(flags.sbatch_options, ["--qos=high", "--exclusive"]);
    assert_eq!(flags.setup, ["module load cuda"]);
    let s = flags.apply(None).expect("valid");
    assert_eq!(s.gpus_per_node, Some(forgebench_shared::config::GpusPerNode::Count(4)));
    assert!(
        Top::try_parse_from(["forgebench", "cancel"]).is_err(),
        "cancel names its sweep"
    );
}

#[test]
fn dry_run_needs_a_submitted_sweep_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger_path = dir.path().join("l.sqlite");
    let text = CLUSTER.replace("runs/l.sqlite", &ledger_path.display().to_string());
    let cfg = ClusterConfig::from_toml_str(&text, Path::new("test.toml")).expect("config");
    let run_dir = dir.path().join("slurm");
    let cmd = |sweep: &str| SlurmCmd::Launch {
        sweep: Some(sweep.into()),
        coordinator: None,
        run_dir: Some(run_dir.clone()),
        forgebench: Some(dir.path().join("forgebench")),
        dry_run: true,
        flags: SlurmFlags::default(),
    };
    let err = run(&cfg, Path::new("test.toml"), &cmd("cpu-sweep")).expect_err("not submitted");
    assert!(err.to_string().contains("submit it first"), "{err}");
    let sweep = SweepConfig::from_toml_str(
        "name = \"cpu-sweep\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [10]\n\
         seeds = [0]\ntriples = 2\ndevices = [\"cpu-avx2\"]\n",
    )
    .expect("sweep");
    let profiles = vec![cfg.profiles[0].clone()];
    let (id, fp) = crate::plan::sweep_identity(&sweep, &profiles);
    let rec = crate::ledger::SweepRecord {
        id: &id,
        name: "cpu-sweep",
        fingerprint: &fp,
        config_toml: &toml::to_string(&sweep).expect("toml"),
        profiles: &profiles,
    };
    let ledger = crate::ledger::Ledger::open(&ledger_path).expect("ledger");
    ledger.insert_sweep(rec).expect("insert");
    run(&cfg, Path::new("test.toml"), &cmd("cpu-sweep")).expect("dry run by name");
    run(&cfg, Path::new("test.toml"), &cmd(&id.0)).expect("dry run by id");
    assert!(!run_dir.exists(), "a dry run writes no script and no token");
    assert!(ledger.slurm_jobs(None).expect("rows").is_empty(), "and records nothing");
}
