//! Expansion tests: the job graph of every kind, the invariants every expansion keeps, and leasing of the jobs
//! that read their dependency's artifact.
mod lease;
mod torch;

use super::*;
use forgebench_shared::config::SweepConfig;
use forgebench_shared::jobs::StepSchedule;
use forgebench_shared::profile::default_cpu_profiles_for;
use std::collections::HashSet;

fn sweep() -> SweepConfig {
    SweepConfig::from_toml_str(
        "name = \"t\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\", \"lenet5\"]\nbatch_sizes = [100]\n\
         seeds = [0, 1]\ntriples = 4\ndevices = \"all\"\n",
    )
    .expect("valid sweep")
}

/// A one-kind sweep over lenet5 (logreg for prop2) with `extra` keys.
fn kind_sweep(kinds: &str, extra: &str) -> SweepConfig {
    let model = if kinds.contains("prop2") { "logreg" } else { "lenet5" };
    SweepConfig::from_toml_str(&format!(
        "name = \"k\"\nexperiments = [{kinds}]\nmodels = [\"{model}\"]\nbatch_sizes = [100]\nseeds = [3]\n\
         triples = 2\ndevices = \"all\"\n{extra}"
    ))
    .expect("valid sweep")
}

/// One device per profile, on the unit tests' fingerprint.
fn devices(profiles: &[DeviceProfile]) -> Vec<SweepDevice> {
    let fingerprint = crate::testing::fingerprint("cpu");
    let mut devices: Vec<_> = profiles
        .iter()
        .map(|p| SweepDevice {
            id: forgebench_shared::device::device_id(p, &fingerprint),
            profile: p.clone(),
            fingerprint: fingerprint.clone(),
            key: String::new(),
        })
        .collect();
    crate::ledger::assign_keys(&mut devices);
    devices
}

/// The job-id key of the device of the built-in profile `name` ([`devices`]).
fn key(name: &str) -> String {
    let p: Vec<_> = default_cpu_profiles_for(None)
        .into_iter()
        .filter(|p| p.name == name)
        .collect();
    devices(&p)[0].key.clone()
}

/// Expands and checks what every expansion must keep: unique ids, bound to selected profiles' devices,
/// dependencies planned earlier, and a `NeedsArtifact` plan's dependency equal to the job's `depends_on`.
fn expand_checked(cfg: &SweepConfig, profiles: &[DeviceProfile]) -> Vec<NewJob> {
    let (id, _) = sweep_identity(cfg, profiles);
    let devices = devices(profiles);
    let jobs = expand(&id, cfg, profiles, &devices);
    let ids: HashSet<_> = jobs.iter().map(|j| &j.id).collect();
    assert_eq!(ids.len(), jobs.len(), "job ids are unique");
    for (i, j) in jobs.iter().enumerate() {
        assert!(j.id.0.starts_with(&format!("{id}/")), "{} is outside the sweep", j.id);
        assert!(
            devices.iter().any(|d| d.profile.name == j.profile && d.id == j.device),
            "{} bound to {} ({})",
            j.id,
            j.profile,
            j.device
        );
        if let Some(dep) = &j.depends_on {
            assert!(
                jobs[..i].iter().any(|w| &w.id == dep),
                "{} depends on a missing or later job",
                j.id
            );
        }
        if let Plan::NeedsArtifact { dep, .. } = &j.plan {
            assert_eq!(
                j.depends_on.as_ref(),
                Some(dep),
                "{} would lease before its input exists",
                j.id
            );
        }
    }
    jobs
}

fn find<'a>(jobs: &'a [NewJob], suffix: &str) -> &'a NewJob {
    jobs.iter()
        .find(|j| j.id.0.ends_with(suffix))
        .unwrap_or_else(|| panic!("no job ending in {suffix}"))
}

#[test]
fn reproduction_expands_to_logs_and_repeats_or_every_pair() {
    let jobs = expand_checked(&sweep(), &default_cpu_profiles_for(None));
    // Linear: 2 models x 2 seeds x (3 logs + 3 repeat runs)
    assert_eq!(jobs.len(), 2 * 2 * (3 + 3));
    let repeats = jobs
        .iter()
        .filter(|j| {
            matches!(
                &j.plan,
                Plan::Ready {
                    job: JobSpec::RepeatLog { .. }
                }
            )
        })
        .count();
    assert_eq!(repeats, 2 * 2 * 3, "one repeat run per device and log");
    let mut exhaustive = sweep();
    exhaustive.verification = forgebench_shared::config::Verification::Exhaustive;
    let jobs = expand_checked(&exhaustive, &default_cpu_profiles_for(None));
    // 2 models x 2 seeds x (3 logs + 9 pairs)
    assert_eq!(jobs.len(), 2 * 2 * (3 + 9));
    let avx2 = key("cpu-avx2");
    let diag = jobs
        .iter()
        .filter(|j| j.id.0.ends_with(&format!("verify-{avx2}@{avx2}")))
        .count();
    assert_eq!(diag, 4, "the diagonal is verified as its own job");
}

#[test]
fn a_joining_device_adds_its_jobs_and_keeps_the_others() {
    let profiles = default_cpu_profiles_for(None);
    for cfg in [sweep(), kind_sweep("\"pol\", \"greedy\", \"adam\"", "")] {
        let (id, _) = sweep_identity(&cfg, &profiles);
        let all = devices(&profiles);
        let before = expand(&id, &cfg, &profiles, &all[..2]);
        let after = expand(&id, &cfg, &profiles, &all);
        for j in &before {
            assert!(
                after.contains(j),
                "{} is planned the same way once a device joins",
                j.id
            );
        }
        let new: Vec<_> = after.iter().filter(|j| !before.contains(j)).collect();
        assert!(
            !new.is_empty()
                && new
                    .iter()
                    .all(|j| j.device == all[2].id || j.id.0.contains(&all[2].key))
        );
    }
}

#[test]
fn identity_is_stable_and_grid_sensitive() {
    let p = default_cpu_profiles_for(None);
    assert_eq!(sweep_identity(&sweep(), &p), sweep_identity(&sweep(), &p));
    let mut other = sweep();
    other.triples = 5;
    assert_ne!(sweep_identity(&sweep(), &p).0, sweep_identity(&other, &p).0);
    let mut other = sweep();
    other.shuffles = Some(7);
    assert_ne!(sweep_identity(&sweep(), &p).0, sweep_identity(&other, &p).0);
}

#[test]
fn shuffle_runs_on_every_profile() {
    let profiles = default_cpu_profiles_for(None);
    let jobs = expand_checked(&kind_sweep("\"shuffle\"", "shuffles = 7\n"), &profiles);
    assert_eq!(jobs.len(), 3);
    for (j, p) in jobs.iter().zip(&profiles) {
        assert_eq!(j.profile, p.name);
        match &j.plan {
            Plan::Ready {
                job: JobSpec::Shuffle { spec },
            } => assert_eq!((spec.shuffles, spec.batch_size, spec.seed), (7, 100, 3)),
            other => panic!("{}: {other:?}", j.id),
        }
    }
}

#[test]
fn pol_trains_once_and_replays_everywhere() {
    let profiles = default_cpu_profiles_for(None);
    let jobs = expand_checked(&kind_sweep("\"pol\"", "pol_steps = 6\npol_epsilon = 0.5\n"), &profiles);
    assert_eq!(jobs.len(), 1 + 3);
    let train = find(&jobs, &format!("/train@{}", key("cpu-avx512")));
    assert!(matches!(&train.plan, Plan::Ready { job: JobSpec::PolTrain { spec } } if spec.steps == 6));
    for p in &profiles {
        let v = find(&jobs, &format!("/verify@{}", key(&p.name)));
        assert_eq!(v.profile, p.name);
        match &v.plan {
            Plan::NeedsArtifact {
                job: ArtifactJob::PolVerify { spec, epsilon },
                dep,
                role,
            } => {
                assert_eq!(
                    (dep, role.as_str(), *epsilon, spec.steps),
                    (&train.id, POL_LOG, Some(0.5), 6)
                );
            }
            other => panic!("{}: {other:?}", v.id),
        }
    }
}

fn forge_of(j: &NewJob) -> (&ForgeSpec, &JobId, &str) {
    match &j.plan {
        Plan::NeedsArtifact {
            job: ArtifactJob::Forge { spec },
            dep,
            role,
        } => (spec, dep, role),
        other => panic!("{}: not a forge job: {other:?}", j.id),
    }
}

#[test]
fn forging_depends_on_the_log_and_its_forgery_is_replayed() {
    let profiles = default_cpu_profiles_for(None);
    let extra = "forge_steps = 2\nforge_candidates = 9\nforge_pool = 300\nlocal_moves = 5\n";
    let jobs = expand_checked(&kind_sweep("\"greedy\", \"pol\", \"local\"", extra), &profiles);
    // One shared log, its replays, and per attack a forge job plus its replays.
    assert_eq!(jobs.len(), 1 + 3 + 2 * (1 + 3));
    assert_eq!(jobs.iter().filter(|j| j.id.0.contains("/train@")).count(), 1);
    let train = find(&jobs, &format!("/train@{}", key("cpu-avx512")));
    for (name, moves) in [("greedy", 0), ("local", 5)] {
        let f = find(&jobs, &format!("/{name}@{}", key("cpu-avx512")));
        let (spec, dep, role) = forge_of(f);
        assert_eq!((dep, role), (&train.id, POL_LOG));
        assert_eq!(
            (spec.local_moves, spec.candidates, spec.pool, spec.step_count),
            (moves, 9, 300, 2)
        );
        assert_eq!(spec.pol.checkpoint_every, 1);
        for p in &profiles {
            let v = find(&jobs, &format!("/{name}/verify@{}", key(&p.name)));
            assert!(
                matches!(&v.plan, Plan::NeedsArtifact { job: ArtifactJob::PolVerify { .. }, dep, role }
                    if dep == &f.id && role == FORGED_POL_LOG),
                "{}: {:?}",
                v.id,
                v.plan
            );
        }
    }
}

#[test]
fn single_runs_use_the_first_selected_profile() {
    let profiles: Vec<_> = default_cpu_profiles_for(None).into_iter().skip(1).collect();
    let jobs = expand_checked(
        &kind_sweep("\"adam-projected\", \"adam\"", "adam_iterations = 11\n"),
        &profiles,
    );
    assert_eq!(jobs.len(), 2);
    for (j, projected) in jobs.iter().zip([true, false]) {
        assert_eq!(j.profile, "cpu-avx2");
        match &j.plan {
            Plan::Ready {
                job: JobSpec::AdamForge { spec },
            } => assert_eq!((spec.projected, spec.iterations, spec.seed), (projected, 11, 3)),
            other => panic!("{}: {other:?}", j.id),
        }
    }
    let jobs = expand_checked(&kind_sweep("\"prop2\"", "eta = 0.05\n"), &profiles);
    assert_eq!(jobs.len(), 1);
    assert!(
        jobs[0]
            .id
            .0
            .ends_with(&format!("/prop2-logreg-mnist-b100-s3@{}", key("cpu-avx2"))),
        "{}",
        jobs[0].id
    );
    assert!(matches!(&jobs[0].plan, Plan::Ready { job: JobSpec::Prop2 { spec } } if spec.eta == 0.05));
    // The schedule and the domain search reach the specs; without them the specs are the paper's.
    let extra = "adam_cosine_restarts = 7\ndomain_iterations = 30\n";
    for j in expand_checked(&kind_sweep("\"adam\", \"prop2\"", extra), &profiles) {
        match &j.plan {
            Plan::Ready {
                job: JobSpec::AdamForge { spec },
            } => assert_eq!(
                (spec.schedule, spec.domain_iterations),
                (StepSchedule::CosineRestarts { period: 7 }, 30)
            ),
            Plan::Ready {
                job: JobSpec::Prop2 { spec },
            } => assert_eq!(spec.domain_iterations, 30),
            other => panic!("{}: {other:?}", j.id),
        }
    }
    // Each optimiser gets its run; L-BFGS's names its optimiser and takes no schedule.
    let jobs = expand_checked(
        &kind_sweep(
            "\"adam\"",
            "optimisers = [\"lbfgs\", \"adam\"]\nadam_cosine_restarts = 7\n",
        ),
        &profiles,
    );
    let ids: Vec<&str> = jobs
        .iter()
        .map(|j| j.id.0.split(['/', '@']).nth(1).unwrap_or(""))
        .collect();
    assert_eq!(ids, ["adam-lenet5-mnist-b100-s3", "lbfgs-lenet5-mnist-b100-s3"]);
    match &jobs[1].plan {
        Plan::Ready {
            job: JobSpec::AdamForge { spec },
        } => assert_eq!(
            (spec.optimiser.name(), spec.schedule),
            ("lbfgs", StepSchedule::Constant)
        ),
        other => panic!("{other:?}"),
    }
    match &expand_checked(&kind_sweep("\"adam\"", ""), &profiles)[0].plan {
        Plan::Ready {
            job: JobSpec::AdamForge { spec },
        } => assert_eq!((spec.schedule, spec.domain_iterations), (StepSchedule::Constant, 0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn checked_in_attacks_sweep_expands() {
    let text = include_str!("../../../cluster.toml");
    let c = forgebench_shared::config::ClusterConfig::from_toml_str(text, std::path::Path::new("cluster.toml"))
        .expect("valid");
    let cfg = c.sweep("attacks-small").expect("present");
    let jobs = expand_checked(cfg, &c.profiles);
    // Over the file's four profiles: reproduction 2 x (4 logs + 4 repeats) in f32 and 2 x (4 logs + 16
    // verifications) in exact arithmetic, a trace per device of each of the 4 specs, shuffle 4, pol 1 + 4 in each
    // arm, greedy and local 2 x (1 + 4), adam and adam-projected with each of two optimisers, prop2, and the
    // TorchScript LeNet-5's 4 logs and 16 replays, 4 shuffles and 2 forged steps, plain and projected.
    assert_eq!(c.profiles.len(), 4);
    assert_eq!(jobs.len(), 16 + 40 + 16 + 4 + 2 * 5 + 10 + 4 + 1 + (20 + 4 + 4));
    let exact_pol = jobs
        .iter()
        .filter(|j| match &j.plan {
            Plan::Ready {
                job: JobSpec::PolTrain { spec },
            } => spec.arithmetic == Arithmetic::Exact,
            Plan::NeedsArtifact {
                job: ArtifactJob::PolVerify { spec, .. },
                ..
            } => spec.arithmetic == Arithmetic::Exact,
            _ => false,
        })
        .count();
    assert_eq!(
        exact_pol, 5,
        "the exact arm trains its own PoL log and replays it on every device"
    );
    let traces = jobs
        .iter()
        .filter(|j| {
            matches!(
                &j.plan,
                Plan::Ready {
                    job: JobSpec::Trace { triple: 0, .. }
                }
            )
        })
        .count();
    assert_eq!(traces, 16);
}

#[test]
fn the_exact_arm_is_verified_exhaustively_beside_a_linear_f32_arm() {
    let profiles = default_cpu_profiles_for(None);
    let mut both = sweep();
    both.arithmetic = Some(vec![Arithmetic::F32, Arithmetic::Exact]);
    let jobs = expand_checked(&both, &profiles);
    let (f32_jobs, exact_jobs): (Vec<_>, Vec<_>) = jobs.iter().partition(|j| !j.id.0.contains("-exact/"));
    // f32, linear: 2 models x 2 seeds x (3 logs + 3 repeats); exact, exhaustive: 2 x 2 x (3 logs + 9 pairs).
    assert_eq!((f32_jobs.len(), exact_jobs.len()), (2 * 2 * 6, 2 * 2 * 12));
    // Within its sweep, the f32 arm keeps the ids it had before the exact arm existed.
    let tail = |id: &JobId| id.0.split_once('/').expect("sweep/job").1.to_owned();
    let before: HashSet<_> = expand_checked(&sweep(), &profiles)
        .iter()
        .map(|j| tail(&j.id))
        .collect();
    assert!(
        f32_jobs.iter().all(|j| before.contains(&tail(&j.id))),
        "f32 ids changed"
    );
    for j in &exact_jobs {
        let spec = match &j.plan {
            Plan::Ready {
                job: JobSpec::WriteLog { spec },
            }
            | Plan::VerifyOf { spec, .. } => spec,
            other => panic!("{}: {other:?} in the exact arm", j.id),
        };
        assert_eq!(spec.arithmetic, Arithmetic::Exact, "{}", j.id);
    }
    let bad = SweepConfig::from_toml_str(
        "name = \"t\"\nexperiments = [\"shuffle\"]\nmodels = [\"lenet5\"]\nbatch_sizes = [100]\nseeds = [0]\n\
         triples = 4\ndevices = \"all\"\narithmetic = [\"exact\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("arithmetic") && bad.contains("reproduction"), "{bad}");
}
