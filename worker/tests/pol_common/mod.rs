//! Fixtures of the Proof-of-Learning tests: a spec on MNIST, a provenance, the bundled data and a scratch folder.
#![allow(dead_code)] // each test binary uses a part
use forgebench_shared::data::{self, Dataset, Split};
use forgebench_shared::experiment::{DatasetKind, ModelKind};
use forgebench_shared::jobs::PolSpec;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::{code_version, Provenance};
use std::path::PathBuf;

pub fn spec(model: ModelKind, b: usize, steps: usize, s: usize) -> PolSpec {
    PolSpec {
        model,
        dataset: DatasetKind::Mnist,
        batch_size: b,
        eta: 0.01,
        steps,
        checkpoint_every: s,
        seed: 5,
        arithmetic: Default::default(),
    }
}

pub fn provenance() -> Provenance {
    Provenance {
        code_version: code_version(),
        profile: DeviceProfile::cpu("test"),
        fingerprint: forgebench_worker::fingerprint::collect(),
        seeds: vec![("seed".into(), 5)],
    }
}

pub fn mnist() -> Dataset {
    data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap()
}

/// `name` in a folder of this test process (each test binary is its own process).
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fb-pol-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}
