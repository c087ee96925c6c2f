//! `torch-matrix`: a TorchScript model's cross-device matrix on one machine. A process per CPU profile trains the
//! model into a folder log (`pol-train --model FILE.pt`), every profile replays every log (`pol-verify`, each pair
//! its own process), and each cell holds the largest L2 over the log's one-step intervals.
use super::benign::PolArgs;
use super::matrix::parallel;
use super::spawn::command_with;
use crate::error::{Result, WorkerError};
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::torchrun::{TorchMatrix, TorchRunReport};
use std::path::{Path, PathBuf};

/// Runs this executable with `args` in profile `p`; a failure is an error unless `what` is "replay" (a replay
/// that fails its check still wrote its report).
pub(crate) fn run_child(p: &DeviceProfile, args: &[String], data_dir: Option<&Path>, what: &str) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| WorkerError::Invalid(format!("own executable: {e}")))?;
    let mut cmd = command_with(&exe, p)?;
    cmd.args(args);
    if let Some(d) = data_dir {
        cmd.arg("--data-dir").arg(d);
    }
    let out = cmd.output().map_err(|e| WorkerError::io(&exe, e))?;
    // pol-verify exits non-zero on a failed interval, which a matrix records rather than refuses.
    if !out.status.success() && what != "replay" {
        return Err(WorkerError::Invalid(format!(
            "{what} in profile {} failed: {}",
            p.name,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The JSON file `path` as a `T`.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| WorkerError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| WorkerError::artifact(path, e.to_string()))
}

/// Trains on every profile, replays every log on every profile, and writes `matrix.json` and `matrix.md` in `out`.
pub fn run(
    args: &PolArgs,
    profiles: &[DeviceProfile],
    data_dir: Option<&Path>,
    out: &Path,
    jobs: usize,
) -> Result<TorchMatrix> {
    let logs = out.join("logs");
    let reports = out.join("reports");
    for d in [&logs, &reports] {
        std::fs::create_dir_all(d).map_err(|e| WorkerError::io(d, e))?;
    }
    let log_of = |p: &DeviceProfile| logs.join(&p.name);
    parallel("logs", profiles, jobs, |p| {
        let mut a: Vec<String> = ["pol-train", "--model", &args.model, "--optimizer", &args.optimizer]
            .map(String::from)
            .to_vec();
        for (k, v) in [
            ("--eta", args.eta.to_string()),
            ("--batch-size", args.batch_size.to_string()),
            ("--steps", args.steps.to_string()),
            ("--checkpoint-every", "1".into()),
            ("--seed", args.seed.to_string()),
        ] {
            a.extend([k.to_string(), v]);
        }
        if let Some(d) = &args.dataset {
            a.extend(["--dataset".into(), d.to_string()]);
        }
        a.extend(["--out".into(), log_of(p).display().to_string()]);
        run_child(p, &a, data_dir, "train")
    })?;
    let pairs: Vec<(usize, usize)> = (0..profiles.len())
        .flat_map(|w| (0..profiles.len()).map(move |v| (w, v)))
        .collect();
    let report_of = |(w, v): (usize, usize)| -> PathBuf {
        reports.join(format!("{}-on-{}.json", profiles[w].name, profiles[v].name))
    };
    parallel("replays", &pairs, jobs, |&(w, v)| {
        let a: Vec<String> = ["pol-verify", "--log"]
            .map(String::from)
            .into_iter()
            .chain([log_of(&profiles[w]).display().to_string()])
            .chain(["--epsilon".into(), "1e300".into(), "--out".into()])
            .chain([report_of((w, v)).display().to_string()])
            .collect();
        run_child(&profiles[v], &a, data_dir, "replay")
    })?;
    let manifest = crate::torchrun::forgebench_log::complete_manifest(&log_of(&profiles[0]))?;
    let n = profiles.len();
    let (mut l2_max, mut l2_mean) = (vec![vec![f64::NAN; n]; n], vec![vec![f64::NAN; n]; n]);
    let mut verifiers = Vec::with_capacity(n);
    for &(w, v) in &pairs {
        let r: TorchRunReport = read_json(&report_of((w, v)))?;
        let l2: Vec<f64> = r.intervals.iter().map(|i| i.error.l2).collect();
        l2_max[w][v] = forgebench_shared::measures::nan_max(l2.iter().copied()).unwrap_or(f64::NAN);
        l2_mean[w][v] = l2.iter().sum::<f64>() / l2.len().max(1) as f64;
        if w == 0 {
            verifiers.push(r.verifier);
        }
    }
    // The log names its copy of the model (model.pt); the matrix names the file it was given.
    let mut model = manifest.model;
    model.file = args.model.clone();
    let m = TorchMatrix {
        model,
        optimizer: manifest.optimizer,
        dataset: manifest.dataset,
        steps: manifest.steps,
        batch_size: manifest.batch_size,
        devices: profiles.iter().map(|p| p.name.clone()).collect(),
        l2_max,
        l2_mean,
        verifiers,
        triples: false,
    };
    let json = serde_json::to_string_pretty(&m).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    let jp = out.join("matrix.json");
    std::fs::write(&jp, json).map_err(|e| WorkerError::io(&jp, e))?;
    let mp = out.join("matrix.md");
    std::fs::write(&mp, m.to_markdown()).map_err(|e| WorkerError::io(&mp, e))?;
    Ok(m)
}
