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
