//! forgebench training a TorchScript model with a PyTorch optimiser into the layout the Python module writes
//! ([`super::forgebench_log`]), so that a log written on one profile is replayed on every other (the bundled models'
//! cross-device matrices). theta_0 is the file's own parameters; batches are drawn with the portable RNG (an epoch
//! is a fresh permutation of the training set).
use super::verify::batch;
use crate::error::{Result, WorkerError};
use crate::models::script::ScriptNet;
use crate::optim::{self, OptState};
use crate::repro::f32_bytes;
use crate::tensors;
use forgebench_shared::data::Dataset;
use forgebench_shared::optim::Optimizer;
use forgebench_shared::provenance::code_version;
use forgebench_shared::rng::PortableRng;
use forgebench_shared::torchrun::{
    DatasetRef, TorchLogManifest, TorchWriter, Transform, MANIFEST_FILE, TENSORS_FILE, TORCH_LOG_FORMAT,
};
use safetensors::tensor::{Dtype, TensorView};
use std::path::Path;
use tch::Device;

/// What to train.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Its learning rate, every step.
    pub lr: f64,
    /// Batch size.
    pub batch_size: usize,
    /// Steps.
    pub steps: usize,
    /// A checkpoint every this many steps (and after the last).
    pub save_every: usize,
    /// The batch order's seed.
    pub seed: u64,
}

/// The batches of `steps` steps over `n` examples.
pub fn batches(n: usize, b: usize, steps: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut out = Vec::with_capacity(steps);
    let mut epoch = 0u64;
    while out.len() < steps {
        let mut order: Vec<usize> = (0..n).collect();
        PortableRng::derived(seed, "torch-batches", epoch).shuffle(&mut order);
        out.extend(order.chunks_exact(b).take(steps - out.len()).map(<[usize]>::to_vec));
        epoch += 1;
    }
    out
}

/// Trains `net` (loaded from `model_file`) on `ds` and writes the log into `folder`.
pub fn train(
    net: &ScriptNet,
    model_file: &Path,
    plan: &Plan,
    ds: &Dataset,
    device: Device,
    folder: &Path,
) -> Result<TorchLogManifest> {
    let (b, steps, every) = (plan.batch_size, plan.steps, plan.save_every);
    if b == 0 || b > ds.n || steps == 0 || every == 0 {
        return Err(WorkerError::Invalid(format!(
            "training needs 1 <= batch size <= {} and at least one step and checkpoint interval, got b={b}, \
             steps={steps}, save every {every}",
            ds.n
        )));
    }
    if let Some(p) = plan.optimizer.problem() {
        return Err(WorkerError::Invalid(p));
    }
    std::fs::create_dir_all(folder).map_err(|e| WorkerError::io(folder, e))?;
    let params = net.identity().params.clone();
    let schedule = batches(ds.n, b, steps, plan.seed);
    let theta = net.theta()?.f_to_device(device)?;
    let mut state = OptState::fresh(&plan.optimizer, net.dim(), device);
    let mut stored: Vec<(String, Vec<u8>)> = Vec::new();
    let mut marks = Vec::new();
    let mut save = |step: usize, theta: &tch::Tensor, state: &OptState| -> Result<()> {
        let k = marks.len();
        marks.push(step);
        stored.push((format!("theta.{k}"), f32_bytes(&tensors::to_f32(theta)?)));
        for (name, buf) in plan.optimizer.state_names().iter().zip(&state.buffers) {
            stored.push((format!("state.{k}.{name}"), f32_bytes(&tensors::to_f32(buf)?)));
        }
        Ok(())
    };
    save(0, &theta, &state)?;
    for (step, idx) in schedule.iter().enumerate() {
        let bt = batch(ds, idx, Transform::Scaled, device)?;
        let grad = net.gradient(&theta, &bt)?;
        optim::step(&plan.optimizer, &params, &theta, &grad, &mut state, plan.lr)?;
        if (step + 1) % every == 0 || step + 1 == steps {
            save(step + 1, &theta, &state)?;
        }
    }
    let indices: Vec<u8> = schedule
        .iter()
        .flatten()
        .flat_map(|&i| (i as i64).to_le_bytes())
        .collect();
    let dim = net.dim();
    let path = folder.join(TENSORS_FILE);
    let mut views = vec![(
        "indices".to_string(),
        TensorView::new(Dtype::I64, vec![steps, b], &indices)
            .map_err(|e| WorkerError::artifact(&path, e.to_string()))?,
    )];
    for (name, data) in &stored {
        let v =
            TensorView::new(Dtype::F32, vec![dim], data).map_err(|e| WorkerError::artifact(&path, e.to_string()))?;
        views.push((name.clone(), v));
    }
    safetensors::serialize_to_file(views, None, &path).map_err(|e| WorkerError::artifact(&path, e.to_string()))?;
    let copy = folder.join("model.pt");
    std::fs::copy(model_file, &copy).map_err(|e| WorkerError::io(&copy, e))?;
    let mut model = net.identity().clone();
    model.file = "model.pt".into();
    let manifest = TorchLogManifest {
        format: TORCH_LOG_FORMAT.into(),
        model,
        optimizer: plan.optimizer.clone(),
        lr: vec![plan.lr; steps],
        batch_size: b,
        steps,
        checkpoints: marks,
        dataset: DatasetRef {
            kind: ds.kind,
            sha256: ds.sha256.clone(),
            n: ds.n,
            transform: Transform::Scaled,
            path: ds.folder().map(|p| p.display().to_string()),
        },
        writer: TorchWriter {
            torch_version: crate::shim::torch_version(),
            cpu_capability: crate::shim::cpu_capability(),
            threads: tch::get_num_threads().max(0) as u32,
            device: format!("{device:?}"),
            program: format!("forgebench-worker {}", code_version()),
        },
        seed: Some(plan.seed),
    };
    let mpath = folder.join(MANIFEST_FILE);
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    std::fs::write(&mpath, json).map_err(|e| WorkerError::io(&mpath, e))?;
    Ok(manifest)
}
