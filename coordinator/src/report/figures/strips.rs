//! Benign against attack errors on one log L2 axis, one strip per model: the largest benign error of each data set
//! and b (circles), each attack's error (triangles) and the paper's figures for the same settings (hollow diamonds,
//! marked "published": its largest reproduction error and its attacks' errors).
use super::labels::{pack, width};
use super::{decades, font, DrawResult, Figure};
use crate::report::published::{Side, PUBLISHED};
use crate::report::tables::Table1Row;
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::numfmt;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const W: i32 = 1040;
const LEFT: i32 = 120;
const RIGHT: i32 = 40;
const TOP: i32 = 96;
/// The least height of a strip; one with many close labels grows.
const STRIP: i32 = 130;
/// Height of a row of labels.
const ROW: i32 = 13;
const LABEL_SIZE: u32 = 10;
const BENIGN: RGBColor = RGBColor(0, 114, 178);
const ATTACK: RGBColor = RGBColor(213, 94, 0);

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    Benign,
    Attack,
    Published,
}

/// One marker: kind, L2 value, label.
struct Point(Mark, f64, String);

impl Point {
    fn text(&self) -> String {
        format!("{} {}", self.2, numfmt::error(self.1))
    }
}

/// The attack name of a published attack figure.
fn attack_of(p: &crate::report::published::Published) -> &'static str {
    match p.kind {
        crate::report::published::Kind::Attack(a) => a,
        _ => "attack",
    }
}

/// Where one strip and its labels go: top, height, and per point its label's row and centre.
struct Layout {
    y0: i32,
    height: i32,
    labels: Vec<(usize, i32)>,
}

/// The benign-versus-attack figure.
pub(crate) struct Strips {
    models: Vec<(ModelKind, Vec<Point>, Vec<String>)>,
    layout: Vec<Layout>,
    range: (i32, i32),
}

impl Strips {
    /// Collects the points of Table 1, per model in table order.
    pub fn new(rows: &[Table1Row]) -> Self {
        let mut models: Vec<(ModelKind, Vec<Point>, Vec<String>)> = Vec::new();
        let many_datasets = |m: ModelKind| {
            let mut ds: Vec<_> = rows.iter().filter(|r| r.model == m).map(|r| r.dataset).collect();
            ds.dedup();
            ds.len() > 1
        };
        for r in rows {
            if !models.iter().any(|m| m.0 == r.model) {
                models.push((r.model, Vec::new(), Vec::new()));
            }
            let Some(entry) = models.iter_mut().find(|m| m.0 == r.model) else {
                continue;
            };
            let setting = if many_datasets(r.model) {
                format!("{} b={}", r.dataset, r.batch_size)
            } else {
                format!("b={}", r.batch_size)
            };
            let benign_label = format!("benign {setting}");
            let zero_note = format!("{setting}: benign 0 (bitwise equal everywhere)");
            match r.benign_l2 {
                Some(v) if v > 0.0 && !entry.1.iter().any(|p| p.0 == Mark::Benign && p.2 == benign_label) => {
                    entry.1.push(Point(Mark::Benign, v, benign_label));
                }
                Some(v) if v <= 0.0 && !entry.2.contains(&zero_note) => entry.2.push(zero_note),
                _ => {}
            }
            if let (Some(a), Some(v)) = (&r.attack, r.attack_l2) {
                if v > 0.0 {
                    entry.1.push(Point(Mark::Attack, v, format!("{a} {setting}")));
                } else {
                    entry.2.push(format!("{a} {setting}: error 0"));
                }
            }
            if let Some(v) = r.published_benign_l2 {
                let label = format!("published benign {setting}");
                if !entry.1.iter().any(|p| p.0 == Mark::Published && p.2 == label) {
                    entry.1.push(Point(Mark::Published, v, label));
                }
            }
            // The paper's attack figures of a drawn setting, whether or not that attack was run here.
            for p in PUBLISHED
                .iter()
                .filter(|p| p.side() == Side::Attack && p.is_for(r.model, r.dataset, r.batch_size))
            {
                let label = format!("published {} {setting}", attack_of(p));
                if !entry.1.iter().any(|x| x.0 == Mark::Published && x.2 == label) {
                    entry.1.push(Point(Mark::Published, p.l2(), label));
                }
            }
        }
        let values = models.iter().flat_map(|m| m.1.iter().map(|p| p.1));
        let mut s = Strips {
            range: decades(values).unwrap_or((-9, 0)),
            models,
            layout: Vec::new(),
        };
        s.layout = s.lay_out();
        s
    }

    /// Benign labels go below the line, the others above, each side packed into rows that do not overlap.
    fn lay_out(&self) -> Vec<Layout> {
        let mut y0 = TOP;
        let mut out = Vec::new();
        for (_, points, notes) in &self.models {
            let mut labels = vec![(0, 0); points.len()];
            let mut rows_needed = 1;
            for below in [false, true] {
                let side: Vec<usize> = (0..points.len())
                    .filter(|&i| (points[i].0 == Mark::Benign) == below)
                    .collect();
                let spans: Vec<(i32, i32)> = side
                    .iter()
                    .map(|&i| (self.x(points[i].1), width(&points[i].text(), LABEL_SIZE)))
                    .collect();
                let (rows, centres) = pack(&spans, 2, W - 2);
                for (k, &i) in side.iter().enumerate() {
                    labels[i] = (rows[k], centres[k]);
                    rows_needed = rows_needed.max(rows[k] + 1);
                }
            }
            let notes_height = 8 + ROW * notes.len() as i32;
            let height = STRIP.max(2 * (12 + ROW * rows_needed as i32) + 2 * notes_height.min(24));
            out.push(Layout { y0, height, labels });
            y0 += height;
        }
        out
    }

    fn bottom(&self) -> i32 {
        self.layout.last().map_or(TOP + STRIP, |l| l.y0 + l.height)
    }

    /// Caption.
    pub fn title(&self) -> String {
        "Benign reproduction error against attack error (L2, log scale), one strip per model".into()
    }

    fn x(&self, v: f64) -> i32 {
        let (lo, hi) = self.range;
        let t = (v.log10() - lo as f64) / (hi - lo) as f64;
        LEFT + (t * (W - LEFT - RIGHT) as f64).round() as i32
    }
}

fn marker<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, m: Mark, x: i32, y: i32) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match m {
        Mark::Benign => area.draw(&Circle::new((x, y), 7, BENIGN.filled()))?,
        Mark::Attack => area.draw(&Polygon::new(
            vec![(x, y - 8), (x - 8, y + 6), (x + 8, y + 6)],
            ATTACK.filled(),
        ))?,
        Mark::Published => {
            let d = vec![(x, y - 8), (x + 8, y), (x, y + 8), (x - 8, y), (x, y - 8)];
            area.draw(&PathElement::new(d, BLACK.stroke_width(2)))?
        }
    }
    Ok(())
}

impl Figure for Strips {
    fn size(&self) -> (u32, u32) {
        (W as u32, (self.bottom() + 60) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE)?;
        area.draw(&Text::new(self.title(), (12, 10), font(15)))?;
        let legend = [
            (Mark::Benign, "largest benign error"),
            (Mark::Attack, "attack error"),
            (Mark::Published, "published (not measured here)"),
        ];
        for (k, (m, text)) in legend.iter().enumerate() {
            let x = 24 + k as i32 * 260;
            marker(area, *m, x, 44)?;
            area.draw(&Text::new(
                *text,
                (x + 14, 44),
                font(12).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        let bottom = self.bottom();
        for l in self.layout.iter().step_by(2) {
            area.draw(&Rectangle::new(
                [(0, l.y0), (W, l.y0 + l.height)],
                RGBColor(244, 244, 244).filled(),
            ))?;
        }
        let (lo, hi) = self.range;
        for e in lo..=hi {
            let x = self.x(10f64.powi(e));
            area.draw(&PathElement::new(
                vec![(x, TOP), (x, bottom)],
                RGBColor(200, 200, 200).stroke_width(1),
            ))?;
            area.draw(&Text::new(
                format!("1e{e}"),
                (x, bottom + 8),
                font(11).pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        area.draw(&Text::new(
            "L2 error",
            (LEFT + (W - LEFT - RIGHT) / 2, bottom + 30),
            font(13).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        for ((model, points, notes), l) in self.models.iter().zip(&self.layout) {
            let y0 = l.y0;
            let yc = y0 + l.height / 2;
            area.draw(&Text::new(
                model.to_string(),
                (12, yc),
                font(14).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            area.draw(&PathElement::new(
                vec![(LEFT, yc), (W - RIGHT, yc)],
                RGBColor(150, 150, 150).stroke_width(1),
            ))?;
            for (k, note) in notes.iter().enumerate() {
                area.draw(&Text::new(note.clone(), (LEFT + 4, y0 + 6 + 13 * k as i32), font(10)))?;
            }
            for (p, &(row, centre)) in points.iter().zip(&l.labels) {
                let x = self.x(p.1);
                let (y, vpos, dir) = if p.0 == Mark::Benign {
                    (yc + 10 + ROW * row as i32, VPos::Top, 1)
                } else {
                    (yc - 10 - ROW * row as i32, VPos::Bottom, -1)
                };
                if row > 0 || centre != x {
                    // A leader from the marker to a label that had to move away from it.
                    area.draw(&PathElement::new(
                        vec![(x, yc + dir * 8), (centre, y + dir * 2)],
                        RGBColor(120, 120, 120).stroke_width(1),
                    ))?;
                }
                marker(area, p.0, x, yc)?;
                area.draw(&Text::new(
                    p.text(),
                    (centre, y),
                    font(LABEL_SIZE).pos(Pos::new(HPos::Center, vpos)),
                ))?;
            }
        }
        Ok(())
    }
}
