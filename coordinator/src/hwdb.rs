//! The hardware database across sweeps: every finished sweep's cross-device cells, and results folders imported from
//! other coordinators (other labs), accumulate in the ledger keyed by device id (hardware, software and settings in
//! force), experiment, model, data set and b. From them come the aggregated table of every setting over everything
//! measured (`forgebench tables --all`) and the table of one hardware pair (`forgebench compare A B`).
//!
//! A sweep is recorded once, when it is complete and its cells are first asked for; recording is idempotent, so
//! every reader may bring the database up to date first ([`sync`]).
mod aggregate;
mod compare;
mod import;

pub use aggregate::{aggregate, Aggregated};
pub use compare::{compare, select, Comparison};
pub use import::{import, Imported};

use crate::error::Result;
use crate::ledger::{Ledger, MeasuredSource};
use forgebench_shared::ids::SweepId;
use std::path::Path;

/// What [`sync`] did.
#[derive(Debug, Default)]
pub struct Synced {
    /// Sweeps recorded now.
    pub recorded: Vec<SweepId>,
    /// Complete sweeps that could not be recorded, with the reason (a log missing from the store, say); they are
    /// tried again next time.
    pub skipped: Vec<(SweepId, String)>,
}

/// Records every complete sweep not recorded yet. `artifacts` is the store the linear cells are computed from.
pub fn sync(ledger: &Ledger, artifacts: Option<&Path>) -> Result<Synced> {
    let mut out = Synced::default();
    for id in ledger.unrecorded_sweeps()? {
        if !ledger.sweep_status(&id)?.complete() {
            continue;
        }
        let recorded = crate::aggregate::matrices(ledger, &id, artifacts).and_then(|m| {
            let (cfg, profiles) = ledger.sweep_config(&id)?;
            let source = MeasuredSource {
                id: format!("sweep:{id}"),
                kind: "sweep".into(),
                label: format!("sweep {} ({id})", cfg.name),
                provenance: serde_json::json!({ "sweep": cfg, "profiles": profiles }),
                recorded_ms: 0,
            };
            ledger.record_measured(&source, &m)
        });
        match recorded {
            Ok(true) => out.recorded.push(id),
            Ok(false) => {}
            Err(e) => out.skipped.push((id, format!("{e:#}"))),
        }
    }
    Ok(out)
}
