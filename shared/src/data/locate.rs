//! Where data lives: the bundled subset, the `FORGEBENCH_DATA` override, and the folder of one data set under a root.
use super::{cifar, folder, mnist, Split};
use crate::error::{Result, SharedError};
use crate::experiment::DatasetKind;
use std::path::{Path, PathBuf};

/// Environment variable naming a data root to use instead of the bundled subset (see [`default_dir`]).
pub const DATA_ENV: &str = "FORGEBENCH_DATA";

/// The repository's `data/` folder (the bundled subset), fixed at compile time from this crate's manifest
/// directory, so it points into the source tree the binary was built from.
pub fn bundled_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The manifest directory is absolute, so it always has a parent; ".." is only a fallback for the impossible.
    manifest
        .parent()
        .map_or_else(|| manifest.join(".."), Path::to_path_buf)
        .join("data")
}

/// The data root to use when none is given: `$FORGEBENCH_DATA` when set and non-empty (for example a full download
/// of MNIST and CIFAR-10), else [`bundled_dir`].
pub fn default_dir() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => bundled_dir(),
    }
}

/// Subfolders of a data root that may hold `kind`'s files, after the root itself.
fn subfolders(kind: DatasetKind) -> &'static [&'static str] {
    match kind {
        DatasetKind::Mnist => &["mnist", "MNIST/raw"],
        DatasetKind::Cifar10 => &["cifar10", "cifar-10-batches-bin"],
        DatasetKind::Folder => &[],
    }
}

/// The folder under `root` that holds `split` of `kind`: `root` itself when it holds any of the split's files, else
/// the first conventional subfolder that does (MNIST `mnist/`, `MNIST/raw/`; CIFAR-10 `cifar10/`,
/// `cifar-10-batches-bin/`). An error lists what was looked for.
pub fn resolve_dir(kind: DatasetKind, root: &Path, split: Split) -> Result<PathBuf> {
    let holds = |dir: &Path| match kind {
        DatasetKind::Mnist => mnist::holds(dir, split),
        DatasetKind::Cifar10 => !cifar::files(dir, split).is_empty(),
        DatasetKind::Folder => folder::holds(dir),
    };
    let candidates = std::iter::once(root.to_path_buf()).chain(subfolders(kind).iter().map(|s| root.join(s)));
    for dir in candidates {
        if holds(&dir) {
            return Ok(dir);
        }
    }
    let expected = match (kind, split) {
        (DatasetKind::Mnist, _) => mnist::file_names(split).map(|n| format!("{n}[.gz]")).join(" and "),
        (DatasetKind::Cifar10, Split::Train) => "data_batch_1.bin .. data_batch_5.bin".to_string(),
        (DatasetKind::Cifar10, Split::Test) => cifar::TEST_FILES.join(" or "),
        (DatasetKind::Folder, _) => format!(
            "{} and {}, or {}",
            folder::INPUTS_NPY,
            folder::LABELS_NPY,
            folder::SAFETENSORS_FILE
        ),
    };
    Err(SharedError::data(
        root,
        format!(
            "holds no {kind} {split} files: expected {expected} in it or in one of {}",
            subfolders(kind)
                .iter()
                .map(|s| format!("{s}/"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}
