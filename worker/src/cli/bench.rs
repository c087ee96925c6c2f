//! `bench-loop`: times the reproduction-log generation loop (draw theta_k, gather B_k, forward, backward, update,
//! copy theta_next out to host memory) without writing a file, for the side-by-side benchmark against PyTorch in
//! `bench/repro_vs_pytorch.sh`. It calls the same functions as `repro::write_log`.
use super::oneshot::ReproArgs;
use super::ProcessArgs;
use crate::error::Result;
use crate::{datasets, repro, tensors, update};
use forgebench_shared::experiment::Precision;
use std::time::Instant;

/// Runs `warmup` untimed then `ra.triples` timed iterations; returns a JSON line with steps per second.
pub fn bench_loop(pa: &ProcessArgs, ra: &ReproArgs, warmup: usize) -> Result<serde_json::Value> {
    let ctx = pa.context(std::env::temp_dir())?;
    let spec = ra.spec();
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let device = ctx.device()?;
    let mut sink = 0.0f64;
    let mut run = |k: usize| -> Result<()> {
        let theta = tensors::from_f32(&repro::theta_k(&spec, k), device);
        let batch = update::Batch::gather(&ds, &repro::batch_k(&spec, k, ds.n), device, Precision::F32)?;
        let next = tensors::to_f32(&update::sgd_update(spec.model, &theta, &batch, spec.eta)?.theta_next)?;
        // Touch the copied-out result so the copy cannot be skipped.
        sink += f64::from(next[k % next.len()]);
        Ok(())
    };
    for k in 0..warmup {
        run(spec.triples + k)?;
    }
    let started = Instant::now();
    for k in 0..spec.triples {
        run(k)?;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "impl": "forgebench", "model": spec.model, "batch_size": spec.batch_size, "steps": spec.triples,
        "threads": tch::get_num_threads(), "seconds": secs, "steps_per_s": spec.triples as f64 / secs,
        "checksum": sink,
    }))
}
