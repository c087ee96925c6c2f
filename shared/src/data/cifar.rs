//! CIFAR-10 binary batches: `data_batch_1.bin` .. `data_batch_5.bin` (training) and `test_batch.bin` or
//! `test_subset_1000.bin` (test).
//!
//! Each record is 3,073 bytes: one label byte (0-9), then the 1,024 red, 1,024 green and 1,024 blue bytes, each
//! plane row-major 32x32. That is already channels-first, so a record's pixels are scaled in place order.
use super::raw::{check_labels, push_pixels, read_maybe_gz, Parts};
use super::Split;
use crate::error::{Result, SharedError};
use std::path::{Path, PathBuf};

/// Bytes in one record: the label, then 3 x 32 x 32 pixels.
pub const RECORD_LEN: usize = 1 + 3 * 32 * 32;
/// Training batch names, in the order they are loaded.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// Test file names, in order of preference.
pub const TEST_FILES: [&str; 2] = ["test_batch.bin", "test_subset_1000.bin"];

/// The files of `split` present in `dir`: every training batch present in order, or the first test file present.
pub(crate) fn files(dir: &Path, split: Split) -> Vec<PathBuf> {
    let present = |names: &[&str]| {
        names
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .collect::<Vec<_>>()
    };
    match split {
        Split::Train => present(&TRAIN_FILES),
        Split::Test => present(&TEST_FILES).into_iter().take(1).collect(),
    }
}

/// Loads `split` from `dir`; the data set hash covers the files in [`files`] order.
pub(crate) fn load(dir: &Path, split: Split) -> Result<Parts> {
    let paths = files(dir, split);
    if paths.is_empty() {
        let expected = match split {
            Split::Train => "data_batch_1.bin .. data_batch_5.bin",
            Split::Test => "test_batch.bin or test_subset_1000.bin",
        };
        return Err(SharedError::data(
            dir,
            format!("holds no CIFAR-10 {split} file (expected {expected})"),
        ));
    }
    let mut contents = Vec::with_capacity(paths.len());
    for path in &paths {
        let bytes = read_maybe_gz(path)?;
        validate(path, &bytes)?;
        contents.push(bytes);
    }
    let n = contents.iter().map(|b| b.len() / RECORD_LEN).sum();
    let mut parts = Parts::with_capacity(n, RECORD_LEN - 1);
    for (path, bytes) in paths.iter().zip(&contents) {
        parts.hash_file(path, bytes);
        for record in bytes.chunks_exact(RECORD_LEN) {
            parts.labels.push(record[0]);
            push_pixels(&mut parts.images, &record[1..]);
        }
    }
    Ok(parts)
}

/// Checks that `bytes` is a whole number of records (at least one) with labels in 0..=9.
fn validate(path: &Path, bytes: &[u8]) -> Result<()> {
    let (whole, rest) = (bytes.len() / RECORD_LEN, bytes.len() % RECORD_LEN);
    if bytes.is_empty() || rest != 0 {
        return Err(SharedError::data(
            path,
            format!(
                "length {} is not a positive multiple of the {RECORD_LEN}-byte record ({whole} whole records and \
                 {rest} bytes left over)",
                bytes.len()
            ),
        ));
    }
    let labels: Vec<u8> = bytes.iter().step_by(RECORD_LEN).copied().collect();
    check_labels(&labels, "record").map_err(|problem| SharedError::data(path, problem))
}
