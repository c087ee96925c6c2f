//! Line and point charts on a log y axis: the Adam forging error against the iteration (Figure 2, one figure per
//! model, data set, b and variant, one line per seed) and the per-shuffle errors (Figure 4). Values of 0 cannot sit
//! on a log axis; they are counted in the caption instead.
use super::{decades, font, DrawResult, Figure, SERIES};
use crate::report::results::Named;
use forgebench_shared::results::{AdamReport, ShuffleReport};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One series of (x, y) points.
pub(crate) struct Series {
    /// Legend text.
    pub label: String,
    /// Points; non-positive y are skipped when drawn.
    pub points: Vec<(f64, f64)>,
}

/// A chart with a linear x axis and a log y axis.
pub(crate) struct LogChart {
    /// Caption.
    pub title: String,
    /// Second caption line (what is not drawn, and why).
    pub note: String,
    /// Axis descriptions.
    pub x_desc: String,
    /// Axis descriptions.
    pub y_desc: String,
    /// Lines (true) or points (false).
    pub lines: bool,
    /// The data.
    pub series: Vec<Series>,
}

impl Figure for LogChart {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE)?;
        area.draw(&Text::new(self.title.clone(), (12, 10), font(15)))?;
        area.draw(&Text::new(self.note.clone(), (12, 32), font(12)))?;
        let body = area.margin(52, 10, 10, 20);
        let ys = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
        let Some((lo, hi)) = decades(ys) else {
            body.draw(&Text::new(
                "no positive value to draw on a log axis",
                (40, 60),
                font(14),
            ))?;
            return Ok(());
        };
        // plotters labels only powers of ten on a log axis: span at least two decades so there are three labels.
        let lo = if hi - lo < 2 { hi - 2 } else { lo };
        let x_max = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .fold(1.0f64, f64::max);
        let mut chart = ChartBuilder::on(&body)
            .x_label_area_size(44)
            .y_label_area_size(78)
            .build_cartesian_2d(0f64..x_max, (10f64.powi(lo)..10f64.powi(hi)).log_scale())?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.clone())
            .y_desc(self.y_desc.clone())
            .y_labels(12)
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .light_line_style(RGBColor(238, 238, 238))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style(font(12))
            .axis_desc_style(font(13))
            .draw()?;
        for (k, s) in self.series.iter().enumerate() {
            let colour = SERIES[k % SERIES.len()];
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1 > 0.0 && p.1.is_finite())
                .collect();
            let drawn = if self.lines {
                chart.draw_series(LineSeries::new(pts, colour.stroke_width(2)))?
            } else {
                chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, colour.filled())))?
            };
            drawn
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
        }
        if self.series.len() > 1 {
            chart
                .configure_series_labels()
                .label_font(font(11))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()?;
        }
        Ok(())
    }
}

/// The optimiser as a title names it.
pub(crate) fn optimiser_words(o: forgebench_shared::jobs::ForgeOptimiser) -> &'static str {
    match o {
        forgebench_shared::jobs::ForgeOptimiser::Adam => "Adam",
        forgebench_shared::jobs::ForgeOptimiser::Lbfgs => "L-BFGS",
    }
}

/// Adam figures, grouped by model, data set, b and variant: (file name, chart, the runs drawn).
pub(crate) fn adam_figures(runs: &[Named<AdamReport>]) -> Vec<(String, LogChart, Vec<&AdamReport>)> {
    let mut groups: Vec<(String, Vec<&Named<AdamReport>>)> = Vec::new();
    for r in runs {
        let s = &r.value.spec;
        let key = format!(
            "{}-{}-{}-b{}{}{}",
            s.optimiser.name(),
            s.model,
            s.dataset,
            s.batch_size,
            if s.projected { "-projected" } else { "" },
            s.schedule.tag()
        );
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups
        .into_iter()
        .map(|(key, rs)| {
            let s = &rs[0].value.spec;
            let zeros: usize = rs
                .iter()
                .map(|r| r.value.curve_l2.iter().filter(|v| **v <= 0.0).count())
                .sum();
            let chart = LogChart {
                title: format!(
                    "{} forging{}{}, {}/{} b={}: {} run(s)",
                    optimiser_words(s.optimiser),
                    if s.projected { " (projected)" } else { "" },
                    match s.schedule.words() {
                        w if w.is_empty() => w,
                        w => format!(" ({w})"),
                    },
                    s.model,
                    s.dataset,
                    s.batch_size,
                    rs.len()
                ),
                note: format!(
                    "||eta grad L(synthetic) - eta grad L(B)||_2 per iteration; {zeros} zero value(s) not drawn"
                ),
                x_desc: "iteration".into(),
                y_desc: "L2 error".into(),
                lines: true,
                series: rs
                    .iter()
                    .map(|r| Series {
                        label: format!("seed {}", r.value.spec.seed),
                        points: r
                            .value
                            .curve_l2
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (i as f64, *v))
                            .collect(),
                    })
                    .collect(),
            };
            let drawn = rs.iter().map(|r| &r.value).collect();
            (crate::report::safe_name(&key), chart, drawn)
        })
        .collect()
}

/// The per-shuffle errors of one shuffle experiment.
pub(crate) fn shuffle_figure(r: &ShuffleReport) -> LogChart {
    let s = &r.spec;
    let zeros = r.errors.iter().filter(|e| e.l2 == 0.0).count();
    LogChart {
        title: format!(
            "Batch-order shuffles, {}/{} b={}, profile {}",
            s.model, s.dataset, s.batch_size, r.provenance.profile.name
        ),
        note: format!(
            "L2 of each shuffled-order update from the unshuffled one; {zeros} of {} bitwise equal (not drawn)",
            r.errors.len()
        ),
        x_desc: "shuffle".into(),
        y_desc: "L2 error".into(),
        lines: false,
        series: vec![Series {
            label: "shuffles".into(),
            points: r.errors.iter().enumerate().map(|(i, e)| (i as f64, e.l2)).collect(),
        }],
    }
}
