//! Reading data files whole: gzip is detected by its magic bytes (never by the name), every file's decompressed
//! bytes are hashed, and pixel bytes become f32 in [0, 1].
use super::DataFile;
use crate::error::{Result, SharedError};
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The two bytes every gzip member starts with (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes of `path`, decompressed when the file starts with the gzip magic.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| SharedError::io(path, e))?;
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    // Reserving the size the gzip trailer announces saves regrowing (and copying) a 47 MB buffer several times.
    // The trailer of a damaged file is garbage, hence the cap at a ratio no real MNIST or CIFAR file reaches.
    let announced = match raw.len() {
        len if len >= 4 => u32::from_le_bytes([raw[len - 4], raw[len - 3], raw[len - 2], raw[len - 1]]) as usize,
        _ => 0,
    };
    let mut out = Vec::with_capacity(announced.min(raw.len().saturating_mul(64)));
    MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| SharedError::data(path, format!("gzip stream is corrupt or truncated: {e}")))?;
    Ok(out)
}

/// `path` if it exists, else `path.gz` if that exists.
pub(crate) fn find_maybe_gz(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// Appends `bytes` scaled to [0, 1] as `f32::from(b) / 255.0`.
pub(crate) fn push_pixels(out: &mut Vec<f32>, bytes: &[u8]) {
    // A slice-backed map has an exact size, so `extend` reserves once and the loop vectorises.
    out.extend(bytes.iter().map(|&b| f32::from(b) / 255.0));
}

/// The first label outside 0..=9 as an error message, if any.
pub(crate) fn check_labels(labels: &[u8], what: &str) -> std::result::Result<(), String> {
    match labels.iter().position(|&l| l > 9) {
        Some(i) => Err(format!("{what} {i} has label {}, outside the range 0..=9", labels[i])),
        None => Ok(()),
    }
}

/// A big-endian u32 at `at` (the caller has checked the length).
pub(crate) fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// What a loader builds: decoded examples plus the hashes of the files it read, in reading order.
pub(crate) struct Parts {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
    pub files: Vec<DataFile>,
    all: Sha256,
}

impl Parts {
    /// Empty parts with room for `n` examples of `example_len` values.
    pub fn with_capacity(n: usize, example_len: usize) -> Self {
        Parts {
            images: Vec::with_capacity(n * example_len),
            labels: Vec::with_capacity(n),
            files: Vec::new(),
            all: Sha256::new(),
        }
    }

    /// Records one file's decompressed bytes: its own sha256 and its part of the data set's hash.
    pub fn hash_file(&mut self, path: &Path, bytes: &[u8]) {
        self.all.update(bytes);
        self.files.push(DataFile {
            path: path.to_path_buf(),
            sha256: hex::encode(Sha256::digest(bytes)),
            len: bytes.len(),
        });
    }

    /// The sha256 over the concatenation of every hashed file, in hashing order.
    pub fn finish(self) -> (Vec<f32>, Vec<u8>, Vec<DataFile>, String) {
        (self.images, self.labels, self.files, hex::encode(self.all.finalize()))
    }
}
