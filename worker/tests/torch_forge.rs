//! Forging a PyTorch user's run against its own model and optimiser (`torch-forge`): a TorchScript LeNet-5 trained
//! with momentum SGD and weight decay, one step attacked by greedy, local and optimisation forging, each error set
//! beside the benign replay of the logged batch in the writer's environment and in another CPU profile.
mod torch_common;

use forgebench_shared::optim::Optimizer;
use forgebench_shared::torch_forge::TorchForgeReport;
use forgebench_worker::cli::spawn::command_with;
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use torch_common::{profiles, repo, tmp};

const WORKER: &str = env!("CARGO_BIN_EXE_forgebench-worker");
const MOMENTUM: &str = r#"{"kind":"sgd","momentum":0.9,"dampening":0.0,"nesterov":false,"weight_decay":0.0001}"#;

fn train(out: &Path, every: &str) {
    let model = repo().join("data/models/lenet5.pt");
    let o = Command::new(WORKER)
        .env_remove("FORGEBENCH_PROFILE_JSON")
        .args(["pol-train", "--model", model.to_str().unwrap(), "--optimizer", MOMENTUM])
        .args([
            "--batch-size",
            "16",
            "--steps",
            "3",
            "--eta",
            "0.05",
            "--checkpoint-every",
            every,
        ])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "pol-train: {}", String::from_utf8_lossy(&o.stderr));
}

fn forge(mut cmd: Command, log: &Path, extra: &[&str], tag: &str) -> (Option<TorchForgeReport>, String) {
    let report = tmp(&format!("forge-{tag}.json"));
    let o = cmd
        .args(["torch-forge", "--step", "1", "--seed", "7"])
        .arg("--log")
        .arg(log)
        .arg("--out")
        .arg(&report)
        .args(extra)
        .output()
        .unwrap();
    let parsed = o
        .status
        .success()
        .then(|| serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).expect("a TorchForgeReport"));
    (parsed, String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn every_attack_on_a_momentum_step_stays_far_above_the_benign_replay() {
    let log = tmp("forge-log");
    train(&log, "1");
    let attacks = [
        "--pool",
        "48",
        "--candidates",
        "24",
        "--local-moves",
        "1",
        "--synthetic-iterations",
        "15",
    ];
    let mut here = Command::new(WORKER);
    here.env_remove("FORGEBENCH_PROFILE_JSON");
    let (r, err) = forge(here, &log, &attacks, "here");
    let r = r.unwrap_or_else(|| panic!("torch-forge failed: {err}"));
    let want: Optimizer = serde_json::from_str(MOMENTUM).unwrap();
    assert_eq!(r.optimizer, want, "the report states the optimiser forged against");
    assert_eq!((r.step, r.batch_size, r.pool), (1, 16, 48));
    assert_eq!(
        r.benign.l2, 0.0,
        "the logged batch replays bit for bit where it was trained"
    );
    let greedy = r.greedy.as_ref().expect("greedy ran");
    let local = r.local.as_ref().expect("local search ran");
    let synthetic = r.synthetic.as_ref().expect("optimisation forging ran");
    assert_eq!(greedy.evaluated, 24);
    assert!(
        local.moves <= 1 && local.error.l2 <= greedy.error.l2,
        "local {local:?} vs greedy {greedy:?}"
    );
    assert_eq!(synthetic.curve_l2.len(), 16);
    // The curve is the differentiable replay's objective, the kept error the optimiser's own kernel: they agree to
    // about 1e-11 relative, so a batch kept at its start may measure that much above the curve's first point.
    assert!(
        synthetic.error.l2 <= synthetic.curve_l2[0] * (1.0 + 1e-9),
        "the kept synthetic batch ({:e}) is no worse than its start ({:e})",
        synthetic.error.l2,
        synthetic.curve_l2[0]
    );
    // The forged batches avoid the logged one (a forger claims its examples were never used).
    let used: HashSet<usize> = forgebench_worker::torchrun::forgebench_log::read(
        &log,
        forgebench_worker::torchrun::forgebench_log::manifest(&log).unwrap(),
    )
    .unwrap()
    .batches[1]
        .iter()
        .copied()
        .collect();
    for arm in [greedy, local] {
        assert_eq!(arm.batch.len(), 16);
        assert!(
            arm.batch.iter().all(|i| !used.contains(i)),
            "{:?} meets the logged batch",
            arm.batch
        );
    }
    // Another profile's replay of the logged batch is the benign noise every attack must be judged against.
    let other = &profiles()[2];
    let (o, err) = forge(
        command_with(Path::new(WORKER), other).unwrap(),
        &log,
        &["--pool", "0", "--synthetic-iterations", "0"],
        "other",
    );
    let benign = o
        .unwrap_or_else(|| panic!("torch-forge in {}: {err}", other.name))
        .benign
        .l2;
    assert!(
        benign > 0.0 && benign < 1e-5,
        "benign cross-profile noise in {}: {benign:e}",
        other.name
    );
    eprintln!(
        "benign {benign:e} ({}), greedy {:e}, local {:e}, synthetic {:e}",
        other.name, greedy.error.l2, local.error.l2, synthetic.error.l2
    );
    for (name, e) in [
        ("greedy", greedy.error.l2),
        ("local", local.error.l2),
        ("synthetic", synthetic.error.l2),
    ] {
        assert!(
            e > 1e3 * benign,
            "{name} forging ({e:e}) within 1000x of the benign noise ({benign:e})"
        );
    }
}

#[test]
fn a_step_without_its_checkpoints_is_refused_naming_the_steps() {
    let log = tmp("forge-sparse");
    train(&log, "2");
    let mut here = Command::new(WORKER);
    here.env_remove("FORGEBENCH_PROFILE_JSON");
    let (r, err) = forge(here, &log, &["--pool", "32", "--candidates", "2"], "sparse");
    assert!(r.is_none(), "forged a step the log cannot replay");
    assert!(
        err.contains("forging step 1 needs checkpoints at steps 1 and 2") && err.contains("[0, 2, 3]"),
        "{err}"
    );
}
