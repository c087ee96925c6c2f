//! One hardware pair: the devices chosen by id, profile, host or GPU name, and every setting both were measured in,
//! with the cells between them and each one's own diagonal.
use super::aggregate::aggregate;
use crate::error::{CoordError, Result};
use crate::ledger::{Ledger, SweepDevice};
use forgebench_shared::measures::MeasureSummary;
use forgebench_shared::numfmt::error;
use forgebench_shared::tables::{DeviceLabel, MatrixKey};
use serde::Serialize;
use std::fmt::Write as _;

/// How a selector matched a device.
fn matches(d: &SweepDevice, sel: &str) -> bool {
    let sel_l = sel.to_lowercase();
    d.id.0 == sel
        || (sel.starts_with("dev-") && sel.len() >= 8 && d.id.0.starts_with(sel))
        || d.profile.name == sel
        || d.fingerprint.hostname == sel
        || d.fingerprint
            .gpus
            .iter()
            .any(|g| g.name.to_lowercase().contains(&sel_l))
}

fn describe(d: &SweepDevice) -> String {
    let label = DeviceLabel {
        profile: d.profile.clone(),
        fingerprint: d.fingerprint.clone(),
    };
    format!("{} [{}]", label.header(), d.id)
}

/// The one device `sel` names: a device id (or an unambiguous prefix of at least `dev-` and four hex digits), a
/// profile name, a host name or part of a GPU's name. Naming none or several is an error listing the candidates.
pub fn select<'a>(devices: &'a [SweepDevice], sel: &str) -> Result<&'a SweepDevice> {
    let found: Vec<_> = devices.iter().filter(|d| matches(d, sel)).collect();
    let list = |ds: &[&SweepDevice]| ds.iter().map(|d| format!("\n  {}", describe(d))).collect::<String>();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(CoordError::NotFound(format!(
            "no device of the hardware database matches '{sel}' (by id, profile, host or GPU name); known:{}",
            list(&devices.iter().collect::<Vec<_>>())
        ))),
        many => Err(CoordError::Invalid(format!(
            "'{sel}' matches {} devices; name one by its id:{}",
            many.len(),
            list(many)
        ))),
    }
}

/// One setting of a pair.
#[derive(Debug, Clone, Serialize)]
pub struct PairRow {
    /// The setting.
    pub key: MatrixKey,
    /// A's log verified on B, B's on A, A repeating itself, B repeating itself (absent where not measured).
    pub cells: [Option<MeasureSummary>; 4],
    /// Labels of the sources behind this setting.
    pub sources: Vec<String>,
}

/// The table of one hardware pair.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Device A, as the header reads.
    pub a: String,
    /// Device B.
    pub b: String,
    /// Every setting both devices were measured in.
    pub rows: Vec<PairRow>,
}

/// Compares the devices named by `a` and `b` over every setting both were measured in.
pub fn compare(ledger: &Ledger, a: &str, b: &str) -> Result<Comparison> {
    let devices = ledger.all_devices()?;
    let (da, db) = (select(&devices, a)?, select(&devices, b)?);
    if da.id == db.id {
        return Err(CoordError::Invalid(format!(
            "'{a}' and '{b}' name the same device {}",
            da.id
        )));
    }
    let mut rows = Vec::new();
    for agg in aggregate(ledger)? {
        let m = &agg.matrix;
        let pos = |d: &SweepDevice| m.devices.iter().position(|x| x.id() == d.id);
        let (Some(i), Some(j)) = (pos(da), pos(db)) else {
            continue;
        };
        let cell = |r: usize, c: usize| m.cells[r][c].as_ref().map(|x| x.summary);
        rows.push(PairRow {
            key: m.key.clone(),
            cells: [cell(i, j), cell(j, i), cell(i, i), cell(j, j)],
            sources: agg.sources.clone(),
        });
    }
    Ok(Comparison {
        a: describe(da),
        b: describe(db),
        rows,
    })
}

impl Comparison {
    /// Markdown: one line per setting, L2 mean / max of the four cells and the other measures' max of A on B.
    pub fn markdown(&self) -> String {
        let mut s = format!("## Hardware pair\n\n- A: {}\n- B: {}\n\n", self.a, self.b);
        if self.rows.is_empty() {
            s.push_str("No setting has measured both devices.\n");
            return s;
        }
        s.push_str(
            "| experiment | model | dataset | b | A on B: L2 mean / max | B on A | A on A | B on B | A on B: L2^2 max | \
             A on B: L2^2/dim max | triples (A on B) | sources |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        let pair = |c: &Option<MeasureSummary>| {
            c.map_or("–".into(), |c| format!("{} / {}", error(c.l2.mean), error(c.l2.max)))
        };
        for r in &self.rows {
            let ab = r.cells[0];
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.key.experiment,
                r.key.model,
                r.key.dataset,
                r.key.batch_size,
                pair(&r.cells[0]),
                pair(&r.cells[1]),
                pair(&r.cells[2]),
                pair(&r.cells[3]),
                ab.map_or("–".into(), |c| error(c.l2_sq.max)),
                ab.map_or("–".into(), |c| error(c.l2_sq_per_dim.max)),
                ab.map_or("–".into(), |c| c.l2.n.to_string()),
                r.sources.len()
            );
        }
        let _ = writeln!(
            s,
            "\nA on B: A wrote the log, B recomputed it. Sources per setting: {}",
            self.rows
                .iter()
                .map(|r| format!("{} b={}: {}", r.key.model, r.key.batch_size, r.sources.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        );
        s
    }
}
