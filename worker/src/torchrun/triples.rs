//! Reproduction triples of a TorchScript model (`update`, `write-log`, `verify`, `trace`, `explain` and `matrix`
//! given a `.pt`): K independent steps, every one from the model file's own parameters, B_k drawn from the portable
//! RNG exactly as for the built-in models (the same seed gives the same batches), inputs as forgebench's loaders
//! give them (byte / 255), each step plain SGD (the paper's setting).
//!
//! theta is not drawn per triple as for the built-ins: a user's layers have initialisations forgebench cannot know
//! (an embedding, a custom init), and the file's parameters are the point an auditor asks about. The triples then
//! differ in their batches alone; for errors along a run, `pol-train` and `torch-matrix` train from the file.
use super::verify::batch;
use super::{Checkpoint, TorchRun};
use crate::error::{Result, WorkerError};
use crate::models::script::ScriptNet;
use crate::optim::{self, OptState};
use crate::repro::{f32_bytes, read_f32, read_manifest, read_with_manifest, save_tensors, VerifyReport};
use crate::tensors;
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::Arithmetic;
use forgebench_shared::measures::{norm2, MeasureSummary};
use forgebench_shared::optim::Optimizer;
use forgebench_shared::provenance::Provenance;
use forgebench_shared::repro_log::triple_measures;
use forgebench_shared::script_repro::{ScriptLogManifest, SCRIPT_LOG_FORMAT};
use forgebench_shared::torchrun::{DatasetRef, Transform};
use forgebench_shared::trace::Trace;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// The triples' parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Triples {
    /// Batch size b.
    pub batch_size: usize,
    /// Learning rate eta.
    pub eta: f64,
    /// Number of triples K.
    pub triples: usize,
    /// The batches' master seed.
    pub seed: u64,
}

/// One computed triple.
pub struct Step {
    /// theta_next in f32.
    pub theta_next: Vec<f32>,
    /// L2 (f64) of the step eta * grad as computed here.
    pub step_norm: f64,
}

impl Triples {
    /// Refuses a batch size outside 1..=n of `ds` or no triples.
    pub fn check(&self, ds: &Dataset) -> Result<()> {
        let (b, k) = (self.batch_size, self.triples);
        if b == 0 || b > ds.n || k == 0 {
            return Err(WorkerError::Invalid(format!(
                "triples need 1 <= b <= {} and K >= 1, got b={b}, K={k}",
                ds.n
            )));
        }
        Ok(())
    }

    /// B_k's indices.
    pub fn batch_k(&self, k: usize, n: usize) -> Vec<usize> {
        crate::repro::batch_indices(self.seed, k, n, self.batch_size)
    }
}

/// Triple `k` of `t` from the file's parameters `theta0` (on `device`).
pub fn step(net: &ScriptNet, t: &Triples, k: usize, theta0: &Tensor, ds: &Dataset, device: Device) -> Result<Step> {
    let bt = batch(ds, &t.batch_k(k, ds.n), Transform::Scaled, device)?;
    let grad = net.gradient(theta0, &bt)?;
    apply(net, t, theta0, &grad, device)
}

/// The plain SGD step of `grad` from `theta0` (left as it is).
fn apply(net: &ScriptNet, t: &Triples, theta0: &Tensor, grad: &Tensor, device: Device) -> Result<Step> {
    let theta = theta0.f_detach()?.copy();
    let step_norm = {
        let _guard = tch::no_grad_guard();
        norm2(&tensors::to_f32(&grad.f_mul_scalar(t.eta)?)?)
    };
    let mut state = OptState::fresh(&Optimizer::Plain, net.dim(), device);
    optim::step(
        &Optimizer::Plain,
        &net.identity().params,
        &theta,
        grad,
        &mut state,
        t.eta,
    )?;
    Ok(Step {
        theta_next: tensors::to_f32(&theta)?,
        step_norm,
    })
}

/// Computes the K triples of `t` and writes the log to `path` (and `path` + `.json`). The manifest names the model
/// file by the path it was loaded from, where a verifier looks for it unless given one.
pub fn write_log(
    net: &ScriptNet,
    t: &Triples,
    ds: &Dataset,
    device: Device,
    provenance: Provenance,
    path: &Path,
    mut progress: impl FnMut(usize),
) -> Result<ScriptLogManifest> {
    t.check(ds)?;
    let theta0 = net.theta()?.f_to_device(device)?;
    let (dim, k_total) = (net.dim(), t.triples);
    let mut next = Vec::with_capacity(k_total * dim * 4);
    let mut step_norms = Vec::with_capacity(k_total);
    for k in 0..k_total {
        let s = step(net, t, k, &theta0, ds, device)?;
        next.extend(f32_bytes(&s.theta_next));
        step_norms.push(s.step_norm);
        progress(k + 1);
    }
    let manifest = ScriptLogManifest {
        format: SCRIPT_LOG_FORMAT.into(),
        model: net.identity().clone(),
        dataset: DatasetRef::of(ds, Transform::Scaled),
        batch_size: t.batch_size,
        eta: t.eta,
        triples: k_total,
        seed: t.seed,
        dim,
        provenance,
        step_norms,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    let view = TensorView::new(Dtype::F32, vec![k_total, dim], &next)
        .map_err(|e| WorkerError::artifact(path, e.to_string()))?;
    save_tensors(vec![("theta_next".to_owned(), view)], &json, path)?;
    Ok(manifest)
}

/// A TorchScript model's reproduction log in memory.
pub struct ScriptLog {
    /// The manifest.
    pub manifest: ScriptLogManifest,
    /// K rows of `dim` values.
    pub theta_next: Vec<f32>,
}

/// Whether the safetensors file `path` is a TorchScript model's reproduction log (rather than a built-in's).
pub fn is_one(path: &Path) -> Result<bool> {
    let m: serde_json::Value = read_manifest(path)?;
    Ok(m.get("format").and_then(|f| f.as_str()) == Some(SCRIPT_LOG_FORMAT))
}

/// Reads and checks the log at `path`.
pub fn read_log(path: &Path) -> Result<ScriptLog> {
    let (bytes, manifest): (_, ScriptLogManifest) = read_with_manifest(path)?;
    if let Some(p) = manifest.problem() {
        return Err(WorkerError::artifact(path, format!("manifest: {p}")));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| WorkerError::artifact(path, e.to_string()))?;
    let theta_next = read_f32(&st, "theta_next", &[manifest.triples, manifest.dim], path)?;
    Ok(ScriptLog { manifest, theta_next })
}

/// Recomputes every triple of `log` with `net` on `device` and measures each against the stored result.
pub fn verify_log(
    log: &ScriptLog,
    net: &ScriptNet,
    ds: &Dataset,
    device: Device,
    verifier: Provenance,
    threshold: Option<f64>,
    mut progress: impl FnMut(usize),
) -> Result<VerifyReport> {
    let m = &log.manifest;
    let id = net.identity();
    if id.sha256 != m.model.sha256 || id.params != m.model.params {
        return Err(WorkerError::Invalid(format!(
            "the log was written with model {} (sha256 {}), but the model given is {} (sha256 {})",
            m.model.file, m.model.sha256, id.file, id.sha256
        )));
    }
    if m.dataset.sha256 != ds.sha256 || m.dataset.n != ds.n {
        return Err(WorkerError::Invalid(format!(
            "the log was written on data set {} (sha256 {}, {} examples), but this worker's data is {} (sha256 {}, \
             {} examples)",
            m.dataset.kind,
            m.dataset.sha256,
            m.dataset.n,
            ds.source.display(),
            ds.sha256,
            ds.n
        )));
    }
    let t = Triples {
        batch_size: m.batch_size,
        eta: m.eta,
        triples: m.triples,
        seed: m.seed,
    };
    t.check(ds)?;
    let theta0 = net.theta()?.f_to_device(device)?;
    let mut per_triple = Vec::with_capacity(m.triples);
    for k in 0..m.triples {
        let s = step(net, &t, k, &theta0, ds, device)?;
        let stored = &log.theta_next[k * m.dim..(k + 1) * m.dim];
        per_triple.push(triple_measures(stored, &s.theta_next, s.step_norm));
        progress(k + 1);
    }
    let flagged = threshold.map_or_else(Vec::new, |t| {
        (0..per_triple.len()).filter(|&k| per_triple[k].l2 > t).collect()
    });
    Ok(VerifyReport {
        writer_profile: m.provenance.profile.name.clone(),
        verifier_profile: verifier.profile.name.clone(),
        writer: m.provenance.clone(),
        verifier,
        used_stored_inputs: false,
        summary: MeasureSummary::of(&per_triple),
        per_triple,
        threshold,
        flagged,
        exact: None,
    })
}

/// Triple `k` traced at the sites a TorchScript module shows from outside: its logits, the gradient of each
/// parameter, then the update. Its internals are one opaque graph to libtorch's C++ API, so where inside a layer
/// two devices part is not visible, only which parameter's gradient they part at first.
pub fn trace(net: &ScriptNet, t: &Triples, k: usize, ds: &Dataset, device: Device) -> Result<Trace> {
    t.check(ds)?;
    let theta0 = net.theta()?.f_to_device(device)?;
    let bt = batch(ds, &t.batch_k(k, ds.n), Transform::Scaled, device)?;
    let mut sites = Vec::new();
    net.set_theta(&theta0)?;
    let logits = {
        let _guard = tch::no_grad_guard();
        net.forward(&bt.x)?
    };
    sites.push(("model.forward".to_owned(), tensors::to_f64(&logits)?));
    let grad = net.gradient(&theta0, &bt)?;
    let values = tensors::to_f64(&grad)?;
    let mut at = 0;
    for p in &net.identity().params {
        sites.push((format!("{}.grad", p.name), values[at..at + p.numel()].to_vec()));
        at += p.numel();
    }
    let s = apply(net, t, &theta0, &grad, device)?;
    sites.push((
        "update".to_owned(),
        s.theta_next.iter().map(|&v| f64::from(v)).collect(),
    ));
    Ok(Trace {
        arithmetic: Arithmetic::F32,
        sites,
    })
}

/// Triple `k` of `t` as a one-step run (checkpoints: the file's parameters and this device's step on B_k), the form
/// the attacks on a user's run take: `adam-forge --model FILE.pt` forges it.
pub fn as_run(net: &ScriptNet, t: &Triples, k: usize, ds: &Dataset, device: Device) -> Result<TorchRun> {
    t.check(ds)?;
    let theta0 = net.theta()?.f_to_device(device)?;
    let s = step(net, t, k, &theta0, ds, device)?;
    let id = net.identity();
    let checkpoint = |step: usize, theta: Vec<f32>| Checkpoint {
        step,
        theta,
        state: Vec::new(),
        optimizer_steps: step as u64,
    };
    Ok(TorchRun {
        folder: PathBuf::from(&id.file),
        layout: format!("triple {k} of seed {}", t.seed),
        model_sha256: Some(id.sha256.clone()),
        params: id.params.clone(),
        optimizer: Optimizer::Plain,
        lr: vec![t.eta],
        batches: vec![t.batch_k(k, ds.n)],
        checkpoints: vec![checkpoint(0, tensors::to_f32(&theta0)?), checkpoint(1, s.theta_next)],
        dataset: DatasetRef::of(ds, Transform::Scaled),
        writer: None,
    })
}
