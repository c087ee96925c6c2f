//! Why the devices of each matrix differ: a sweep's trace jobs (one triple of each reproduction spec traced site by
//! site on every device) compared pairwise, from the trace artifacts in the store. Comparing is pure arithmetic
//! ([`forgebench_shared::trace`]); nothing here needs libtorch.
use super::{key_of, ordered_devices};
use crate::error::{CoordError, Result};
use crate::ledger::{JobState, Ledger, SweepDevice};
use crate::plan::{Plan, TRACE};
use forgebench_shared::experiment::ReproSpec;
use forgebench_shared::ids::{ArtifactId, SweepId};
use forgebench_shared::jobs::JobSpec;
use forgebench_shared::tables::MatrixKey;
use forgebench_shared::trace::{self, CellExplanation, Explanation, MatrixExplanation, Trace};
use std::path::Path;

/// The traces of one spec: the triple, and per device (matrix order) its trace artifact, if done.
struct Traced {
    spec: ReproSpec,
    triple: usize,
    artifacts: Vec<Option<ArtifactId>>,
}

fn traced(ledger: &Ledger, sweep: &SweepId, devices: &[SweepDevice]) -> Result<Vec<Traced>> {
    let mut out: Vec<Traced> = Vec::new();
    for j in ledger.sweep_jobs(sweep)? {
        let Plan::Ready {
            job: JobSpec::Trace { spec, triple },
        } = &j.plan
        else {
            continue;
        };
        let pos = out
            .iter()
            .position(|t| &t.spec == spec && t.triple == *triple)
            .unwrap_or_else(|| {
                out.push(Traced {
                    spec: spec.clone(),
                    triple: *triple,
                    artifacts: vec![None; devices.len()],
                });
                out.len() - 1
            });
        let (Some(o), Some(d)) = (
            j.outcome.as_ref().filter(|_| j.state == JobState::Done),
            devices.iter().position(|d| d.id == j.device),
        ) else {
            continue;
        };
        out[pos].artifacts[d] = o.artifacts.iter().find(|a| a.role == TRACE).map(|a| a.id.clone());
    }
    Ok(out)
}

/// Reads the trace `id` from the store; a file missing there is `None` (warned), a corrupt one an error naming it.
fn load(dir: &Path, id: &ArtifactId) -> Result<Option<Trace>> {
    let path = dir.join(&id.0);
    if !path.is_file() {
        tracing::warn!(artifact = %id, "trace not in the artifact store; its cells are not explained");
        return Ok(None);
    }
    trace::read_trace(&path)
        .map(Some)
        .map_err(|e| CoordError::Invalid(format!("trace {}: {e}", path.display())))
}

/// Every matrix's explanations: each cell off the diagonal whose two devices have a trace.
pub fn explanations(ledger: &Ledger, sweep: &SweepId, artifacts: &Path) -> Result<Vec<MatrixExplanation>> {
    let (cfg, _) = ledger.sweep_config(sweep)?;
    let devices = ordered_devices(ledger, sweep)?;
    let mut out = Vec::new();
    for t in traced(ledger, sweep, &devices)? {
        let mut loaded = Vec::with_capacity(devices.len());
        for a in &t.artifacts {
            loaded.push(match a {
                Some(id) => load(artifacts, id)?,
                None => None,
            });
        }
        let mut cells = Vec::new();
        for (i, w) in devices.iter().enumerate() {
            for (k, v) in devices.iter().enumerate() {
                let (Some(tw), Some(tv)) = (&loaded[i], &loaded[k]) else {
                    continue;
                };
                if i != k {
                    cells.push(CellExplanation::of((&w.profile, tw), (&v.profile, tv))?);
                }
            }
        }
        out.push(MatrixExplanation {
            key: key_of(&t.spec, cfg.seeds.len() > 1),
            triple: t.triple,
            cells,
        });
    }
    Ok(out)
}

/// One explanation in full.
pub struct PairExplanation {
    /// The matrix.
    pub key: MatrixKey,
    /// The triple traced.
    pub triple: usize,
    /// The two devices.
    pub devices: [SweepDevice; 2],
    /// Every site.
    pub explanation: Explanation,
}

/// The full comparison of the devices of profiles `pair` for every traced spec of the sweep.
pub fn pair_explanations(
    ledger: &Ledger,
    sweep: &SweepId,
    artifacts: &Path,
    pair: [&str; 2],
) -> Result<Vec<PairExplanation>> {
    let (cfg, _) = ledger.sweep_config(sweep)?;
    let devices = ordered_devices(ledger, sweep)?;
    let find = |name: &str| {
        devices.iter().position(|d| d.profile.name == name).ok_or_else(|| {
            let known: Vec<&str> = devices.iter().map(|d| d.profile.name.as_str()).collect();
            CoordError::Invalid(format!(
                "no device of profile {name} in sweep {sweep} (it has {known:?})"
            ))
        })
    };
    let (a, b) = (find(pair[0])?, find(pair[1])?);
    let mut out = Vec::new();
    for t in traced(ledger, sweep, &devices)? {
        let (Some(ia), Some(ib)) = (&t.artifacts[a], &t.artifacts[b]) else {
            continue;
        };
        let (Some(ta), Some(tb)) = (load(artifacts, ia)?, load(artifacts, ib)?) else {
            continue;
        };
        out.push(PairExplanation {
            key: key_of(&t.spec, cfg.seeds.len() > 1),
            triple: t.triple,
            devices: [devices[a].clone(), devices[b].clone()],
            explanation: trace::compare(&ta, &tb)?,
        });
    }
    Ok(out)
}
