//! What the dashboard shows, as one JSON snapshot read from the ledger: sweeps with their progress, devices,
//! failures, matrices and attack table; the workers with their devices and classes; the hardware database.
use crate::error::{CoordError, Result};
use crate::service::Coordinator;
use forgebench_shared::device::device_id;
use forgebench_shared::ids::SweepId;
use forgebench_shared::measures::Measure;
use forgebench_shared::numfmt::{error, error_or_dash, ratio};
use forgebench_shared::tables::{CrossDeviceMatrix, DeviceLabel};
use serde_json::{json, Value};
use std::collections::HashMap;

/// How many of the newest sweeps are shown in full (every running one is, too).
const DETAILED: usize = 8;

fn matrix_json(m: &CrossDeviceMatrix) -> Value {
    let cells: Vec<Vec<Option<String>>> = m
        .cells
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    c.as_ref()
                        .map(|c| format!("{} / {}", error(c.summary.l2.mean), error(c.summary.l2.max)))
                })
                .collect()
        })
        .collect();
    json!({
        "title": m.key.title(),
        "names": m.devices.iter().map(|d| d.profile.name.clone()).collect::<Vec<_>>(),
        "headers": m.devices.iter().map(DeviceLabel::header).collect::<Vec<_>>(),
        "classes": m.class_names(),
        "classes_line": m.classes_line(),
        "filled": m.cells.iter().flatten().flatten().count(),
        "largest": error_or_dash(m.largest(Measure::L2)),
        "cells": cells,
    })
}

fn attack_json(r: &crate::report::Table1Row) -> Value {
    json!({
        "model": r.model.to_string(),
        "dataset": r.dataset.to_string(),
        "b": r.batch_size,
        "benign": error_or_dash(r.benign_l2),
        "attack": r.attack.clone().unwrap_or_else(|| "(benign only)".into()),
        "parameters": r.parameters.clone().unwrap_or_default(),
        "error": error_or_dash(r.attack_l2),
        "ratio": r.ratio.map_or("–".into(), ratio),
        "verdict": r.verdict.map_or("–", |v| v.word()),
        "published": r.published_l2.map_or("–".into(), error),
        "exact": r.exact_arm.map_or("–".into(), |c| c.words()),
    })
}

/// The whole snapshot.
pub(super) fn snapshot(coord: &Coordinator) -> Result<Value> {
    let ledger = coord.ledger();
    let artifacts = coord.settings().artifacts_dir.clone();
    let synced = crate::hwdb::sync(ledger, Some(&artifacts))?;
    let mut classes: HashMap<String, String> = HashMap::new();
    let mut sweeps = Vec::new();
    let mut ids = ledger.sweep_ids()?;
    ids.reverse();
    for (n, id) in ids.into_iter().enumerate() {
        let s = ledger.sweep_status(&id)?;
        // Older finished sweeps are listed, not detailed: a ledger of months must not make every poll read them all.
        if n >= DETAILED && s.complete() {
            sweeps.push(json!({
                "id": id.0, "name": s.name, "counts": s.counts, "total": s.total(), "complete": true,
                "compute_seconds": s.compute_seconds, "failures": s.failures, "awaiting": [], "devices": [],
                "matrices": [], "attacks": [], "report": format!("/report/{}", id.0), "summary_only": true,
            }));
            continue;
        }
        let results = crate::dump::sweep_results_live(ledger, &id, &artifacts)?;
        for m in &results.matrices {
            for (d, c) in m.value.devices.iter().zip(m.value.class_names()) {
                classes
                    .entry(d.id().0)
                    .or_insert(format!("{c} of {}", m.value.key.title()));
            }
        }
        let devices: Vec<String> = ledger
            .sweep_devices(&id)?
            .into_iter()
            .map(|d| {
                DeviceLabel {
                    profile: d.profile,
                    fingerprint: d.fingerprint,
                }
                .header()
            })
            .collect();
        sweeps.push(json!({
            "id": id.0,
            "name": s.name,
            "counts": s.counts,
            "total": s.total(),
            "complete": s.complete(),
            "compute_seconds": s.compute_seconds,
            "failures": s.failures,
            "awaiting": s.awaiting,
            "devices": devices,
            "matrices": results.matrices.iter().map(|m| matrix_json(&m.value)).collect::<Vec<_>>(),
            "attacks": crate::report::table1(&results).iter().filter(|r| r.attack.is_some()).map(attack_json).collect::<Vec<_>>(),
            "report": s.complete().then(|| format!("/report/{}", id.0)),
        }));
    }
    let now = crate::ledger::now_ms();
    let workers: Vec<Value> = ledger
        .workers()?
        .into_iter()
        .map(|w| {
            let dev = device_id(&w.profile, &w.fingerprint).0;
            json!({
                "id": w.id.0,
                "profile": w.profile.name.clone(),
                "device_id": dev.clone(),
                "hardware": DeviceLabel { profile: w.profile, fingerprint: w.fingerprint }.header(),
                "class": classes.get(&dev).cloned().unwrap_or_else(|| "–".into()),
                "seen_seconds_ago": ((now - w.last_seen_ms).max(0) as f64 / 1000.0).round(),
                "running": w.running_job.map(|j| j.0),
            })
        })
        .collect();
    let database: Vec<Value> = crate::hwdb::aggregate(ledger)?
        .into_iter()
        .map(|a| {
            let mut v = matrix_json(&a.matrix);
            v["sources"] = json!(a.sources);
            v
        })
        .collect();
    let db_devices: Vec<Value> = ledger
        .all_devices()?
        .into_iter()
        .map(|d| json!({ "id": d.id.0, "label": DeviceLabel { profile: d.profile, fingerprint: d.fingerprint }.header() }))
        .collect();
    Ok(json!({
        "generated_ms": now,
        "sweeps": sweeps,
        "workers": workers,
        "database": { "matrices": database, "devices": db_devices, "skipped": synced.skipped.iter().map(|(id, why)| format!("{id}: {why}")).collect::<Vec<_>>() },
    }))
}

/// A figure of `sweep` as the report draws it: the heatmap of matrix `m` (its index), or with `m = "attacks"` the
/// benign-against-attack strips of its Table 1.
pub(super) fn figure(coord: &Coordinator, sweep: &str, m: &str) -> Result<String> {
    let id = SweepId(sweep.to_owned());
    coord.ledger().sweep_status(&id)?;
    if m == "attacks" {
        let results = crate::dump::sweep_results_live(coord.ledger(), &id, &coord.settings().artifacts_dir)?;
        return crate::report::strips_svg(&crate::report::table1(&results));
    }
    let i: usize = m
        .parse()
        .map_err(|_| CoordError::Invalid(format!("m={m:?}: expected a matrix index")))?;
    let ms = crate::aggregate::matrices(coord.ledger(), &id, Some(&coord.settings().artifacts_dir))?;
    let matrix = ms
        .get(i)
        .ok_or_else(|| CoordError::NotFound(format!("sweep {sweep} has no matrix {i}")))?;
    crate::report::heatmap_svg(matrix)
}
