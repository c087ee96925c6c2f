//! Replaying a PyTorch user's run: from each checkpoint (theta and optimiser state), the logged batches with the
//! logged learning rates through the user's model and optimiser, compared with the next checkpoint. The pass
//! threshold is given, calibrated from replays of honest runs (earlier reports: their intervals' errors are the
//! benign sample, and the paper's rule puts the threshold at 10x the largest), or 0 (exact replay).
use super::TorchRun;
use crate::error::{Result, WorkerError};
use crate::models::Net;
use crate::optim::{self, OptState};
use crate::pol::init_check;
use crate::pol::Epsilon;
use crate::tensors;
use crate::update::Batch;
use forgebench_shared::calibration::{Benign, Rule};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::Precision;
use forgebench_shared::measures::measures;
use forgebench_shared::pol_strategy::{distances, select, Strategy};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::torchrun::{IntervalError, TorchRunReport, Transform};
use tch::{Device, Tensor};

/// epsilon from the intervals of earlier reports on honest runs of the same model, under `rule`.
pub fn calibrate(benign: &[(String, TorchRunReport)], rule: Rule) -> Result<Epsilon> {
    let values = benign.iter().flat_map(|(_, r)| r.intervals.iter().map(|i| i.error.l2));
    let sample = Benign::new(values).ok_or_else(|| {
        WorkerError::Invalid("the benign reports hold no interval, or a non-finite error: nothing to calibrate".into())
    })?;
    let t = rule.threshold(&sample);
    let files: Vec<&str> = benign.iter().map(|(f, _)| f.as_str()).collect();
    Ok(Epsilon {
        value: t.value,
        source: format!(
            "calibrated: {} ({:.6e}) over {} benign intervals of {}",
            rule.describe(),
            sample.largest(),
            sample.n(),
            files.join(", ")
        ),
    })
}

/// The examples `indices` of `ds` under `transform`, as the user's training loop saw them.
pub fn batch(ds: &Dataset, indices: &[usize], transform: Transform, device: Device) -> Result<Batch> {
    let b = Batch::gather(ds, indices, device, Precision::F32)?;
    Ok(match transform {
        Transform::Scaled => b,
        // torchvision's Normalize: tensor.sub_(mean).div_(std), in f32.
        Transform::Normalize05 => Batch {
            x: b.x.f_sub_scalar(0.5)?.f_div_scalar(0.5)?,
            y: b.y,
        },
    })
}

fn check_identity(run: &TorchRun, net: &Net, ds: &Dataset) -> Result<()> {
    let id = net.identity();
    if let Some(want) = &run.model_sha256 {
        if *want != id.sha256 {
            return Err(WorkerError::Invalid(format!(
                "the log {} was trained with a model file of sha256 {want}, but {} has sha256 {}",
                run.folder.display(),
                id.file,
                id.sha256
            )));
        }
    }
    if run.params != id.params {
        let show = |p: &[forgebench_shared::torchrun::ParamInfo]| {
            p.iter()
                .map(|p| format!("{}{:?}", p.name, p.shape))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(WorkerError::Invalid(format!(
            "the log {} holds parameters [{}], but the model {} has [{}]",
            run.folder.display(),
            show(&run.params),
            id.file,
            show(&id.params)
        )));
    }
    if run.dataset.sha256 != ds.sha256 || run.dataset.n != ds.n {
        return Err(WorkerError::Invalid(format!(
            "the log {} was trained on data with sha256 {} ({} examples), but the data at {} has sha256 {} ({} \
             examples): refusing to verify against other data",
            run.folder.display(),
            run.dataset.sha256,
            run.dataset.n,
            ds.source.display(),
            ds.sha256,
            ds.n
        )));
    }
    if let Some(p) = run.optimizer.problem() {
        return Err(WorkerError::Invalid(format!("the log {}: {p}", run.folder.display())));
    }
    Ok(())
}

/// The intervals `strategy` picks from `run`'s checkpoints; epochs of `floor(n / b)` steps, as the public code's.
pub fn choose(run: &TorchRun, strategy: Strategy) -> Vec<usize> {
    let per_epoch = (run.dataset.n / run.batches.first().map_or(1, Vec::len).max(1)).max(1);
    let pairs = run.checkpoints.windows(2);
    let updates: Vec<[f64; 4]> = pairs.clone().map(|w| distances(&w[0].theta, &w[1].theta)).collect();
    let epoch: Vec<usize> = pairs.map(|w| w[0].step / per_epoch).collect();
    select(strategy, &updates, &epoch)
}

/// Replays the intervals of `run` that `strategy` picks, with `net` on `device`.
pub fn verify(
    run: &TorchRun,
    net: &Net,
    ds: &Dataset,
    device: Device,
    verifier: Provenance,
    epsilon: Epsilon,
    strategy: Strategy,
) -> Result<TorchRunReport> {
    check_identity(run, net, ds)?;
    let params = net.params();
    let replayed = choose(run, strategy);
    let mut intervals = Vec::with_capacity(replayed.len());
    for &k in &replayed {
        let (start, end) = (&run.checkpoints[k], &run.checkpoints[k + 1]);
        let theta = tensors::from_f32(&start.theta, device);
        let mut state = OptState {
            step: start.optimizer_steps,
            buffers: start.state.iter().map(|b| tensors::from_f32(b, device)).collect(),
        };
        for step in start.step..end.step {
            let batch = batch(ds, &run.batches[step], run.dataset.transform, device)?;
            let grad: Tensor = net.gradient(&theta, &batch)?;
            optim::step(&run.optimizer, &params, &theta, &grad, &mut state, run.lr[step])?;
        }
        let replayed = tensors::to_f32(&theta)?;
        let mut error = measures(&end.theta, &replayed, None);
        let moved = measures(&replayed, &start.theta, None).l2;
        error.rel = if moved == 0.0 { 0.0 } else { error.l2 / moved };
        intervals.push(IntervalError {
            from_step: start.step,
            to_step: end.step,
            error,
        });
    }
    let failed: Vec<usize> = intervals
        .iter()
        .enumerate()
        .filter(|(_, i)| i.error.l2.is_nan() || epsilon.value.is_nan() || i.error.l2 > epsilon.value)
        .map(|(k, _)| k)
        .collect();
    let caught_steps = failed
        .iter()
        .flat_map(|&k| intervals[k].from_step..intervals[k].to_step)
        .collect();
    let init_check = run
        .checkpoints
        .first()
        .filter(|c| c.step == 0)
        .map(|c| init_check::check_specs(&init_check::infer_specs(&params), &c.theta));
    Ok(TorchRunReport {
        log: run.folder.display().to_string(),
        strategy,
        log_intervals: run.checkpoints.len().saturating_sub(1),
        replayed,
        init_check,
        caught_steps,
        layout: run.layout.clone(),
        model: net.identity(),
        optimizer: run.optimizer.clone(),
        dataset: run.dataset.clone(),
        writer: run.writer.clone(),
        verifier,
        passed: failed.is_empty(),
        intervals,
        epsilon: epsilon.value,
        epsilon_source: epsilon.source,
        failed,
    })
}
