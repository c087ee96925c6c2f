//! GPU checks; compiled only with `--features gpu-tests` (which implies `cuda`) and run on a machine with a GPU:
//! `cargo test -p forgebench-worker --features gpu-tests --test gpu`.
#![cfg(feature = "gpu-tests")]

use forgebench_shared::experiment::{ModelKind, Precision, ReproSpec};
use forgebench_worker::shim::{self, Flag};
use forgebench_worker::update::{sgd_update, Batch};
use forgebench_worker::{datasets, repro, tensors};

fn spec(model: ModelKind) -> ReproSpec {
    let dataset = model.default_dataset();
    ReproSpec {
        model,
        dataset,
        batch_size: 100,
        eta: 0.01,
        triples: 1,
        seed: 1,
        full: false,
        arithmetic: Default::default(),
        tolerance_units: None,
    }
}

#[test]
fn cuda_is_linked_and_visible() {
    assert!(
        tch::Cuda::is_available(),
        "libtorch sees no CUDA device: was the worker linked with --features cuda?"
    );
    let fp = forgebench_worker::fingerprint::collect();
    assert!(!fp.gpus.is_empty(), "cudarc reports no GPU: {}", fp.cuda_driver);
    assert!(fp.gpus.iter().all(|g| g.uuid.starts_with("GPU-")), "{:?}", fp.gpus);
}

#[test]
fn gpu_update_is_close_to_cpu_and_repeatable_without_autotuning() {
    shim::set_flag(Flag::CudnnBenchmark, false).unwrap();
    shim::set_flag(Flag::CudnnDeterministic, true).unwrap();
    assert_eq!(shim::get_flag(Flag::CudnnDeterministic), Some(true));
    for model in [ModelKind::Lenet5, ModelKind::Vggmini] {
        let s = spec(model);
        let ds = datasets::train(s.dataset, &forgebench_shared::data::default_dir()).unwrap();
        let idx = repro::batch_k(&s, 0, ds.n);
        let theta = repro::theta_k(&s, 0);
        let run = |device| {
            let batch = Batch::gather(&ds, &idx, device, Precision::F32).unwrap();
            let u = sgd_update(model, &tensors::from_f32(&theta, device), &batch, s.eta).unwrap();
            tensors::to_f32(&u.theta_next).unwrap()
        };
        let cpu = run(tch::Device::Cpu);
        let (g1, g2) = (run(tch::Device::Cuda(0)), run(tch::Device::Cuda(0)));
        assert_eq!(g1, g2, "{model}: deterministic cuDNN gave two different updates");
        let gap = forgebench_shared::measures::measures(&cpu, &g1, None).l2;
        assert!(gap > 0.0 && gap < 1e-3, "{model}: CPU-GPU gap {gap:e}");
    }
}

/// The real profile path: a profile naming the GPU by UUID, its flags set, run as a job in a fresh worker process
/// with the profile's environment; the result's provenance reads the flags back and names the GPU.
#[test]
fn a_gpu_profile_by_uuid_runs_a_job_with_its_flags_read_back() {
    use forgebench_shared::jobs::JobSpec;
    use forgebench_shared::profile::{Device, DeviceProfile};
    let fp = forgebench_worker::fingerprint::collect();
    let gpu = fp.gpus.first().expect("a GPU").clone();
    let mut p = DeviceProfile::cpu("gpu-by-uuid");
    p.device = Device::CudaUuid(gpu.uuid.clone());
    p.gpu.tf32_cublas = Some(false);
    p.gpu.tf32_cudnn = Some(false);
    p.gpu.cudnn_benchmark = Some(false);
    p.gpu.cudnn_deterministic = Some(true);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("outcome.json");
    let job = JobSpec::WriteLog {
        spec: spec(ModelKind::Lenet5),
    };
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_forgebench-worker"));
    let status = forgebench_worker::cli::spawn::command_with(exe, &p)
        .unwrap()
        .arg("run-job")
        .arg("--spec")
        .arg(serde_json::to_string(&job).unwrap())
        .arg("--work-dir")
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "the GPU job failed: {status}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let prov = &v["outcome"]["result"]["provenance"];
    let force = &prov["fingerprint"]["settings_in_force"];
    for (flag, want) in [
        ("tf32_cublas", "false"),
        ("tf32_cudnn", "false"),
        ("cudnn_benchmark", "false"),
        ("cudnn_deterministic", "true"),
    ] {
        assert_eq!(force[flag], want, "{flag} in force: {force}");
    }
    assert_eq!(prov["profile"]["device"], format!("cuda:{}", gpu.uuid), "{prov}");
    let gpus = prov["fingerprint"]["gpus"].as_array().unwrap();
    assert!(gpus.iter().any(|g| g["uuid"] == gpu.uuid), "{gpus:?}");
}
