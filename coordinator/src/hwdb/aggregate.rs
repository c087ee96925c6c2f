//! Pools the stored cells of every source into one cross-device matrix per setting.
use crate::error::Result;
use crate::ledger::{Ledger, MeasuredCell};
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::ids::DeviceId;
use forgebench_shared::measures::MeasureSummary;
use forgebench_shared::tables::{Cell, CrossDeviceMatrix, DeviceLabel, MatrixKey};
use std::collections::BTreeMap;

/// The pooled matrix of one setting and the sources that measured it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Aggregated {
    /// Devices in the order the ledger first saw them; each cell pools every source's summary of that pair
    /// ([`MeasureSummary::pool`]: n adds up, means are n-weighted, max and min exact, a median only from one source).
    pub matrix: CrossDeviceMatrix,
    /// The labels of the sources with a cell in this matrix, in the order they were recorded.
    pub sources: Vec<String>,
}

fn order(k: &MatrixKey) -> (usize, &'static str, usize, String) {
    let m = ModelKind::ALL.iter().position(|x| *x == k.model).unwrap_or(usize::MAX);
    (m, k.dataset.name(), k.batch_size, k.experiment.clone())
}

/// Every setting the database holds, pooled over its sources, in the paper's model order.
pub fn aggregate(ledger: &Ledger) -> Result<Vec<Aggregated>> {
    let devices = ledger.all_devices()?;
    let labels: BTreeMap<String, String> = ledger
        .measured_sources()?
        .into_iter()
        .map(|s| (s.id, s.label))
        .collect();
    let mut settings: Vec<(MatrixKey, Vec<MeasuredCell>)> = Vec::new();
    for c in ledger.measured_cells()? {
        match settings.iter_mut().find(|s| s.0 == c.key) {
            Some(s) => s.1.push(c),
            None => settings.push((c.key.clone(), vec![c])),
        }
    }
    settings.sort_by_key(|s| order(&s.0));
    let mut out = Vec::new();
    for (key, cells) in settings {
        let seen = |d: &DeviceId| cells.iter().any(|c| &c.writer == d || &c.verifier == d);
        let members: Vec<_> = devices.iter().filter(|d| seen(&d.id)).collect();
        let n = members.len();
        let index = |d: &DeviceId| members.iter().position(|m| &m.id == d);
        let mut parts: Vec<Vec<Vec<MeasureSummary>>> = vec![vec![Vec::new(); n]; n];
        let mut sources: Vec<&str> = Vec::new();
        for c in &cells {
            if let (Some(i), Some(j)) = (index(&c.writer), index(&c.verifier)) {
                parts[i][j].push(c.summary);
                if !sources.contains(&c.source.as_str()) {
                    sources.push(&c.source);
                }
            }
        }
        let grid = parts
            .iter()
            .map(|row| {
                row.iter()
                    .map(|p| (!p.is_empty()).then(|| Cell::summarised(MeasureSummary::pool(p))))
                    .collect()
            })
            .collect();
        out.push(Aggregated {
            matrix: CrossDeviceMatrix {
                key,
                devices: members
                    .iter()
                    .map(|d| DeviceLabel {
                        profile: d.profile.clone(),
                        fingerprint: d.fingerprint.clone(),
                    })
                    .collect(),
                cells: grid,
            },
            sources: sources
                .iter()
                .map(|s| labels.get(*s).cloned().unwrap_or_else(|| s.to_string()))
                .collect(),
        });
    }
    Ok(out)
}
