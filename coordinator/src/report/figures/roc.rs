//! ROC curves of one setting: each attack's fraction of forged steps flagged against the benign fraction flagged,
//! over every threshold. The false-alarm axis is logarithmic down to half of 1/n (n benign samples, the smallest
//! rate the sample resolves); a rate of 0 is drawn on that left edge. Dashed lines mark the rules' rates.
use super::{font, DrawResult, Figure, SERIES};
use crate::report::calibrated::SettingCalibration;
use forgebench_shared::calibration::Rule;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The ROC figure of one setting.
pub(crate) struct Roc<'a> {
    /// The setting.
    pub cal: &'a SettingCalibration,
}

impl Roc<'_> {
    /// Caption.
    pub fn title(&self) -> String {
        let c = self.cal;
        format!(
            "ROC of every attack, {}/{} b={} ({} benign samples)",
            c.model, c.dataset, c.batch_size, c.samples
        )
    }

    fn x_min(&self) -> f64 {
        let half = 0.5 / self.cal.samples.max(1) as f64;
        10f64.powi(half.log10().floor() as i32)
    }
}

impl Figure for Roc<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE)?;
        area.draw(&Text::new(self.title(), (12, 10), font(15)))?;
        area.draw(&Text::new(
            "x: benign steps above the threshold (0 drawn at the left edge); y: forged steps above it",
            (12, 32),
            font(12),
        ))?;
        let body = area.margin(52, 10, 10, 20);
        let x_min = self.x_min();
        let mut chart = ChartBuilder::on(&body)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d((x_min..1.0f64).log_scale(), 0f64..1.05)?;
        chart
            .configure_mesh()
            .x_desc("false-alarm rate per step")
            .y_desc("detection rate")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .light_line_style(RGBColor(238, 238, 238))
            .label_style(font(12))
            .axis_desc_style(font(13))
            .draw()?;
        for (rule, th) in &self.cal.rules {
            if let Rule::FalseAlarm { .. } = rule {
                let x = th.rate.max(x_min);
                chart.draw_series(DashedLineSeries::new(
                    vec![(x, 0.0), (x, 1.05)],
                    6,
                    4,
                    RGBColor(120, 120, 120).stroke_width(1),
                ))?;
            }
        }
        for (k, a) in self.cal.attacks.iter().enumerate() {
            let colour = SERIES[k % SERIES.len()];
            // A ROC curve is a staircase: hold each detection rate until the next false-alarm rate.
            let mut pts = Vec::new();
            for p in &a.roc {
                let x = p.false_alarm.max(x_min);
                if let Some(&(_, y)) = pts.last() {
                    pts.push((x, y));
                }
                pts.push((x, p.detection));
            }
            chart
                .draw_series(LineSeries::new(pts, colour.stroke_width(2)))?
                .label(format!("{} (AUC {:.3})", a.attack, a.auc))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
        }
        if !self.cal.attacks.is_empty() {
            chart
                .configure_series_labels()
                .label_font(font(11))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()?;
        }
        Ok(())
    }
}

/// The line under the figure: the attack with the smallest AUC and its detection at the per-log rule.
pub(crate) fn reading(c: &SettingCalibration) -> String {
    let weakest = c.attacks.iter().min_by(|a, b| a.auc.total_cmp(&b.auc));
    match weakest {
        Some(a) => {
            let at = a
                .verdicts
                .iter()
                .map(|v| format!("{:.0}% of steps at {}", v.detection * 100.0, v.rule.describe()))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "Look at the lowest curve: {} (AUC {:.3}) is the attack closest to benign noise; it flags {at}. A \
                 curve at 1 from the left edge is detected at every threshold the benign sample allows.",
                a.attack, a.auc
            )
        }
        None => "No attack ran on this setting.".into(),
    }
}
