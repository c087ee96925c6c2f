//! Tests of `cluster.toml` parsing, including the checked-in file.
use super::*;
use std::path::Path;

const CHECKED_IN: &str = include_str!("../../../cluster.toml");

#[test]
fn checked_in_cluster_toml_parses() {
    let c = ClusterConfig::from_toml_str(CHECKED_IN, Path::new("cluster.toml")).expect("cluster.toml is valid");
    let names: Vec<_> = c.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["cpu-avx512", "cpu-avx2", "cpu-compat", "cpu-default"]);
    assert_eq!(
        c.profiles,
        crate::profile::builtin_cpu_profiles(),
        "cluster.toml drifted from the built-in profiles"
    );
    assert_eq!(c.coordinator.listen.port(), 50151);
    let s = c
        .sweep(c.default_sweep.as_deref().expect("a default sweep"))
        .expect("default sweep exists");
    assert_eq!(
        s.experiments[0],
        ExperimentKind::Reproduction,
        "attacks need their benign reference"
    );
    assert!(
        s.experiments.len() > 1,
        "the default run sets attacks beside benign noise"
    );
    let repro = c.sweep("repro-small").expect("repro-small");
    assert_eq!(repro.experiments, [ExperimentKind::Reproduction]);
    assert_eq!(repro.model_datasets().len(), 2);
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
    let text = CHECKED_IN.replace("default_sweep = \"attacks-small\"", "default_sweep = \"nope\"");
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
    let profiles = crate::profile::default_cpu_profiles_for(None);
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

const SLURM: &str = "
[slurm]
partition = \"gpu,debug\"
account = \"lab\"
time_limit = \"1-02:00:00\"
cpus_per_task = 2
gpus_per_node = { node01 = 4, node02 = 2 }
gpu_type = \"a100\"
setup = [\"module load cuda/12.4\"]
sbatch_options = [\"--qos=high\"]
";

#[test]
fn slurm_table_parses_and_is_optional() {
    let c = ClusterConfig::from_toml_str(CHECKED_IN, Path::new("cluster.toml")).expect("valid");
    assert_eq!(c.slurm, None);
    let c = ClusterConfig::from_toml_str(&format!("{CHECKED_IN}{SLURM}"), Path::new("c.toml")).expect("valid");
    let s = c.slurm.expect("a [slurm] table");
    assert_eq!(s.partition.as_deref(), Some("gpu,debug"));
    assert_eq!(s.gpus_per_node.as_ref().map(|g| g.total(1)), Some(6));
    assert_eq!((s.cpu_workers, s.resubmit_limit, s.poll_seconds), (1, 3, 30.0));
    assert_eq!(s.setup, ["module load cuda/12.4"]);
    let count = format!("{CHECKED_IN}[slurm]\nnodes = 3\ngpus_per_node = 8\n");
    let s = ClusterConfig::from_toml_str(&count, Path::new("c.toml"))
        .expect("valid")
        .slurm
        .expect("table");
    assert_eq!(s.gpus_per_node, Some(GpusPerNode::Count(8)));
    assert_eq!(
        SlurmConfig::default(),
        toml::from_str::<SlurmConfig>("").expect("empty table")
    );
}

#[test]
fn slurm_bad_values_are_named() {
    for (from, to, key) in [
        ("account = \"lab\"", "acount = \"lab\"", "acount"),
        (
            "time_limit = \"1-02:00:00\"",
            "time_limit = \"two hours\"",
            "slurm.time_limit",
        ),
        ("account = \"lab\"", "account = \"lab; rm -rf /\"", "slurm.account"),
        ("cpus_per_task = 2", "cpus_per_task = 0", "slurm.cpus_per_task"),
        ("node02 = 2", "node02 = 0", "slurm.gpus_per_node"),
        ("\"--qos=high\"", "\"qos=high\"", "slurm.sbatch_options[0]"),
        ("\"module load cuda/12.4\"", "\"a\\nb\"", "slurm.setup[0]"),
        ("cpus_per_task = 2", "cpus_per_task = 2\nnodes = 3", "slurm.nodes"),
    ] {
        let text = format!("{CHECKED_IN}{}", SLURM.replace(from, to));
        let err = ClusterConfig::from_toml_str(&text, Path::new("c.toml"))
            .expect_err(to)
            .to_string();
        assert!(err.contains(key), "{to}: {err}");
    }
    for ok in ["90", "30:00", "12:00:00", "2-0", "2-12:30", "2-12:30:00", "UNLIMITED"] {
        assert!(is_slurm_time(ok), "{ok}");
    }
    for bad in ["", "1:2:3:4", "x-1", "1-", "1h"] {
        assert!(!is_slurm_time(bad), "{bad}");
    }
}

fn attacks_small() -> SweepConfig {
    let c = ClusterConfig::from_toml_str(CHECKED_IN, Path::new("cluster.toml")).expect("valid");
    c.sweep("attacks-small").expect("attacks-small exists").clone()
}

#[test]
fn attacks_small_parses_with_every_kind() {
    let s = attacks_small();
    for k in ExperimentKind::ALL {
        assert!(s.experiments.contains(&k), "attacks-small lacks {}", k.name());
    }
    assert_eq!(
        s.models_of(ExperimentKind::Prop2),
        [crate::experiment::ModelKind::Logreg]
    );
    assert_eq!(s.kind_model_datasets(ExperimentKind::Reproduction).len(), 2);
    assert_eq!(s.kind_model_datasets(ExperimentKind::Greedy).len(), 1);
    assert_eq!(
        (s.forge_steps(), s.forge_candidates(), s.adam_iterations()),
        (2, 200, 50)
    );
    let text = toml::to_string(&s).expect("serialises");
    assert_eq!(SweepConfig::from_toml_str(&text).expect("parses back"), s);
}

#[test]
fn new_keys_default_and_stay_out_of_the_serialised_form() {
    let s = SweepConfig::from_toml_str(
        "name = \"t\"\nexperiments = [\"shuffle\"]\nmodels = [\"lenet5\"]\nbatch_sizes = [100]\nseeds = [0]\n\
         triples = 1\ndevices = \"all\"\n",
    )
    .expect("valid");
    assert_eq!((s.shuffles(), s.pol_steps(), s.forge_pool()), (20, 4, 500));
    // Untouched keys must not change the identity of sweeps submitted before they existed.
    let json = serde_json::to_string(&s).expect("json");
    assert!(!json.contains("shuffles") && !json.contains("models_for"), "{json}");
}

/// `attacks-small` with `from` replaced by `to`; the error of validating it.
fn attacks_error(from: &str, to: &str) -> String {
    let text = CHECKED_IN.replace(from, to);
    assert_ne!(text, CHECKED_IN, "{from:?} is not in cluster.toml");
    ClusterConfig::from_toml_str(&text, Path::new("c.toml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn model_constraints_are_named() {
    let err = attacks_error(", prop2 = [\"logreg\"]", "");
    assert!(
        err.contains("sweep.attacks-small.models") && err.contains("prop2") && err.contains("logreg"),
        "{err}"
    );
    let err = attacks_error("prop2 = [\"logreg\"]", "prop2 = [\"logreg-bias\"]");
    assert!(err.contains("models_for.prop2") && err.contains("logreg-bias"), "{err}");
    let err = attacks_error(
        "models = [\"lenet5\"]\nmodels_for",
        "models = [\"vggmini\"]\nmodels_for",
    );
    assert!(
        err.contains("shuffle") && err.contains("vggmini") && err.contains("cifar10"),
        "{err}"
    );
    let err = attacks_error(
        "models = [\"lenet5\"]\nmodels_for = {",
        "models = [\"lenet5\"]\ndatasets_unused = 1\nmodels_for = {",
    );
    assert!(err.contains("datasets_unused"), "{err}");
}

#[test]
fn forging_parameters_are_checked() {
    let err = attacks_error("forge_steps = 2", "forge_steps = 5");
    assert!(err.contains("forge_steps") && err.contains("4 steps"), "{err}");
    let err = attacks_error("pol_steps = 4", "pol_steps = 4\npol_checkpoint_every = 2");
    assert!(err.contains("pol_checkpoint_every"), "{err}");
    let err = attacks_error("forge_pool = 400", "forge_pool = 50");
    assert!(err.contains("forge_pool") && err.contains("100"), "{err}");
    let err = attacks_error("adam_iterations = 50", "adam_iterations = 0");
    assert!(err.contains("adam_iterations"), "{err}");
    let err = attacks_error("adam_iterations = 50", "adam_iterations = 50\nadam_cosine_restarts = 0");
    assert!(err.contains("adam_cosine_restarts"), "{err}");
    let err = attacks_error("adam_iterations = 50", "adam_iterations = 50\ndomain_iterations = 0");
    assert!(err.contains("domain_iterations"), "{err}");
    let err = attacks_error("shuffles = 20", "shuffles = 20\npol_epsilon = -1.0");
    assert!(err.contains("pol_epsilon"), "{err}");
}

#[test]
fn kind_lists_are_checked() {
    let err = attacks_error("\"adam\", \"adam-projected\"", "\"adam\", \"adam\"");
    assert!(err.contains("adam is listed twice"), "{err}");
    let err = attacks_error("\"shuffle\", \"pol\"", "\"shufle\", \"pol\"");
    assert!(err.contains("shufle"), "{err}");
    let err = attacks_error(", \"prop2\"]", "]");
    assert!(err.contains("models_for.prop2") && err.contains("not among"), "{err}");
}

#[test]
fn vggmini_may_be_forged_by_greedy_and_local_search() {
    let sweep = |kind: &str| {
        let text = format!(
            "name = \"v\"\nexperiments = [\"{kind}\"]\nmodels = [\"vggmini\"]\nbatch_sizes = [100]\n\
             seeds = [0]\ntriples = 2\ndevices = \"all\"\n"
        );
        SweepConfig::from_toml_str(&text).and_then(|s| s.validate().map(|_| s))
    };
    sweep("greedy").expect("greedy search scores VGGmini's candidates by the surrogate");
    // The surrogate proposes local moves and an exact pass confirms each: no longer hours per move.
    sweep("local").expect("local search on VGGmini");
    // Other constraints still hold for it.
    let err = sweep("prop2").unwrap_err().to_string();
    assert!(err.contains("logistic regression"), "{err}");
}

#[test]
fn models_take_torchscript_paths_beside_built_in_names() {
    let s = SweepConfig::from_toml_str(
        "name = \"p\"\nexperiments = [\"reproduction\"]\nmodels = [\"lenet5\", \"data/models/resnet20.pt\"]\n\
         datasets = [\"cifar10\"]\nbatch_sizes = [8]\nseeds = [0]\ntriples = 2\ndevices = \"all\"\n",
    )
    .expect("valid");
    assert_eq!(s.builtin_models(), [crate::experiment::ModelKind::Lenet5]);
    let t = s.torch_model_list();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].file.as_str(), t[0].dataset, &t[0].optimizer),
        (
            "data/models/resnet20.pt",
            crate::experiment::DatasetKind::Cifar10,
            &crate::optim::Optimizer::SGD
        )
    );
    // Names still serialise as they did: a sweep's identity does not change.
    let json = serde_json::to_value(&s.models).unwrap();
    assert_eq!(json, serde_json::json!(["lenet5", "data/models/resnet20.pt"]));
    let err = SweepConfig::from_toml_str(
        "name = \"p\"\nexperiments = [\"reproduction\"]\nmodels = [\"lenet\"]\nbatch_sizes = [8]\nseeds = [0]\n\
         triples = 2\ndevices = \"all\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("sweep.p.models") && err.contains("neither a built-in model"),
        "{err}"
    );
}
