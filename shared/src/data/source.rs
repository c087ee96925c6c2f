//! Where a training set comes from, as `--dataset` names it: one of the official sets (read from the data folder)
//! or a user's folder of arrays ([`super::folder`]).
use crate::experiment::DatasetKind;
use std::fmt;
use std::path::PathBuf;

/// `--dataset mnist|cifar10|PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// MNIST or CIFAR-10 under the data folder.
    Official(DatasetKind),
    /// A folder holding `inputs.npy` and `labels.npy`, or `data.safetensors`.
    Folder(PathBuf),
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Official(k) => write!(f, "{k}"),
            DataSource::Folder(p) => write!(f, "{}", p.display()),
        }
    }
}

impl std::str::FromStr for DataSource {
    type Err = String;
    /// A name of an official set, else a path: one that names no folder is refused here, before any work.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(k) = s.parse::<DatasetKind>() {
            if k != DatasetKind::Folder {
                return Ok(DataSource::Official(k));
            }
        }
        let path = PathBuf::from(s);
        if path.is_dir() {
            return Ok(DataSource::Folder(path));
        }
        Err(format!(
            "{s:?} is neither mnist, cifar10 nor a folder (a data folder holds {} and {}, or {})",
            super::folder::INPUTS_NPY,
            super::folder::LABELS_NPY,
            super::folder::SAFETENSORS_FILE
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_parse() {
        assert_eq!(
            "mnist".parse::<DataSource>(),
            Ok(DataSource::Official(DatasetKind::Mnist))
        );
        assert_eq!(
            "cifar-10".parse::<DataSource>(),
            Ok(DataSource::Official(DatasetKind::Cifar10))
        );
        let dir = std::env::temp_dir();
        let s = dir.display().to_string();
        assert_eq!(s.parse::<DataSource>(), Ok(DataSource::Folder(dir)));
        let err = "no-such-set".parse::<DataSource>().unwrap_err();
        assert!(err.contains("neither mnist, cifar10 nor a folder"), "{err}");
    }
}
