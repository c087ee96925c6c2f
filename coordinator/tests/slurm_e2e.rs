//! A sweep whose workers are started through a real single-node Slurm: the tables equal, bit for bit, those of the
//! single-machine matrix command on the same seeds; the workers' Slurm job cancelled by hand mid-sweep is
//! resubmitted by the coordinator's watcher and the tables stay identical; afterwards no Slurm job of the sweep is
//! left in `squeue`.
#[path = "../../tests/e2e/mod.rs"]
mod e2e;
mod slurm_common;

use e2e::{assert_same_cells, single_machine_matrix, wait_for, Cluster};
use forgebench_shared::ids::SweepId;
use forgebench_shared::tables::CrossDeviceMatrix;
use slurm_common::{in_squeue, scancel_by_hand, slurm_conf, RealSlurm};

const SWEEP: &str = "experiments = [\"reproduction\"]\nmodels = [\"lenet5\"]\nbatch_sizes = [100]\nseeds = [11]\n\
                     triples = 40\ndevices = \"all\"\n";

/// `--overcommit`: three one-thread tasks on a machine that may have fewer cores; the watcher looks every second.
const SLURM: &str = "[slurm]\ntime_limit = \"10\"\nsbatch_options = [\"--overcommit\"]\npoll_seconds = 1.0\n";

fn done(c: &Cluster, id: &SweepId) -> u32 {
    c.ledger().sweep_status(id).map_or(0, |s| s.counts[2])
}

#[test]
fn workers_launched_through_slurm_give_the_local_tables_and_survive_scancel() {
    let Some(_slurm) = RealSlurm::start("workers_launched_through_slurm") else {
        return;
    };
    let c = Cluster::with_tables(SWEEP, SLURM);
    let with_slurm = |args: &[&str]| {
        let mut cmd = c.cmd(args);
        cmd.env("SLURM_CONF", slurm_conf());
        cmd
    };
    let log = std::fs::File::create(c.path().join("coord.log")).expect("log");
    let _coord = e2e::Proc(
        with_slurm(&["coordinator"])
            .stdout(log.try_clone().expect("clone"))
            .stderr(log)
            .spawn()
            .expect("coordinator"),
    );
    let addr = format!("127.0.0.1:{}", c.port);
    assert!(
        wait_for(30, || std::net::TcpStream::connect(&addr).is_ok()),
        "coordinator up"
    );
    let o = with_slurm(&["submit"]).output().expect("submit");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = SweepId(String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let o = with_slurm(&["slurm", "launch", "--sweep", &id.0, "--coordinator", &addr])
        .output()
        .expect("launch");
    assert!(
        o.status.success(),
        "slurm launch: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let first = c.ledger().slurm_jobs(Some(&id)).expect("slurm jobs");
    assert_eq!(first.len(), 1, "the launch is recorded with the sweep");
    let job = first[0].job.clone();
    assert!(wait_for(120, || done(&c, &id) >= 2), "the Slurm workers finish jobs");
    let total = c.ledger().sweep_status(&id).expect("status").total();
    assert!(done(&c, &id) < total, "the cancel lands mid-sweep");
    scancel_by_hand(&job);
    let resubmitted = || {
        c.ledger()
            .slurm_jobs(Some(&id))
            .map(|j| j.iter().any(|r| r.job != job))
            .unwrap_or(false)
    };
    assert!(wait_for(60, resubmitted), "the watcher resubmitted the cancelled job");
    let complete = || c.ledger().sweep_status(&id).map(|s| s.complete()).unwrap_or(false);
    assert!(
        wait_for(300, complete),
        "the sweep completes on the resubmitted workers"
    );
    let o = with_slurm(&["status", "--sweep", &id.0]).output().expect("status");
    let status = String::from_utf8_lossy(&o.stdout);
    assert!(
        status.contains("slurm jobs:") && status.contains(&job.0),
        "status shows the Slurm jobs:\n{status}"
    );
    let o = with_slurm(&["tables", "--sweep", &id.0, "--format", "json"])
        .output()
        .expect("tables");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Vec<CrossDeviceMatrix> = serde_json::from_slice(&o.stdout).expect("json");
    let single = single_machine_matrix(&c.path().join("single"), "lenet5", 100, 40, 11);
    assert_same_cells(&m[0], &single);
    let jobs = c.ledger().slurm_jobs(Some(&id)).expect("slurm jobs");
    assert!(
        wait_for(60, || jobs.iter().all(|j| !in_squeue(&j.job))),
        "no Slurm job of the sweep is left in squeue: {jobs:?}"
    );
    let script = std::fs::read_to_string(&first[0].script).expect("the submitted script");
    let token = std::fs::read_to_string(c.path().join("token")).expect("token");
    assert!(script.contains("srun"), "a real sbatch script:\n{script}");
    assert!(!script.contains(token.trim()), "the token is not in the script");
}
