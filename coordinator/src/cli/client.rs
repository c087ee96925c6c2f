//! Client commands over the control service (`submit`, `status`, `resubmit`, `tables`) and `report`.
use crate::error::{CoordError, Result};
use clap::{Args, ValueEnum};
use forgebench_proto::v1 as pb;
use forgebench_shared::config::{ClusterConfig, SweepConfig};
use forgebench_shared::measures::Measure;
use forgebench_shared::tables::CrossDeviceMatrix;
use std::path::PathBuf;

/// Options of `submit`.
#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    /// A sweep of cluster.toml (default: its `default_sweep`).
    #[arg(long, conflicts_with = "file")]
    pub sweep: Option<String>,
    /// A TOML file holding one sweep table instead.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Coordinator address (default: the configured one).
    #[arg(long, env = "FORGEBENCH_COORDINATOR")]
    pub coordinator: Option<String>,
}

/// Options of `status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// One sweep id (default: every sweep).
    #[arg(long, default_value = "")]
    pub sweep: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Coordinator address (default: the configured one).
    #[arg(long, env = "FORGEBENCH_COORDINATOR")]
    pub coordinator: Option<String>,
}

/// Options of `resubmit`.
#[derive(Debug, Clone, Args)]
pub struct ResubmitArgs {
    /// The sweep id.
    #[arg(long)]
    pub sweep: String,
    /// Only failed jobs (otherwise every unfinished one).
    #[arg(long)]
    pub failed_only: bool,
    /// Coordinator address (default: the configured one).
    #[arg(long, env = "FORGEBENCH_COORDINATOR")]
    pub coordinator: Option<String>,
}

/// Output formats of `tables`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Markdown.
    Md,
    /// CSV, every measure.
    Csv,
    /// JSON (the CrossDeviceMatrix documents).
    Json,
}

/// Options of `tables`.
#[derive(Debug, Clone, Args)]
pub struct TablesArgs {
    /// The sweep id.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub sweep: Option<String>,
    /// Every setting over everything measured: all finished sweeps of the ledger and every import, pooled per
    /// setting (read from the ledger directly; no coordinator needed).
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Measure of the Markdown cells: l2, l2sq or l2sq-per-dim.
    #[arg(long, default_value = "l2")]
    pub measure: Measure,
    /// Coordinator address (default: the configured one).
    #[arg(long, env = "FORGEBENCH_COORDINATOR")]
    pub coordinator: Option<String>,
}

/// Options of `report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A results folder (as `up` writes under <out>/results).
    #[arg(long, conflicts_with = "sweep", required_unless_present = "sweep")]
    pub results: Option<PathBuf>,
    /// A sweep id of the configured ledger, read directly (no coordinator needed).
    #[arg(long)]
    pub sweep: Option<String>,
    /// Report folder.
    #[arg(long, default_value = "runs/report")]
    pub out: PathBuf,
    /// False-alarm rate per log of the calibrated verdicts (a fraction in (0, 1)).
    #[arg(long, default_value_t = forgebench_shared::calibration::FALSE_ALARM)]
    pub false_alarm: f64,
    /// Steps per log of the calibrated verdicts.
    #[arg(long, default_value_t = forgebench_shared::calibration::LOG_STEPS)]
    pub log_steps: usize,
}

impl ReportArgs {
    /// The calibrated verdicts' rule; a rate outside (0, 1) or a log of 0 steps is an error.
    pub fn rule(&self) -> Result<forgebench_shared::calibration::Rule> {
        if !(self.false_alarm > 0.0 && self.false_alarm < 1.0) || self.log_steps == 0 {
            return Err(CoordError::Invalid(format!(
                "--false-alarm {} --log-steps {}: the rate must lie in (0, 1) and a log have at least one step",
                self.false_alarm, self.log_steps
            )));
        }
        Ok(forgebench_shared::calibration::Rule::FalseAlarm {
            rate: self.false_alarm,
            steps: self.log_steps,
        })
    }
}

fn remote(context: &'static str) -> impl FnOnce(tonic::Status) -> CoordError {
    move |status| CoordError::Remote { context, status }
}

/// `submit`: prints the sweep id.
pub fn submit(cfg: &ClusterConfig, a: &SubmitArgs) -> Result<()> {
    let sweep_toml = match (&a.file, &a.sweep) {
        (Some(f), _) => {
            let text = std::fs::read_to_string(f).map_err(|e| CoordError::io(f, e))?;
            SweepConfig::from_toml_str_at(&text, f)?;
            text
        }
        (None, name) => {
            let name = name
                .as_deref()
                .or(cfg.default_sweep.as_deref())
                .ok_or_else(|| CoordError::Invalid("no --sweep given and cluster.toml has no default_sweep".into()))?;
            toml::to_string(cfg.sweep(name)?).map_err(|e| CoordError::Invalid(format!("sweep to TOML: {e}")))?
        }
    };
    super::runtime()?.block_on(async {
        let mut c = super::control(cfg, a.coordinator.as_deref()).await?;
        let r = c
            .submit_sweep(pb::SubmitSweepRequest { sweep_toml })
            .await
            .map_err(remote("submit"))?
            .into_inner();
        let note = if r.existing { " (already recorded; resumed)" } else { "" };
        eprintln!("sweep {} with {} jobs{note}", r.sweep_id, r.jobs);
        println!("{}", r.sweep_id);
        Ok(())
    })
}

/// `status`.
pub fn status(cfg: &ClusterConfig, a: &StatusArgs) -> Result<()> {
    super::runtime()?.block_on(async {
        let mut c = super::control(cfg, a.coordinator.as_deref()).await?;
        let s = c
            .get_status(pb::StatusRequest {
                sweep_id: a.sweep.clone(),
            })
            .await
            .map_err(remote("status"))?
            .into_inner();
        if a.json {
            println!("{}", super::progress::status_json(&s));
        } else {
            print!("{}", super::progress::status_text(&s));
        }
        Ok(())
    })
}

/// `resubmit`.
pub fn resubmit(cfg: &ClusterConfig, a: &ResubmitArgs) -> Result<()> {
    super::runtime()?.block_on(async {
        let mut c = super::control(cfg, a.coordinator.as_deref()).await?;
        let req = pb::ResubmitRequest {
            sweep_id: a.sweep.clone(),
            failed_only: a.failed_only,
        };
        let r = c.resubmit(req).await.map_err(remote("resubmit"))?.into_inner();
        println!("{} jobs requeued", r.requeued);
        Ok(())
    })
}

/// `tables`.
pub fn tables(cfg: &ClusterConfig, a: &TablesArgs) -> Result<()> {
    super::runtime()?.block_on(async {
        let mut c = super::control(cfg, a.coordinator.as_deref()).await?;
        let r = c
            .get_tables(pb::TablesRequest {
                sweep_id: a.sweep.clone().unwrap_or_default(),
            })
            .await
            .map_err(remote("tables"))?
            .into_inner();
        let m: Vec<CrossDeviceMatrix> =
            serde_json::from_str(&r.matrices_json).map_err(|e| CoordError::json("tables", e))?;
        if !r.complete {
            eprintln!("note: the sweep is still running; empty cells are not computed yet");
        }
        print!("{}", render(&m, a.format, a.measure)?);
        Ok(())
    })
}

/// Matrices in one of the formats.
pub fn render(m: &[CrossDeviceMatrix], format: Format, measure: Measure) -> Result<String> {
    Ok(match format {
        Format::Md => m.iter().map(|x| format!("{}\n", x.to_markdown(measure))).collect(),
        Format::Csv => m.iter().map(|x| x.to_csv()).collect(),
        Format::Json => serde_json::to_string_pretty(m).map_err(|e| CoordError::json("tables", e))? + "\n",
    })
}

/// `report`.
pub fn report(cfg: &ClusterConfig, a: &ReportArgs) -> Result<()> {
    match (&a.results, &a.sweep) {
        (Some(r), _) => crate::report::run_report_command(r, &a.out, a.rule()?).map(|_| ()),
        (None, Some(s)) => {
            let ledger = crate::ledger::Ledger::open(&cfg.coordinator.ledger)?;
            let artifacts = crate::service::Settings::from_config(cfg).artifacts_dir;
            let id = forgebench_shared::ids::SweepId(s.clone());
            let results = crate::dump::sweep_results_with_artifacts(&ledger, &id, &artifacts)?;
            let dir = a.out.join("results");
            crate::report::write_results(&results, &dir)?;
            crate::report::run_report_command(&dir, &a.out.join("report"), a.rule()?).map(|_| ())
        }
        (None, None) => Err(CoordError::Invalid("report needs --results or --sweep".into())),
    }
}
