//! A sweep's TorchScript jobs: train the model into a folder log here and pack it into one artifact (a zip of the
//! manifest and the checkpoint files; the model is not packed, every worker reading its own copy of the file the
//! sweep names, as it reads its own copy of the data), and replay such an artifact here. The file's sha256 must be
//! the one the coordinator planned with, so that every cell of a matrix replays the same model. The sweep's shuffle
//! and forging of such a model run here too.
use super::{forge, forgebench_log, shuffle, streamed, train, verify};
use crate::datasets;
use crate::error::{Result, WorkerError};
use crate::jobs::JobContext;
use crate::models::script::ScriptNet;
use crate::models::Net;
use forgebench_shared::jobs::{TorchForgeSpec, TorchSpec};
use forgebench_shared::torch_forge::TorchForgeReport;
use forgebench_shared::torch_shuffle::TorchShuffleReport;
use forgebench_shared::torchrun::{TorchLogManifest, TorchRunReport, MANIFEST_FILE};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tch::Device;

/// The replay threshold of a matrix cell: every interval is measured, none is judged.
const NO_VERDICT: f64 = 1e300;

fn load(spec: &TorchSpec, file: &Path, device: Device) -> Result<ScriptNet> {
    let net = ScriptNet::load(file, device)?;
    if net.identity().sha256 != spec.model_sha256 {
        return Err(WorkerError::artifact(
            file,
            format!(
                "sha256 {}, but the sweep was planned with sha256 {}: every device must replay the same file",
                net.identity().sha256,
                spec.model_sha256
            ),
        ));
    }
    Ok(net)
}

/// Trains `spec` here; the complete manifest and the packed log.
pub fn train_job(ctx: &JobContext, spec: &TorchSpec, device: Device) -> Result<(TorchLogManifest, PathBuf)> {
    let file = Path::new(&spec.model);
    let net = load(spec, file, device)?;
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let plan = train::Plan {
        optimizer: spec.optimizer.clone(),
        lr: spec.eta,
        batch_size: spec.batch_size,
        steps: spec.steps,
        save_every: 1,
        seed: spec.seed,
    };
    let name = format!("{}-{}", spec.tag(), ctx.profile.name);
    let folder = ctx.work_dir.join(&name);
    let manifest = train::train(&net, file, &plan, &ds, device, &folder)?;
    let packed = ctx.work_dir.join(format!("{name}.zip"));
    pack(&folder, &packed)?;
    Ok((manifest, packed))
}

/// The manifest and checkpoint files of `folder`, in one zip.
fn pack(folder: &Path, out: &Path) -> Result<()> {
    let f = std::fs::File::create(out).map_err(|e| WorkerError::io(out, e))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let mut names = vec![MANIFEST_FILE.to_string()];
    let ckpts = streamed::files(folder)?.len();
    names.extend((0..ckpts).map(|k| format!("{}/{}", streamed::CHECKPOINTS_DIR, streamed::file_name(k))));
    let zerr = |e: zip::result::ZipError| WorkerError::artifact(out, e.to_string());
    for n in names {
        let path = folder.join(&n);
        let bytes = std::fs::read(&path).map_err(|e| WorkerError::io(&path, e))?;
        zip.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
            .map_err(zerr)?;
        zip.write_all(&bytes).map_err(|e| WorkerError::io(out, e))?;
    }
    zip.finish().map_err(zerr)?.flush().map_err(|e| WorkerError::io(out, e))
}

/// Unpacks `packed` into `folder`: only a manifest and checkpoint files, by their own names, nothing else.
fn unpack(packed: &Path, folder: &Path) -> Result<()> {
    let f = std::fs::File::open(packed).map_err(|e| WorkerError::io(packed, e))?;
    let bad = |p: String| WorkerError::artifact(packed, p);
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| bad(format!("not a zip: {e}")))?;
    std::fs::create_dir_all(folder.join(streamed::CHECKPOINTS_DIR)).map_err(|e| WorkerError::io(folder, e))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = entry.name().to_string();
        let ckpt = name
            .strip_prefix(&format!("{}/", streamed::CHECKPOINTS_DIR))
            .and_then(streamed::number_of);
        if name != MANIFEST_FILE && ckpt.is_none() {
            return Err(bad(format!(
                "holds {name:?}: a packed log holds its manifest and checkpoint files only"
            )));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| bad(format!("{name}: {e}")))?;
        let path = folder.join(&name);
        std::fs::write(&path, bytes).map_err(|e| WorkerError::io(&path, e))?;
    }
    Ok(())
}

/// Unpacks `packed` into a fresh folder of this job's work dir (named for `what` and the profile) and reads it.
fn unpacked(ctx: &JobContext, packed: &Path, what: &str) -> Result<super::TorchRun> {
    let stem = packed
        .file_name()
        .map_or("log".into(), |s| s.to_string_lossy().into_owned());
    let folder = ctx.work_dir.join(format!("torch-{what}-{stem}-{}", ctx.profile.name));
    if folder.exists() {
        std::fs::remove_dir_all(&folder).map_err(|e| WorkerError::io(&folder, e))?;
    }
    unpack(packed, &folder)?;
    forgebench_log::read(&folder, forgebench_log::manifest(&folder)?)
}

/// Replays the packed log `packed` of `spec` here.
pub fn verify_job(ctx: &JobContext, spec: &TorchSpec, packed: &Path, device: Device) -> Result<TorchRunReport> {
    let run = unpacked(ctx, packed, "replay")?;
    let file = Path::new(&spec.model);
    let net = Net::Script(Box::new(load(spec, file, device)?));
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let prov = ctx.provenance(vec![("seed".into(), spec.seed)]);
    let eps = crate::pol::Epsilon::given(NO_VERDICT);
    verify::verify(
        &run,
        &net,
        &ds,
        device,
        prov,
        eps,
        forgebench_shared::pol_strategy::Strategy::Full,
    )
}

/// The shuffle experiment of `spec`'s model, at the file's own parameters, here.
pub fn shuffle_job(ctx: &JobContext, spec: &TorchSpec, shuffles: usize, device: Device) -> Result<TorchShuffleReport> {
    let script = load(spec, Path::new(&spec.model), device)?;
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let plan = shuffle::Plan {
        batch_size: spec.batch_size,
        eta: spec.eta,
        shuffles,
        seed: spec.seed,
    };
    shuffle::run(script, &ds, plan, ctx.provenance(vec![("seed".into(), spec.seed)]))
}

/// Forges one step of the packed log `packed` of `spec.run` here.
pub fn forge_job(ctx: &JobContext, spec: &TorchForgeSpec, packed: &Path, device: Device) -> Result<TorchForgeReport> {
    let run = unpacked(ctx, packed, "forge")?;
    let net = Net::Script(Box::new(load(&spec.run, Path::new(&spec.run.model), device)?));
    let ds = datasets::train(spec.run.dataset, &ctx.data_dir)?;
    let plan = forge::Plan {
        step: spec.step,
        pool: spec.pool,
        candidates: spec.candidates,
        local_moves: spec.local_moves,
        synthetic_iterations: spec.synthetic_iterations,
        projected: spec.projected,
        seed: spec.run.seed,
    };
    let prov = ctx.provenance(vec![("torch-forge".into(), spec.run.seed)]);
    forge::forge(&run, &net, &ds, device, &plan, prov)
}
