//! `bench-loop`: times the reproduction-log generation loop (draw theta_k, gather B_k, forward, backward, update,
//! copy theta_next out to host memory) without writing a file, for the side-by-side benchmark against PyTorch in
//! `bench/repro_vs_pytorch.sh`. It calls the same functions as `repro::write_log`.
use super::oneshot::ReproArgs;
use super::ProcessArgs;
use crate::error::Result;
use crate::{datasets, repro, tensors, update};
use forgebench_shared::data::Dataset;
use forgebench_shared::experiment::{Precision, ReproSpec};
use std::time::Instant;

/// Phase names of [`step`]'s timings.
const PHASES: [&str; 5] = ["theta", "indices", "gather", "update", "copy_out"];

/// One iteration; adds each phase's seconds to `phases`, returns one value of the copied-out result.
fn step(spec: &ReproSpec, ds: &Dataset, device: tch::Device, k: usize, phases: &mut [f64; 5]) -> Result<f32> {
    let mut t = Instant::now();
    let mut lap = |i: usize| {
        phases[i] += t.elapsed().as_secs_f64();
        t = Instant::now();
    };
    let theta = tensors::from_f32(&repro::theta_k(spec, k), device);
    lap(0);
    let idx = repro::batch_k(spec, k, ds.n);
    lap(1);
    let batch = update::Batch::gather(ds, &idx, device, Precision::F32)?;
    lap(2);
    let u = update::sgd_update(spec.model, &theta, &batch, spec.eta)?;
    lap(3);
    let next = tensors::to_f32(&u.theta_next)?;
    lap(4);
    Ok(next[k % next.len()])
}

/// Runs `warmup` untimed then `ra.triples` timed iterations; returns a JSON line with steps per second and the
/// mean microseconds of each phase.
pub fn bench_loop(pa: &ProcessArgs, ra: &ReproArgs, warmup: usize) -> Result<serde_json::Value> {
    let ctx = pa.context(std::env::temp_dir())?;
    let spec = ra.spec()?;
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let device = ctx.device()?;
    let mut phases = [0.0f64; 5];
    for k in 0..warmup {
        step(&spec, &ds, device, spec.triples + k, &mut phases)?;
    }
    phases = [0.0; 5];
    // Touch the copied-out results so the copy cannot be skipped.
    let mut sink = 0.0f64;
    let started = Instant::now();
    for k in 0..spec.triples {
        sink += f64::from(step(&spec, &ds, device, k, &mut phases)?);
    }
    let secs = started.elapsed().as_secs_f64();
    let breakdown: serde_json::Map<String, serde_json::Value> = PHASES
        .iter()
        .zip(phases)
        .map(|(n, s)| (n.to_string(), (s * 1e6 / spec.triples as f64).into()))
        .collect();
    Ok(serde_json::json!({
        "impl": "forgebench", "model": spec.model, "batch_size": spec.batch_size, "steps": spec.triples,
        "threads": tch::get_num_threads(), "seconds": secs, "steps_per_s": spec.triples as f64 / secs,
        "us_per_step": breakdown, "checksum": sink,
    }))
}
