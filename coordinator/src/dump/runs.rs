//! One done job's outcome into the results sections: its typed report (checked against the job's plan, so that a
//! result filed under the wrong job cannot reach a table), its attack row, and its image grids.
use super::push_unique;
use crate::error::{CoordError, Result};
use crate::ledger::JobRow;
use crate::plan::{ArtifactJob, Plan, IMAGE_BATCH, TRACE};
use crate::report::{benign_of, safe_name, Results};
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::jobs::{JobOutcome, JobSpec};
use forgebench_shared::measures::nan_max;
use forgebench_shared::provenance::Provenance;
use forgebench_shared::results::{
    AdamReport, DomainReport, ExactArmCheck, ForgeReport, ImageBatch, PolVerifyReport, Prop2Report, ShuffleReport,
};
use forgebench_shared::tables::AttackRow;
use forgebench_shared::torch_forge::TorchForgeReport;
use forgebench_shared::torch_shuffle::TorchShuffleReport;
use forgebench_shared::torchrun::TorchRunReport;
use serde::de::DeserializeOwned;
use std::path::Path;

fn parse<T: DeserializeOwned>(j: &JobRow, o: &JobOutcome) -> Result<T> {
    serde_json::from_value(o.result.clone()).map_err(|e| CoordError::json(format!("result of {}", j.id), e))
}

fn check(j: &JobRow, matches: bool, ran: &Provenance) -> Result<()> {
    if !matches {
        return Err(CoordError::Invalid(format!(
            "{}: the result is for another spec than the job's",
            j.id
        )));
    }
    if ran.profile.name != j.profile {
        return Err(CoordError::Invalid(format!(
            "{}: the result was computed on {}, the job is bound to {}",
            j.id, ran.profile.name, j.profile
        )));
    }
    Ok(())
}

/// `(attack, model, dataset, b, error, parameters)` as a row with its benign reference (Table 1 judges it).
fn attack_row(
    results: &Results,
    attack: &str,
    setting: (ModelKind, DatasetKind, usize),
    error: f64,
    params: String,
    exact_arm: Option<ExactArmCheck>,
) -> AttackRow {
    let benign_l2 = benign_of(results, &setting).map(|(l2, _)| l2);
    AttackRow {
        step_errors_l2: Vec::new(),
        exact_arm,
        attack: attack.into(),
        model: setting.0,
        dataset: setting.1,
        batch_size: setting.2,
        error_l2: error,
        parameters: params,
        benign_l2,
    }
}

/// The two end points of a search inside the domain that started from `attack`'s batch, as rows
/// "`attack`-domain" (soft labels) and "`attack`-domain-one-hot", judged by their f32 error as a verifier sees it.
fn domain_rows(
    results: &Results,
    attack: &str,
    setting: (ModelKind, DatasetKind, usize),
    d: &DomainReport,
) -> Vec<AttackRow> {
    let row = |suffix: &str, f: &forgebench_shared::results::DomainForgery, labels: &str| {
        let params = format!(
            "in the domain, {labels} labels, {} iterations from {}, nearest real input {:.2} (median {:.2}, real \
             neighbours {:.2})",
            d.iterations, d.start, f.nearest_real, f.nearest_real_median, d.real_neighbour_distance,
        );
        attack_row(
            results,
            &format!("{attack}-{suffix}"),
            setting,
            f.error_f32.l2,
            params,
            f.exact_arm,
        )
    };
    vec![
        row("domain", &d.soft, "soft"),
        row("domain-one-hot", &d.hard, "one-hot"),
    ]
}

/// Files `o`, the outcome of the done job `j`, under `name` in `results`.
pub(super) fn collect(
    j: &JobRow,
    o: &JobOutcome,
    name: &str,
    grids: Option<&Path>,
    results: &mut Results,
) -> Result<()> {
    match &j.plan {
        Plan::Ready {
            job: JobSpec::Shuffle { spec },
        } => {
            let r: ShuffleReport = parse(j, o)?;
            check(j, &r.spec == spec, &r.provenance)?;
            // The report names its figures "shuffle-<name>" already.
            push_unique(&mut results.shuffle, name.strip_prefix("shuffle-").unwrap_or(name), r);
        }
        Plan::Ready {
            job: JobSpec::AdamForge { spec },
        } => {
            let r: AdamReport = parse(j, o)?;
            check(j, &r.spec == spec, &r.provenance)?;
            let attack = spec.attack();
            // Table 1 judges what a forger keeps: the best iterate, the last one named beside it.
            let params = r.parameters();
            let row = attack_row(
                results,
                &attack,
                (spec.model, spec.dataset, spec.batch_size),
                r.kept_error().l2,
                params,
                r.exact_arm,
            );
            let mut rows = vec![row];
            if let Some(d) = &r.domain {
                rows.extend(domain_rows(
                    results,
                    &attack,
                    (spec.model, spec.dataset, spec.batch_size),
                    d,
                ));
            }
            push_unique(&mut results.attacks, name, rows);
            push_unique(&mut results.adam, name, r);
            add_grids(j, o, grids, results)?;
        }
        Plan::Ready {
            job: JobSpec::Prop2 { spec },
        } => {
            let r: Prop2Report = parse(j, o)?;
            check(j, &r.spec == spec, &r.provenance)?;
            // The error a verifier sees: the forged batch's update computed in f32, as training runs.
            let params = format!("f32, rank {}, seed {}", r.rank, spec.seed);
            let setting = (ModelKind::Logreg, DatasetKind::Mnist, spec.batch_size);
            let mut rows = vec![attack_row(
                results,
                "prop2",
                setting,
                r.error_f32.l2,
                params,
                r.exact_arm,
            )];
            if let Some(d) = &r.domain {
                rows.extend(domain_rows(results, "prop2", setting, d));
            }
            push_unique(&mut results.attacks, name, rows);
            push_unique(&mut results.prop2, name, r);
            add_grids(j, o, grids, results)?;
        }
        Plan::NeedsArtifact {
            job: ArtifactJob::PolVerify { spec, .. },
            ..
        } => {
            let r: PolVerifyReport = parse(j, o)?;
            check(j, &r.spec == spec, &r.verifier)?;
            push_unique(&mut results.pol, name, r);
        }
        Plan::NeedsArtifact {
            job: ArtifactJob::TorchVerify { spec, writer, verifier },
            ..
        } => {
            let r: TorchRunReport = parse(j, o)?;
            let same = r.model.sha256 == spec.model_sha256
                && r.dataset.kind == spec.dataset
                && r.optimizer == spec.optimizer
                && r.intervals.len() == spec.steps;
            check(j, same, &r.verifier)?;
            super::torch::put(results, spec, (writer, verifier), &r);
        }
        Plan::Ready {
            job: JobSpec::TorchShuffle { spec, shuffles },
        } => {
            let r: TorchShuffleReport = parse(j, o)?;
            let same = r.model.sha256 == spec.model_sha256
                && r.dataset.kind == spec.dataset
                && (r.batch_size, r.seed, r.errors.len()) == (spec.batch_size, spec.seed, *shuffles);
            check(j, same, &r.provenance)?;
            push_unique(&mut results.torch_shuffle, name, r);
        }
        Plan::NeedsArtifact {
            job: ArtifactJob::TorchForge { spec },
            ..
        } => {
            let r: TorchForgeReport = parse(j, o)?;
            let run = &spec.run;
            let same = r.model.sha256 == run.model_sha256
                && r.dataset.kind == run.dataset
                && r.optimizer == run.optimizer
                && (r.step, r.batch_size, r.pool) == (spec.step, run.batch_size, spec.pool)
                && r.synthetic.as_ref().map(|a| a.projected)
                    == (spec.synthetic_iterations > 0).then_some(spec.projected);
            check(j, same, &r.provenance)?;
            push_unique(&mut results.torch_forge, name, r);
        }
        Plan::NeedsArtifact {
            job: ArtifactJob::Forge { spec },
            ..
        } => {
            let r: ForgeReport = parse(j, o)?;
            check(j, &r.spec == spec, &r.provenance)?;
            let local = spec.local_moves > 0;
            let mut errors = Vec::with_capacity(r.steps.len());
            for s in &r.steps {
                let e = if local { s.local.as_ref() } else { Some(&s.greedy) };
                let e = e.ok_or_else(|| {
                    CoordError::Invalid(format!("{}: step {} has no local-search error", j.id, s.step))
                })?;
                errors.push(e.l2);
            }
            // A forged log passes only if every step does: its worst step decides, and a NaN step is the worst.
            let error = nan_max(errors.iter().copied())
                .ok_or_else(|| CoordError::Invalid(format!("{}: no step was forged", j.id)))?;
            let mut params = format!("n={}, M={}", spec.pool, spec.candidates);
            if let Some(s) = r.scoring {
                params.push_str(&format!(", scoring {}", s.name()));
            }
            if local {
                params.push_str(&format!(", {} moves", spec.local_moves));
            }
            params.push_str(&format!(", worst of {} steps, seed {}", r.steps.len(), spec.seed));
            let attack = if local { "local-search" } else { "greedy" };
            let p = &spec.pol;
            // The exact verifier rejects the log if any step fails: show the step that leaves the most values no
            // record can fix.
            let exact = r.steps.iter().filter_map(|s| s.exact_arm).max_by_key(|c| c.remaining());
            let mut row = attack_row(
                results,
                attack,
                (p.model, p.dataset, p.batch_size),
                error,
                params,
                exact,
            );
            row.step_errors_l2 = errors;
            push_unique(&mut results.attacks, name, vec![row]);
        }
        Plan::Ready {
            job: JobSpec::Trace { spec, triple },
        } => {
            let r: forgebench_shared::trace::TraceReport = parse(j, o)?;
            check(j, &r.spec == spec && r.triple == *triple, &r.provenance)?;
            if !o.artifacts.iter().any(|a| a.role == TRACE) {
                return Err(CoordError::Invalid(format!("{}: no \"{TRACE}\" artifact", j.id)));
            }
        }
        // Reproduction feeds the matrices; a PoL training run is only the input of the replays and forgeries.
        Plan::Ready { .. } | Plan::VerifyOf { .. } => {}
    }
    Ok(())
}

/// The image batches among `o`'s artifacts, read from the artifact store.
fn add_grids(j: &JobRow, o: &JobOutcome, dir: Option<&Path>, results: &mut Results) -> Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    for a in o.artifacts.iter().filter(|a| a.role == IMAGE_BATCH) {
        let path = dir.join(&a.id.0);
        if !path.is_file() {
            tracing::warn!(job = %j.id, artifact = %a.id, "image batch not in the artifact store; grid skipped");
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| CoordError::io(&path, e))?;
        let batch: ImageBatch =
            serde_json::from_str(&text).map_err(|e| CoordError::json(format!("image batch of {}", j.id), e))?;
        push_unique(&mut results.grids, &safe_name(&batch.title), batch);
    }
    Ok(())
}
