//! A sweep's results as a report's results folder: everything the ledger holds for it, gathered in one place so
//! that `up`, `tables` and `report` all read the same numbers.
use crate::error::Result;
use crate::ledger::Ledger;
use crate::report::Results;
use forgebench_shared::ids::SweepId;

/// Everything a report needs from one sweep: its cross-device matrices and its definition.
pub fn sweep_results(ledger: &Ledger, sweep: &SweepId) -> Result<Results> {
    let (cfg, profiles) = ledger.sweep_config(sweep)?;
    let mut results = Results::default();
    for m in crate::aggregate::matrices(ledger, sweep)? {
        results.push_matrix(m);
    }
    results.sweep = Some(serde_json::json!({ "id": sweep.0, "sweep": cfg, "profiles": profiles }));
    Ok(results)
}
