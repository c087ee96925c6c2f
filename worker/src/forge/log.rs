//! Forging a Proof-of-Learning log: for each step of the shard that the scenario selects, search a batch from
//! D' = D \ U that reproduces checkpoint i -> i+1, and replace the step's batch; checkpoints stay unchanged. Needs a
//! log with a checkpoint after every step (s = 1): a step is forged against its own logged endpoints.
use super::step::{forge_step, SearchParams};
use super::StepTarget;
use crate::error::{Result, WorkerError};
use crate::pol::PolLog;
use crate::tensors;
use forgebench_shared::data::Dataset;
use forgebench_shared::jobs::{ForgeScenario, ForgeSpec};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::results::ForgeReport;
use forgebench_shared::rng::PortableRng;
use std::collections::HashSet;
use std::time::Instant;

/// The steps of the shard to forge and, per step, the samples its forged batch must avoid.
pub fn plan(spec: &ForgeSpec, log: &PolLog) -> Vec<(usize, HashSet<usize>)> {
    let shard = spec.first_step..(spec.first_step + spec.step_count).min(log.manifest.spec.steps);
    let unlearn = |u: HashSet<usize>| -> Vec<(usize, HashSet<usize>)> {
        shard
            .clone()
            .filter(|&s| log.batch(s).iter().any(|i| u.contains(i)))
            .map(|s| (s, u.clone()))
            .collect()
    };
    match &spec.scenario {
        ForgeScenario::EveryStep => shard.clone().map(|s| (s, log.batch(s).into_iter().collect())).collect(),
        ForgeScenario::Unlearn { samples } => unlearn(samples.iter().copied().collect()),
        ForgeScenario::Membership { sample } => unlearn([*sample].into_iter().collect()),
    }
}

/// The forged batch `forged` against the exact verifier at `theta`, where the log has `real`.
fn exact_arm(
    model: forgebench_shared::experiment::ModelKind,
    theta: &[f32],
    ds: &Dataset,
    real: &[usize],
    forged: &[usize],
    eta: f64,
    device: tch::Device,
) -> Result<forgebench_shared::results::ExactArmCheck> {
    use crate::arithmetic::exact::{attack, Labels};
    let precision = forgebench_shared::experiment::Precision::F32;
    let r = crate::update::Batch::gather(ds, real, device, precision)?;
    let f = crate::update::Batch::gather(ds, forged, device, precision)?;
    attack::check(
        model,
        theta,
        (&r.x, Labels::Hard(&r.y)),
        (&f.x, Labels::Hard(&f.y)),
        eta,
    )
}

/// Forges the shard of `log` selected by `spec`; returns the report and the forged log (batches replaced).
/// `local_deadline_s` bounds each step's local search in wall-clock seconds (benchmarks; None for reproducible runs).
pub fn forge_log(
    spec: &ForgeSpec,
    log: &PolLog,
    ds: &Dataset,
    device: tch::Device,
    provenance: Provenance,
    local_deadline_s: Option<f64>,
) -> Result<(ForgeReport, PolLog)> {
    let m = &log.manifest;
    if m.spec != spec.pol {
        return Err(WorkerError::Invalid(
            "forge: the PoL log's spec differs from the forge spec's `pol`".into(),
        ));
    }
    if m.spec.checkpoint_every != 1 {
        return Err(WorkerError::Invalid(format!(
            "forge: the log checkpoints every {} steps; forging a step needs its endpoints (checkpoint_every = 1)",
            m.spec.checkpoint_every
        )));
    }
    if m.dataset_sha256 != ds.sha256 {
        return Err(WorkerError::Invalid(format!(
            "forge: the log was trained on data with sha256 {}, but {} has {}",
            m.dataset_sha256,
            ds.source.display(),
            ds.sha256
        )));
    }
    let b = m.spec.batch_size;
    let mut forged = log.clone();
    let mut report = ForgeReport {
        spec: spec.clone(),
        provenance,
        steps: vec![],
        setup_seconds: 0.0,
        search_seconds: 0.0,
        scoring: Some(forgebench_shared::results::Scoring::for_search(m.spec.model, spec.norm)),
        optimizer: forgebench_shared::optim::Optimizer::Plain,
    };
    for (step, exclude) in plan(spec, log) {
        let target = StepTarget {
            theta: tensors::from_f32(log.checkpoint(step), device),
            theta_next: tensors::from_f32(log.checkpoint(step + 1), device),
            eta: m.spec.eta,
        };
        let params = SearchParams {
            batch_size: b,
            pool: spec.pool,
            candidates: spec.candidates,
            keep: 4,
            local_moves: spec.local_moves,
            norm: spec.norm,
            greedy_deadline: None,
            local_deadline: local_deadline_s.map(|s| Instant::now() + std::time::Duration::from_secs_f64(s)),
            scoring: None,
        };
        let mut rng = PortableRng::derived(spec.seed, "forge-step", step as u64);
        let mut out = forge_step(m.spec.model, &target, ds, &exclude, &params, &mut rng, device, step)?;
        let real: Vec<usize> = log.indices[step * b..(step + 1) * b]
            .iter()
            .map(|&i| i as usize)
            .collect();
        out.step.exact_arm = Some(exact_arm(
            m.spec.model,
            log.checkpoint(step),
            ds,
            &real,
            &out.step.batch,
            m.spec.eta,
            device,
        )?);
        for (slot, &i) in forged.indices[step * b..(step + 1) * b].iter_mut().zip(&out.step.batch) {
            *slot = i as i64;
        }
        report.setup_seconds += out.setup_seconds;
        report.search_seconds += out.search_seconds;
        report.steps.push(out.step);
    }
    Ok((report, forged))
}
