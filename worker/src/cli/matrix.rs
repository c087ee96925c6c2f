//! The single-machine matrix: one process per CPU profile writes a log, every log is verified in every profile
//! (diagonal included, each pair its own process), and the D x D matrix is printed: the path the cluster
//! generalises, with the same job specs and therefore the same bits.
use super::oneshot::ReproArgs;
use super::spawn;
use crate::error::{Result, WorkerError};
use crate::repro::VerifyReport;
use forgebench_shared::jobs::JobSpec;
use forgebench_shared::measures::Measure;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::tables::{Cell, CrossDeviceMatrix, DeviceLabel, MatrixKey};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Runs `f` over `items` on at most `jobs` threads (each job is a child process, so threads only wait).
pub(crate) fn parallel<T: Sync, R: Send>(
    what: &str,
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = Mutex::new(0usize);
    let bar = Mutex::new(crate::progress::Progress::new(format!("matrix {what}"), items.len()));
    let finished = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<R>>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().expect("queue poisoned");
                    let i = *n;
                    *n += 1;
                    i
                };
                if i >= items.len() {
                    break;
                }
                let r = f(&items[i]);
                results.lock().expect("results poisoned")[i] = Some(r);
                let mut done = finished.lock().expect("counter poisoned");
                *done += 1;
                bar.lock().expect("progress poisoned").update(*done);
            });
        }
    });
    results
        .into_inner()
        .expect("results poisoned")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// Computes the matrix for `ra` over `profiles`, writing logs, reports and tables under `out`.
pub fn run(
    ra: &ReproArgs,
    profiles: &[DeviceProfile],
    data_dir: Option<&Path>,
    out: &Path,
    jobs: usize,
) -> Result<CrossDeviceMatrix> {
    let spec = ra.spec()?;
    let logs_dir = out.join("logs");
    std::fs::create_dir_all(&logs_dir).map_err(|e| WorkerError::io(&logs_dir, e))?;
    let written = parallel("logs", profiles, jobs, |p| {
        let job = JobSpec::WriteLog { spec: spec.clone() };
        let v = spawn::run_job(
            p,
            &job,
            &[],
            data_dir,
            &logs_dir,
            &out.join(format!("write-{}.json", p.name)),
        )?;
        let file = &v["files"][0];
        let id = file["id"]
            .as_str()
            .ok_or_else(|| WorkerError::Invalid("write-log returned no artifact".into()))?;
        let path = file["path"]
            .as_str()
            .ok_or_else(|| WorkerError::Invalid("write-log returned no path".into()))?;
        Ok((id.to_owned(), PathBuf::from(path)))
    })?;
    eprintln!(
        "matrix: {} logs written, verifying {} pairs",
        written.len(),
        written.len() * profiles.len()
    );
    let pairs: Vec<(usize, usize)> = (0..profiles.len())
        .flat_map(|w| (0..profiles.len()).map(move |v| (w, v)))
        .collect();
    let reports = parallel("verifications", &pairs, jobs, |&(w, v)| {
        let (id, path) = &written[w];
        let job = JobSpec::VerifyLog {
            spec: spec.clone(),
            log: id.as_str().into(),
        };
        let name = format!("verify-{}-by-{}.json", profiles[w].name, profiles[v].name);
        let out_json = spawn::run_job(
            &profiles[v],
            &job,
            &[(id.clone(), path.clone())],
            data_dir,
            &logs_dir,
            &out.join(name),
        )?;
        serde_json::from_value::<VerifyReport>(out_json["outcome"]["result"].clone())
            .map_err(|e| WorkerError::Invalid(format!("verify report: {e}")))
    })?;
    let d = profiles.len();
    let devices: Vec<DeviceLabel> = (0..d)
        .map(|v| {
            let r = &reports[v];
            DeviceLabel {
                profile: r.verifier.profile.clone(),
                fingerprint: r.verifier.fingerprint.clone(),
            }
        })
        .collect();
    let mut cells = vec![vec![None; d]; d];
    for (&(w, v), r) in pairs.iter().zip(&reports) {
        cells[w][v] = Some(Cell::of(&r.per_triple));
    }
    let key = MatrixKey {
        experiment: "reproduction".into(),
        model: spec.model,
        dataset: spec.dataset,
        batch_size: spec.batch_size,
        arithmetic: spec.arithmetic,
    };
    let matrix = CrossDeviceMatrix { key, devices, cells };
    let write = |name: &str, text: String| {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| WorkerError::io(&p, e))
    };
    write("matrix.md", matrix.to_markdown(Measure::L2))?;
    write("matrix.csv", matrix.to_csv())?;
    write(
        "matrix.json",
        serde_json::to_string_pretty(&matrix).map_err(|e| WorkerError::Invalid(e.to_string()))?,
    )?;
    Ok(matrix)
}
