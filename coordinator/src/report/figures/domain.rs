//! The walk of a forgery into the data domain: its error at each stage, as the allowed violation shrinks to 0, on a
//! log axis beside the largest benign error of the same setting (one figure per search).
use super::curves::{LogChart, Series};
use crate::report::results::Results;
use crate::report::{benign_of, safe_name};
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::numfmt::error;
use forgebench_shared::results::DomainReport;

/// A search with its setting: (file name, chart, report, largest benign error).
pub(crate) type DomainFigure<'a> = (String, LogChart, &'a DomainReport, Option<f64>);

/// Every domain search of `results` (Proposition 2's, then Adam's) as a figure.
pub(crate) fn figures(results: &Results) -> Vec<DomainFigure<'_>> {
    results
        .domain_searches()
        .map(|(name, setting, d, _)| {
            let benign = benign_of(results, &setting).map(|(l2, _)| l2);
            (
                safe_name(&format!("domain-{name}")),
                chart(name, setting, d, benign),
                d,
                benign,
            )
        })
        .collect()
}

fn chart(
    name: &str,
    (model, dataset, b): (ModelKind, DatasetKind, usize),
    d: &DomainReport,
    benign: Option<f64>,
) -> LogChart {
    let points: Vec<(f64, f64)> = d.path.iter().enumerate().map(|(k, p)| (k as f64, p.error_l2)).collect();
    let last = points.len().saturating_sub(1) as f64;
    let mut series = vec![Series {
        label: "forgery (f64)".into(),
        points,
    }];
    if let Some(v) = benign {
        series.push(Series {
            label: "largest benign error".into(),
            points: vec![(0.0, v), (last.max(1.0), v)],
        });
    }
    let violations: Vec<String> = d.path.iter().map(|p| error(p.violation)).collect();
    LogChart {
        title: format!(
            "{name}: forging inside the domain, {model}/{dataset} b={b}, from {}",
            d.start
        ),
        note: format!("allowed violation per stage: {}", violations.join(", ")),
        x_desc: "stage (the last lies inside the domain)".into(),
        y_desc: "||eta (g' - g_B)||_2".into(),
        lines: true,
        series,
    }
}
