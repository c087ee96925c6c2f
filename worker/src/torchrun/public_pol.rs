//! The public Proof-of-Learning code's folder (cleverhans-lab/Proof-of-Learning, Jia et al. 2021): `indices.npy`
//! ([steps, b] training-set indices), `model_step_{i}` every `save_freq` steps and after the last
//! (`torch.save({'net': state_dict, 'optimizer': optimizer.state_dict()})`) and `hash.txt` (its data set hash,
//! [`super::hash`]). Its MNIST training is replayed exactly (ToTensor, Normalize(0.5, 0.5), no augmentation); its
//! CIFAR training draws random crops and flips that the folder does not record, and is refused.
use super::pickle::{self, Leaf};
use super::{hash, Checkpoint, TorchRun};
use crate::error::{Result, WorkerError};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::DatasetKind;
use forgebench_shared::optim::Optimizer;
use forgebench_shared::torchrun::{DatasetRef, ExportNote, ParamInfo, Transform, EXPORT_NOTE_FILE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layout's name in reports.
pub const LAYOUT: &str = "public-pol";

/// True when `folder` looks like this layout.
pub fn is_one(folder: &Path) -> bool {
    folder.join("indices.npy").is_file() && checkpoint_file(folder, 0).is_some()
}

/// Checkpoint `i`: the public code's `model_step_{i}`, or forgebench's export, `model_step_{i}.safetensors`.
fn checkpoint_file(folder: &Path, i: usize) -> Option<PathBuf> {
    let plain = folder.join(format!("model_step_{i}"));
    let exported = folder.join(format!("model_step_{i}.safetensors"));
    [plain, exported].into_iter().find(|p| p.is_file())
}

fn indices(folder: &Path, n: usize) -> Result<Vec<Vec<usize>>> {
    let path = folder.join("indices.npy");
    let bytes = std::fs::read(&path).map_err(|e| WorkerError::io(&path, e))?;
    let bad = |p: String| WorkerError::artifact(&path, p);
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a .npy array: {e}")))?;
    let shape = npy.shape().to_vec();
    if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
        return Err(bad(format!(
            "expected a [steps, batch size] array, got shape {shape:?}"
        )));
    }
    let values: Vec<i64> = npy
        .into_vec()
        .map_err(|e| bad(format!("expected integer indices: {e}")))?;
    if let Some(i) = values.iter().find(|&&i| i < 0 || i as usize >= n) {
        return Err(bad(format!("holds index {i}, outside the training set's 0..{n}")));
    }
    Ok(values
        .chunks(shape[1] as usize)
        .map(|r| r.iter().map(|&i| i as usize).collect())
        .collect())
}

/// The checkpoint steps present: 0, every `save_freq`, and `steps`; a missing one is an error naming it.
fn checkpoint_steps(folder: &Path, steps: usize) -> Result<Vec<usize>> {
    let exists = |i: usize| checkpoint_file(folder, i).is_some();
    let freq = (1..=steps).find(|&i| exists(i)).ok_or_else(|| {
        WorkerError::artifact(
            folder.join(format!("model_step_{steps}")),
            "missing: no checkpoint after step 0",
        )
    })?;
    let mut marks: Vec<usize> = (0..steps).step_by(freq).collect();
    marks.push(steps);
    if let Some(&m) = marks.iter().find(|&&m| !exists(m)) {
        return Err(WorkerError::artifact(
            folder.join(format!("model_step_{m}")),
            format!("missing: checkpoints are saved every {freq} steps and after step {steps}"),
        ));
    }
    Ok(marks)
}

fn number(map: &BTreeMap<String, Leaf>, key: &str, path: &Path) -> Result<f64> {
    match map.get(key) {
        Some(Leaf::Number(v)) => Ok(*v),
        _ => Err(WorkerError::artifact(path, format!("no number at {key}"))),
    }
}

fn optimizer(map: &BTreeMap<String, Leaf>, path: &Path) -> Result<Optimizer> {
    if map.keys().any(|k| k.starts_with("optimizer/param_groups/1/")) {
        return Err(WorkerError::artifact(path, "more than one optimiser parameter group"));
    }
    let g = |k: &str| number(map, &format!("optimizer/param_groups/0/{k}"), path);
    if map.contains_key("optimizer/param_groups/0/betas/0") {
        if g("amsgrad").unwrap_or(0.0) != 0.0 || g("maximize").unwrap_or(0.0) != 0.0 {
            return Err(WorkerError::artifact(
                path,
                "Adam with amsgrad or maximize is not replayed",
            ));
        }
        return Ok(Optimizer::Adam {
            beta1: g("betas/0")?,
            beta2: g("betas/1")?,
            eps: g("eps")?,
            weight_decay: g("weight_decay")?,
            decoupled: g("decoupled_weight_decay").unwrap_or(0.0) != 0.0,
        });
    }
    if g("maximize").unwrap_or(0.0) != 0.0 {
        return Err(WorkerError::artifact(path, "SGD with maximize is not replayed"));
    }
    Ok(Optimizer::Sgd {
        momentum: g("momentum")?,
        dampening: g("dampening")?,
        nesterov: g("nesterov")? != 0.0,
        weight_decay: g("weight_decay")?,
    })
}

fn flat(t: &tch::Tensor, want: &ParamInfo, what: &str, path: &Path) -> Result<Vec<f32>> {
    if t.size() != want.shape || t.kind() != tch::Kind::Float {
        return Err(WorkerError::artifact(
            path,
            format!(
                "{what} is {:?} {:?}, but the model's {} is f32 {:?}",
                t.kind(),
                t.size(),
                want.name,
                want.shape
            ),
        ));
    }
    Ok(Vec::<f32>::try_from(&t.reshape([-1]))?)
}

/// An exported checkpoint: the state_dict's parameters alone (its optimiser, plain SGD, keeps no state).
fn exported(path: &Path, step: usize, params: &[ParamInfo], opt: &Optimizer) -> Result<Checkpoint> {
    if !opt.state_names().is_empty() {
        return Err(WorkerError::artifact(
            path,
            format!("{opt} keeps state, which a .safetensors checkpoint lacks"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| WorkerError::io(path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| WorkerError::artifact(path, e.to_string()))?;
    let mut theta = Vec::new();
    for p in params {
        let shape: Vec<usize> = p.shape.iter().map(|&d| d as usize).collect();
        theta.extend(crate::repro::read_f32(&st, &p.name, &shape, path)?);
    }
    Ok(Checkpoint {
        step,
        theta,
        state: Vec::new(),
        optimizer_steps: step as u64,
    })
}

/// A checkpoint of the public code, read from `path` into `map`, and the learning rate it holds.
fn checkpoint(
    map: &BTreeMap<String, Leaf>,
    path: &Path,
    step: usize,
    params: &[ParamInfo],
    opt: &Optimizer,
) -> Result<(Checkpoint, f64)> {
    let mut theta = Vec::new();
    let mut state: Vec<Vec<f32>> = opt.state_names().iter().map(|_| Vec::new()).collect();
    let mut opt_steps = step as u64;
    for (j, p) in params.iter().enumerate() {
        let key = [format!("net/{}", p.name), format!("net/module.{}", p.name)];
        let t = key.iter().find_map(|k| match map.get(k) {
            Some(Leaf::Tensor(t)) => Some(t),
            _ => None,
        });
        let t = t.ok_or_else(|| WorkerError::artifact(path, format!("net has no parameter {}", p.name)))?;
        theta.extend(flat(t, p, &format!("net/{}", p.name), path)?);
        for (s, name) in opt.state_names().iter().enumerate() {
            let key = format!("optimizer/state/{j}/{name}");
            match map.get(&key) {
                Some(Leaf::Tensor(t)) => state[s].extend(flat(t, p, &key, path)?),
                // Before the first step PyTorch holds no state: zeros, as OptState::fresh.
                None if step == 0 => state[s].extend(std::iter::repeat_n(0.0, p.numel())),
                _ => return Err(WorkerError::artifact(path, format!("no tensor at {key}"))),
            }
        }
        if let Some(Leaf::Tensor(t)) = map.get(&format!("optimizer/state/{j}/step")) {
            opt_steps = t.double_value(&[]) as u64;
        }
    }
    let lr = number(map, "optimizer/param_groups/0/lr", path)?;
    Ok((
        Checkpoint {
            step,
            theta,
            state,
            optimizer_steps: opt_steps,
        },
        lr,
    ))
}

/// forgebench's note in an exported folder, when there is one.
pub fn note(folder: &Path) -> Result<Option<ExportNote>> {
    let path = folder.join(EXPORT_NOTE_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| WorkerError::io(&path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| WorkerError::artifact(&path, e.to_string()))
}

/// Checks `hash.txt` against `ds`: the public code's hash for grey images, else (forgebench's export of CIFAR-10)
/// forgebench's own sha256.
fn check_hash(folder: &Path, ds: &Dataset) -> Result<()> {
    let hash_path = folder.join("hash.txt");
    let stored = std::fs::read_to_string(&hash_path).map_err(|e| WorkerError::io(&hash_path, e))?;
    let ours = match ds.kind {
        DatasetKind::Mnist => hash::pol_dataset_hash(ds)?,
        _ => ds.sha256.clone(),
    };
    if stored.trim() == ours {
        return Ok(());
    }
    Err(WorkerError::artifact(
        &hash_path,
        format!(
            "holds {}, but the training set at {} hashes to {ours}: the log was trained on other data",
            stored.trim(),
            ds.source.display()
        ),
    ))
}

/// Reads `folder` for the model whose parameters are `params`, checking `hash.txt` against `ds`.
pub fn read(folder: &Path, params: &[ParamInfo], ds: &Dataset) -> Result<TorchRun> {
    let note = note(folder)?;
    if ds.kind != DatasetKind::Mnist && note.is_none() {
        return Err(WorkerError::Invalid(format!(
            "{}: the public PoL code trains {} with random crops and flips that its folder does not record, so \
             no replay can reproduce its batches; only its MNIST training (no augmentation) is replayed",
            folder.display(),
            ds.kind
        )));
    }
    check_hash(folder, ds)?;
    let batches = indices(folder, ds.n)?;
    let marks = checkpoint_steps(folder, batches.len())?;
    // Checkpoint 0 names the optimiser; it is read once and kept for its own replay below.
    let mut first_map = None;
    let (opt, transform) = match &note {
        Some(n) => (n.optimizer.clone(), n.transform),
        None => {
            let first = folder.join("model_step_0");
            let map0 = pickle::load(&first)?;
            // Each interval takes its learning rate from its first checkpoint; a schedule could change it inside a
            // longer one.
            if map0.keys().any(|k| k.starts_with("scheduler/")) && marks.windows(2).any(|w| w[1] - w[0] > 1) {
                return Err(WorkerError::artifact(
                    &first,
                    "a learning-rate scheduler with checkpoints more than one step apart: the rate inside an \
                     interval is not recorded (save every step to verify a scheduled run)",
                ));
            }
            let opt = optimizer(&map0, &first)?;
            first_map = Some(map0);
            (opt, Transform::Normalize05)
        }
    };
    let mut checkpoints = Vec::with_capacity(marks.len());
    let mut lr = vec![note.as_ref().map_or(0.0, |n| n.lr); batches.len()];
    for (k, &m) in marks.iter().enumerate() {
        let path = checkpoint_file(folder, m).expect("checkpoint_steps found every file");
        if path.extension().is_some_and(|e| e == "safetensors") {
            checkpoints.push(exported(&path, m, params, &opt)?);
            continue;
        }
        let map = match first_map.take().filter(|_| m == 0) {
            Some(map) => map,
            None => pickle::load(&path)?,
        };
        let (c, rate) = checkpoint(&map, &path, m, params, &opt)?;
        if let (Some(&next), None) = (marks.get(k + 1), &note) {
            lr[m..next].iter_mut().for_each(|l| *l = rate);
        }
        checkpoints.push(c);
    }
    Ok(TorchRun {
        folder: folder.to_path_buf(),
        layout: LAYOUT.into(),
        model_sha256: None,
        params: params.to_vec(),
        optimizer: opt,
        lr,
        batches,
        checkpoints,
        dataset: DatasetRef::of(ds, transform),
        writer: None,
    })
}
