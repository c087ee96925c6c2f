//! PyTorch users' runs, trained in real PyTorch (`worker/python/train.py`) and verified by forgebench on three CPU
//! profiles: the bundled Python module's log and the public PoL code's layout; every honest step passes at the
//! threshold calibrated from another honest run, and a log that claims another batch for one step fails at that
//! step alone.
mod torch_common;

use forgebench_shared::torchrun::TorchRunReport;
use torch_common::{profiles, python, report_path, tmp, train, verify, verify_ambient};

/// Trains honest runs A and B and a forged B (step 2's batch replaced in the log), verifies each on the three
/// profiles; A's reports calibrate the threshold for B.
fn honest_pass_and_forged_step_fails(tag: &str, args: &[&str], public: bool) {
    let folder = |name: &str| tmp(&format!("{tag}-{name}"));
    let model = |name: &str| format!("{}.pt", folder(name).display());
    let run = |name: &str, seed: &str, forge: bool| {
        let mut a = args.to_vec();
        a.extend(["--seed", seed]);
        if forge {
            a.extend(["--forge-step", "2"]);
        }
        train(&folder(name), &a);
    };
    run("a", "1", false);
    run("b", "2", false);
    run("f", "2", true);
    let with_model = |name: &str, extra: &[String]| {
        let mut v: Vec<String> = extra.to_vec();
        if public {
            v.extend(["--model".into(), model(name)]);
        }
        v
    };
    let mut benign = Vec::new();
    for p in profiles() {
        let extra = with_model("a", &[]);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let (_, report, err) = verify(&p, &folder("a"), &extra, &format!("{tag}-a"));
        let report: TorchRunReport = report.unwrap_or_else(|| panic!("no report from {}: {err}", p.name));
        assert_eq!(report.intervals.len(), 5, "{}: {err}", p.name);
        let errors: Vec<f64> = report.intervals.iter().map(|i| i.error.l2).collect();
        eprintln!("{tag} honest run A on {}: interval L2 {errors:?}", p.name);
        benign.extend([
            "--benign".to_string(),
            report_path(&p, &format!("{tag}-a")).display().to_string(),
        ]);
    }
    for p in profiles() {
        let extra = with_model("b", &benign);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let (ok, report, err) = verify(&p, &folder("b"), &extra, &format!("{tag}-b"));
        let report = report.unwrap_or_else(|| panic!("no report from {}: {err}", p.name));
        assert!(
            report.epsilon_source.starts_with("calibrated"),
            "{}",
            report.epsilon_source
        );
        assert!(
            ok && report.failed.is_empty(),
            "{tag}: honest run B failed on {} at {:?} (epsilon {:e}, {}): {err}",
            p.name,
            report.failed,
            report.epsilon,
            report.epsilon_source
        );
        let extra = with_model("f", &benign);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let (ok, report, err) = verify(&p, &folder("f"), &extra, &format!("{tag}-f"));
        let report = report.unwrap_or_else(|| panic!("no report from {}: {err}", p.name));
        let errors: Vec<f64> = report.intervals.iter().map(|i| i.error.l2).collect();
        assert!(
            !ok && report.failed == vec![2],
            "{tag}: forged step 2 on {}: failed {:?}, errors {errors:?}, epsilon {:e}",
            p.name,
            report.failed,
            report.epsilon
        );
        assert!(err.contains("steps 2..3"), "{err}");
    }
}

#[test]
fn torchscript_lenet_logged_by_the_python_module() {
    honest_pass_and_forged_step_fails("fb", &["--optimizer", "momentum"], false);
}

#[test]
fn public_pol_layout_plain_sgd_on_mnist() {
    honest_pass_and_forged_step_fails("pub-sgd", &["--layout", "public", "--optimizer", "sgd"], true);
}

#[test]
fn public_pol_layout_momentum_sgd_with_weight_decay() {
    honest_pass_and_forged_step_fails("pub-mom", &["--layout", "public", "--optimizer", "momentum"], true);
}

#[test]
fn pytorch_optimisers_replay_bit_for_bit_where_pytorch_ran_and_to_benign_noise_elsewhere() {
    // Each optimiser trains 5 steps in PyTorch. Replayed in the environment PyTorch ran in, every checkpoint is
    // reproduced bit for bit (the same ATen calls in the same order); on the three profiles, within f32 noise.
    for (model, opt) in [
        ("lenet5", "momentum"),
        ("lenet5", "nesterov"),
        ("lenet5", "adam"),
        ("lenet5", "adamw"),
        ("row-transformer", "momentum"),
        ("row-transformer", "adamw"),
    ] {
        let tag = format!("opt-{model}-{opt}");
        let folder = tmp(&tag);
        train(&folder, &["--model", model, "--optimizer", opt, "--lr", "0.001"]);
        let here = verify_ambient(&folder, &[], &tag);
        let errors: Vec<f64> = here.intervals.iter().map(|i| i.error.l2).collect();
        assert!(
            here.passed && errors.iter().all(|&e| e == 0.0),
            "{tag}: replay where PyTorch ran parts from its checkpoints: L2 {errors:?}"
        );
        for p in profiles() {
            let (_, report, err) = verify(&p, &folder, &[], &tag);
            let report = report.unwrap_or_else(|| panic!("no report from {}: {err}", p.name));
            for i in &report.intervals {
                let rel = i.error.rel;
                eprintln!(
                    "{tag} on {}: step {} L2 {:e} relative {rel:e}",
                    p.name, i.from_step, i.error.l2
                );
                // Adam divides by sqrt(v) + eps: a gradient value near zero whose benign noise flips its sign moves
                // its parameter by up to 2 lr instead of 0, so Adam's benign relative error is the larger.
                let bound = if opt.starts_with("adam") { 1e-2 } else { 1e-4 };
                assert!(
                    rel <= bound,
                    "{tag} on {}: step {} replays {rel:e} of its own movement away from PyTorch's checkpoint \
                     (L2 {:e}), above the benign bound {bound:e}",
                    p.name,
                    i.from_step,
                    i.error.l2
                );
            }
        }
    }
}

#[test]
fn strategies_report_the_intervals_they_replayed_and_the_forged_steps_they_caught() {
    // Replayed where PyTorch ran, an honest interval is bit for bit (epsilon 0) and the forged one is not.
    let folder = tmp("strategies");
    train(
        &folder,
        &["--optimizer", "momentum", "--steps", "8", "--forge-step", "5"],
    );
    let full = verify_ambient(&folder, &["--strategy", "full"], "full");
    assert_eq!(full.replayed, (0..8).collect::<Vec<_>>());
    assert_eq!(full.caught_steps, vec![5], "full replay catches the forged step");
    let init = full.init_check.as_ref().expect("theta_0 is checkpoint 0");
    assert!(init.passed, "PyTorch's own initialisation fails the check: {init:?}");
    assert_eq!(init.layers.len(), 10, "LeNet-5's weights and biases are all tested");
    for (name, args) in [
        ("top1", vec!["--strategy", "top-q", "--q", "1"]),
        ("top2", vec!["--strategy", "top-q"]),
        (
            "rand3",
            vec!["--strategy", "random", "--k", "3", "--strategy-seed", "4"],
        ),
        (
            "rand3b",
            vec!["--strategy", "random", "--k", "3", "--strategy-seed", "11"],
        ),
    ] {
        let r = verify_ambient(&folder, &args, name);
        assert_eq!(r.log_intervals, 8);
        assert_eq!(r.intervals.len(), r.replayed.len());
        let want: Vec<usize> = if r.replayed.contains(&5) { vec![5] } else { vec![] };
        assert_eq!(r.caught_steps, want, "{name} replayed {:?}", r.replayed);
        eprintln!(
            "{name} ({}): replayed {:?}, caught {:?}",
            r.strategy, r.replayed, r.caught_steps
        );
    }
}

#[test]
fn bad_inputs_are_refused_naming_the_file() {
    let p = &profiles()[0];
    let good = tmp("bad-src");
    train(&good, &["--layout", "public", "--optimizer", "sgd"]);
    let model = format!("{}.pt", good.display());
    // A malformed TorchScript file.
    let junk = tmp("junk.pt");
    std::fs::write(&junk, b"these bytes are not a TorchScript archive").unwrap();
    let (ok, _, err) = verify(p, &good, &["--model", junk.to_str().unwrap()], "junk");
    assert!(
        !ok && err.contains("junk.pt") && err.contains("not a TorchScript model"),
        "{err}"
    );
    // A model whose output is not [b, classes]: LeNet-5's parameters, forward summed over the classes.
    let bad = tmp("sums.pt");
    let code = format!(
        "import sys, torch, torch.nn.functional as F\nsys.path.insert(0, {:?})\nimport models\n\
         class Sums(models.LeNet5):\n    def forward(self, x):\n        x = F.max_pool2d(F.relu(self.conv1(x)), 2)\n\
         \x20       x = F.max_pool2d(F.relu(self.conv2(x)), 2)\n        x = torch.flatten(x, 1)\n\
         \x20       return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x))))).sum(1)\n\
         torch.jit.script(Sums()).save({:?})\n",
        torch_common::repo().join("worker/python").display().to_string(),
        bad.display().to_string()
    );
    let script = tmp("sums.py");
    std::fs::write(&script, code).unwrap();
    python(&[script.to_str().unwrap()]);
    let (ok, _, err) = verify(p, &good, &["--model", bad.to_str().unwrap()], "sums");
    assert!(!ok && err.contains("sums.pt") && err.contains("[b, classes]"), "{err}");
    // A folder with a missing checkpoint.
    let gap = tmp("gap");
    copy(&good, &gap);
    std::fs::remove_file(gap.join("model_step_3")).unwrap();
    let (ok, _, err) = verify(p, &gap, &["--model", &model], "gap");
    assert!(!ok && err.contains("model_step_3") && err.contains("missing"), "{err}");
    // A hash.txt that does not match the data.
    let other = tmp("other");
    copy(&good, &other);
    std::fs::write(other.join("hash.txt"), "0".repeat(64)).unwrap();
    let (ok, _, err) = verify(p, &other, &["--model", &model], "other");
    assert!(!ok && err.contains("hash.txt") && err.contains("other data"), "{err}");
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn torch_matrix_trains_on_every_profile_and_replays_every_log() {
    let out = tmp("matrix");
    let model = torch_common::repo().join("data/models/lenet5.pt");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_forgebench-worker"))
        .args([
            "torch-matrix",
            "--model",
            model.to_str().unwrap(),
            "--batch-size",
            "16",
            "--steps",
            "2",
        ])
        .args(["--profiles", "cpu-avx2,cpu-default", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let m: forgebench_shared::torchrun::TorchMatrix =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    assert_eq!(m.devices, ["cpu-avx2", "cpu-default"]);
    torch_common::assert_benign(&m);
    assert_eq!(m.verifiers.len(), 2);
}

#[test]
fn a_crashed_run_verifies_up_to_its_last_checkpoint() {
    // Five steps with a checkpoint every second one, the process ended abruptly after the fifth: checkpoints 0, 2
    // and 4 were written as they were taken; step 5 was never checkpointed.
    let log = tmp("crashed");
    let script = torch_common::repo().join("worker/python/train.py");
    let out = std::process::Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(&script)
        .args(["--out", log.to_str().unwrap(), "--save-freq", "2", "--crash-after", "5"])
        .env("PYTHONPATH", torch_common::repo().join(".libtorch/py"))
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let r = verify_ambient(&log, &[], "crashed");
    assert!(r.passed, "{:?}", r.intervals);
    let steps: Vec<(usize, usize)> = r.intervals.iter().map(|i| (i.from_step, i.to_step)).collect();
    assert_eq!(steps, vec![(0, 2), (2, 4)]);
    assert!(r.intervals.iter().all(|i| i.error.l2 == 0.0), "{:?}", r.intervals);
    // The reproduction command `verify` replays a folder log as `pol-verify` does.
    let same = tmp("crashed-verify.json");
    let worker = env!("CARGO_BIN_EXE_forgebench-worker");
    let o = std::process::Command::new(worker)
        .env_remove("FORGEBENCH_PROFILE_JSON")
        .args([
            "verify",
            "--log",
            log.to_str().unwrap(),
            "--out",
            same.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: TorchRunReport = serde_json::from_str(&std::fs::read_to_string(&same).unwrap()).unwrap();
    assert_eq!(v.intervals, r.intervals);
    // A checkpoint lost from the middle is named.
    std::fs::remove_file(log.join("checkpoints/000001.safetensors")).unwrap();
    let (ok, _, err) = verify(&profiles()[0], &log, &[], "gap");
    assert!(
        !ok && err.contains("000001.safetensors") && err.contains("missing"),
        "{err}"
    );
}
