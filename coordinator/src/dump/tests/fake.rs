//! Fake workers for the dump tests: each job kind gets a hand-made outcome of the worker's schema, with
//! artifacts indexed in the ledger (and written to a store, for the image batches the dump reads back).
use super::super::*;
use forgebench_shared::config::SweepConfig;
use forgebench_shared::content::id_of_bytes;
use forgebench_shared::jobs::{ArtifactRef, JobOutcome, JobSpec};
use forgebench_shared::measures::{ErrorMeasures, MeasureSummary};
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::Provenance;
use forgebench_shared::results::*;
use serde_json::json;
use std::collections::HashMap;

/// Off-diagonal benign reproduction error of the fake verifiers.
pub(super) const BENIGN: f64 = 2e-6;

fn m(l2: f64) -> ErrorMeasures {
    ErrorMeasures {
        l2,
        l2_sq: l2 * l2,
        l2_sq_per_dim: l2 * l2 / 100.0,
        linf: l2,
        rel: l2,
    }
}

fn prov(p: &str) -> Provenance {
    Provenance {
        code_version: "t".into(),
        profile: DeviceProfile::cpu(p),
        fingerprint: crate::testing::fingerprint("cpu"),
        seeds: vec![],
    }
}

/// Fake workers: every artifact is indexed in the ledger, image batches are also written to `store`.
struct Fake<'a> {
    ledger: &'a Ledger,
    store: &'a Path,
    writer_of: HashMap<String, String>,
    tamper: bool,
}

impl Fake<'_> {
    fn artifact(&mut self, job: &str, role: &str, bytes: &[u8]) -> ArtifactRef {
        let id = id_of_bytes(format!("{job}/{role}/{}", bytes.len()).as_bytes());
        std::fs::write(self.store.join(&id), bytes).expect("store");
        self.ledger.add_artifact(&id, bytes.len() as u64, role).expect("index");
        ArtifactRef {
            id: id.as_str().into(),
            role: role.into(),
            size: bytes.len() as u64,
        }
    }

    fn grids(&mut self, job: &str, title: &str) -> Vec<ArtifactRef> {
        ["forged", "real"]
            .into_iter()
            .map(|side| {
                let b = ImageBatch {
                    title: format!("{title} {side}"),
                    shape: [1, 2, 2],
                    pixels: vec![0.5; 8],
                };
                let text = serde_json::to_vec(&b).expect("json");
                self.artifact(&format!("{job}/{side}"), crate::plan::IMAGE_BATCH, &text)
            })
            .collect()
    }

    fn outcome(&mut self, job: &str, spec: &JobSpec, p: &str) -> JobOutcome {
        let (result, artifacts) = match spec {
            JobSpec::WriteLog { .. } | JobSpec::RepeatLog { .. } => {
                let a = self.artifact(job, "repro-log", b"log");
                self.writer_of.insert(a.id.0.clone(), p.to_owned());
                (json!({}), vec![a])
            }
            JobSpec::VerifyLog { log, .. } => {
                let w = self.writer_of[&log.0].clone();
                let l2 = if w == p { 0.0 } else { BENIGN };
                let s = MeasureSummary::of(&[m(l2), m(l2 / 2.0)]);
                (
                    json!({ "writer_profile": w, "writer": prov(&w), "verifier": prov(p), "summary": s }),
                    vec![],
                )
            }
            JobSpec::Shuffle { spec } => {
                let errors = vec![m(1e-7); spec.shuffles];
                let mut spec = spec.clone();
                spec.shuffles += usize::from(self.tamper);
                let r = ShuffleReport {
                    spec,
                    provenance: prov(p),
                    summary: MeasureSummary::of(&errors),
                    errors,
                };
                (json!(r), vec![])
            }
            JobSpec::Trace { spec, triple } => {
                // Profiles agree at the first site and part at the second by an amount set by the name.
                let d = (p.bytes().map(u32::from).sum::<u32>() % 7 + 1) as f64 * 2f64.powi(-20);
                let t = forgebench_shared::trace::Trace {
                    arithmetic: spec.arithmetic,
                    sites: vec![
                        ("conv1.forward".into(), vec![1.0, 2.0]),
                        ("fc.forward".into(), vec![3.0, 4.0 + d]),
                        ("update".into(), vec![5.0 + d]),
                    ],
                };
                let tmp = self.store.join(format!("trace-{}.tmp", p));
                forgebench_shared::trace::write_trace(&t, &tmp).expect("trace");
                let bytes = std::fs::read(&tmp).expect("trace bytes");
                std::fs::remove_file(&tmp).expect("remove");
                let r = forgebench_shared::trace::TraceReport {
                    spec: spec.clone(),
                    triple: *triple,
                    provenance: prov(p),
                    sites: 3,
                    values: 5,
                };
                (json!(r), vec![self.artifact(job, crate::plan::TRACE, &bytes)])
            }
            JobSpec::PolTrain { .. } => (json!({}), vec![self.artifact(job, crate::plan::POL_LOG, b"pol")]),
            JobSpec::TorchTrain { .. } => (json!({}), vec![self.artifact(job, crate::plan::TORCH_LOG, b"zip")]),
            JobSpec::TorchVerify { spec, writer, .. } => (json!(torch_report(spec, writer, p)), vec![]),
            JobSpec::TorchShuffle { spec, shuffles } => (json!(torch_shuffle(spec, *shuffles, p)), vec![]),
            JobSpec::TorchForge { spec, .. } => (json!(torch_forge(spec, p)), vec![]),
            JobSpec::PolVerify { spec, epsilon, .. } => {
                let r = PolVerifyReport {
                    exact: None,
                    init_check: None,
                    spec: spec.clone(),
                    writer: prov("a"),
                    verifier: prov(p),
                    per_interval: vec![m(0.0); spec.steps],
                    epsilon: *epsilon,
                    epsilon_source: "given".into(),
                    failed_intervals: vec![],
                    passed: true,
                };
                (json!(r), vec![])
            }
            JobSpec::Forge { spec, .. } => {
                let steps = (0..spec.step_count)
                    .map(|i| ForgedStep {
                        step: i,
                        greedy: m(1e-3 * (i + 1) as f64),
                        local: (spec.local_moves > 0).then(|| m(1e-4 * (i + 1) as f64)),
                        batch: vec![i; spec.pol.batch_size],
                        candidates_scored: spec.candidates,
                        moves: 1,
                        exact_arm: None,
                    })
                    .collect();
                let r = ForgeReport {
                    spec: spec.clone(),
                    provenance: prov(p),
                    steps,
                    setup_seconds: 0.1,
                    search_seconds: 0.1,
                    scoring: Some(forgebench_shared::results::Scoring::Gram),
                    optimizer: Default::default(),
                };
                (
                    json!(r),
                    vec![self.artifact(job, crate::plan::FORGED_POL_LOG, b"forged")],
                )
            }
            JobSpec::AdamForge { spec } => {
                let r = AdamReport {
                    spec: spec.clone(),
                    provenance: prov(p),
                    curve_l2: vec![1.0, 2e-4, 5e-4],
                    final_error: m(5e-4),
                    best: Some(forgebench_shared::results::AdamBest {
                        iteration: 1,
                        error: m(2e-4),
                    }),
                    domain: (spec.domain_iterations > 0).then(|| domain("adam-best", spec.domain_iterations)),
                    exact_arm: None,
                    optimizer: Default::default(),
                };
                (json!(r), self.grids(job, "adam"))
            }
            JobSpec::Prop2 { spec } => {
                let r = Prop2Report {
                    spec: spec.clone(),
                    provenance: prov(p),
                    rank: 9,
                    rank_tolerance: 1e-12,
                    error_f32: m(BENIGN / 4.0),
                    error_f64: m(1e-15),
                    pixels_outside_unit: 0.4,
                    label_simplex_violation: 0.2,
                    batch_distance: 3.0,
                    domain: (spec.domain_iterations > 0).then(|| domain("prop2", spec.domain_iterations)),
                    exact_arm: Some(forgebench_shared::results::ExactArmCheck {
                        dim: 7840,
                        differing: 12,
                        fixable_by_records: 12,
                        l2: 1e-9,
                    }),
                };
                (json!(r), self.grids(job, "prop2"))
            }
        };
        JobOutcome {
            result,
            artifacts,
            compute_seconds: 0.01,
        }
    }
}

/// A domain search that ends at 3e-3 with soft labels and 5e-3 one-hot.
fn domain(start: &str, iterations: usize) -> forgebench_shared::results::DomainReport {
    use forgebench_shared::results::{DomainForgery, DomainPoint, DomainReport};
    let end = |l2: f64, one_hot: bool| DomainForgery {
        error_f32: m(l2),
        error_f64: m(l2),
        pixel_violation: 0.0,
        label_violation: 0.0,
        one_hot,
        nearest_real: 4.0,
        nearest_real_median: 5.0,
        exact_arm: None,
    };
    DomainReport {
        start: start.into(),
        iterations,
        path: vec![
            DomainPoint {
                violation: 10.0,
                error_l2: 1e-9,
            },
            DomainPoint {
                violation: 0.0,
                error_l2: 3e-3,
            },
        ],
        soft: end(3e-3, false),
        hard: end(5e-3, true),
        real_neighbour_distance: 6.0,
    }
}

/// Submits `text` over profiles a and b and runs it to the end; jobs whose id contains `fail` fail.
pub(super) fn run(ledger: &Ledger, store: &Path, text: &str, fail: &str) -> SweepId {
    run_with(ledger, store, text, fail, false)
}

/// [`run`]; with `tamper`, shuffle results report one shuffle more than their job ran.
pub(super) fn run_with(ledger: &Ledger, store: &Path, text: &str, fail: &str, tamper: bool) -> SweepId {
    let cfg = SweepConfig::from_toml_str(text).expect("valid sweep");
    let profiles = vec![DeviceProfile::cpu("a"), DeviceProfile::cpu("b")];
    let (id, _) = crate::testing::record_sweep(ledger, &cfg, &profiles, 1);
    let mut fake = Fake {
        ledger,
        store,
        writer_of: HashMap::new(),
        tamper,
    };
    let workers: Vec<_> = profiles
        .iter()
        .map(|p| {
            ledger
                .register_worker(&format!("w{}", p.name), p, &prov(&p.name).fingerprint)
                .expect("register")
        })
        .collect();
    loop {
        let mut ran = false;
        for (p, w) in profiles.iter().zip(&workers) {
            while let Some(j) = ledger.lease_next(&w.0, &w.1, 10_000).expect("lease") {
                ran = true;
                let o = fake.outcome(&j.job_id.0, &j.spec, &p.name);
                let r = if j.job_id.0.contains(fail) {
                    Err("injected")
                } else {
                    Ok(&o)
                };
                ledger.report(&w.0, &j.job_id, j.attempt, r).expect("report");
            }
        }
        if !ran {
            return id;
        }
    }
}

/// A replay of `writer`'s log of `spec` on `p`: zero on the diagonal, benign noise elsewhere.
/// The model and data a fake TorchScript result names.
fn torch_identity(
    spec: &forgebench_shared::jobs::TorchSpec,
) -> (
    forgebench_shared::torchrun::ModelIdentity,
    forgebench_shared::torchrun::DatasetRef,
) {
    use forgebench_shared::torchrun::*;
    let model = ModelIdentity {
        file: "model.pt".into(),
        sha256: spec.model_sha256.clone(),
        params: vec![ParamInfo {
            name: "w".into(),
            shape: vec![3],
        }],
    };
    let data = DatasetRef {
        kind: spec.dataset,
        sha256: "d".into(),
        n: 100,
        transform: Transform::Scaled,
        path: None,
    };
    (model, data)
}

/// Shuffle errors of BENIGN / 10 each.
fn torch_shuffle(
    spec: &forgebench_shared::jobs::TorchSpec,
    shuffles: usize,
    p: &str,
) -> forgebench_shared::torch_shuffle::TorchShuffleReport {
    let (model, dataset) = torch_identity(spec);
    let errors = vec![m(BENIGN / 10.0); shuffles];
    forgebench_shared::torch_shuffle::TorchShuffleReport {
        model,
        dataset,
        batch_size: spec.batch_size,
        eta: spec.eta,
        seed: spec.seed,
        batch: (0..spec.batch_size).collect(),
        provenance: prov(p),
        summary: MeasureSummary::of(&errors),
        errors,
    }
}

/// A forged step: greedy 1e-2, local 5e-3, synthetic 1e-3 (each when its arm runs).
fn torch_forge(
    spec: &forgebench_shared::jobs::TorchForgeSpec,
    p: &str,
) -> forgebench_shared::torch_forge::TorchForgeReport {
    use forgebench_shared::torch_forge::*;
    let (model, dataset) = torch_identity(&spec.run);
    let arm = |l2: f64| SearchArm {
        error: m(l2),
        batch: vec![1; spec.run.batch_size],
        evaluated: spec.candidates,
        moves: 0,
    };
    TorchForgeReport {
        log: "log".into(),
        layout: forgebench_shared::torchrun::STREAMED_FORMAT.into(),
        model,
        optimizer: spec.run.optimizer.clone(),
        dataset,
        step: spec.step,
        lr: spec.run.eta,
        batch_size: spec.run.batch_size,
        benign: m(0.0),
        greedy: (spec.pool > 0).then(|| arm(1e-2)),
        local: (spec.local_moves > 0).then(|| arm(5e-3)),
        synthetic: (spec.synthetic_iterations > 0).then(|| SyntheticArm {
            iterations: spec.synthetic_iterations,
            projected: spec.projected,
            curve_l2: vec![1.0, 1e-3],
            best_iteration: spec.synthetic_iterations,
            error: m(1e-3),
        }),
        pool: spec.pool,
        seed: spec.run.seed,
        provenance: prov(p),
    }
}

fn torch_report(
    spec: &forgebench_shared::jobs::TorchSpec,
    writer: &str,
    p: &str,
) -> forgebench_shared::torchrun::TorchRunReport {
    use forgebench_shared::torchrun::*;
    let l2 = if writer == p { 0.0 } else { BENIGN };
    let (model, dataset) = torch_identity(spec);
    TorchRunReport {
        log: "log".into(),
        layout: STREAMED_FORMAT.into(),
        model,
        optimizer: spec.optimizer.clone(),
        dataset,
        writer: None,
        verifier: prov(p),
        intervals: (0..spec.steps)
            .map(|i| IntervalError {
                from_step: i,
                to_step: i + 1,
                error: m(l2 * (i + 1) as f64),
            })
            .collect(),
        strategy: forgebench_shared::pol_strategy::Strategy::Full,
        replayed: (0..spec.steps).collect(),
        log_intervals: spec.steps,
        init_check: None,
        epsilon: 1e300,
        epsilon_source: "given".into(),
        failed: vec![],
        caught_steps: vec![],
        passed: true,
    }
}
