//! The whole cluster on loopback, with real processes: `forgebench up` against the single-machine matrix command
//! (bit for bit), a worker killed with SIGKILL mid-sweep, and a coordinator killed with SIGKILL and restarted.
mod e2e;

use e2e::*;
use forgebench_coordinator::ledger::JobState;
use std::collections::HashMap;
use std::sync::Mutex;

/// These tests start many processes; on a small machine they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const LENET: &str = "experiments = [\"reproduction\"]\nmodels = [\"lenet5\"]\nbatch_sizes = [100]\nseeds = [SEED]\n\
                     triples = TRIPLES\ndevices = \"all\"\n";

fn lenet_sweep(seed: u64, triples: usize) -> String {
    LENET
        .replace("SEED", &seed.to_string())
        .replace("TRIPLES", &triples.to_string())
}

fn sweep_id(c: &Cluster) -> Option<forgebench_shared::ids::SweepId> {
    c.ledger().sweep_ids().ok()?.into_iter().next()
}

fn done_jobs(c: &Cluster) -> u32 {
    sweep_id(c)
        .and_then(|id| c.ledger().sweep_status(&id).ok())
        .map_or(0, |s| s.counts[2])
}

#[test]
fn up_gives_the_single_machine_matrix_bit_for_bit() {
    let _g = serial();
    let c = Cluster::new(&(lenet_sweep(3, 8) + "explain = true\n"));
    let out = c.path().join("up");
    let o = c
        .cmd(&["up", "--out", out.to_str().expect("utf-8")])
        .output()
        .expect("run up");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "up failed: {}", String::from_utf8_lossy(&o.stderr));
    let names = profile_names();
    assert!(
        stdout.contains(&format!("| {} |", names[0])),
        "the tables are printed:\n{stdout}"
    );
    assert!(out.join("report").join("index.html").exists(), "the report is written");
    let cluster = Cluster::results_matrices(&out);
    assert_eq!(cluster.len(), 1);
    let single = single_machine_matrix(&c.path().join("single"), "lenet5", 100, 8, 3);
    assert_same_cells(&cluster[0], &single);
    // Off the diagonal the profiles really differ, on it they agree exactly.
    let cells = &cluster[0].cells;
    assert_eq!(cells[1][1].as_ref().expect("diag").summary.l2.max, 0.0);
    assert!(cells[0][2].as_ref().expect("cell").summary.l2.max > 0.0);
    assert_eq!(
        cells[0][2].as_ref().expect("cell").l2.len(),
        8,
        "each triple's error is kept"
    );

    // Why the devices differ: every cell off the diagonal explained from the traces, and the pair on demand.
    let explained: Vec<_> = std::fs::read_dir(out.join("results").join("explain"))
        .expect("explain folder")
        .collect();
    assert_eq!(explained.len(), 1);
    let id = sweep_id(&c).expect("sweep").0;
    let o = c
        .cmd(&[
            "explain",
            "--sweep",
            &id,
            "--pair",
            &format!("{},cpu-default", names[0]),
        ])
        .output()
        .expect("explain");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("They part at ") && text.contains("| update |"), "{text}");

    // The hardware database: the finished sweep is recorded when first read; the pooled table of one source is
    // the sweep's own; importing the results folder (as another lab would send it) doubles every cell's triples.
    let all = |c: &Cluster| -> Vec<serde_json::Value> {
        let o = c
            .cmd(&["tables", "--all", "--format", "json"])
            .output()
            .expect("tables --all");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).expect("json")
    };
    let pooled: forgebench_shared::tables::CrossDeviceMatrix =
        serde_json::from_value(all(&c)[0]["matrix"].clone()).expect("matrix");
    assert_same_cells(&reordered_like(&pooled, &cluster[0]), &cluster[0]);
    let results = out.join("results");
    let o = c
        .cmd(&["import", results.to_str().expect("utf-8"), "--label", "lab-b"])
        .output()
        .expect("import");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pooled: forgebench_shared::tables::CrossDeviceMatrix =
        serde_json::from_value(all(&c)[0]["matrix"].clone()).expect("matrix");
    let doubled = reordered_like(&pooled, &cluster[0]).cells[0][2]
        .clone()
        .expect("cell")
        .summary
        .l2;
    let own = cells[0][2].as_ref().expect("cell").summary.l2;
    assert_eq!((doubled.n, doubled.max), (2 * own.n, own.max));
    let o = c
        .cmd(&["compare", &profile_names()[0], "cpu-default"])
        .output()
        .expect("compare");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains(&forgebench_shared::numfmt::error(own.max)) && text.contains("lab-b"),
        "the pair's table shows the cell and its sources:\n{text}"
    );
}

#[test]
fn a_worker_killed_mid_sweep_is_restarted_and_the_tables_stay_identical() {
    let _g = serial();
    let c = Cluster::new(&lenet_sweep(5, 60));
    let out = c.path().join("up");
    let mut up = c.spawn(&["up", "--out", out.to_str().expect("utf-8")], "up.log");
    assert!(wait_for(120, || done_jobs(&c) >= 2), "two jobs finished");
    let path = c.path().to_string_lossy().into_owned();
    let victims = root_pids_with(&["forgebench-worker", "serve", "cpu-avx2@", &path]);
    let lines: Vec<String> = victims.iter().map(|p| cmdline(*p)).collect();
    assert_eq!(victims.len(), 1, "one cpu-avx2 worker process: {lines:#?}");
    let total = sweep_id(&c)
        .map(|id| c.ledger().sweep_status(&id).expect("status").total())
        .expect("sweep");
    assert!(done_jobs(&c) < total, "the kill lands mid-sweep");
    kill9(victims[0]);
    let status = up.wait(300).expect("up finishes");
    let log = std::fs::read_to_string(c.path().join("up.log")).expect("log");
    assert!(status.success(), "up failed:\n{log}");
    assert!(
        log.contains("restarted 1 time"),
        "the supervisor restarted the worker:\n{log}"
    );
    let cluster = Cluster::results_matrices(&out);
    let single = single_machine_matrix(&c.path().join("single"), "lenet5", 100, 60, 5);
    assert_same_cells(&cluster[0], &single);
}

#[test]
fn a_coordinator_killed_mid_sweep_resumes_without_redoing_finished_jobs() {
    let _g = serial();
    let c = Cluster::new(&lenet_sweep(9, 60));
    let mut coord = c.spawn(&["coordinator"], "coord1.log");
    let addr = format!("127.0.0.1:{}", c.port);
    assert!(
        wait_for(30, || std::net::TcpStream::connect(&addr).is_ok()),
        "coordinator up"
    );
    let work = c.path().join("w");
    let mut workers = Vec::new();
    for p in &profile_names() {
        let args = ["worker", "--profile", p, "--work-dir", work.to_str().expect("utf-8")];
        workers.push(c.spawn(&args, &format!("{p}.log")));
    }
    let o = c.cmd(&["submit"]).output().expect("submit");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(wait_for(120, || done_jobs(&c) >= 3), "three jobs finished");
    kill9(coord.pid());
    assert!(coord.wait(10).is_some(), "the coordinator is gone");
    let before: HashMap<String, u32> = c
        .ledger()
        .sweep_jobs(&forgebench_shared::ids::SweepId(id.clone()))
        .expect("jobs")
        .into_iter()
        .filter(|j| j.state == JobState::Done)
        .map(|j| (j.id.0, j.attempts))
        .collect();
    let total = c
        .ledger()
        .sweep_status(&forgebench_shared::ids::SweepId(id.clone()))
        .expect("status")
        .total();
    assert!(
        before.len() >= 3 && (before.len() as u32) < total,
        "killed mid-sweep: {} done",
        before.len()
    );
    let _coord2 = c.spawn(&["coordinator"], "coord2.log");
    let sid = forgebench_shared::ids::SweepId(id.clone());
    assert!(
        wait_for(300, || c
            .ledger()
            .sweep_status(&sid)
            .map(|s| s.complete())
            .unwrap_or(false)),
        "the restarted coordinator finished the sweep"
    );
    let after = c.ledger().sweep_jobs(&sid).expect("jobs");
    for j in &after {
        assert_eq!(j.state, JobState::Done, "{} is done", j.id);
        if let Some(&a) = before.get(&j.id.0) {
            assert_eq!(
                j.attempts, a,
                "{} was finished before the kill and was not redone",
                j.id
            );
        }
    }
    let o = c
        .cmd(&["tables", "--sweep", &id, "--format", "json"])
        .output()
        .expect("tables");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Vec<forgebench_shared::tables::CrossDeviceMatrix> = serde_json::from_slice(&o.stdout).expect("json");
    let single = single_machine_matrix(&c.path().join("single"), "lenet5", 100, 60, 9);
    assert_same_cells(&m[0], &single);
    drop(workers);
}

#[test]
fn up_gives_a_torchscript_models_single_machine_matrix_bit_for_bit_and_its_shuffles_and_forged_step() {
    let _g = serial();
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/data/models/lenet5.pt");
    let optimizer = r#"{"kind":"sgd","momentum":0.9,"dampening":0.0,"nesterov":false,"weight_decay":0.0001}"#;
    let c = Cluster::new(&format!(
        "experiments = [\"reproduction\", \"shuffle\", \"greedy\", \"local\", \"adam\"]\nbatch_sizes = [16]\n\
         seeds = [4]\ntriples = 2\ndevices = \"all\"\nshuffles = 3\nforge_pool = 24\nforge_candidates = 4\n\
         local_moves = 1\nadam_iterations = 3\n\
         torch_models = [{{ file = {model:?}, optimizer = {{ kind = \"sgd\", momentum = 0.9, weight_decay = 0.0001 \
         }} }}]\n"
    ));
    let out = c.path().join("up");
    let o = c
        .cmd(&["up", "--out", out.to_str().expect("utf-8")])
        .output()
        .expect("run up");
    assert!(o.status.success(), "up failed: {}", String::from_utf8_lossy(&o.stderr));
    let dir = out.join("results").join("torch");
    let files: Vec<_> = std::fs::read_dir(&dir).expect("torch results").collect();
    assert_eq!(files.len(), 1, "one model, batch size and seed");
    let path = dir.join("torch-lenet5-mnist-b16-s4.json");
    let cluster: forgebench_shared::torchrun::TorchMatrix =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("matrix")).expect("json");
    let single_dir = c.path().join("single");
    let st = std::process::Command::new(bin_dir().join("forgebench-worker"))
        .args(["torch-matrix", "--model", model, "--optimizer", optimizer])
        .args(["--batch-size", "16", "--steps", "2", "--seed", "4", "--out"])
        .arg(&single_dir)
        .output()
        .expect("torch-matrix");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let single: forgebench_shared::torchrun::TorchMatrix =
        serde_json::from_str(&std::fs::read_to_string(single_dir.join("matrix.json")).expect("matrix.json"))
            .expect("json");
    let cell = |m: &forgebench_shared::torchrun::TorchMatrix, w: &str, v: &str| {
        let i = |d: &str| m.devices.iter().position(|x| x == d).expect("device");
        m.l2_max[i(w)][i(v)].to_bits()
    };
    assert_eq!(cluster.devices.len(), single.devices.len());
    for w in &single.devices {
        for v in &single.devices {
            assert_eq!(cell(&cluster, w, v), cell(&single, w, v), "{w} on {v}");
        }
    }
    assert_eq!(cell(&cluster, "cpu-avx2", "cpu-avx2"), 0f64.to_bits());
    assert!(f64::from_bits(cell(&cluster, &profile_names()[0], "cpu-default")) > 0.0);
    let report = std::fs::read_to_string(out.join("report").join("tables").join("torch-matrices.md")).expect("md");
    assert!(report.contains("torch-lenet5-mnist-b16-s4"), "{report}");
    let json_files = |sub: &str| -> Vec<serde_json::Value> {
        let mut v: Vec<_> = std::fs::read_dir(out.join("results").join(sub))
            .expect(sub)
            .map(|e| e.expect("entry").path())
            .collect();
        v.sort();
        v.iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json"))
            .collect()
    };
    let shuffles = json_files("torch-shuffle");
    assert_eq!(shuffles.len(), single.devices.len(), "a shuffle per device");
    assert!(shuffles.iter().all(|s| s["errors"].as_array().map(Vec::len) == Some(3)));
    let forged = json_files("torch-forge");
    assert_eq!(
        forged.len(),
        1,
        "step 0 of the first device's log (two steps: one forgeable)"
    );
    let f: forgebench_shared::torch_forge::TorchForgeReport =
        serde_json::from_value(forged[0].clone()).expect("report");
    // The first device replays its own log's batch bit for bit; every attack lands above the whole matrix.
    assert_eq!(f.benign.l2, 0.0, "{:?}", f.benign);
    let benign = cluster.l2_max.iter().flatten().copied().fold(0.0, f64::max);
    let (greedy, local) = (f.greedy.expect("greedy"), f.local.expect("local"));
    let synthetic = f.synthetic.expect("synthetic");
    assert!(
        local.error.l2 <= greedy.error.l2,
        "{} > {}",
        local.error.l2,
        greedy.error.l2
    );
    for (arm, l2) in [
        ("greedy", greedy.error.l2),
        ("local", local.error.l2),
        ("synthetic", synthetic.error.l2),
    ] {
        assert!(l2 > 100.0 * benign, "{arm}: {l2} against the largest benign {benign}");
    }
    let runs = std::fs::read_to_string(out.join("report").join("tables").join("runs.md")).expect("runs.md");
    assert!(
        runs.contains("forging one step against the run's own optimiser"),
        "{runs}"
    );
}
