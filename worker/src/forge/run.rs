//! The forging jobs as the worker runs them (one-shot subcommands and `jobs::execute`): a spec in, a typed report
//! and the files written out.
use super::{adam, grid, log, prop2};
use crate::error::Result;
use crate::models::draw_theta;
use crate::update::Batch;
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::Precision;
use forgebench_shared::jobs::{AdamSpec, ForgeSpec, Prop2Spec};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::results::{AdamReport, ForgeReport, Prop2Report};
use forgebench_shared::rng::PortableRng;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Forges the PoL log at `log_path`; writes the forged log as `out` (safetensors + `.json`).
pub fn forge(
    spec: &ForgeSpec,
    log_path: &Path,
    ds: &Dataset,
    device: tch::Device,
    prov: Provenance,
    out: &Path,
) -> Result<ForgeReport> {
    let log = crate::pol::read(log_path)?;
    let (report, forged) = log::forge_log(spec, &log, ds, device, prov, None)?;
    crate::pol::write(&forged, out)?;
    Ok(report)
}

/// Algorithm 1 at theta = `draw_theta(model, seed, 0)` against a random real batch from `seed`; when `grid_dir` is
/// given, the forged and real batches are saved there as image grids.
pub fn adam_forge(
    spec: &AdamSpec,
    ds: &Dataset,
    device: tch::Device,
    prov: Provenance,
    grid_dir: Option<&Path>,
) -> Result<(AdamReport, Vec<PathBuf>)> {
    let theta = Tensor::from_slice(&draw_theta(spec.model, spec.seed, 0)).to_device(device);
    let idx = PortableRng::derived(spec.seed, "adam-batch", 0).sample_indices(ds.n, spec.batch_size);
    let real = Batch::gather(ds, &idx, device, Precision::F32)?;
    let out = adam::forge(spec, &theta, &real)?;
    let mut files = Vec::new();
    if let Some(dir) = grid_dir {
        let tag = format!(
            "adam-{}-b{}-s{}{}{}",
            spec.model,
            spec.batch_size,
            spec.seed,
            if spec.projected { "-proj" } else { "" },
            match spec.schedule {
                forgebench_shared::jobs::StepSchedule::Constant => String::new(),
                forgebench_shared::jobs::StepSchedule::CosineRestarts { period } => format!("-cos{period}"),
            }
        );
        grid::save(
            &grid::image_batch(&format!("{tag} forged (best iterate)"), &out.x)?,
            dir,
            &format!("{tag}-forged"),
            true,
        )?;
        grid::save(
            &grid::image_batch(&format!("{tag} real"), &real.x)?,
            dir,
            &format!("{tag}-real"),
            false,
        )?;
        files.extend([
            dir.join(format!("{tag}-forged.png")),
            dir.join(format!("{tag}-real.png")),
        ]);
    }
    let report = AdamReport {
        spec: spec.clone(),
        provenance: prov,
        curve_l2: out.curve_l2,
        final_error: out.final_error,
        best: Some(forgebench_shared::results::AdamBest {
            iteration: out.best_iteration,
            error: out.best_error,
        }),
    };
    Ok((report, files))
}

/// The Proposition 2 construction; saves forged and real image grids in `grid_dir` when given.
pub fn prop2(
    spec: &Prop2Spec,
    ds: &Dataset,
    device: tch::Device,
    prov: Provenance,
    grid_dir: Option<&Path>,
) -> Result<(Prop2Report, Vec<PathBuf>)> {
    let out = prop2::construct(ds, spec.batch_size, spec.eta, spec.seed, device)?;
    let mut files = Vec::new();
    if let Some(dir) = grid_dir {
        let tag = format!("prop2-b{}-s{}", spec.batch_size, spec.seed);
        grid::save(
            &grid::image_batch(&format!("{tag} forged"), &out.x)?,
            dir,
            &format!("{tag}-forged"),
            true,
        )?;
        grid::save(
            &grid::image_batch(&format!("{tag} real"), &out.real_x)?,
            dir,
            &format!("{tag}-real"),
            false,
        )?;
        files.extend([
            dir.join(format!("{tag}-forged.png")),
            dir.join(format!("{tag}-real.png")),
        ]);
    }
    let report = Prop2Report {
        spec: spec.clone(),
        provenance: prov,
        rank: out.rank,
        rank_tolerance: out.tolerance,
        error_f32: out.error_f32,
        error_f64: out.error_f64,
        pixels_outside_unit: out.outside_unit,
        label_simplex_violation: out.simplex_violation,
        batch_distance: out.batch_distance,
    };
    Ok((report, files))
}
