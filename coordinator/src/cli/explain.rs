//! `forgebench explain --sweep ID --pair A,B`: where the devices of two profiles part, for every traced
//! reproduction spec of a sweep, read from the ledger and the artifact store (no coordinator needed).
use crate::error::{CoordError, Result};
use forgebench_shared::config::ClusterConfig;
use forgebench_shared::ids::SweepId;

/// Arguments of `explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The sweep (an id of the configured ledger).
    #[arg(long)]
    pub sweep: String,
    /// Two profile names, "A,B": A's trace against B's.
    #[arg(long, value_delimiter = ',', required = true)]
    pub pair: Vec<String>,
}

/// Prints each traced spec's site-by-site comparison of the pair.
pub fn explain(cfg: &ClusterConfig, a: &ExplainArgs) -> Result<()> {
    let [x, y] = a.pair.as_slice() else {
        return Err(CoordError::Invalid(format!(
            "--pair needs two profile names, got {:?}",
            a.pair
        )));
    };
    let ledger = crate::ledger::Ledger::open(&cfg.coordinator.ledger)?;
    let artifacts = crate::service::Settings::from_config(cfg).artifacts_dir;
    let sweep = SweepId(a.sweep.clone());
    let found = crate::aggregate::pair_explanations(&ledger, &sweep, &artifacts, [x, y])?;
    if found.is_empty() {
        return Err(CoordError::Invalid(format!(
            "sweep {sweep} has no finished trace of both {x} and {y} (trace jobs run with every reproduction \
             matrix; see `forgebench status`)"
        )));
    }
    for p in found {
        let heading = format!("{} triple {}", p.key.title(), p.triple);
        let [da, db] = &p.devices;
        println!(
            "{}",
            forgebench_shared::trace::markdown(&p.explanation, &da.profile, &db.profile, &heading)
        );
    }
    Ok(())
}
