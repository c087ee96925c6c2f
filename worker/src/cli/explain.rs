//! `trace` (one step's values at every site, in this process's profile) and `explain` (a trace in each of two
//! profiles, each its own process, compared: where the two devices part).
use super::oneshot::{emit, ReproArgs};
use super::spawn::command_for;
use super::ProcessArgs;
use crate::datasets;
use crate::error::{Result, WorkerError};
use crate::explain::{self, Explanation};
use forgebench_shared::profile::DeviceProfile;
use std::path::Path;

/// `trace`: writes triple `k`'s trace to `out`.
pub fn trace(pa: &ProcessArgs, ra: &ReproArgs, k: usize, out: &Path) -> Result<()> {
    if let Some(sr) = ra.script()? {
        return super::script_repro::trace(pa, &sr, k, out);
    }
    let ctx = pa.context(std::env::temp_dir())?;
    let spec = ra.spec()?;
    let ds = datasets::train(spec.dataset, &ctx.data_dir)?;
    let t = explain::trace(&spec, k, &ds, ctx.device()?)?;
    explain::write_trace(&t, out)?;
    let values: usize = t.sites.iter().map(|(_, v)| v.len()).sum();
    emit(
        &serde_json::json!({ "profile": ctx.profile.name, "model": spec.model, "triple": k,
            "arithmetic": spec.arithmetic, "sites": t.sites.len(), "values": values, "out": out }),
        None,
    )
}

/// `explain`: traces triple `k` in `pair`'s two profiles and compares; writes `explain.json` and `explain.md`
/// under `out` and returns the table.
pub fn run(pa: &ProcessArgs, ra: &ReproArgs, k: usize, pair: &[DeviceProfile; 2], out: &Path) -> Result<String> {
    // Refused here, before two processes are spawned to say the same.
    ra.script()?;
    std::fs::create_dir_all(out).map_err(|e| WorkerError::io(out, e))?;
    let mut traces = Vec::new();
    for p in pair {
        let file = out.join(format!("trace-{}.safetensors", p.name));
        let mut cmd = command_for(p)?;
        if let Some(d) = &pa.data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        cmd.args(["trace", "--model", &ra.model, "--arithmetic", ra.arithmetic.name()])
            .args(["--batch-size", &ra.batch_size.to_string(), "--eta", &ra.eta.to_string()])
            .args(["--seed", &ra.seed.to_string(), "--triple", &k.to_string()])
            .arg("--out")
            .arg(&file);
        if let Some(d) = &ra.dataset {
            cmd.arg("--dataset").arg(d.to_string());
        }
        let o = cmd
            .output()
            .map_err(|e| WorkerError::Invalid(format!("spawning a {} worker: {e}", p.name)))?;
        if !o.status.success() {
            return Err(WorkerError::Invalid(format!(
                "trace on profile {} failed: {}",
                p.name,
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        traces.push(explain::read_trace(&file)?);
    }
    let e = explain::compare(&traces[0], &traces[1])?;
    let text = markdown(&e, pair, ra, k);
    let json = serde_json::to_string_pretty(&e).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    for (name, body) in [("explain.json", json), ("explain.md", text.clone())] {
        let p = out.join(name);
        std::fs::write(&p, body).map_err(|e| WorkerError::io(&p, e))?;
    }
    Ok(text)
}

fn markdown(e: &Explanation, pair: &[DeviceProfile; 2], ra: &ReproArgs, k: usize) -> String {
    let heading = format!("{} b={} triple {k}", ra.model, ra.batch_size);
    forgebench_shared::trace::markdown(e, &pair[0], &pair[1], &heading)
}
