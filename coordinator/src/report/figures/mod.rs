//! The report's figures. Each is one drawing routine run on two plotters backends, SVG (text as `<text>`) and an
//! RGB bitmap encoded as PNG by the png crate, so both files show the same picture. Text is laid out and, in PNGs,
//! rasterised with the bundled DejaVu Sans Mono (no system fonts needed).
mod compare;
mod curves;
mod domain;
mod grid;
mod heatmap;
mod labels;
mod reading;
mod roc;
mod strips;

use super::results::Results;
use super::tables::Table1Row;
use super::write_file;
use crate::error::{CoordError, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Result of a drawing routine; plotters' errors are boxed because they are generic over the backend.
pub(crate) type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Where a figure belongs in the page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Place {
    /// Beside Table 1.
    Table1,
    /// With the calibrated verdicts.
    Calibration,
    /// Under the matrix of this name.
    Matrix(String),
    /// Adam curves.
    Adam,
    /// Walks into the data domain.
    Domain,
    /// Shuffle errors.
    Shuffle,
    /// Image grids.
    Grid,
}

/// A written figure.
#[derive(Debug, Clone)]
pub(crate) struct FigureFile {
    /// Caption.
    pub title: String,
    /// One line saying what to look at in it.
    pub reading: String,
    /// Where it goes in the page.
    pub place: Place,
    /// The SVG text (also written to `svg_path`).
    pub svg: String,
    /// `figures/<name>.svg`.
    pub svg_path: PathBuf,
    /// `figures/<name>.png`.
    pub png_path: PathBuf,
}

/// A figure drawn by plotters.
pub(crate) trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on a blank area of [`Figure::size`].
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

static FONT: &[u8] = include_bytes!("../fonts/DejaVuSansMono.ttf");

/// Registers the bundled font as "sans-serif" once (plotters' ab_glyph backend knows no font otherwise).
fn ensure_font() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .map_err(|_| "the bundled font fonts/DejaVuSansMono.ttf does not parse".to_owned())
    })
    .clone()
    .map_err(CoordError::Report)
}

/// Encodes an RGB buffer as PNG.
pub(crate) fn encode_png(rgb: &[u8], w: u32, h: u32, what: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let fail = |e: png::EncodingError| CoordError::Report(format!("{}: PNG encoding: {e}", what.display()));
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Figures are mostly flat colour: the best deflate level keeps them a few tens of KB.
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut wr = enc.write_header().map_err(fail)?;
        wr.write_image_data(rgb).map_err(fail)?;
    }
    Ok(out)
}

/// Draws `fig` as `dir/<name>.svg` and `dir/<name>.png`.
pub(crate) fn render(
    fig: &impl Figure,
    dir: &Path,
    name: &str,
    (title, reading): (String, String),
    place: Place,
) -> Result<FigureFile> {
    ensure_font()?;
    let svg_path = dir.join(format!("{name}.svg"));
    let png_path = dir.join(format!("{name}.png"));
    let (w, h) = fig.size();
    let fail = |p: &Path, e: Box<dyn std::error::Error>| CoordError::Report(format!("{}: {e}", p.display()));
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        fig.draw(&area).map_err(|e| fail(&svg_path, e))?;
        area.present().map_err(|e| fail(&svg_path, e.into()))?;
    }
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        fig.draw(&area).map_err(|e| fail(&png_path, e))?;
        area.present().map_err(|e| fail(&png_path, e.into()))?;
    }
    write_file(&svg_path, svg.as_bytes())?;
    write_file(&png_path, &encode_png(&rgb, w, h, &png_path)?)?;
    Ok(FigureFile {
        title,
        reading,
        place,
        svg,
        svg_path,
        png_path,
    })
}

/// A figure as SVG text, drawn in memory (for a live view).
fn svg_of(fig: &impl Figure, what: &str) -> Result<String> {
    ensure_font()?;
    let (w, h) = fig.size();
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let fail = |e: Box<dyn std::error::Error>| CoordError::Report(format!("{what}: {e}"));
        fig.draw(&area).map_err(fail)?;
        area.present().map_err(|e| fail(e.into()))?;
    }
    Ok(svg)
}

/// The heatmap of one matrix as SVG text.
pub fn heatmap_svg(m: &forgebench_shared::tables::CrossDeviceMatrix) -> Result<String> {
    svg_of(&heatmap::Heatmap::new(m), &format!("heatmap of {}", m.key.title()))
}

/// The benign-against-attack strips of some Table 1 rows as SVG text.
pub fn strips_svg(rows: &[Table1Row]) -> Result<String> {
    svg_of(&strips::Strips::new(rows), "benign against attack errors")
}

/// Draws every figure the results allow.
pub(crate) fn draw_all(
    results: &Results,
    t1: &[Table1Row],
    cal: &[crate::report::SettingCalibration],
    dir: &Path,
) -> Result<Vec<FigureFile>> {
    let mut out = Vec::new();
    if !t1.is_empty() {
        let fig = strips::Strips::new(t1);
        let text = (fig.title(), reading::strips(t1));
        out.push(render(&fig, dir, "benign-vs-attack", text, Place::Table1)?);
    }
    for c in cal.iter().filter(|c| !c.attacks.is_empty()) {
        let fig = roc::Roc { cal: c };
        let name = super::safe_name(&format!("roc-{}-{}-b{}", c.model, c.dataset, c.batch_size));
        out.push(render(
            &fig,
            dir,
            &name,
            (fig.title(), roc::reading(c)),
            Place::Calibration,
        )?);
    }
    for m in &results.matrices {
        let fig = heatmap::Heatmap::new(&m.value);
        let name = super::safe_name(&format!("heatmap-{}", m.name));
        out.push(render(
            &fig,
            dir,
            &name,
            (m.value.key.title(), reading::matrix(&m.value)),
            Place::Matrix(m.name.clone()),
        )?);
    }
    for (name, fig, runs) in curves::adam_figures(&results.adam) {
        let text = (fig.title.clone(), reading::adam(&fig, &runs));
        out.push(render(&fig, dir, &name, text, Place::Adam)?);
    }
    for (name, fig) in compare::figures(&results.adam) {
        let text = (fig.title.clone(), reading::compare(&fig));
        out.push(render(&fig, dir, &name, text, Place::Adam)?);
    }
    for (name, fig, d, benign) in domain::figures(results) {
        let text = (fig.title.clone(), reading::domain(d, benign));
        out.push(render(&fig, dir, &name, text, Place::Domain)?);
    }
    for s in &results.shuffle {
        let fig = curves::shuffle_figure(&s.value);
        let text = (fig.title.clone(), reading::shuffle(&s.value));
        out.push(render(
            &fig,
            dir,
            &super::safe_name(&format!("shuffle-{}", s.name)),
            text,
            Place::Shuffle,
        )?);
    }
    for g in &results.grids {
        ensure_font()?;
        out.push(grid::write_grid(
            &g.value,
            dir,
            &super::safe_name(&format!("grid-{}", g.name)),
        )?);
    }
    Ok(out)
}

/// A colour of the viridis map for t in [0, 1] (9 anchors, linear in between): perceptually ordered, colour-blind safe.
pub(crate) fn viridis(t: f64) -> RGBColor {
    const A: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * (A.len() - 1) as f64;
    let i = (x.floor() as usize).min(A.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    RGBColor(
        mix(A[i].0, A[i + 1].0),
        mix(A[i].1, A[i + 1].1),
        mix(A[i].2, A[i + 1].2),
    )
}

/// Decades [lo, hi] (lo < hi) covering every positive, finite value; `None` when there is none.
pub(crate) fn decades(values: impl IntoIterator<Item = f64>) -> Option<(i32, i32)> {
    let pos: Vec<f64> = values.into_iter().filter(|v| v.is_finite() && *v > 0.0).collect();
    let lo = pos.iter().copied().reduce(f64::min)?.log10().floor() as i32;
    let hi = pos.iter().copied().reduce(f64::max)?.log10().ceil() as i32;
    Some((lo, hi.max(lo + 1)))
}

/// Text style of the bundled font.
pub(crate) fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

/// Colours for series, distinguishable and print-safe (Okabe-Ito).
pub(crate) const SERIES: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];
