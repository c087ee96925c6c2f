//! What a benchmark worker "runs": valid outcomes for the reproduction jobs without any numerics. A write job
//! stores a small synthetic log in the real format (uploaded as a real artifact, about 31 KB: the transfer does not
//! hide the scheduling overhead being measured); a verify job reads the writer back from the log it was given and
//! reports a summary the aggregation accepts, so the sweep ends in complete tables.
use forgebench_coordinator::aggregate::synthetic;
use forgebench_coordinator::{CoordError, Result};
use forgebench_shared::content::id_of_file;
use forgebench_shared::fingerprint::DeviceFingerprint;
use forgebench_shared::ids::ArtifactId;
use forgebench_shared::jobs::{ArtifactRef, JobSpec};
use forgebench_shared::measures::{ErrorMeasures, MeasureSummary};
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::Provenance;
use std::path::{Path, PathBuf};

/// The provenance of a benchmark worker of `profile`.
fn provenance(profile: &DeviceProfile) -> Provenance {
    Provenance {
        code_version: "cluster-bench".into(),
        profile: profile.clone(),
        fingerprint: fingerprint(&profile.name),
        seeds: vec![],
    }
}

/// The fingerprint a benchmark worker announces.
pub fn fingerprint(profile: &str) -> DeviceFingerprint {
    DeviceFingerprint {
        hostname: "bench".into(),
        cpu_model: format!("sleeping cpu of {profile}"),
        cpu_flags: vec![],
        libtorch_version: "none".into(),
        libtorch_config: String::new(),
        cuda_driver: "none".into(),
        gpus: vec![],
        code_version: "cluster-bench".into(),
        threads: 1,
        settings_in_force: Default::default(),
    }
}

/// A fake error between two profiles: zero on the diagonal, distinct elsewhere.
fn fake_l2(writer: &str, verifier: &str) -> f64 {
    if writer == verifier {
        0.0
    } else {
        (writer.len() * 7 + verifier.len()) as f64 * 1e-7
    }
}

/// Runs `spec` as `profile`, with its downloaded `inputs`, writing files into `dir`. Returns the result JSON and
/// the artifacts to upload.
pub fn execute(
    spec: &JobSpec,
    profile: &DeviceProfile,
    inputs: &[PathBuf],
    dir: &Path,
) -> Result<(serde_json::Value, Vec<(ArtifactRef, PathBuf)>)> {
    match spec {
        JobSpec::WriteLog { spec } | JobSpec::RepeatLog { spec } => {
            let path = dir.join(format!("log-s{}-{}", spec.seed, profile.name));
            let m = synthetic::write_log(&path, spec, provenance(profile), profile.name.len() as f32 * 1e-4)?;
            let r = ArtifactRef {
                id: ArtifactId(id_of_file(&path).map_err(|e| CoordError::io(&path, e))?),
                role: "repro-log".into(),
                size: std::fs::metadata(&path).map_err(|e| CoordError::io(&path, e))?.len(),
            };
            Ok((
                serde_json::to_value(m).map_err(|e| CoordError::json("manifest", e))?,
                vec![(r, path)],
            ))
        }
        JobSpec::VerifyLog { .. } => {
            let path = inputs
                .first()
                .ok_or_else(|| CoordError::Invalid("a verify job without its log".into()))?;
            let writer = synthetic::read_manifest(path)?.provenance;
            let l2 = fake_l2(&writer.profile.name, &profile.name);
            let m = ErrorMeasures {
                l2,
                l2_sq: l2 * l2,
                l2_sq_per_dim: l2 * l2 / 7840.0,
                linf: l2,
                rel: l2,
            };
            let v = serde_json::json!({
                "writer_profile": writer.profile.name, "writer": writer, "verifier_profile": profile.name,
                "verifier": provenance(profile), "summary": MeasureSummary::of(&[m]),
            });
            Ok((v, vec![]))
        }
        other => Err(CoordError::Invalid(format!(
            "the benchmark worker cannot run {} jobs",
            other.kind()
        ))),
    }
}
