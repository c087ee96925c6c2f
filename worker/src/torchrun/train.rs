//! forgebench training a TorchScript model with a PyTorch optimiser into the layout the Python module writes
//! ([`super::streamed`]: a file per checkpoint, written as it is taken, so a crash loses only the steps since the
//! last one), so that a log written on one profile is replayed on every other (the bundled models' cross-device
//! matrices). theta_0 is the file's own parameters; batches are drawn with the portable RNG (an epoch
//! is a fresh permutation of the training set).
use super::streamed;
use super::verify::batch;
use crate::error::{Result, WorkerError};
use crate::models::script::ScriptNet;
use crate::optim::{self, OptState};
use crate::tensors;
use forgebench_shared::data::Dataset;
use forgebench_shared::optim::Optimizer;
use forgebench_shared::provenance::code_version;
use forgebench_shared::rng::PortableRng;
use forgebench_shared::torchrun::{
    DatasetRef, TorchLogManifest, TorchWriter, Transform, MANIFEST_FILE, STREAMED_FORMAT,
};
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
    // An earlier run's checkpoints in the folder would read as this run's.
    let old = folder.join(streamed::CHECKPOINTS_DIR);
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| WorkerError::io(&old, e))?;
    }
    let copy = folder.join("model.pt");
    std::fs::copy(model_file, &copy).map_err(|e| WorkerError::io(&copy, e))?;
    let mut manifest = header(net, plan, ds, device);
    let mpath = folder.join(MANIFEST_FILE);
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    let tmp = mpath.with_extension("json.partial");
    std::fs::write(&tmp, json).map_err(|e| WorkerError::io(&tmp, e))?;
    std::fs::rename(&tmp, &mpath).map_err(|e| WorkerError::io(&mpath, e))?;
    let params = net.identity().params.clone();
    let schedule = batches(ds.n, b, steps, plan.seed);
    let theta = net.theta()?.f_to_device(device)?;
    let mut state = OptState::fresh(&plan.optimizer, net.dim(), device);
    let lr = vec![plan.lr; steps];
    let mut marks: Vec<usize> = Vec::new();
    let mut save = |step: usize, theta: &tch::Tensor, state: &OptState| -> Result<()> {
        let from = marks.last().copied().unwrap_or(0);
        let names = plan.optimizer.state_names();
        let buffers = names
            .iter()
            .zip(&state.buffers)
            .map(|(n, buf)| Ok((*n, tensors::to_f32(buf)?)));
        streamed::write(
            folder,
            &streamed::CheckpointFile {
                k: marks.len(),
                step,
                theta: &tensors::to_f32(theta)?,
                state: buffers.collect::<Result<_>>()?,
                batches: &schedule[from..step],
                lr: &lr[from..step],
            },
        )?;
        marks.push(step);
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
    (manifest.steps, manifest.lr, manifest.checkpoints) = (steps, lr, marks);
    Ok(manifest)
}

/// The manifest as written before training: what does not change; steps, rates and checkpoints are the files'.
fn header(net: &ScriptNet, plan: &Plan, ds: &Dataset, device: Device) -> TorchLogManifest {
    let mut model = net.identity().clone();
    model.file = "model.pt".into();
    TorchLogManifest {
        format: STREAMED_FORMAT.into(),
        model,
        optimizer: plan.optimizer.clone(),
        lr: Vec::new(),
        batch_size: plan.batch_size,
        steps: 0,
        checkpoints: Vec::new(),
        dataset: DatasetRef::of(ds, Transform::Scaled),
        writer: TorchWriter {
            torch_version: crate::shim::torch_version(),
            cpu_capability: crate::shim::cpu_capability(),
            threads: tch::get_num_threads().max(0) as u32,
            device: format!("{device:?}"),
            program: format!("forgebench-worker {}", code_version()),
        },
        seed: Some(plan.seed),
    }
}
