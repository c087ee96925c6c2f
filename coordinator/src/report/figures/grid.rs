//! Image grids of real and forged batches (Figure 3). Pixels in [0, 1] are drawn as they are; a batch with pixels
//! outside [0, 1] (forged batches leave the data domain) is scaled per image from its own range, which the caption
//! says. The PNG is the grid under a caption; the SVG embeds the grid as a base64 PNG, so it stays small and
//! self-contained.
use super::{encode_png, font, FigureFile, Place};
use crate::error::{CoordError, Result};
use crate::report::html::esc;
use crate::report::write_file;
use base64::Engine as _;
use forgebench_shared::results::ImageBatch;
use plotters::prelude::*;
use std::path::Path;

const CAPTION: u32 = 44;
const PAD: u32 = 2;

/// The grid picture (RGB) and its size; `scaled` when images were normalised per image.
struct Picture {
    rgb: Vec<u8>,
    w: u32,
    h: u32,
    scaled: bool,
}

fn picture(b: &ImageBatch) -> Picture {
    let [c, h, w] = b.shape;
    let per = c * h * w;
    let n = b.pixels.len() / per;
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let zoom = (64 / h.max(w)).max(1);
    let (cw, ch) = ((w * zoom) as u32 + PAD, (h * zoom) as u32 + PAD);
    let (gw, gh) = (cols as u32 * cw + PAD, rows as u32 * ch + PAD);
    let mut rgb = vec![128u8; (gw * gh * 3) as usize];
    let scaled = b.pixels.iter().any(|v| !(0.0..=1.0).contains(v));
    for k in 0..n {
        let img = &b.pixels[k * per..(k + 1) * per];
        let (lo, hi) = if scaled {
            let finite = img.iter().copied().filter(|v| v.is_finite());
            (
                finite.clone().fold(f32::INFINITY, f32::min),
                finite.fold(f32::NEG_INFINITY, f32::max),
            )
        } else {
            (0.0, 1.0)
        };
        let span = if hi > lo { hi - lo } else { 1.0 };
        let (ox, oy) = ((k % cols) as u32 * cw + PAD, (k / cols) as u32 * ch + PAD);
        for y in 0..h * zoom {
            for x in 0..w * zoom {
                let at = |ch_: usize| {
                    let v = img[ch_ * h * w + (y / zoom) * w + x / zoom];
                    (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8
                };
                let px = if c == 3 { [at(0), at(1), at(2)] } else { [at(0); 3] };
                let i = (((oy + y as u32) * gw + ox + x as u32) * 3) as usize;
                rgb[i..i + 3].copy_from_slice(&px);
            }
        }
    }
    Picture {
        rgb,
        w: gw,
        h: gh,
        scaled,
    }
}

/// Writes `dir/<name>.png` and `dir/<name>.svg` for one batch.
pub(crate) fn write_grid(b: &ImageBatch, dir: &Path, name: &str) -> Result<FigureFile> {
    let svg_path = dir.join(format!("{name}.svg"));
    let png_path = dir.join(format!("{name}.png"));
    let p = picture(b);
    let n = b.pixels.len() / (b.shape.iter().product::<usize>());
    let note = if p.scaled {
        let outside = b.pixels.iter().filter(|v| !(0.0..=1.0).contains(*v)).count() as f64 / b.pixels.len() as f64;
        format!(
            "{n} images; {:.1}% of pixels outside [0, 1]: each image scaled from its own range",
            outside * 100.0
        )
    } else {
        format!("{n} images, pixels in [0, 1] drawn as they are")
    };
    let w = p.w.max(560);
    let h = p.h + CAPTION;
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    for y in 0..p.h {
        let src = (y * p.w * 3) as usize;
        let dst = (((y + CAPTION) * w) * 3) as usize;
        rgb[dst..dst + (p.w * 3) as usize].copy_from_slice(&p.rgb[src..src + (p.w * 3) as usize]);
    }
    {
        let fail =
            |e: plotters::drawing::DrawingAreaErrorKind<_>| CoordError::Report(format!("{}: {e}", png_path.display()));
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        area.draw(&Text::new(b.title.clone(), (6, 6), font(14))).map_err(fail)?;
        area.draw(&Text::new(note.clone(), (6, 25), font(11))).map_err(fail)?;
        area.present().map_err(fail)?;
    }
    let png = encode_png(&rgb, w, h, &png_path)?;
    let grid_png = encode_png(&p.rgb, p.w, p.h, &svg_path)?;
    let data = base64::engine::general_purpose::STANDARD.encode(grid_png);
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\
         <text x=\"6\" y=\"19\" font-family=\"sans-serif\" font-size=\"14\">{}</text>\
         <text x=\"6\" y=\"36\" font-family=\"sans-serif\" font-size=\"11\">{}</text>\
         <image x=\"0\" y=\"{CAPTION}\" width=\"{}\" height=\"{}\" style=\"image-rendering:pixelated\" \
         href=\"data:image/png;base64,{data}\"/></svg>\n",
        esc(&b.title),
        esc(&note),
        p.w,
        p.h
    );
    write_file(&png_path, &png)?;
    write_file(&svg_path, svg.as_bytes())?;
    Ok(FigureFile {
        title: b.title.clone(),
        reading: super::reading::grid(),
        place: Place::Grid,
        svg,
        svg_path,
        png_path,
    })
}
