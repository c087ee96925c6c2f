//! Data loaders for MNIST (IDX, raw or gzip), CIFAR-10 (binary batches) and a user's own arrays in a folder
//! ([`folder`]: `.npy` or safetensors), pure Rust.
//!
//! [`load`] reads a directory holding the official files (see [`mnist`] and [`cifar`] for the names), validates
//! every header, length and label, and returns the examples as f32 in [0, 1] (`byte / 255`), channels first, one
//! example after another. [`bundled_dir`] is the small real subset shipped in the repository's `data/`;
//! [`default_dir`] honours the `FORGEBENCH_DATA` environment variable.
pub mod cifar;
pub mod folder;
mod locate;
pub mod mnist;
mod raw;
mod source;

pub use locate::{bundled_dir, default_dir, resolve_dir, DATA_ENV};
pub use source::DataSource;

use crate::error::Result;
use crate::experiment::DatasetKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Which part of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The training set (MNIST `train-*`, CIFAR-10 `data_batch_*.bin`).
    Train,
    /// The test set (MNIST `t10k-*`, CIFAR-10 `test_batch.bin` or `test_subset_1000.bin`).
    Test,
}

impl Split {
    /// "train" or "test".
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One file a data set was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// The file as found (it may be gzip-compressed).
    pub path: PathBuf,
    /// sha256 (hex) of its decompressed bytes; equals the official checksum of the uncompressed file.
    pub sha256: String,
    /// Its decompressed length in bytes.
    pub len: usize,
}

/// A loaded split: `n` examples of [`Dataset::example_len`] f32 values each, and their labels.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// MNIST, CIFAR-10 or a user's folder.
    pub kind: DatasetKind,
    /// One example's shape (MNIST `[1, 28, 28]`, CIFAR-10 `[3, 32, 32]`, a folder's as its arrays have it).
    pub shape: Vec<usize>,
    /// Training or test set.
    pub split: Split,
    /// All examples, one after another, each channels first (C x H x W, row-major), values `byte / 255` (a
    /// folder's float inputs as they are).
    pub images: Vec<f32>,
    /// Labels: 0..=9 for MNIST and CIFAR-10, up to 255 for a folder.
    pub labels: Vec<u8>,
    /// Number of examples.
    pub n: usize,
    /// sha256 (hex) over the concatenated decompressed bytes of [`Dataset::files`] in that order: MNIST the images
    /// file then the labels file; CIFAR-10 the batches in name order. Identifies the exact data a result used.
    pub sha256: String,
    /// The directory the files were read from.
    pub source: PathBuf,
    /// The files read, in hashing order.
    pub files: Vec<DataFile>,
}

impl Dataset {
    /// A folder data set's folder (absolute where it can be resolved); None for the official sets.
    pub fn folder(&self) -> Option<PathBuf> {
        let dir = self.files.first()?.path.parent()?;
        (self.kind == DatasetKind::Folder).then(|| dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()))
    }

    /// Number of f32 values per example (784 for MNIST, 3072 for CIFAR-10).
    pub fn example_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Example `i`'s values. Panics when `i >= n`, naming both.
    pub fn example(&self, i: usize) -> &[f32] {
        assert!(
            i < self.n,
            "example index {i} out of range for {} {} with {} examples",
            self.kind,
            self.split,
            self.n
        );
        let len = self.example_len();
        &self.images[i * len..(i + 1) * len]
    }

    /// Example `i`'s label. Panics when `i >= n`.
    pub fn label(&self, i: usize) -> u8 {
        assert!(
            i < self.n,
            "label index {i} out of range for {} {} with {} examples",
            self.kind,
            self.split,
            self.n
        );
        self.labels[i]
    }

    /// The examples at `indices` (repeats allowed), concatenated in that order, and their labels.
    /// Panics on an index `>= n`, naming it: indices come from the sampler, so a bad one is a bug, not bad input.
    pub fn gather(&self, indices: &[usize]) -> (Vec<f32>, Vec<u8>) {
        let mut x = Vec::with_capacity(indices.len() * self.example_len());
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            x.extend_from_slice(self.example(i));
            y.push(self.labels[i]);
        }
        (x, y)
    }

    /// How many examples carry each label 0..=9 (a folder's labels above 9 are not counted).
    pub fn class_counts(&self) -> [usize; 10] {
        let mut counts = [0; 10];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }
}

/// Loads `split` of `kind` from `dir`, which holds the official files directly or in a conventional subfolder
/// (`mnist/`; `cifar10/` or `cifar-10-batches-bin/`; see [`resolve_dir`]). Every problem is an error naming the
/// file and what is wrong with it.
pub fn load(kind: DatasetKind, dir: &Path, split: Split) -> Result<Dataset> {
    if kind == DatasetKind::Folder && split == Split::Test {
        return Err(crate::error::SharedError::data(
            dir,
            "a folder data set is one set of examples, with no test split",
        ));
    }
    let source = resolve_dir(kind, dir, split)?;
    let official = || kind.example_shape().map(Vec::from).unwrap_or_default();
    let (parts, shape) = match kind {
        DatasetKind::Mnist => (mnist::load(&source, split)?, official()),
        DatasetKind::Cifar10 => (cifar::load(&source, split)?, official()),
        DatasetKind::Folder => folder::load(&source)?,
    };
    let (images, labels, files, sha256) = parts.finish();
    Ok(Dataset {
        kind,
        shape,
        split,
        n: labels.len(),
        images,
        labels,
        sha256,
        source,
        files,
    })
}
