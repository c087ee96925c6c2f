//! `bench-exact`: the exact arm's cost beside the f32 arm's on the same triples, alternating step by step in one
//! process: seconds per step of each, and the rounding records' size per step against the log's own theta_next.
use super::oneshot::ReproArgs;
use super::ProcessArgs;
use crate::arithmetic::{logged_step, Arithmetic};
use crate::error::Result;
use crate::{datasets, repro};
use std::time::Instant;

/// Times `ra.triples` steps in each arm after one untimed step of each; returns the figures as JSON.
pub fn bench_exact(pa: &ProcessArgs, ra: &ReproArgs) -> Result<serde_json::Value> {
    let ctx = pa.context(std::env::temp_dir())?;
    let spec = ra.spec()?;
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let device = ctx.device()?;
    let run = |arith, k: usize| {
        let theta = repro::theta_k(&spec, k);
        let idx = repro::batch_k(&spec, k, ds.n);
        let t = Instant::now();
        let units = spec
            .tolerance_units
            .unwrap_or(crate::arithmetic::exact::TOLERANCE_UNITS);
        let s = logged_step(arith, spec.model, &theta, &ds, &idx, device, spec.eta, units, None)?;
        Ok::<_, crate::WorkerError>((t.elapsed().as_secs_f64(), s))
    };
    run(Arithmetic::F32, spec.triples)?;
    run(Arithmetic::Exact, spec.triples)?;
    let (mut f32_s, mut exact_s) = (0.0, 0.0);
    let (mut bytes, mut records, mut values, mut sites) = (Vec::new(), Vec::new(), 0u64, 0usize);
    for k in 0..spec.triples {
        f32_s += run(Arithmetic::F32, k)?.0;
        let (s, e) = run(Arithmetic::Exact, k)?;
        exact_s += s;
        let r = e.records.expect("the exact arm records");
        bytes.push(r.pack().len() as f64);
        records.push(r.count() as f64);
        values = e.values;
        sites = e.sites.len();
    }
    let n = spec.triples as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let theta_bytes = spec.model.param_count() * 4;
    Ok(serde_json::json!({
        "model": spec.model, "dataset": spec.dataset, "batch_size": spec.batch_size, "steps": spec.triples,
        "threads": tch::get_num_threads(),
        "tolerance_units": spec.tolerance_units.unwrap_or(crate::arithmetic::exact::TOLERANCE_UNITS),
        "f32_s_per_step": f32_s / n, "exact_s_per_step": exact_s / n, "time_ratio": exact_s / f32_s,
        "values_rounded_per_step": values, "sites": sites,
        "records_per_step": mean(&records), "record_fraction": mean(&records) / values as f64,
        "record_bytes_per_step": mean(&bytes),
        "record_bytes_max": bytes.iter().cloned().fold(0.0, f64::max),
        "digest_bytes_per_step": sites * crate::arithmetic::exact::records::DIGEST_BYTES,
        "theta_next_bytes_per_step": theta_bytes,
    }))
}
