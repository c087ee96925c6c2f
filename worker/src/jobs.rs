//! Executes one [`JobSpec`] on this worker's profile. The one-shot CLI subcommands, the single-machine matrix
//! command and the cluster's pull loop all come through here, so the same spec gives the same bits everywhere.
use crate::error::{Result, WorkerError};
use crate::{datasets, profile, repro};
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::ids::ArtifactId;
use forgebench_shared::jobs::{ArtifactRef, JobOutcome, JobSpec};
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::{code_version, Provenance};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What a job runs with.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The worker's profile (already applied to the process).
    pub profile: DeviceProfile,
    /// The worker's fingerprint.
    pub fingerprint: DeviceFingerprint,
    /// Data root: holds `mnist/` and `cifar10/` (or the official files directly).
    pub data_dir: PathBuf,
    /// Where the job writes its artifacts.
    pub work_dir: PathBuf,
}

impl JobContext {
    /// Provenance of a result computed here with the given seeds.
    pub fn provenance(&self, seeds: Vec<(String, u64)>) -> Provenance {
        Provenance {
            code_version: code_version(),
            profile: self.profile.clone(),
            fingerprint: self.fingerprint.clone(),
            seeds,
        }
    }
    /// The tch device of the profile.
    pub fn device(&self) -> Result<tch::Device> {
        profile::tch_device(&self.profile, &self.fingerprint)
    }
}

/// A job's outcome plus the files of the artifacts it wrote.
pub struct ExecOutput {
    /// Result and artifact references.
    pub outcome: JobOutcome,
    /// `(reference, file)` for every artifact, in `outcome.artifacts` order.
    pub files: Vec<(ArtifactRef, PathBuf)>,
}

/// References a written artifact file by its content id (BLAKE3).
pub fn artifact(path: &Path, role: &str) -> Result<(ArtifactRef, PathBuf)> {
    let size = std::fs::metadata(path).map_err(|e| WorkerError::io(path, e))?.len();
    let id = ArtifactId(forgebench_shared::content::id_of_file(path).map_err(|e| WorkerError::io(path, e))?);
    Ok((
        ArtifactRef {
            id,
            role: role.to_owned(),
            size,
        },
        path.to_path_buf(),
    ))
}

fn input<'a>(inputs: &'a HashMap<ArtifactId, PathBuf>, id: &ArtifactId) -> Result<&'a PathBuf> {
    inputs
        .get(id)
        .ok_or_else(|| WorkerError::Invalid(format!("input artifact {id} was not provided")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| WorkerError::Invalid(format!("result not serialisable: {e}")))
}

/// Each PNG grid and the [`ImageBatch`](forgebench_shared::results::ImageBatch) JSON `grid::save` wrote beside it:
/// the reports draw their figures from the JSON.
fn grid_artifacts(pngs: &[PathBuf]) -> Result<Vec<(ArtifactRef, PathBuf)>> {
    let mut out = Vec::with_capacity(2 * pngs.len());
    for png in pngs {
        out.push(artifact(png, "image-grid")?);
        out.push(artifact(&png.with_extension("json"), "image-batch")?);
    }
    Ok(out)
}

/// Runs `spec`; `inputs` maps every artifact the job needs ([`JobSpec::inputs`]) to a local file.
pub fn execute(ctx: &JobContext, spec: &JobSpec, inputs: &HashMap<ArtifactId, PathBuf>) -> Result<ExecOutput> {
    let started = Instant::now();
    std::fs::create_dir_all(&ctx.work_dir).map_err(|e| WorkerError::io(&ctx.work_dir, e))?;
    let device = ctx.device()?;
    let (result, files) = match spec {
        JobSpec::WriteLog { spec } => {
            let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
            let name = format!(
                "repro-{}-{}-b{}-k{}-s{}-{}.safetensors",
                spec.model, spec.dataset, spec.batch_size, spec.triples, spec.seed, ctx.profile.name
            );
            let path = ctx.work_dir.join(name);
            let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
            let manifest = repro::write_log(spec, &ds, device, prov, &path, |_| {})?;
            (to_json(&manifest)?, vec![artifact(&path, "repro-log")?])
        }
        JobSpec::RepeatLog { spec } => return repeat_log(ctx, spec, started),
        JobSpec::VerifyLog { spec, log } => {
            let path = input(inputs, log)?;
            let log = repro::read_log(path)?;
            if &log.manifest.spec != spec {
                return Err(WorkerError::artifact(path, "the log's spec differs from the job's"));
            }
            let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
            let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
            (
                to_json(&repro::verify_log(&log, &ds, device, prov, None, |_| {})?)?,
                vec![],
            )
        }
        JobSpec::Shuffle { spec } => {
            let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
            let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
            (to_json(&crate::shuffle::run(spec, &ds, device, prov)?)?, vec![])
        }
        JobSpec::PolTrain { spec } => {
            let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
            let name = format!(
                "pol-{}-{}-b{}-n{}-every{}-s{}-{}.safetensors",
                spec.model,
                spec.dataset,
                spec.batch_size,
                spec.steps,
                spec.checkpoint_every,
                spec.seed,
                ctx.profile.name
            );
            let path = ctx.work_dir.join(name);
            let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
            let manifest = crate::pol::train(spec, &ds, device, prov, &path)?;
            (to_json(&manifest)?, vec![artifact(&path, "pol-log")?])
        }
        JobSpec::PolVerify { spec, log, epsilon } => {
            let path = input(inputs, log)?;
            let log = crate::pol::read(path)?;
            if &log.manifest.spec != spec {
                return Err(WorkerError::artifact(path, "the PoL log's spec differs from the job's"));
            }
            let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
            let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
            let eps = epsilon.map_or_else(crate::pol::Epsilon::exact, crate::pol::Epsilon::given);
            (to_json(&crate::pol::verify(&log, &ds, device, prov, eps)?)?, vec![])
        }
        JobSpec::Forge { spec, log } => {
            let path = input(inputs, log)?;
            let ds = datasets::train(spec.pol.dataset, &ctx.data_dir)?;
            let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
            let name = format!(
                "forged-{}-from{}-n{}-s{}.safetensors",
                spec.pol.model, spec.first_step, spec.step_count, spec.seed
            );
            let out = ctx.work_dir.join(name);
            let report = crate::forge::run::forge(spec, path, &ds, device, prov, &out)?;
            (to_json(&report)?, vec![artifact(&out, "forged-pol-log")?])
        }
        JobSpec::AdamForge { spec } => {
            let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
            let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
            let (report, grids) = crate::forge::run::adam_forge(spec, &ds, device, prov, Some(&ctx.work_dir))?;
            (to_json(&report)?, grid_artifacts(&grids)?)
        }
        JobSpec::Prop2 { spec } => {
            let ds = datasets::train(forgebench_shared::experiment::DatasetKind::Mnist, &ctx.data_dir)?;
            let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
            let (report, grids) = crate::forge::run::prop2(spec, &ds, device, prov, Some(&ctx.work_dir))?;
            (to_json(&report)?, grid_artifacts(&grids)?)
        }
        JobSpec::Trace { spec, triple } => trace(ctx, spec, *triple, device)?,
        JobSpec::TorchTrain { spec } => {
            let (manifest, packed) = crate::torchrun::job::train_job(ctx, spec, device)?;
            (to_json(&manifest)?, vec![artifact(&packed, "torch-log")?])
        }
        JobSpec::TorchVerify { spec, log, .. } => {
            let packed = input(inputs, log)?;
            (
                to_json(&crate::torchrun::job::verify_job(ctx, spec, packed, device)?)?,
                vec![],
            )
        }
        JobSpec::TorchShuffle { spec, shuffles } => (
            to_json(&crate::torchrun::job::shuffle_job(ctx, spec, *shuffles, device)?)?,
            vec![],
        ),
        JobSpec::TorchForge { spec, log } => {
            let packed = input(inputs, log)?;
            (
                to_json(&crate::torchrun::job::forge_job(ctx, spec, packed, device)?)?,
                vec![],
            )
        }
    };
    let outcome = JobOutcome {
        result,
        artifacts: files.iter().map(|(r, _)| r.clone()).collect(),
        compute_seconds: started.elapsed().as_secs_f64(),
    };
    Ok(ExecOutput { outcome, files })
}

/// A trace of triple `k` of `spec`: its report and the trace artifact (role "trace").
fn trace(
    ctx: &JobContext,
    spec: &forgebench_shared::experiment::ReproSpec,
    k: usize,
    device: tch::Device,
) -> Result<(serde_json::Value, Vec<(ArtifactRef, PathBuf)>)> {
    if k >= spec.triples {
        return Err(WorkerError::Invalid(format!(
            "trace of triple {k}: the log has {} triples",
            spec.triples
        )));
    }
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let t = crate::explain::trace(spec, k, &ds, device)?;
    let path = ctx.work_dir.join(format!(
        "trace-{}-{}-b{}-s{}-{}-k{k}-{}.safetensors",
        spec.model, spec.dataset, spec.batch_size, spec.seed, spec.arithmetic, ctx.profile.name
    ));
    crate::explain::write_trace(&t, &path)?;
    let report = forgebench_shared::trace::TraceReport {
        spec: spec.clone(),
        triple: k,
        provenance: ctx.provenance(vec![("seed".into(), spec.seed)]),
        sites: t.sites.len(),
        values: t.sites.iter().map(|(_, v)| v.len()).sum(),
    };
    Ok((to_json(&report)?, vec![artifact(&path, "trace")?]))
}

/// The repeat run of a log: the same `WriteLog` in a fresh process of this profile (this executable, the profile's
/// environment set before libtorch loads), so the diagonal shows what a second process computes, not a second
/// pass through warmed-up caches and tuned kernels of this one.
fn repeat_log(
    ctx: &JobContext,
    spec: &forgebench_shared::experiment::ReproSpec,
    started: Instant,
) -> Result<ExecOutput> {
    let write = JobSpec::WriteLog { spec: spec.clone() };
    let child_dir = ctx.work_dir.join("repeat");
    let out = ctx.work_dir.join("repeat-outcome.json");
    let v = crate::cli::spawn::run_job(&ctx.profile, &write, &[], Some(&ctx.data_dir), &child_dir, &out)?;
    let bad = |why: &str| WorkerError::artifact(&out, format!("the repeat run's output {why}"));
    let mut outcome: JobOutcome =
        serde_json::from_value(v["outcome"].clone()).map_err(|e| bad(&format!("has no outcome: {e}")))?;
    let mut files = Vec::new();
    for (f, r) in v["files"]
        .as_array()
        .ok_or_else(|| bad("lists no files"))?
        .iter()
        .zip(&outcome.artifacts)
    {
        let path = f["path"].as_str().ok_or_else(|| bad("names a file without a path"))?;
        files.push((r.clone(), PathBuf::from(path)));
    }
    if files.len() != outcome.artifacts.len() {
        return Err(bad("lists fewer files than artifacts"));
    }
    // The job's cost includes starting the process: that is what the repeat run costs a sweep.
    outcome.compute_seconds = started.elapsed().as_secs_f64();
    Ok(ExecOutput { outcome, files })
}
