//! Heatmap of one cross-device matrix: rows are the devices that wrote the logs, columns the verifiers; the colour is
//! the largest L2 over the triples on a log scale (viridis, with a colour bar), each cell also prints its mean and
//! max. Bitwise-equal cells (L2 = 0) cannot sit on a log scale and are drawn light grey with "0 (bitwise)".
use super::{decades, font, viridis, DrawResult, Figure};
use forgebench_shared::tables::CrossDeviceMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const CELL: i32 = 132;
const LEFT: i32 = 170;
const TOP: i32 = 92;
const BAR: i32 = 130;
const LINE: i32 = 17;

/// The heatmap of one matrix, its devices ordered by equivalence class.
pub(crate) struct Heatmap {
    m: CrossDeviceMatrix,
    /// Colour range in decades.
    range: (i32, i32),
}

impl Heatmap {
    /// Orders the devices by class (so that each class is a block on the diagonal) and prepares the colour range
    /// from the matrix's positive maxima.
    pub fn new(m: &CrossDeviceMatrix) -> Self {
        let m = m.by_class();
        let range = decades(m.cells.iter().flatten().flatten().map(|c| c.summary.l2.max)).unwrap_or((-9, -8));
        Heatmap { m, range }
    }

    fn t(&self, v: f64) -> f64 {
        let (lo, hi) = self.range;
        (v.log10() - lo as f64) / (hi - lo) as f64
    }
}

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        let d = self.m.devices.len() as i32;
        let w = (LEFT + d * CELL + BAR).max(760);
        let h = TOP + d * CELL + 40 + LINE * (d + 1);
        (w as u32, h as u32)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE)?;
        let d = self.m.devices.len() as i32;
        let center = Pos::new(HPos::Center, VPos::Center);
        area.draw(&Text::new(
            format!("{}: L2 between log and recomputation", self.m.key.title()),
            (12, 10),
            font(16),
        ))?;
        area.draw(&Text::new(
            "colour: max over triples (log scale); text: mean / max",
            (12, 32),
            font(12),
        ))?;
        area.draw(&Text::new(
            "verifier",
            (LEFT + d * CELL / 2, TOP - 34),
            font(13).pos(center),
        ))?;
        area.draw(&Text::new("log writer", (12, TOP - 14), font(13)))?;
        for (j, dev) in self.m.devices.iter().enumerate() {
            let x = LEFT + j as i32 * CELL + CELL / 2;
            area.draw(&Text::new(
                dev.profile.name.clone(),
                (x, TOP - 12),
                font(12).pos(center),
            ))?;
        }
        for (i, row) in self.m.cells.iter().enumerate() {
            let y0 = TOP + i as i32 * CELL;
            let name = self.m.devices[i].profile.name.clone();
            let right = Pos::new(HPos::Right, VPos::Center);
            area.draw(&Text::new(name, (LEFT - 8, y0 + CELL / 2), font(12).pos(right)))?;
            for (j, cell) in row.iter().enumerate() {
                let x0 = LEFT + j as i32 * CELL;
                let (fill, lines) = match cell {
                    None => (WHITE, vec!["not run".to_owned()]),
                    Some(c) if c.summary.l2.max == 0.0 => {
                        (RGBColor(225, 225, 225), vec!["0".into(), "(bitwise)".into()])
                    }
                    Some(c) => (
                        viridis(self.t(c.summary.l2.max)),
                        vec![
                            format!("{:.2e}", c.summary.l2.mean),
                            format!("{:.2e}", c.summary.l2.max),
                        ],
                    ),
                };
                area.draw(&Rectangle::new([(x0, y0), (x0 + CELL, y0 + CELL)], fill.filled()))?;
                area.draw(&Rectangle::new(
                    [(x0, y0), (x0 + CELL, y0 + CELL)],
                    WHITE.stroke_width(2),
                ))?;
                // Dark colours (low end of viridis) need white text.
                let light = (fill.0 as u32 + fill.1 as u32 + fill.2 as u32) > 330;
                let colour = if light { BLACK } else { WHITE };
                let n = lines.len() as i32;
                for (k, l) in lines.into_iter().enumerate() {
                    let y = y0 + CELL / 2 + (2 * k as i32 - (n - 1)) * 10;
                    area.draw(&Text::new(l, (x0 + CELL / 2, y), font(13).color(&colour).pos(center)))?;
                }
            }
        }
        self.colour_bar(area, LEFT + d * CELL + 28, TOP, d * CELL)?;
        let y = TOP + d * CELL + 22;
        area.draw(&Text::new(
            "devices ([class]: bitwise identical results):",
            (12, y),
            font(12),
        ))?;
        for (k, (dev, class)) in self.m.devices.iter().zip(self.m.class_names()).enumerate() {
            let text = format!("[{class}] {}", dev.header());
            area.draw(&Text::new(text, (12, y + LINE * (k as i32 + 1)), font(11)))?;
        }
        Ok(())
    }
}

impl Heatmap {
    fn colour_bar<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, x: i32, y: i32, h: i32) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (lo, hi) = self.range;
        let steps = 64;
        for s in 0..steps {
            let t = 1.0 - (s as f64 + 0.5) / steps as f64;
            let ya = y + h * s / steps;
            let yb = y + h * (s + 1) / steps;
            area.draw(&Rectangle::new([(x, ya), (x + 18, yb)], viridis(t).filled()))?;
        }
        area.draw(&Rectangle::new([(x, y), (x + 18, y + h)], BLACK.stroke_width(1)))?;
        let left = Pos::new(HPos::Left, VPos::Center);
        for e in lo..=hi {
            let yy = y + h - (h as f64 * (e - lo) as f64 / (hi - lo) as f64).round() as i32;
            area.draw(&PathElement::new(
                vec![(x + 18, yy), (x + 24, yy)],
                BLACK.stroke_width(1),
            ))?;
            area.draw(&Text::new(format!("1e{e}"), (x + 27, yy), font(11).pos(left)))?;
        }
        area.draw(&Text::new("L2", (x, y - 14), font(12)))?;
        Ok(())
    }
}
