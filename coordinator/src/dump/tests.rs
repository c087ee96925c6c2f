//! Dump tests: a ledger whose sweep of every kind is run by fake workers filing hand-made outcomes, read back as a
//! results folder.
mod fake;

use super::*;
use crate::report::{load_results, write_results};
use fake::{run, run_with, BENIGN};
use forgebench_shared::verdict::Verdict;

const SWEEP: &str = "name = \"d\"\nexperiments = [\"reproduction\", \"shuffle\", \"pol\", \"greedy\", \"local\", \
    \"adam\", \"adam-projected\", \"prop2\"]\nmodels = [\"lenet5\"]\n\
    models_for = { reproduction = [\"logreg\", \"lenet5\"], prop2 = [\"logreg\"] }\nbatch_sizes = [10]\n\
    seeds = [0]\ntriples = 2\ndevices = \"all\"\nforge_steps = 2\nforge_pool = 50\nshuffles = 3\n\
    verification = \"exhaustive\"\n";

fn row<'a>(r: &'a Results, attack: &str) -> &'a forgebench_shared::tables::AttackRow {
    r.attack_rows()
        .find(|a| a.attack == attack)
        .unwrap_or_else(|| panic!("no {attack} row"))
}

#[test]
fn every_kind_reaches_its_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::in_memory().expect("ledger");
    let sweep = run(&l, dir.path(), SWEEP, "adam-projected-");
    assert!(l.sweep_status(&sweep).expect("status").complete());
    let r = sweep_results_with_artifacts(&l, &sweep, dir.path()).expect("results");
    assert_eq!(r.matrices.len(), 2, "logreg and lenet5 reproduction");
    let names: Vec<_> = r.shuffle.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["lenet5-mnist-b10-s0-a", "lenet5-mnist-b10-s0-b"]);
    // Benign replays and the replays of both forged logs, on both profiles.
    assert_eq!(r.pol.len(), 2 + 2 * 2);
    assert!(
        r.pol.iter().any(|n| n.name == "pol-lenet5-mnist-b10-s0-local-verify-b"),
        "{:?}",
        r.pol
    );
    // adam-projected failed: nothing of it is reported.
    assert_eq!((r.adam.len(), r.prop2.len(), r.attacks.len()), (1, 1, 4));
    assert!(r.attack_rows().all(|a| a.attack != "adam-projected"));
    assert_eq!(r.grids.len(), 4, "forged and real batches of adam and prop2");

    let greedy = row(&r, "greedy");
    assert_eq!(
        (greedy.error_l2, greedy.benign_l2),
        (2e-3, Some(BENIGN)),
        "the worst forged step counts"
    );
    assert!(greedy.parameters.contains("n=50"), "{greedy:?}");
    let ratio = greedy.ratio().expect("a benign figure");
    assert!((ratio - 1e3).abs() < 1e-9, "ratio {ratio} vs 1e3");
    assert_eq!(greedy.verdict(), Verdict::Detected, "{greedy:?}");
    assert!(greedy.parameters.contains("scoring gram"), "{greedy:?}");
    let local = row(&r, "local-search");
    assert_eq!(local.error_l2, 2e-4, "the local-search error, not the greedy one");
    let prop2 = row(&r, "prop2");
    assert_eq!(
        (prop2.model, prop2.batch_size),
        (forgebench_shared::experiment::ModelKind::Logreg, 10)
    );
    assert_eq!(prop2.verdict(), Verdict::NotDetected, "{prop2:?}");
    // Table 1 judges the best iterate (2e-4 at iteration 1), not the last (5e-4).
    assert_eq!(row(&r, "adam").ratio(), Some(2e-4 / BENIGN));
    assert!(row(&r, "adam").parameters.contains("best iterate 1 (last 5.00e-4)"));

    let out = dir.path().join("results");
    write_results(&r, &out).expect("names are safe and unique");
    let back = load_results(&out).expect("reads back");
    assert_eq!((back.pol.len(), back.grids.len(), back.attacks.len()), (6, 4, 4));
    assert!(
        sweep_results(&l, &sweep).expect("results").grids.is_empty(),
        "no store, no grids"
    );
}

#[test]
fn a_result_for_another_spec_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = SWEEP
        .replace("experiments = [\"reproduction\", ", "experiments = [")
        .replace("reproduction = [\"logreg\", \"lenet5\"], ", "");
    let l = Ledger::in_memory().expect("ledger");
    let sweep = run_with(&l, dir.path(), &text, "\u{0}", true);
    let err = sweep_results(&l, &sweep).unwrap_err().to_string();
    assert!(
        err.contains("/shuffle-lenet5-mnist-b10-s0@a") && err.contains("another spec"),
        "{err}"
    );
    // Filed honestly, the same sweep dumps; with no benign matrix in it, the verdict says so.
    let l = Ledger::in_memory().expect("ledger");
    let sweep = run(&l, dir.path(), &text, "\u{0}");
    let r = sweep_results(&l, &sweep).expect("results");
    assert!(r.matrices.is_empty());
    let greedy = row(&r, "greedy");
    assert_eq!(greedy.verdict(), Verdict::Undetermined, "{greedy:?}");
}

/// With `explain`, every cell off the diagonal of every matrix is explained from the two devices' traces, and the
/// report carries the table.
#[test]
fn traced_sweeps_explain_every_cell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = SWEEP.replace(
        "verification = \"exhaustive\"\n",
        "verification = \"exhaustive\"\nexplain = true\n",
    );
    let l = Ledger::in_memory().expect("ledger");
    let sweep = run(&l, dir.path(), &text, "no-job-fails");
    let r = sweep_results_with_artifacts(&l, &sweep, dir.path()).expect("results");
    assert_eq!(r.explanations.len(), r.matrices.len());
    for e in &r.explanations {
        let m = r
            .matrices
            .iter()
            .find(|m| m.value.key == e.value.key)
            .expect("its matrix");
        let d = m.value.devices.len();
        assert_eq!(e.value.cells.len(), d * (d - 1), "every cell off the diagonal");
        for c in &e.value.cells {
            let first = c.first_differing.as_ref().expect("the fake profiles part");
            assert_eq!((first.site.as_str(), c.position), ("fc.forward", Some((1, 3))), "{c:?}");
            assert_eq!(c.update.as_ref().map(|u| u.differing), Some(1));
        }
    }
    let out = dir.path().join("report");
    crate::report::write_report(&r, &out).expect("report");
    let md = std::fs::read_to_string(out.join("tables/explain.md")).expect("explain.md");
    assert!(md.contains("fc.forward (site 2 of 3)"), "{md}");
    let html = std::fs::read_to_string(out.join("index.html")).expect("html");
    assert!(html.contains("Why these devices differ"));
    let folder = dir.path().join("results");
    write_results(&r, &folder).expect("write");
    // The folder is read in name order.
    let mut want = r.explanations.clone();
    want.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(load_results(&folder).expect("read").explanations, want);
}

/// The report written from a ledger holds the ledger's own numbers: every matrix cell as aggregated from the done
/// verify jobs, and every attack error as the attack jobs filed it.
#[test]
fn report_numbers_equal_the_ledgers_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::in_memory().expect("ledger");
    let sweep = run(&l, dir.path(), SWEEP, "no-job-fails");
    let r = sweep_results_with_artifacts(&l, &sweep, dir.path()).expect("results");
    let out = dir.path().join("report");
    crate::report::write_report(&r, &out).expect("report");
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join("tables").join(f)).expect("table")).expect("json")
    };
    let ledger_matrices = crate::aggregate::matrices(&l, &sweep, None).expect("aggregate");
    let t3 = read("table3.json");
    let written = t3["matrices"].as_array().expect("matrices");
    assert_eq!(written.len(), ledger_matrices.len());
    for m in &ledger_matrices {
        let w = written
            .iter()
            .find(|w| w["matrix"]["key"] == serde_json::to_value(&m.key).expect("key"))
            .unwrap_or_else(|| panic!("{:?} is in the report", m.key));
        assert_eq!(
            w["matrix"]["cells"],
            serde_json::to_value(&m.cells).expect("cells"),
            "{:?}",
            m.key
        );
        assert_eq!(
            w["largest_l2"].as_f64(),
            m.largest(forgebench_shared::measures::Measure::L2)
        );
    }
    // Attack errors: straight from the done attack jobs' outcomes in the ledger.
    let mut filed = Vec::new();
    for j in l.sweep_jobs(&sweep).expect("jobs") {
        let Some(o) = &j.outcome else { continue };
        if let Some(e) = o.result.pointer("/final_error/l2").and_then(|v| v.as_f64()) {
            filed.push(e);
        }
        if let Some(e) = o.result.pointer("/error_f32/l2").and_then(|v| v.as_f64()) {
            filed.push(e);
        }
    }
    let t1 = read("table1.json");
    let rows = t1["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), r.attack_rows().count());
    for row in rows {
        let e = row["attack_l2"].as_f64().expect("attack_l2");
        let a = r.attack_rows().find(|a| a.error_l2 == e).expect("a row of the results");
        assert_eq!(row["benign_l2"].as_f64(), a.benign_l2, "{row}");
        if ["adam", "prop2"].contains(&a.attack.as_str()) {
            assert!(
                filed.contains(&e),
                "{} error {e} is what its job filed: {filed:?}",
                a.attack
            );
        }
    }
}

/// A sweep with `domain_iterations` files each search's two end points as Table 1 rows, judged like any attack, and
/// the report gives them their section and figures; the strongest attack of a setting is marked.
#[test]
fn domain_searches_reach_table1_and_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::in_memory().expect("ledger");
    let text = format!("{SWEEP}domain_iterations = 24\noptimisers = [\"adam\", \"lbfgs\"]\n");
    let sweep = run(&l, dir.path(), &text, "no-job-fails");
    let r = sweep_results_with_artifacts(&l, &sweep, dir.path()).expect("results");
    assert!(
        row(&r, "lbfgs").parameters.contains("evaluations"),
        "{:?}",
        row(&r, "lbfgs")
    );
    for base in ["prop2", "adam", "adam-projected", "lbfgs", "lbfgs-projected"] {
        let soft = row(&r, &format!("{base}-domain"));
        let hard = row(&r, &format!("{base}-domain-one-hot"));
        assert_eq!((soft.error_l2, hard.error_l2), (3e-3, 5e-3), "{soft:?} {hard:?}");
        assert_eq!(hard.verdict(), Verdict::Detected, "{hard:?}");
        assert!(
            hard.parameters.contains("one-hot labels, 24 iterations from")
                && hard.parameters.contains("nearest real input 4.00 (median 5.00"),
            "{hard:?}"
        );
    }
    let out = dir.path().join("report");
    crate::report::write_report(&r, &out).expect("report");
    let runs = std::fs::read_to_string(out.join("tables/runs.md")).expect("runs.md");
    assert!(runs.contains("Forging inside the data domain"), "{runs}");
    let figures: Vec<String> = std::fs::read_dir(out.join("figures"))
        .expect("figures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("domain-") && n.ends_with(".svg"))
        .collect();
    assert_eq!(figures.len(), 5, "prop2 and four optimisation runs: {figures:?}");
    for f in [
        "optimisers-lenet5-mnist-b10.svg",
        "optimisers-lenet5-mnist-b10-projected.svg",
    ] {
        assert!(out.join("figures").join(f).is_file(), "{f}: Adam beside L-BFGS");
    }
    let t1 = std::fs::read_to_string(out.join("tables/table1.md")).expect("table1.md");
    // The exact construction (BENIGN / 4) is logistic regression's strongest attack, not its domain searches.
    let marked: Vec<&str> = t1.lines().filter(|l| l.contains("(strongest)")).collect();
    assert!(marked.iter().any(|l| l.contains("| prop2 (strongest) |")), "{marked:?}");
    assert!(marked.iter().all(|l| !l.contains("-domain")), "{marked:?}");
}

#[test]
fn torchscript_models_reach_their_matrices_and_the_report() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/models/lenet5.pt");
    let sweep = format!(
        "name = \"ts\"\nexperiments = [\"reproduction\"]\nbatch_sizes = [10]\nseeds = [0]\ntriples = 2\n\
         devices = \"all\"\ntorch_models = [{{ file = {file:?}, optimizer = {{ kind = \"sgd\", momentum = 0.9 }} }}]\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::in_memory().expect("ledger");
    let id = run(&l, dir.path(), &sweep, "no-such-job");
    assert!(l.sweep_status(&id).expect("status").complete());
    let r = sweep_results_with_artifacts(&l, &id, dir.path()).expect("results");
    assert_eq!(r.matrices.len(), 0, "no built-in model");
    assert_eq!(r.torch.len(), 1, "{:?}", r.torch);
    let m = &r.torch[0];
    assert_eq!(m.name, "torch-lenet5-mnist-b10-s0");
    assert_eq!(m.value.devices, ["a", "b"]);
    // The largest interval of two: 2 x the fake's benign error off the diagonal, 0 on it.
    assert_eq!(m.value.l2_max, vec![vec![0.0, 2.0 * BENIGN], vec![2.0 * BENIGN, 0.0]]);
    assert_eq!(m.value.model.file, file, "the matrix names the sweep's file");
    assert_eq!(m.value.model.sha256.len(), 64);
    let out = dir.path().join("results");
    write_results(&r, &out).expect("write");
    assert_eq!(load_results(&out).expect("reads back").torch, r.torch);
    let report = crate::report::write_report(&r, &dir.path().join("report")).expect("report");
    let md = report
        .tables
        .iter()
        .find(|p| p.ends_with("torch-matrices.md"))
        .expect("a torch table");
    let text = std::fs::read_to_string(md).expect("read");
    assert!(
        text.contains("torch-lenet5-mnist-b10-s0") && text.contains("4.00e-6"),
        "{text}"
    );
    let page = std::fs::read_to_string(&report.index_html).expect("page");
    assert!(page.contains("TorchScript models: cross-device matrices"));
}

#[test]
fn torchscript_shuffles_and_forged_steps_reach_the_runs_tables_beside_their_benign_matrix() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/models/lenet5.pt");
    let sweep = format!(
        "name = \"ts\"\nexperiments = [\"reproduction\", \"shuffle\", \"greedy\", \"local\", \"adam\", \
         \"adam-projected\"]\nbatch_sizes = [10]\nseeds = [0]\ntriples = 3\nforge_steps = 2\nshuffles = 4\n\
         devices = \"all\"\ntorch_models = [{{ file = {file:?} }}]\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::in_memory().expect("ledger");
    let id = run(&l, dir.path(), &sweep, "no-such-job");
    assert!(l.sweep_status(&id).expect("status").complete());
    let r = sweep_results_with_artifacts(&l, &id, dir.path()).expect("results");
    let names = |v: Vec<&str>| v.join(" ");
    assert_eq!(r.torch_shuffle.len(), 2, "one per device: {:?}", r.torch_shuffle);
    assert!(r.torch_shuffle.iter().all(|s| s.value.errors.len() == 4));
    let forged = names(r.torch_forge.iter().map(|n| n.name.as_str()).collect());
    assert_eq!(
        r.torch_forge.len(),
        4,
        "two steps, plain and projected, on the first device: {forged}"
    );
    let plain = r
        .torch_forge
        .iter()
        .find(|n| !n.name.contains("projected"))
        .expect("plain");
    assert!(plain.value.greedy.is_some() && plain.value.local.is_some(), "{forged}");
    assert_eq!(plain.value.synthetic.as_ref().map(|s| s.projected), Some(false));
    let projected = r
        .torch_forge
        .iter()
        .find(|n| n.name.contains("projected"))
        .expect("projected");
    assert!(
        projected.value.greedy.is_none(),
        "the projected run is optimisation only"
    );
    let out = dir.path().join("results");
    write_results(&r, &out).expect("write");
    let back = load_results(&out).expect("reads back");
    let (mut shuffles, mut forged) = (r.torch_shuffle.clone(), r.torch_forge.clone());
    shuffles.sort_by(|a, b| a.name.cmp(&b.name));
    forged.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        (back.torch_shuffle, back.torch_forge),
        (shuffles, forged),
        "read back in name order"
    );
    let report = crate::report::write_report(&r, &dir.path().join("report")).expect("report");
    let runs = std::fs::read_to_string(report.dir.join("tables/runs.md")).expect("runs.md");
    // The matrix's largest cell is 3 x BENIGN (the third interval off the diagonal): synthetic's 1e-3 is 167x it.
    assert!(
        runs.contains("forging one step") && runs.contains("6.00e-6") && runs.contains("167x"),
        "{runs}"
    );
    assert!(runs.contains("batch-order shuffles (plain SGD"), "{runs}");
    let page = std::fs::read_to_string(&report.index_html).expect("page");
    assert!(
        page.contains("forging one step against the run"),
        "the page has the section"
    );
}
