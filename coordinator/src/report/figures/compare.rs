//! Optimisation forging's variants side by side: for each model, data set, b and domain constraint run with more
//! than one optimiser or schedule, the best error so far against the objective evaluations spent (the seeds'
//! median), one line per variant, so that "at its best" compares at equal cost.
use super::curves::{optimiser_words, LogChart, Series};
use crate::report::results::Named;
use crate::report::safe_name;
use forgebench_shared::results::AdamReport;

/// A variant's words: "Adam", "Adam (cosine restarts every 100)", "L-BFGS".
fn variant(r: &AdamReport) -> String {
    let s = &r.spec;
    match s.schedule.words() {
        w if w.is_empty() => optimiser_words(s.optimiser).to_owned(),
        w => format!("{} ({w})", optimiser_words(s.optimiser)),
    }
}

/// The running minimum of a curve.
fn best_so_far(c: &[f64]) -> Vec<f64> {
    let mut m = f64::INFINITY;
    c.iter()
        .map(|&v| {
            if v < m {
                m = v;
            }
            m
        })
        .collect()
}

/// The pointwise median of curves, as long as the shortest.
fn median(curves: &[Vec<f64>]) -> Vec<f64> {
    let n = curves.iter().map(Vec::len).min().unwrap_or(0);
    (0..n)
        .map(|i| {
            let mut v: Vec<f64> = curves.iter().map(|c| c[i]).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect()
}

/// (file name, chart) for every setting with at least two variants.
pub(crate) fn figures(runs: &[Named<AdamReport>]) -> Vec<(String, LogChart)> {
    // (model, data set, b, projected) and its runs' (variant, best-so-far curve).
    type Setting = (String, String, usize, bool);
    type Runs = Vec<(String, Vec<f64>)>;
    let mut settings: Vec<(Setting, Runs)> = Vec::new();
    for r in runs {
        let s = &r.value.spec;
        let key = (s.model.to_string(), s.dataset.to_string(), s.batch_size, s.projected);
        let curve = best_so_far(&r.value.curve_l2);
        let pos = settings.iter().position(|g| g.0 == key).unwrap_or_else(|| {
            settings.push((key, Vec::new()));
            settings.len() - 1
        });
        settings[pos].1.push((variant(&r.value), curve));
    }
    let mut out = Vec::new();
    for ((model, dataset, b, projected), curves) in settings {
        let mut names: Vec<String> = curves.iter().map(|c| c.0.clone()).collect();
        names.sort();
        names.dedup();
        if names.len() < 2 {
            continue;
        }
        let series = names
            .iter()
            .map(|n| {
                let of: Vec<Vec<f64>> = curves.iter().filter(|c| &c.0 == n).map(|c| c.1.clone()).collect();
                let seeds = of.len();
                Series {
                    label: format!("{n}, {seeds} seed(s)"),
                    points: median(&of)
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (i as f64, v))
                        .collect(),
                }
            })
            .collect();
        let constraint = if projected { " (projected)" } else { "" };
        out.push((
            safe_name(&format!(
                "optimisers-{model}-{dataset}-b{b}{}",
                if projected { "-projected" } else { "" }
            )),
            LogChart {
                title: format!("Optimisation forging{constraint}, {model}/{dataset} b={b}: the variants at equal cost"),
                note: "best ||eta grad L(synthetic) - eta grad L(B)||_2 so far, median over seeds".into(),
                x_desc: "objective evaluations".into(),
                y_desc: "best L2 error so far".into(),
                lines: true,
                series,
            },
        ));
    }
    out
}
