//! The hardware database: two sweeps on overlapping devices (fake workers over real gRPC) and a results folder from
//! another coordinator pool into one table per setting, whose cells equal the per-source cells pooled here
//! independently; `compare` gives the table of one pair; a version-3 ledger is upgraded in place.
mod common;

use common::*;
use forgebench_coordinator::aggregate::matrices;
use forgebench_coordinator::hwdb;
use forgebench_coordinator::ledger::Ledger;
use forgebench_coordinator::report::{write_results, Named, Results};
use forgebench_shared::config::SweepConfig;
use forgebench_shared::ids::DeviceId;
use forgebench_shared::measures::{ErrorMeasures, MeasureSummary};
use forgebench_shared::profile::default_cpu_profiles_for;
use forgebench_shared::tables::{Cell, CrossDeviceMatrix, DeviceLabel};

fn sweep(name: &str, devices: &str, seed: u64) -> SweepConfig {
    let text = format!(
        "name = \"{name}\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [10]\n\
         seeds = [{seed}]\ntriples = 2\ndevices = {devices}\nverification = \"exhaustive\"\n"
    );
    SweepConfig::from_toml_str(&text).expect("valid sweep")
}

fn summary(values: &[f64]) -> MeasureSummary {
    let items: Vec<_> = values
        .iter()
        .map(|&l2| ErrorMeasures {
            l2,
            l2_sq: l2 * l2,
            l2_sq_per_dim: l2 * l2 / 7840.0,
            linf: l2,
            rel: l2,
        })
        .collect();
    MeasureSummary::of(&items)
}

/// A matrix from another lab over all three built-in profiles, with values unlike the fake workers'.
fn other_lab(like: &CrossDeviceMatrix) -> CrossDeviceMatrix {
    let devices: Vec<DeviceLabel> = default_cpu_profiles_for(None)
        .into_iter()
        .map(|p| DeviceLabel {
            fingerprint: fingerprint(&p.name),
            profile: p,
        })
        .collect();
    let n = devices.len();
    let cells = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    let x = (1 + i * n + j) as f64 * 1e-6;
                    Some(Cell::summarised(summary(&[x, 2.0 * x, 3.0 * x])))
                })
                .collect()
        })
        .collect();
    CrossDeviceMatrix {
        key: like.key.clone(),
        devices,
        cells,
    }
}

/// Every cell of `sources` for the pair (w, v), pooled.
fn expected(sources: &[&CrossDeviceMatrix], w: &DeviceId, v: &DeviceId) -> MeasureSummary {
    let mut parts = Vec::new();
    for m in sources {
        let pos = |d: &DeviceId| m.devices.iter().position(|x| &x.id() == d);
        if let (Some(i), Some(j)) = (pos(w), pos(v)) {
            parts.extend(m.cells[i][j].as_ref().map(|c| c.summary));
        }
    }
    MeasureSummary::pool(&parts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweeps_and_an_import_pool_into_one_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let (a, _, _) = coord
        .submit(&sweep("first", "[\"cpu-avx512\", \"cpu-avx2\"]", 0))
        .expect("submit");
    let (b, _, _) = coord
        .submit(&sweep("second", "[\"cpu-avx2\", \"cpu-default\"]", 1))
        .expect("submit");
    let mut tasks = Vec::new();
    for p in default_cpu_profiles_for(None) {
        let d = dir.path().join(&p.name);
        tasks.push(tokio::spawn(fake_worker(
            target(&running),
            p.clone(),
            format!("{}-w", p.name),
            d,
            Behaviour::Work,
            20,
        )));
    }
    let done = {
        let c = coord.clone();
        let (a, b) = (a.clone(), b.clone());
        move || {
            [&a, &b]
                .iter()
                .all(|s| c.ledger().sweep_status(s).is_ok_and(|s| s.complete()))
        }
    };
    assert!(wait_for(30, done).await, "both sweeps completed");
    for t in tasks {
        t.await.expect("worker");
    }
    let ledger = coord.ledger();
    let (ma, mb) = (
        matrices(ledger, &a, None).expect("first")[0].clone(),
        matrices(ledger, &b, None).expect("second")[0].clone(),
    );
    let synced = hwdb::sync(ledger, None).expect("sync");
    assert_eq!(
        synced.recorded,
        vec![a.clone(), b.clone()],
        "skipped: {:?}",
        synced.skipped
    );
    assert!(
        hwdb::sync(ledger, None).expect("again").recorded.is_empty(),
        "a sweep is recorded once"
    );

    // A results folder from another coordinator, imported twice: the second time adds nothing.
    let lab = other_lab(&ma);
    let folder = dir.path().join("lab-b-results");
    let mut r = Results::default();
    r.matrices
        .push(Named::new("reproduction-logreg-mnist-b10", lab.clone()));
    write_results(&r, &folder).expect("write results");
    let imported = hwdb::import(ledger, &folder, Some("lab-b")).expect("import");
    assert!(imported.new && imported.cells == 9, "{imported:?}");
    assert!(!hwdb::import(ledger, &folder, Some("lab-b")).expect("again").new);

    let all = hwdb::aggregate(ledger).expect("aggregate");
    assert_eq!(all.len(), 1, "one setting: logreg/MNIST b=10");
    let m = &all[0].matrix;
    assert_eq!(m.devices.len(), 3, "the union of the devices");
    assert_eq!(all[0].sources.len(), 3, "{:?}", all[0].sources);
    let ids: Vec<DeviceId> = m.devices.iter().map(|d| d.id()).collect();
    for (i, w) in ids.iter().enumerate() {
        for (j, v) in ids.iter().enumerate() {
            let got = m.cells[i][j]
                .as_ref()
                .expect("every pair measured by some source")
                .summary;
            let want = expected(&[&ma, &mb, &lab], w, v);
            assert_eq!(
                (got.l2.n, got.l2.max, got.l2_sq.max),
                (want.l2.n, want.l2.max, want.l2_sq.max),
                "{i},{j}"
            );
            assert!(
                (got.l2.mean - want.l2.mean).abs() <= 1e-15,
                "{i},{j}: {} vs {}",
                got.l2.mean,
                want.l2.mean
            );
        }
    }
    // cpu-avx2 repeating itself: two triples from each sweep and three from the import.
    let avx2 = m
        .devices
        .iter()
        .position(|d| d.profile.name == "cpu-avx2")
        .expect("cpu-avx2");
    assert_eq!(m.cells[avx2][avx2].as_ref().expect("cell").summary.l2.n, 7);

    // One pair: cpu-avx512 and cpu-default never met in a sweep; only the import measured them together.
    let c = hwdb::compare(ledger, "cpu-avx512", "cpu-default").expect("compare");
    assert_eq!(c.rows.len(), 1);
    let at = |name: &str| lab.devices.iter().position(|d| d.profile.name == name).expect(name);
    let (i, j) = (at("cpu-avx512"), at("cpu-default"));
    let from_lab = lab.cells[i][j].as_ref().expect("cell").summary;
    assert_eq!(c.rows[0].cells[0], Some(from_lab), "A on B is the import's cell");
    let md = c.markdown();
    assert!(md.contains(&forgebench_shared::numfmt::error(from_lab.l2.max)), "{md}");
    let err = hwdb::compare(ledger, "no-such-device", "cpu-avx2").expect_err("unknown selector");
    assert!(err.to_string().contains("known"), "{err}");
    let err = hwdb::compare(ledger, "test", "cpu-avx2").expect_err("a host shared by three devices");
    assert!(err.to_string().contains("matches 3 devices"), "{err}");
    running.shutdown().await.expect("clean shutdown");
}

#[test]
fn a_version_3_ledger_gains_the_database_when_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    drop(Ledger::open(&path).expect("create"));
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch("DROP TABLE measured_cells; DROP TABLE measured_sources; PRAGMA user_version = 3;")
            .expect("downgrade");
    }
    let ledger = Ledger::open(&path).expect("a version-3 ledger opens");
    assert!(ledger.measured_sources().expect("the new tables exist").is_empty());
    let conn = rusqlite::Connection::open(&path).expect("open");
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, 4);
}

#[test]
fn importing_a_folder_without_matrices_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = Ledger::in_memory().expect("ledger");
    write_results(&Results::default(), dir.path()).expect("empty results");
    let err = hwdb::import(&ledger, dir.path(), None).expect_err("nothing to import");
    assert!(err.to_string().contains("no cross-device matrix"), "{err}");
}
