//! Chaos on a whole loopback cluster of real processes: a 36-job reproduction sweep runs while workers are
//! SIGKILLed (and restarted), the coordinator is SIGKILLed twice (and restarted), and one worker is SIGSTOPped past
//! its lease and then resumed. The sweep must end with tables bit-identical to the single-machine matrices, no
//! finished job redone, no partial file in the artifact store and a ledger that passes SQLite's integrity check.
mod e2e;

use e2e::*;
use forgebench_coordinator::ledger::JobState;
use forgebench_shared::ids::SweepId;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

const SEEDS: [u64; 3] = [11, 12, 13];

/// What happens once the sweep has finished a given number of jobs.
#[derive(Debug, Clone, Copy)]
enum Event {
    KillWorker(usize),
    KillCoordinator,
    StopWorker(usize),
}

struct Chaos {
    c: Cluster,
    coordinator: Proc,
    workers: Vec<Proc>,
    starts: usize,
}

impl Chaos {
    fn start_coordinator(c: &Cluster, n: usize) -> Proc {
        let p = c.spawn(&["coordinator"], &format!("coordinator-{n}.log"));
        let addr = format!("127.0.0.1:{}", c.port);
        assert!(
            wait_for(30, || std::net::TcpStream::connect(&addr).is_ok()),
            "coordinator {n} listening"
        );
        p
    }

    fn start_worker(&mut self, i: usize) -> Proc {
        self.starts += 1;
        let work = self.c.path().join("w");
        let name = &profile_names()[i];
        let args = ["worker", "--profile", name, "--work-dir", work.to_str().expect("utf-8")];
        self.c.spawn(&args, &format!("{name}-{}.log", self.starts))
    }

    fn done(&self, id: &SweepId) -> HashMap<String, u32> {
        self.c
            .ledger()
            .sweep_jobs(id)
            .map(|jobs| {
                jobs.into_iter()
                    .filter(|j| j.state == JobState::Done)
                    .map(|j| (j.id.0, j.attempts))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn signal(sig: &str, pid: u32) {
    let ok = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(ok.success(), "kill {sig} {pid}");
}

/// Records the finished jobs of `now` in `finished`; a job already there must have kept its attempt count.
fn note(now: HashMap<String, u32>, finished: &mut HashMap<String, u32>) {
    for (job, attempts) in now {
        let first = *finished.entry(job.clone()).or_insert(attempts);
        assert_eq!(first, attempts, "{job} was finished with {first} attempts, then redone");
    }
}

#[test]
fn a_sweep_survives_killed_workers_killed_coordinators_and_a_stopped_worker() {
    let sweep = format!(
        "experiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [100]\nseeds = {SEEDS:?}\n\
         triples = 20\ndevices = \"all\"\nverification = \"exhaustive\"\n"
    );
    let c = Cluster::new(&sweep);
    let coordinator = Chaos::start_coordinator(&c, 1);
    let mut chaos = Chaos {
        c,
        coordinator,
        workers: Vec::new(),
        starts: 0,
    };
    for i in 0..3 {
        let w = chaos.start_worker(i);
        chaos.workers.push(w);
    }
    let o = chaos.c.cmd(&["submit"]).output().expect("submit");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = SweepId(String::from_utf8_lossy(&o.stdout).trim().to_owned());
    // Each device's jobs are planned when its worker registers.
    let total = || chaos.c.ledger().sweep_status(&id).map(|s| s.total()).unwrap_or(0);
    assert!(wait_for(60, || total() >= 30), "{} jobs", total());
    let total = total();

    use Event::*;
    let schedule = [
        (2, KillWorker(0)),
        (5, KillCoordinator),
        (8, KillWorker(1)),
        (11, StopWorker(2)),
        (14, KillWorker(2)),
        (17, KillCoordinator),
        (20, KillWorker(0)),
        (23, KillWorker(1)),
    ];
    let started = Instant::now();
    // Every finished job with its attempt count when first seen finished: it must never change.
    let mut finished: HashMap<String, u32> = HashMap::new();
    let mut coordinators = 1;
    for (at, event) in schedule {
        assert!(
            wait_for(120, || chaos.done(&id).len() >= at),
            "{at} jobs done before {event:?} (after {:?})",
            started.elapsed()
        );
        let now = chaos.done(&id);
        assert!(now.len() < total as usize, "{event:?} lands mid-sweep");
        note(now, &mut finished);
        match event {
            KillWorker(i) => {
                kill9(chaos.workers[i].pid());
                let _ = chaos.workers[i].wait(10);
                chaos.workers[i] = chaos.start_worker(i);
            }
            KillCoordinator => {
                kill9(chaos.coordinator.pid());
                assert!(chaos.coordinator.wait(10).is_some(), "the coordinator is gone");
                coordinators += 1;
                chaos.coordinator = Chaos::start_coordinator(&chaos.c, coordinators);
            }
            StopWorker(i) => {
                let path = chaos.c.path().to_string_lossy().into_owned();
                let who = format!("{}@", profile_names()[i]);
                let pids = root_pids_with(&["forgebench-worker", "serve", &who, &path]);
                assert_eq!(pids.len(), 1, "one {who} worker process: {pids:?}");
                signal("-STOP", pids[0]);
                // Past the cluster's 4 s lease: the coordinator requeues its job; resumed, it must drop that result.
                std::thread::sleep(Duration::from_secs(6));
                signal("-CONT", pids[0]);
            }
        }
    }
    assert!(
        wait_for(150, || chaos
            .c
            .ledger()
            .sweep_status(&id)
            .map(|s| s.complete())
            .unwrap_or(false)),
        "the sweep completed (after {:?})",
        started.elapsed()
    );
    let status = chaos.c.ledger().sweep_status(&id).expect("status");
    assert_eq!(status.counts[2], total, "every job done: {:?}", status.failures);
    note(chaos.done(&id), &mut finished);

    let o = chaos
        .c
        .cmd(&["tables", "--sweep", &id.0, "--format", "json"])
        .output()
        .expect("tables");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tables: Vec<forgebench_shared::tables::CrossDeviceMatrix> = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(tables.len(), SEEDS.len());
    for seed in SEEDS {
        let m = tables
            .iter()
            .find(|m| m.key.experiment.contains(&format!("seed={seed}")))
            .unwrap_or_else(|| panic!("a matrix for seed {seed}"));
        let single = single_machine_matrix(&chaos.c.path().join(format!("single-{seed}")), "logreg", 100, 20, seed);
        assert_same_cells(m, &single);
    }
    let store = chaos.c.path().join("artifacts");
    let partial: Vec<String> = std::fs::read_dir(&store)
        .expect("store")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part"))
        .collect();
    assert!(partial.is_empty(), "partial files in the store: {partial:?}");
    assert_eq!(chaos.c.ledger().integrity_check().expect("check"), "ok");
}
