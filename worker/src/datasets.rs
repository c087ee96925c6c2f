//! A process-wide cache of loaded data sets: a worker runs many jobs on the same data, and decoding is not free.
use crate::error::Result;
use forgebench_shared::data::{self, Dataset, Split};
use forgebench_shared::experiment::DatasetKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

type Key = (DatasetKind, PathBuf, bool);

fn cache() -> &'static Mutex<HashMap<Key, Arc<Dataset>>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<Dataset>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The training split of `kind` under `dir` (loaded once per process).
pub fn train(kind: DatasetKind, dir: &Path) -> Result<Arc<Dataset>> {
    load(kind, dir, Split::Train)
}

/// A split of `kind` under `dir` (loaded once per process).
pub fn load(kind: DatasetKind, dir: &Path, split: Split) -> Result<Arc<Dataset>> {
    let key = (kind, dir.to_path_buf(), matches!(split, Split::Train));
    if let Some(d) = cache().lock().expect("dataset cache poisoned").get(&key) {
        return Ok(d.clone());
    }
    let d = Arc::new(data::load(kind, dir, split)?);
    cache().lock().expect("dataset cache poisoned").insert(key, d.clone());
    Ok(d)
}

/// The training set `source` names: an official one under `dir`, or a user's folder (loaded once per process).
pub fn from_source(source: &data::DataSource, dir: &Path) -> Result<Arc<Dataset>> {
    match source {
        data::DataSource::Official(kind) => train(*kind, dir),
        data::DataSource::Folder(folder) => train(DatasetKind::Folder, folder),
    }
}
