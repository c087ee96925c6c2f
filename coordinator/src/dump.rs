//! A sweep's results as a report's results folder: everything the ledger holds for it, gathered in one place so
//! that `up`, `tables` and `report` all read the same numbers.
//!
//! Matrices come from [`crate::aggregate`]; every other section from the outcome JSON of the sweep's done jobs
//! ([`runs`]): shuffles, PoL replays (trained and forged logs), Adam runs, Proposition 2 constructions, one attack
//! row per forging, Adam and Proposition 2 job, and, when the artifact store is given, the image grids those jobs
//! uploaded. Entry names derive from job ids, so they are stable, safe file names, unique per section.
mod runs;
#[cfg(test)]
mod tests;
mod torch;

use crate::error::Result;
use crate::ledger::{JobRow, JobState, Ledger};
use crate::report::{Named, Results};
use forgebench_shared::ids::SweepId;
use forgebench_shared::jobs::JobOutcome;
use std::path::Path;

/// Everything a report needs from one sweep except image grids (which live in the artifact store).
pub fn sweep_results(ledger: &Ledger, sweep: &SweepId) -> Result<Results> {
    gather(ledger, sweep, None)
}

/// [`sweep_results`] plus the image grids the sweep's jobs uploaded to `artifacts_dir` (the coordinator's store:
/// one file per artifact, named by its content id). A grid whose file is missing there is skipped with a warning.
pub fn sweep_results_with_artifacts(ledger: &Ledger, sweep: &SweepId, artifacts_dir: &Path) -> Result<Results> {
    gather(ledger, sweep, Some(artifacts_dir))
}

/// [`sweep_results`] with the matrices' linear cells computed from the logs in `artifacts_dir` but no image grids:
/// what a live view polls.
pub fn sweep_results_live(ledger: &Ledger, sweep: &SweepId, artifacts_dir: &Path) -> Result<Results> {
    gather_with(ledger, sweep, Some(artifacts_dir), None)
}

fn gather(ledger: &Ledger, sweep: &SweepId, artifacts_dir: Option<&Path>) -> Result<Results> {
    gather_with(ledger, sweep, artifacts_dir, artifacts_dir)
}

fn gather_with(ledger: &Ledger, sweep: &SweepId, logs: Option<&Path>, artifacts_dir: Option<&Path>) -> Result<Results> {
    let (cfg, profiles) = ledger.sweep_config(sweep)?;
    let mut results = Results::default();
    for m in crate::aggregate::matrices(ledger, sweep, logs)? {
        results.push_matrix(m);
    }
    let prefix = format!("{sweep}/");
    for j in ledger.sweep_jobs(sweep)? {
        let Some(outcome) = j.outcome.as_ref().filter(|_| j.state == JobState::Done) else {
            continue;
        };
        let name = crate::report::safe_name(j.id.0.strip_prefix(&prefix).unwrap_or(&j.id.0));
        runs::collect(&j, outcome, &name, artifacts_dir, &mut results)?;
    }
    let order: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
    for m in &mut results.torch {
        m.value.order_by(&order);
    }
    if let Some(dir) = artifacts_dir {
        for e in crate::aggregate::explanations(ledger, sweep, dir)? {
            results.push_explanation(e);
        }
    }
    results.sweep = Some(serde_json::json!({ "id": sweep.0, "sweep": cfg, "profiles": profiles }));
    Ok(results)
}

/// Checks the outcome `o` reported for job `j` as the report will read it (typed result, spec, profile), without
/// keeping anything: a result refused here is retried instead of breaking the sweep's tables later.
pub fn validate_outcome(j: &JobRow, o: &JobOutcome) -> Result<()> {
    runs::collect(j, o, "check", None, &mut Results::default())
}

/// Appends `value` under `base`, or `base-2`, `base-3`, ... when the name is taken.
pub(crate) fn push_unique<T>(section: &mut Vec<Named<T>>, base: &str, value: T) {
    let mut name = base.to_owned();
    let mut i = 2;
    while section.iter().any(|n| n.name == name) {
        name = format!("{base}-{i}");
        i += 1;
    }
    section.push(Named::new(name, value));
}
