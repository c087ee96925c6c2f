//! The forging jobs as the worker runs them (one-shot subcommands and `jobs::execute`): a spec in, a typed report
//! and the files written out.
use super::{adam, domain, grid, lbfgs, log, prop2};
use crate::error::Result;
use crate::models::draw_theta;
use crate::update::Batch;
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::experiment::Precision;
use forgebench_shared::jobs::{AdamSpec, ForgeOptimiser, ForgeSpec, Prop2Spec};
use forgebench_shared::provenance::Provenance;
use forgebench_shared::results::{AdamReport, ForgeReport, Prop2Report};
use forgebench_shared::rng::PortableRng;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Real inputs the domain search measures neighbour distances in.
const NEIGHBOUR_POOL: usize = 2000;

/// Saves the domain search's two end batches as grids in `dir` (none without a search); returns the files.
fn domain_grids(s: Option<&domain::DomainOutcome>, tag: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    let Some(s) = s else { return Ok(Vec::new()) };
    let mut files = Vec::new();
    for (labels, x) in [("soft", &s.soft_x), ("one-hot", &s.hard_x)] {
        let name = format!("{tag}-domain-{labels}");
        let title = format!("{tag} forged inside the domain, {labels} labels");
        // Inside [0, 1] already: drawn as they are, not rescaled like the out-of-domain forgeries.
        grid::save(&grid::image_batch(&title, x)?, dir, &name, false)?;
        files.push(dir.join(format!("{name}.png")));
    }
    Ok(files)
}

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
    let out = match spec.optimiser {
        ForgeOptimiser::Adam => adam::forge(spec, &theta, &real)?,
        ForgeOptimiser::Lbfgs => lbfgs::forge(spec, &theta, &real)?,
    };
    let tag = format!(
        "{}-{}-b{}-s{}{}{}",
        spec.optimiser.name(),
        spec.model,
        spec.batch_size,
        spec.seed,
        if spec.projected { "-proj" } else { "" },
        spec.schedule.tag()
    );
    let searched = if spec.domain_iterations > 0 {
        let p = domain::Problem::new(spec.model, &theta, &real, spec.eta)?;
        let pool = domain::pool(ds, NEIGHBOUR_POOL, device)?;
        let start = format!("{}-best", spec.optimiser.name());
        Some(domain::search(
            &p,
            &start,
            &out.x,
            &out.y,
            spec.domain_iterations,
            &pool,
        )?)
    } else {
        None
    };
    let mut files = Vec::new();
    if let Some(dir) = grid_dir {
        files.extend(domain_grids(searched.as_ref(), &tag, dir)?);
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
        domain: searched.map(|s| s.report),
        exact_arm: Some(domain::exact_arm(spec.model, &theta, &real, &out.x, &out.y, spec.eta)?),
        optimizer: forgebench_shared::optim::Optimizer::Plain,
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
    let tag = format!("prop2-b{}-s{}", spec.batch_size, spec.seed);
    let searched = if spec.domain_iterations > 0 {
        let p = domain::Problem::new(ModelKind::Logreg, &out.theta, &out.real, spec.eta)?;
        let (x, y) = (out.x.to_device(device), out.y.to_device(device));
        let pool = domain::pool(ds, NEIGHBOUR_POOL, device)?;
        Some(domain::search(&p, "prop2", &x, &y, spec.domain_iterations, &pool)?)
    } else {
        None
    };
    let mut files = Vec::new();
    if let Some(dir) = grid_dir {
        files.extend(domain_grids(searched.as_ref(), &tag, dir)?);
        grid::save(
            &grid::image_batch(&format!("{tag} forged"), &out.x)?,
            dir,
            &format!("{tag}-forged"),
            true,
        )?;
        grid::save(
            &grid::image_batch(&format!("{tag} real"), &out.real.x)?,
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
        domain: searched.map(|s| s.report),
        exact_arm: Some(domain::exact_arm(
            ModelKind::Logreg,
            &out.theta,
            &out.real,
            &out.x,
            &out.y,
            spec.eta,
        )?),
    };
    Ok((report, files))
}
