//! Image grids of batches (the paper's Figure 3): a batch becomes an [`ImageBatch`] (raw JSON for the reports) and a
//! PNG grid written by hand (PNG = signature + IHDR + zlib IDAT + IEND, with flate2's zlib and CRC-32), so no image
//! crate is needed. Forged inputs leave [0, 1]; `normalise` min-max scales each image to show its structure.
use crate::error::{Result, WorkerError};
use crate::tensors;
use flate2::{write::ZlibEncoder, Compression, Crc};
use forgebench_shared::results::ImageBatch;
use std::io::Write;
use std::path::Path;
use tch::Tensor;

/// A `[n, c, h, w]` tensor as an [`ImageBatch`].
pub fn image_batch(title: &str, x: &Tensor) -> Result<ImageBatch> {
    let s = x.size();
    if s.len() != 4 {
        return Err(WorkerError::Invalid(format!(
            "image batch {title:?}: expected [n, c, h, w], got {s:?}"
        )));
    }
    Ok(ImageBatch {
        title: title.into(),
        shape: [s[1] as usize, s[2] as usize, s[3] as usize],
        pixels: tensors::to_f32(x)?,
    })
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let mut crc = Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend(kind);
    out.extend(data);
    out.extend(crc.sum().to_be_bytes());
}

/// Writes `batch` as a PNG grid (8-bit grey or RGB, 1-pixel black gutters), ceil(sqrt(n)) images per row.
pub fn write_png(batch: &ImageBatch, path: &Path, normalise: bool) -> Result<()> {
    let [c, h, w] = batch.shape;
    let per = c * h * w;
    if c != 1 && c != 3 || per == 0 || !batch.pixels.len().is_multiple_of(per) {
        return Err(WorkerError::Invalid(format!(
            "image batch {:?}: bad shape {:?}",
            batch.title, batch.shape
        )));
    }
    let n = batch.pixels.len() / per;
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    let rows = n.div_ceil(cols).max(1);
    let (gw, gh) = (cols * (w + 1) + 1, rows * (h + 1) + 1);
    let mut img = vec![0u8; gw * gh * c];
    for (i, px) in batch.pixels.chunks_exact(per).enumerate() {
        let (lo, hi) = if normalise {
            px.iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)))
        } else {
            (0.0, 1.0)
        };
        let scale = if hi > lo { 1.0 / (hi - lo) } else { 0.0 };
        let (ox, oy) = (1 + (i % cols) * (w + 1), 1 + (i / cols) * (h + 1));
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let v = ((px[ch * h * w + y * w + x] - lo) * scale).clamp(0.0, 1.0);
                    img[((oy + y) * gw + ox + x) * c + ch] = (v * 255.0).round() as u8;
                }
            }
        }
    }
    let mut raw = Vec::with_capacity((gw * c + 1) * gh);
    for row in img.chunks_exact(gw * c) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(&raw).map_err(|e| WorkerError::io(path, e))?;
    let idat = z.finish().map_err(|e| WorkerError::io(path, e))?;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend((gw as u32).to_be_bytes());
    ihdr.extend((gh as u32).to_be_bytes());
    ihdr.extend([8, if c == 1 { 0 } else { 2 }, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    std::fs::write(path, png).map_err(|e| WorkerError::io(path, e))
}

/// Writes `batch` as `<stem>.png` and `<stem>.json` in `dir`.
pub fn save(batch: &ImageBatch, dir: &Path, stem: &str, normalise: bool) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| WorkerError::io(dir, e))?;
    write_png(batch, &dir.join(format!("{stem}.png")), normalise)?;
    let json = dir.join(format!("{stem}.json"));
    let text = serde_json::to_string(batch).map_err(|e| WorkerError::Invalid(format!("image batch: {e}")))?;
    std::fs::write(&json, text).map_err(|e| WorkerError::io(&json, e))
}
