//! A complete sweep's full report, written once into the store's `dashboard-reports/` folder and served from there.
use crate::error::{CoordError, Result};
use crate::service::Coordinator;
use forgebench_shared::ids::SweepId;

/// The report page of `sweep` (written on first request; a sweep still running has none yet).
pub(super) fn index(coord: &Coordinator, sweep: &str) -> Result<String> {
    let id = SweepId(sweep.to_owned());
    if !coord.ledger().sweep_status(&id)?.complete() {
        return Err(CoordError::Precondition(format!(
            "sweep {sweep} is still running: its report comes when it completes"
        )));
    }
    let artifacts = &coord.settings().artifacts_dir;
    let dir = artifacts
        .parent()
        .unwrap_or(artifacts)
        .join("dashboard-reports")
        .join(crate::report::safe_name(sweep));
    let page = dir.join("report").join("index.html");
    if !page.exists() {
        let results = crate::dump::sweep_results_with_artifacts(coord.ledger(), &id, artifacts)?;
        crate::report::write_results(&results, &dir.join("results"))?;
        crate::report::run_report_command(&dir.join("results"), &dir.join("report"), Default::default())?;
    }
    std::fs::read_to_string(&page).map_err(|e| CoordError::io(&page, e))
}
