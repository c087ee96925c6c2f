//! Expansion of a sweep's TorchScript models: the matrix's jobs, shuffles on every device and forged steps on the
//! first device after its training run.
use super::*;
use forgebench_shared::jobs::{TorchForgeSpec, TorchSpec};

#[test]
fn torchscript_models_train_on_every_device_and_replay_on_every_device() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/models/lenet5.pt");
    let cfg = SweepConfig::from_toml_str(&format!(
        "name = \"ts\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [16]\nseeds = [2]\n\
         triples = 3\ndevices = \"all\"\ntorch_models = [{{ file = {file:?}, dataset = \"mnist\" }}]\n"
    ))
    .expect("valid sweep");
    let profiles = default_cpu_profiles_for(None);
    let jobs = expand_checked(&cfg, &profiles);
    let torch: Vec<_> = jobs
        .iter()
        .filter(|j| j.id.0.contains("/torch-lenet5-mnist-b16-s2/"))
        .collect();
    let d = profiles.len();
    assert_eq!(torch.len(), d + d * d, "a log per device, a replay per (log, device)");
    let want = hex::encode(Sha256::digest(std::fs::read(file).unwrap()));
    let (w, v) = (key(&profiles[0].name), key(&profiles[1].name));
    let train = find(&jobs, &format!("torch-lenet5-mnist-b16-s2/train@{w}"));
    let Plan::Ready {
        job: JobSpec::TorchTrain { spec },
    } = &train.plan
    else {
        panic!("{:?}", train.plan)
    };
    assert_eq!(
        (spec.model_sha256.as_str(), spec.steps, spec.batch_size),
        (want.as_str(), 3, 16)
    );
    let verify = find(&jobs, &format!("torch-lenet5-mnist-b16-s2/verify-{w}@{v}"));
    assert_eq!(verify.depends_on.as_ref(), Some(&train.id));
    assert!(
        matches!(&verify.plan, Plan::NeedsArtifact { job: ArtifactJob::TorchVerify { writer, verifier, .. }, role, .. }
            if writer == &w && verifier == &v && role == TORCH_LOG),
        "{:?}",
        verify.plan
    );
    // A path among `models` is the same model with the defaults (MNIST, PyTorch's SGD): the same jobs.
    let short = SweepConfig::from_toml_str(&format!(
        "name = \"ts\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\", {file:?}]\nbatch_sizes = [16]\n\
         seeds = [2]\ntriples = 3\ndevices = \"all\"\n"
    ))
    .expect("valid sweep");
    let spec_of = |j: &NewJob| -> (String, TorchSpec) {
        let spec = match &j.plan {
            Plan::Ready {
                job: JobSpec::TorchTrain { spec },
            } => spec.clone(),
            Plan::NeedsArtifact {
                job: ArtifactJob::TorchVerify { spec, .. },
                ..
            } => spec.clone(),
            other => panic!("{other:?}"),
        };
        (j.id.0.split_once('/').expect("sweep/").1.to_string(), spec)
    };
    let same: Vec<_> = expand_checked(&short, &profiles)
        .iter()
        .filter(|j| j.id.0.contains("/torch-lenet5-mnist-b16-s2/"))
        .map(spec_of)
        .collect();
    let want: Vec<_> = torch.iter().copied().map(spec_of).collect();
    assert_eq!(same, want);
    // With none of the kinds a TorchScript model runs the models have nowhere to run: refused, naming the key.
    let err = SweepConfig::from_toml_str(&format!(
        "name = \"ts\"\nexperiments = [\"pol\"]\nmodels = [\"lenet5\"]\nbatch_sizes = [16]\nseeds = [2]\n\
         triples = 3\ndevices = \"all\"\ntorch_models = [{{ file = {file:?} }}]\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("torch_models") && err.contains("reproduction"), "{err}");
}

fn forge_spec(j: &NewJob) -> &TorchForgeSpec {
    match &j.plan {
        Plan::NeedsArtifact {
            job: ArtifactJob::TorchForge { spec },
            role,
            ..
        } if role == TORCH_LOG => spec,
        other => panic!("{}: {other:?}", j.id),
    }
}

#[test]
fn torchscript_models_shuffle_everywhere_and_forge_their_first_devices_log() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/models/lenet5.pt");
    let sweep = |kinds: &str| {
        SweepConfig::from_toml_str(&format!(
            "name = \"ts\"\nexperiments = [{kinds}]\nbatch_sizes = [16]\nseeds = [2]\ntriples = 3\n\
             devices = \"all\"\nforge_steps = 4\nforge_pool = 64\nforge_candidates = 7\nlocal_moves = 9\n\
             adam_iterations = 11\nshuffles = 6\ntorch_models = [{{ file = {file:?} }}]\n"
        ))
        .expect("valid sweep")
    };
    let profiles = default_cpu_profiles_for(None);
    let (first, d) = (key(&profiles[0].name), profiles.len());
    let tag = "torch-lenet5-mnist-b16-s2";
    // Without reproduction: no matrix, but the first device still trains the log that forging reads.
    let jobs = expand_checked(&sweep("\"shuffle\", \"local\", \"adam-projected\""), &profiles);
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.0.split_once('/').expect("sweep/").1).collect();
    let shuffles: Vec<_> = jobs.iter().filter(|j| j.id.0.contains("/shuffle@")).collect();
    assert_eq!(shuffles.len(), d, "{ids:?}");
    for j in &shuffles {
        assert!(
            matches!(
                &j.plan,
                Plan::Ready {
                    job: JobSpec::TorchShuffle { shuffles: 6, .. }
                }
            ),
            "{:?}",
            j.plan
        );
    }
    let train = find(&jobs, &format!("{tag}/train@{first}"));
    assert_eq!(jobs.iter().filter(|j| j.id.0.contains("/train@")).count(), 1, "{ids:?}");
    // Three steps give two forgeable ones (step k needs checkpoint k + 1), fewer than forge_steps asks.
    for k in 0..2 {
        let plain = find(&jobs, &format!("{tag}/forge-{k}@{first}"));
        let s = forge_spec(plain);
        assert_eq!(plain.depends_on.as_ref(), Some(&train.id));
        assert_eq!((s.step, s.pool, s.candidates, s.local_moves), (k, 64, 7, 9));
        assert_eq!((s.synthetic_iterations, s.projected), (0, false), "adam is not listed");
        let s = forge_spec(find(&jobs, &format!("{tag}/forge-projected-{k}@{first}")));
        assert_eq!(
            (s.pool, s.local_moves, s.synthetic_iterations, s.projected),
            (0, 0, 11, true)
        );
    }
    assert_eq!(jobs.len(), d + 1 + 4, "{ids:?}");
    // Greedy without local search, and Adam unprojected: one job per step running both.
    let jobs = expand_checked(&sweep("\"reproduction\", \"greedy\", \"adam\""), &profiles);
    let s = forge_spec(find(&jobs, &format!("{tag}/forge-1@{first}")));
    assert_eq!(
        (s.pool, s.local_moves, s.synthetic_iterations, s.projected),
        (64, 0, 11, false)
    );
    assert_eq!(
        jobs.len(),
        d + d * d + 2,
        "the matrix's training on the first device is the one forged"
    );
}
