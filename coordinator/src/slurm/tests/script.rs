//! The rendered sbatch script: its header, the pinning and environment of every task, the absence of the token,
//! and what the tasks really get when bash runs it with stand-ins for srun, nvidia-smi and forgebench.
use super::cluster;
use crate::slurm::{plan_tasks, prepare, LaunchOptions, SlurmCli};
use forgebench_shared::config::ClusterConfig;
use forgebench_shared::profile::DeviceProfile;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const TOKEN: &str = "tok-3b9d7c0e5a1f-never-in-the-script";

fn script(cfg: &ClusterConfig, dir: &Path) -> String {
    let token_file = dir.join("token");
    crate::slurm::private_token_file(&token_file, TOKEN).expect("token file");
    let opts = LaunchOptions {
        slurm: None,
        label: "repro small".into(),
        config_path: dir.join("cluster.toml"),
        forgebench: Some(dir.join("bin/forgebench")),
        workdir: Some(dir.to_path_buf()),
        cli: SlurmCli::new(),
    };
    prepare(
        cfg,
        &cfg.profiles,
        "gpu-login:1234",
        &token_file,
        &dir.join("run"),
        &opts,
    )
    .expect("renders")
}

/// The block of the script that starts task `i`.
fn task_block(text: &str, i: usize) -> &str {
    let start = text.find(&format!("# task {i}:")).expect("task present");
    let rest = &text[start..];
    &rest[..rest.find(" &\n").expect("task line ends with &")]
}

#[test]
fn header_pinning_environment_and_no_token() {
    let cfg = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = script(&cfg, dir.path());
    for line in [
        "#SBATCH --job-name=forgebench-repro_small",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=lab-42",
        "#SBATCH --time=2:00:00",
        "#SBATCH --gres=gpu:2",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=4",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --qos=high",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains(TOKEN), "the token leaked into the script");
    assert!(text.contains(&format!("TOKEN_FILE={}", dir.path().join("token").display())));
    assert!(text.contains("unset FORGEBENCH_TOKEN"));
    let tasks = plan_tasks(cfg.slurm.as_ref().expect("table"), &cfg.profiles).expect("tasks");
    let names: Vec<(&str, bool)> = tasks.iter().map(|t| (t.profile.as_str(), t.gpu)).collect();
    assert_eq!(
        names,
        [
            ("cpu-avx2", false),
            ("cpu-default", false),
            ("a100-strict", true),
            ("a100-strict", true)
        ]
    );
    for (i, t) in tasks.iter().enumerate() {
        let block = task_block(&text, i);
        let p = cfg.profiles.iter().find(|p| p.name == t.profile).expect("profile");
        for (k, v) in p.env() {
            let want = match v {
                Some(v) => format!(" {k}={v}"),
                None => format!(" -u {k}"),
            };
            assert!(block.contains(&want), "task {i} lacks {want:?}:\n{block}");
        }
        assert!(block.contains(&format!("--cpus-per-task={}", t.cpus)), "{block}");
        assert!(block.contains(&format!("--profile {}", p.name)), "{block}");
        // GPU tasks get one GPU each and are pinned by UUID; CPU tasks are kept off the job's GPUs.
        assert_eq!(block.contains("--gres=gpu:1"), t.gpu, "{block}");
        assert_eq!(block.contains("\"$FB_PIN_GPU\""), t.gpu, "{block}");
        assert_eq!(block.contains("--gres=none"), !t.gpu, "{block}");
    }
    assert!(text.contains("--query-gpu=uuid") && text.contains("export CUDA_VISIBLE_DEVICES=\"$u\""));
}

#[test]
fn gpu_profiles_need_gpus_and_ordinal_zero() {
    let mut cfg = cluster();
    let slurm = cfg.slurm.as_mut().expect("table");
    slurm.gpus_per_node = None;
    let err = plan_tasks(slurm, &cfg.profiles).expect_err("no GPU count").to_string();
    assert!(err.contains("gpus_per_node"), "{err}");
    let mut p = DeviceProfile::cpu("v100");
    p.device = "cuda:1".parse().expect("device");
    let err = plan_tasks(&Default::default(), &[p])
        .expect_err("ordinal 1")
        .to_string();
    assert!(err.contains("cuda:0"), "{err}");
    let cpu_only: Vec<_> = cfg.profiles.iter().filter(|p| !p.device.is_cuda()).cloned().collect();
    let tasks = plan_tasks(&Default::default(), &cpu_only).expect("CPU only needs no GPUs");
    assert_eq!(tasks.len(), 2);
}

fn fake(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/bash\n{body}\n")).expect("write fake");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn tasks_run_with_their_profile_environment_and_pinned_gpu() {
    let cfg = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::create_dir_all(&out).expect("out");
    // srun: drop its options and, like Slurm with --gres, give a GPU step the index of its GPU.
    fake(
        &bin,
        "srun",
        "gpu=0\nwhile [[ $1 == --* ]]; do [[ $1 == --gres=gpu:* ]] && gpu=1; shift; done\n\
         if ((gpu)); then export CUDA_VISIBLE_DEVICES=3; else unset CUDA_VISIBLE_DEVICES; fi\nexec \"$@\"",
    );
    fake(&bin, "nvidia-smi", "echo \"GPU-5e1f-${@: -1}\"");
    fake(&bin, "forgebench", "{ echo \"ARGS $*\"; env; } > \"$FAKE_OUT/$$.txt\"");
    let text = script(&cfg, dir.path());
    let path = dir.path().join("job.sbatch");
    std::fs::write(&path, &text).expect("script");
    let status = std::process::Command::new("bash")
        .arg(&path)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()),
        )
        .env("SLURM_JOB_ID", "77")
        .env("SLURM_JOB_NODELIST", "n1")
        .env("FAKE_OUT", &out)
        .env("FORGEBENCH_TOKEN", "from-the-submitting-shell")
        .env("MKL_CBWR", "inherited-junk")
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(status.status.success(), "{stderr}");
    let mut seen = Vec::new();
    for f in std::fs::read_dir(&out).expect("out") {
        let body = std::fs::read_to_string(f.expect("entry").path()).expect("read");
        let args = body.lines().next().expect("args line").to_owned();
        let env: HashMap<&str, &str> = body.lines().skip(1).filter_map(|l| l.split_once('=')).collect();
        let name = env.get("FORGEBENCH_PROFILE").expect("profile env set");
        let p = cfg.profiles.iter().find(|p| p.name == *name).expect("known profile");
        p.check_env(|k| env.get(k).map(|v| v.to_string()))
            .expect("exact profile environment");
        assert!(
            !env.contains_key("FORGEBENCH_TOKEN") && !body.contains(TOKEN),
            "token leaked:\n{body}"
        );
        assert_eq!(env.get("SITE_READY"), Some(&"yes"), "setup lines run first");
        assert!(
            args.contains(&format!("--token-file {}", dir.path().join("token").display())),
            "{args}"
        );
        assert!(args.contains("--coordinator gpu-login:1234"), "{args}");
        let gpu = env.get("CUDA_VISIBLE_DEVICES").copied();
        assert_eq!(
            gpu,
            p.device.is_cuda().then_some("GPU-5e1f-3"),
            "pinned by UUID: {args}"
        );
        seen.push(args);
    }
    seen.sort();
    assert_eq!(seen.len(), 4, "{seen:#?}\n{stderr}\n{text}");
    for (i, name) in ["cpu-avx2", "cpu-default", "a100-strict", "a100-strict"]
        .iter()
        .enumerate()
    {
        let want = format!(
            "--name {name}@slurm-77.{i} --work-dir {}/77/{i}-{name}",
            dir.path().join("run/workers").display()
        );
        assert!(seen.iter().any(|a| a.ends_with(&want)), "no task {want:?} in {seen:#?}");
    }
}
