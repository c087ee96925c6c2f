//! Tests of `cluster.toml` parsing, including the checked-in file.
use super::*;
use std::path::Path;

const CHECKED_IN: &str = include_str!("../../../cluster.toml");

#[test]
fn checked_in_cluster_toml_parses() {
    let c = ClusterConfig::from_toml_str(CHECKED_IN, Path::new("cluster.toml")).expect("cluster.toml is valid");
    let names: Vec<_> = c.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["cpu-avx512", "cpu-avx2", "cpu-default"]);
    assert_eq!(
        c.profiles,
        crate::profile::default_cpu_profiles(),
        "cluster.toml drifted from the built-in profiles"
    );
    assert_eq!(c.coordinator.listen.port(), 50151);
    let s = c
        .sweep(c.default_sweep.as_deref().expect("a default sweep"))
        .expect("default sweep exists");
    assert_eq!(s.experiments, [ExperimentKind::Reproduction]);
    assert_eq!(s.model_datasets().len(), 2);
}

#[test]
fn unknown_key_is_named() {
    let text = CHECKED_IN.replace("max_attempts = 3", "max_attempts = 3\nmax_atempts = 4");
    let err = ClusterConfig::from_toml_str(&text, Path::new("cluster.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_atempts") && err.contains("cluster.toml"), "{err}");
    let text = CHECKED_IN.replace("triples = 10", "triples = 10\ntriple = 3");
    let err = ClusterConfig::from_toml_str(&text, Path::new("cluster.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("triple"), "{err}");
}

#[test]
fn bad_values_are_named() {
    let text = CHECKED_IN.replace("default_sweep = \"repro-small\"", "default_sweep = \"nope\"");
    let err = ClusterConfig::from_toml_str(&text, Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("default_sweep"), "{err}");
    let text = CHECKED_IN.replace("devices = \"all\"", "devices = [\"cpu-avx9\"]");
    let err = ClusterConfig::from_toml_str(&text, Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cpu-avx9"), "{err}");
    let text = CHECKED_IN.replace("heartbeat_seconds = 3.0", "heartbeat_seconds = 60.0");
    let err = ClusterConfig::from_toml_str(&text, Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("heartbeat_seconds"), "{err}");
}

#[test]
fn selection_by_profile_and_gpu_name() {
    let profiles = crate::profile::default_cpu_profiles();
    let sel = DeviceSelection::Select(vec!["cpu-avx2".into(), "RTX 4090".into()]);
    let gpu = |p: &crate::profile::DeviceProfile| {
        if p.name == "cpu-default" {
            vec!["NVIDIA GeForce RTX 4090".to_owned()]
        } else {
            vec![]
        }
    };
    let got: Vec<_> = sel
        .select(&profiles, gpu)
        .expect("both match")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(got, ["cpu-avx2", "cpu-default"]);
    let err = DeviceSelection::Select(vec!["V100".into()])
        .select(&profiles, |_| vec![])
        .unwrap_err();
    assert!(err.to_string().contains("V100"), "{err}");
}

#[test]
fn sweep_table_round_trips() {
    let c = ClusterConfig::from_toml_str(CHECKED_IN, Path::new("cluster.toml")).expect("valid");
    let s = &c.sweeps[0];
    let text = toml::to_string(s).expect("serialises");
    assert_eq!(&SweepConfig::from_toml_str(&text).expect("parses back"), s);
}
