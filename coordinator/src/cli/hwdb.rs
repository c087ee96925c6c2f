//! `tables --all`, `compare` and `import`: the hardware database, read and written in the configured ledger directly
//! (beside a running coordinator too: SQLite serialises the writers), like `report --sweep`.
use super::client::Format;
use crate::error::{CoordError, Result};
use crate::hwdb;
use crate::ledger::Ledger;
use clap::Args;
use forgebench_shared::config::ClusterConfig;
use forgebench_shared::measures::Measure;
use std::path::PathBuf;

/// Options of `compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Device A: a device id (or its first digits, `dev-3f9a`), a profile, a host or part of a GPU's name.
    pub a: String,
    /// Device B, named the same ways.
    pub b: String,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

/// Options of `import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// A results folder written by another coordinator (`<out>/results` of `up`, or of `report --sweep`).
    pub results: PathBuf,
    /// The name the cells are filed under (default: the folder's name).
    #[arg(long)]
    pub label: Option<String>,
}

/// The ledger with every complete sweep recorded; what could not be recorded is said on stderr.
fn synced(cfg: &ClusterConfig) -> Result<Ledger> {
    let ledger = Ledger::open(&cfg.coordinator.ledger)?;
    let artifacts = crate::service::Settings::from_config(cfg).artifacts_dir;
    let s = hwdb::sync(&ledger, Some(&artifacts))?;
    if !s.recorded.is_empty() {
        eprintln!("hardware database: recorded {} finished sweep(s)", s.recorded.len());
    }
    for (id, why) in &s.skipped {
        eprintln!("hardware database: sweep {id} not recorded: {why}");
    }
    Ok(ledger)
}

/// `tables --all`: one pooled matrix per setting over every source.
pub fn tables_all(cfg: &ClusterConfig, format: Format, measure: Measure) -> Result<()> {
    let all = hwdb::aggregate(&synced(cfg)?)?;
    if all.is_empty() {
        eprintln!("the hardware database is empty: no finished sweep and no import yet");
    }
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&all).map_err(|e| CoordError::json("tables", e))?;
            println!("{text}");
        }
        Format::Csv => all.iter().for_each(|a| print!("{}", a.matrix.to_csv())),
        Format::Md => {
            for a in &all {
                println!("{}\nSources: {}\n", a.matrix.to_markdown(measure), a.sources.join("; "));
            }
        }
    }
    Ok(())
}

/// `compare A B`.
pub fn compare(cfg: &ClusterConfig, a: &CompareArgs) -> Result<()> {
    let c = hwdb::compare(&synced(cfg)?, &a.a, &a.b)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&c).map_err(|e| CoordError::json("compare", e))?
        );
    } else {
        print!("{}", c.markdown());
    }
    Ok(())
}

/// `import DIR`.
pub fn import(cfg: &ClusterConfig, a: &ImportArgs) -> Result<()> {
    let ledger = Ledger::open(&cfg.coordinator.ledger)?;
    let r = hwdb::import(&ledger, &a.results, a.label.as_deref())?;
    if r.new {
        eprintln!("imported {} matrices ({} cells) as {}", r.matrices, r.cells, r.source);
    } else {
        eprintln!(
            "{} was imported before as {}; nothing added",
            a.results.display(),
            r.source
        );
    }
    Ok(())
}
