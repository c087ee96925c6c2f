//! MNIST in the IDX format: `{train,t10k}-images-idx3-ubyte` and `{train,t10k}-labels-idx1-ubyte`, each raw or
//! gzip-compressed (with or without a `.gz` suffix: the content decides).
//!
//! IDX layout: a big-endian u32 magic (0x00000803 for 3-dimensional unsigned-byte images, 0x00000801 for
//! 1-dimensional unsigned-byte labels), one big-endian u32 per dimension, then the bytes row-major.
use super::raw::{be_u32, check_labels, find_maybe_gz, push_pixels, read_maybe_gz, Parts};
use super::Split;
use crate::error::{Result, SharedError};
use std::path::{Path, PathBuf};

/// Magic of an IDX file of unsigned bytes with 3 dimensions (n, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of unsigned bytes with 1 dimension (n).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Rows and columns of an MNIST image.
pub const SIDE: usize = 28;

/// The official base names (without `.gz`) of a split's images and labels files.
pub fn file_names(split: Split) -> [&'static str; 2] {
    match split {
        Split::Train => ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
        Split::Test => ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
    }
}

/// Whether `dir` holds either file of `split` (raw or `.gz`).
pub(crate) fn holds(dir: &Path, split: Split) -> bool {
    file_names(split).iter().any(|name| find_maybe_gz(dir, name).is_some())
}

/// Loads `split` from `dir`; the data set hash covers the images file, then the labels file.
pub(crate) fn load(dir: &Path, split: Split) -> Result<Parts> {
    let [images_name, labels_name] = file_names(split);
    let images_path = require(dir, images_name)?;
    let labels_path = require(dir, labels_name)?;
    let image_bytes = read_maybe_gz(&images_path)?;
    let pixels = image_payload(&images_path, &image_bytes)?;
    let label_bytes = read_maybe_gz(&labels_path)?;
    let labels = label_payload(&labels_path, &label_bytes)?;
    let n = pixels.len() / (SIDE * SIDE);
    if labels.len() != n {
        return Err(SharedError::data(
            &labels_path,
            format!(
                "holds {} labels but {} holds {n} images",
                labels.len(),
                images_path.display()
            ),
        ));
    }
    let mut parts = Parts::with_capacity(n, SIDE * SIDE);
    parts.hash_file(&images_path, &image_bytes);
    parts.hash_file(&labels_path, &label_bytes);
    push_pixels(&mut parts.images, pixels);
    parts.labels.extend_from_slice(labels);
    Ok(parts)
}

/// `dir/name` or `dir/name.gz`, or an error saying which file is missing.
fn require(dir: &Path, name: &str) -> Result<PathBuf> {
    find_maybe_gz(dir, name)
        .ok_or_else(|| SharedError::data(dir.join(name), format!("missing: neither {name} nor {name}.gz exists")))
}

/// The pixel bytes of an IDX images file after validating its header and length.
fn image_payload<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a [u8]> {
    let fail = |problem: String| SharedError::data(path, problem);
    if bytes.len() < 16 {
        return Err(fail(format!(
            "truncated: {} bytes, shorter than the 16-byte IDX images header",
            bytes.len()
        )));
    }
    let magic = be_u32(bytes, 0);
    if magic != IMAGES_MAGIC {
        return Err(fail(format!(
            "bad magic 0x{magic:08x}, expected 0x{IMAGES_MAGIC:08x} (IDX images)"
        )));
    }
    let (n, rows, cols) = (
        be_u32(bytes, 4) as usize,
        be_u32(bytes, 8) as usize,
        be_u32(bytes, 12) as usize,
    );
    if (rows, cols) != (SIDE, SIDE) {
        return Err(fail(format!("images are {rows}x{cols}, expected {SIDE}x{SIDE}")));
    }
    let need = n * SIDE * SIDE;
    check_len(path, &bytes[16..], need, &format!("{n} images of {SIDE}x{SIDE}"))
}

/// The label bytes of an IDX labels file after validating its header, length and values.
fn label_payload<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a [u8]> {
    let fail = |problem: String| SharedError::data(path, problem);
    if bytes.len() < 8 {
        return Err(fail(format!(
            "truncated: {} bytes, shorter than the 8-byte IDX labels header",
            bytes.len()
        )));
    }
    let magic = be_u32(bytes, 0);
    if magic != LABELS_MAGIC {
        return Err(fail(format!(
            "bad magic 0x{magic:08x}, expected 0x{LABELS_MAGIC:08x} (IDX labels)"
        )));
    }
    let n = be_u32(bytes, 4) as usize;
    let labels = check_len(path, &bytes[8..], n, &format!("{n} labels"))?;
    check_labels(labels, "entry").map_err(fail)?;
    Ok(labels)
}

/// `payload` if it is exactly `need` bytes long, else a truncation or trailing-bytes error.
fn check_len<'a>(path: &Path, payload: &'a [u8], need: usize, what: &str) -> Result<&'a [u8]> {
    let remain = payload.len();
    if remain == need {
        return Ok(payload);
    }
    let problem = if remain < need {
        "truncated".to_string()
    } else {
        format!("{} trailing bytes", remain - need)
    };
    Err(SharedError::data(
        path,
        format!("{problem}: header says {what} = {need} bytes but {remain} remain"),
    ))
}
