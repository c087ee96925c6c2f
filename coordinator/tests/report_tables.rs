//! The report's tables carry exactly the input results: Table 1 and Table 3 are parsed back from their JSON and CSV
//! files and compared with the results folder they were made from; the folder format round-trips; bad input is an
//! error naming the file.
mod report_common;

use forgebench_coordinator::report::{load_results, write_report, write_results, Named, Results};
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::tables::AttackRow;
use forgebench_shared::tables::CrossDeviceMatrix;
use forgebench_shared::verdict::{Verdict, POL_MARGIN};
use report_common::{full_results, parse_csv};

/// The largest L2 over every cell of the matrices of a setting, NaN when any cell's is, computed here independently
/// of the report.
fn benign(r: &Results, model: &str, b: usize) -> Option<f64> {
    let mut best: Option<f64> = None;
    for m in &r.matrices {
        if m.value.key.model.to_string() == model && m.value.key.batch_size == b {
            for c in m.value.cells.iter().flatten().flatten() {
                let v = c.summary.l2.max;
                best = Some(best.map_or(v, |x: f64| if x.is_nan() || v.is_nan() { f64::NAN } else { x.max(v) }));
            }
        }
    }
    best
}

fn num(s: &str) -> Option<f64> {
    (!s.is_empty()).then(|| {
        s.parse::<f64>()
            .unwrap_or_else(|e| panic!("{s:?} is not a number: {e}"))
    })
}

#[test]
fn results_folder_round_trips() {
    let r = full_results();
    let dir = tempfile::tempdir().expect("tempdir");
    write_results(&r, dir.path()).expect("write results");
    let back = load_results(dir.path()).expect("load results");
    // Section by section, so that a failure says where (the whole structure is too long to print).
    let names = |v: &[String]| v.join(",");
    let n = |r: &Results| {
        let m: Vec<String> = r.matrices.iter().map(|x| x.name.clone()).collect();
        names(&m)
    };
    assert_eq!(n(&back), n(&r), "matrix names");
    for (a, b) in back.matrices.iter().zip(&r.matrices) {
        assert!(a == b, "matrix {} differs after the round trip", b.name);
    }
    assert!(
        back.attacks == r.attacks,
        "attacks differ: {:?} vs {:?}",
        back.attacks,
        r.attacks
    );
    assert!(back.adam == r.adam, "Adam reports differ");
    assert!(back.shuffle == r.shuffle, "shuffle reports differ");
    assert!(back.pol == r.pol, "PoL reports differ");
    assert!(back.prop2 == r.prop2, "Prop2 reports differ");
    for (a, b) in back.grids.iter().zip(&r.grids) {
        let diff = a
            .value
            .pixels
            .iter()
            .zip(&b.value.pixels)
            .position(|(x, y)| x.to_bits() != y.to_bits());
        assert!(a == b, "grid {} differs (first pixel {diff:?})", b.name);
    }
    assert_eq!(back.grids.len(), r.grids.len());
    assert_eq!(back.sweep, r.sweep, "sweep definition");
}

#[test]
fn table1_equals_inputs() {
    let r = full_results();
    let out = tempfile::tempdir().expect("tempdir");
    let files = write_report(&r, out.path()).expect("report");
    assert!(files.tables.iter().all(|p| p.is_file()), "{:?}", files.tables);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("tables/table1.json")).expect("read"))
            .expect("table1.json parses");
    let rows = json["rows"].as_array().expect("rows");
    let csv = parse_csv(&std::fs::read_to_string(out.path().join("tables/table1.csv")).expect("read"));
    let h = &csv[0];
    let col = |name: &str| {
        h.iter()
            .position(|x| x == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let inputs: Vec<_> = r.attack_rows().collect();
    assert_eq!(inputs.len(), 4);
    for a in &inputs {
        let model = a.model.to_string();
        let j = rows
            .iter()
            .find(|x| x["attack"] == a.attack.as_str() && x["model"] == model.as_str())
            .unwrap_or_else(|| panic!("no JSON row for {} {model}", a.attack));
        let c = csv
            .iter()
            .find(|x| x[col("attack")] == a.attack && x[col("model")] == model)
            .unwrap_or_else(|| panic!("no CSV row for {} {model}", a.attack));
        let expected_benign = benign(&r, &model, a.batch_size).or(a.benign_l2);
        let expected_ratio = expected_benign.map(|b| a.error_l2 / b);
        assert_eq!(
            j["attack_l2"].as_f64(),
            Some(a.error_l2),
            "JSON attack error of {} {model}",
            a.attack
        );
        assert_eq!(
            num(&c[col("attack_l2")]),
            Some(a.error_l2),
            "CSV attack error of {} {model}",
            a.attack
        );
        assert_eq!(j["benign_l2"].as_f64(), expected_benign, "JSON benign of {model}");
        assert_eq!(num(&c[col("benign_l2")]), expected_benign, "CSV benign of {model}");
        assert_eq!(
            j["ratio"].as_f64(),
            expected_ratio,
            "JSON ratio of {} {model}",
            a.attack
        );
        assert_eq!(
            num(&c[col("ratio")]),
            expected_ratio,
            "CSV ratio of {} {model}",
            a.attack
        );
        assert_eq!(c[col("parameters")], a.parameters, "parameters survive CSV quoting");
        let expected_verdict = Verdict::at(a.error_l2, expected_benign, POL_MARGIN);
        assert_eq!(
            serde_json::from_value::<Verdict>(j["verdict"].clone()).expect("JSON verdict"),
            expected_verdict,
            "JSON verdict of {} {model}",
            a.attack
        );
        assert_eq!(
            c[col("verdict")],
            expected_verdict.word(),
            "CSV verdict of {} {model}",
            a.attack
        );
    }
    // LeNet's benign figure comes from the real matrix, whose largest cell is the cpu-default column.
    let lenet = benign(&r, "lenet5", 100).expect("lenet matrix");
    assert!(lenet > 1e-7 && lenet < 1e-5, "lenet benign {lenet}");
    // Published values sit only beside the settings they were published for, marked as such.
    let vgg = rows.iter().find(|x| x["model"] == "vggmini").expect("vggmini row");
    let kong = vgg["published_l2"].as_f64().expect("Kong et al. beside VGGmini greedy");
    assert!((kong - 2.3973).abs() < 1e-3, "published Kong L2 {kong}");
    assert!(vgg["published_source"]
        .as_str()
        .is_some_and(|s| s.starts_with("published:")));
    // LeNet-5 b=100: the paper's Table 1 gives 3.1e-6 benign and 7.9e-3 for greedy search, nothing for local search.
    let lenet_row = |attack: &str| {
        rows.iter()
            .find(|x| x["model"] == "lenet5" && x["attack"] == attack)
            .unwrap_or_else(|| panic!("lenet {attack} row"))
    };
    for attack in ["greedy", "local-search"] {
        assert_eq!(
            lenet_row(attack)["published_benign_l2"].as_f64(),
            Some(3.1e-6),
            "{attack}"
        );
    }
    assert_eq!(lenet_row("greedy")["published_l2"].as_f64(), Some(7.9e-3));
    assert!(
        lenet_row("local-search")["published_l2"].is_null(),
        "the paper has no local search: {}",
        lenet_row("local-search")
    );
    let seeds: Vec<u64> = json["provenance"]["seeds"]
        .as_array()
        .expect("seeds")
        .iter()
        .filter_map(|s| s["value"].as_u64())
        .collect();
    assert_eq!(seeds, vec![0, 1], "the sweep's seeds are listed in the provenance");
    let md = std::fs::read_to_string(out.path().join("tables/table1.md")).expect("read");
    assert!(
        md.contains("(published)") && md.contains("**Provenance**") && md.contains("fixture-sweep"),
        "{md}"
    );
}

#[test]
fn table3_equals_inputs() {
    let r = full_results();
    let out = tempfile::tempdir().expect("tempdir");
    write_report(&r, out.path()).expect("report");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("tables/table3.json")).expect("read"))
            .expect("table3.json parses");
    let ms = json["matrices"].as_array().expect("matrices");
    assert_eq!(ms.len(), r.matrices.len());
    for (j, m) in ms.iter().zip(&r.matrices) {
        let back: CrossDeviceMatrix = serde_json::from_value(j["matrix"].clone()).expect("matrix parses");
        assert_eq!(back, m.value, "matrix {} differs after the report", m.name);
        assert_eq!(j["name"], m.name.as_str());
        assert!(j["provenance"]["devices"]
            .as_array()
            .is_some_and(|d| d.len() == m.value.devices.len()));
    }
    let csv = parse_csv(&std::fs::read_to_string(out.path().join("tables/table3.csv")).expect("read"));
    let h = &csv[0];
    let col = |name: &str| {
        h.iter()
            .position(|x| x == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let mut seen = 0;
    for line in &csv[1..] {
        let m = &r
            .matrices
            .iter()
            .find(|m| m.name == line[col("matrix")])
            .expect("known matrix")
            .value;
        let idx = |name: &str| {
            m.devices
                .iter()
                .position(|d| d.profile.name == name)
                .expect("known device")
        };
        let cell = m.cells[idx(&line[col("writer")])][idx(&line[col("verifier")])]
            .as_ref()
            .expect("cell present");
        let s = &cell.summary;
        for (name, v) in [
            ("l2_mean", s.l2.mean),
            ("l2_max", s.l2.max),
            ("l2sq_max", s.l2_sq.max),
            ("rel_max", s.rel.max),
        ] {
            assert_eq!(num(&line[col(name)]), Some(v), "{name} of {line:?}");
        }
        seen += 1;
    }
    let cells: usize = r
        .matrices
        .iter()
        .map(|m| m.value.cells.iter().flatten().flatten().count())
        .sum();
    assert_eq!(seen, cells, "one CSV line per computed cell");
}

#[test]
fn malformed_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("adam")).expect("mkdir");
    std::fs::write(dir.path().join("adam/broken.json"), "{\"spec\": 3}").expect("write");
    let e = load_results(dir.path())
        .expect_err("malformed Adam report accepted")
        .to_string();
    assert!(e.contains("adam/broken.json"), "error does not name the file: {e}");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut r = full_results();
    r.matrices[0].value.cells.pop();
    write_results(&r, dir.path()).expect("write");
    let e = load_results(dir.path())
        .expect_err("non-square matrix accepted")
        .to_string();
    assert!(
        e.contains("matrices/") && e.contains("3 x 3"),
        "error does not say what is wrong: {e}"
    );
}

#[test]
fn empty_folder_gives_a_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = load_results(dir.path()).expect("empty folder loads");
    assert_eq!(r, Results::default());
    let files = write_report(&r, &dir.path().join("out")).expect("report of nothing");
    assert!(files.index_html.is_file() && files.figures.is_empty(), "{files:?}");
}

/// The cells of the Markdown table row that starts with `name` in `md`.
fn md_row(md: &str, name: &str) -> Vec<String> {
    let line = md
        .lines()
        .find(|l| l.starts_with(&format!("| {name} |")))
        .unwrap_or_else(|| panic!("no row {name}"));
    line.trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect()
}

#[test]
fn pol_replays_are_judged_at_the_sweeps_own_calibration() {
    let mut r = full_results();
    // A second replay of the same log without the forged interval.
    let mut clean = r.pol[0].clone();
    clean.name = "fixture-pol-clean".into();
    clean.value.per_interval[5] = report_common::em(4e-9, 61_706);
    if let Some(c) = clean.value.init_check.as_mut() {
        c.layers.truncate(1);
        c.passed = true;
    }
    r.pol.push(clean);
    let out = tempfile::tempdir().expect("tempdir");
    write_report(&r, out.path()).expect("report");
    let md = std::fs::read_to_string(out.path().join("tables/runs.md")).expect("read");
    let eps = benign(&r, "lenet5", 100).expect("lenet matrix") * POL_MARGIN;
    let forged = md_row(&md, "fixture-pol");
    let n = forged.len();
    assert_eq!(
        forged[n - 3],
        forgebench_shared::numfmt::error(eps),
        "calibrated epsilon: {forged:?}"
    );
    assert_eq!(forged[n - 2], "false", "the 2e-3 interval fails at {eps:e}: {forged:?}");
    let clean = md_row(&md, "fixture-pol-clean");
    assert_eq!(clean[n - 2], "true", "benign intervals pass");
    // The initialisation check names the failing tensor, or the smallest p-value of a pass.
    assert_eq!(forged[n - 1], "FAILED at fc1.weight (p 1.50e-9)", "{forged:?}");
    assert_eq!(clean[n - 1], "passed (smallest p 0.80)", "{clean:?}");
}

/// Every L2 summary of every matrix cell set to NaN, as a broken benign sweep would give.
fn all_cells_nan(r: &mut Results) {
    for m in &mut r.matrices {
        for c in m.value.cells.iter_mut().flatten().flatten() {
            let s = &mut c.summary.l2;
            (s.mean, s.median, s.min, s.max) = (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
        }
    }
}

#[test]
fn nan_benign_cells_are_shown_and_judge_nothing() {
    let mut r = full_results();
    all_cells_nan(&mut r);
    r.pol[0].value.per_interval[2].l2 = f64::NAN;
    let dir = tempfile::tempdir().expect("tempdir");
    write_results(&r, &dir.path().join("results")).expect("write results");
    let back = load_results(&dir.path().join("results")).expect("NaN cells read back");
    for m in &back.matrices {
        let largest = m.value.largest(forgebench_shared::measures::Measure::L2);
        assert!(
            largest.is_some_and(f64::is_nan),
            "{}: largest {largest:?} after the round trip",
            m.name
        );
    }
    let interval = back.pol[0].value.per_interval[2].l2;
    assert!(interval.is_nan(), "PoL interval read back as {interval}");

    let out = dir.path().join("report");
    let files = write_report(&r, &out).expect("a report of NaN cells");
    let read = |f: &str| std::fs::read_to_string(out.join("tables").join(f)).expect("read");
    let json: serde_json::Value = serde_json::from_str(&read("table1.json")).expect("table1.json parses");
    let rows = json["rows"].as_array().expect("rows");
    let csv = parse_csv(&read("table1.csv"));
    let col = |name: &str| csv[0].iter().position(|x| x == name).expect("column");
    let mut judged = 0;
    for a in r.attack_rows() {
        let model = a.model.to_string();
        let j = rows
            .iter()
            .find(|x| x["attack"] == a.attack.as_str() && x["model"] == model.as_str())
            .unwrap_or_else(|| panic!("no JSON row for {} {model}", a.attack));
        let c = csv
            .iter()
            .find(|x| x[col("attack")] == a.attack && x[col("model")] == model)
            .unwrap_or_else(|| panic!("no CSV row for {} {model}", a.attack));
        if benign(&r, &model, a.batch_size).is_none() {
            // VGGmini has no matrix: its own finite benign figure still decides.
            assert_eq!(j["verdict"], "detected", "{j}");
            continue;
        }
        judged += 1;
        assert_eq!(j["benign_l2"], "NaN", "JSON benign of {} {model}: {j}", a.attack);
        assert_eq!(j["ratio"], "NaN", "JSON ratio of {} {model}: {j}", a.attack);
        assert_eq!(
            j["verdict"], "undetermined",
            "JSON verdict of {} {model}: {j}",
            a.attack
        );
        let row: forgebench_coordinator::report::Table1Row = serde_json::from_value(j.clone()).expect("row reads back");
        assert!(row.benign_l2.is_some_and(f64::is_nan), "{row:?}");
        assert_eq!(row.verdict, Some(Verdict::Undetermined), "{row:?}");
        assert_eq!(
            (c[col("benign_l2")].as_str(), c[col("verdict")].as_str()),
            ("NaN", "undetermined"),
            "CSV row of {} {model}: {c:?}",
            a.attack
        );
    }
    assert_eq!(judged, 3, "lenet5 greedy and local-search, logreg prop2");
    let md = read("table1.md");
    let lenet = md_row(&md, "lenet5");
    assert_eq!(
        (lenet[3].as_str(), lenet[8].as_str(), lenet[9].as_str()),
        ("NaN", "NaN", "undetermined"),
        "benign, ratio and verdict of {lenet:?}"
    );
    assert!(!md.contains("NOT detected"), "no attack is judged against a NaN: {md}");

    let t3: serde_json::Value = serde_json::from_str(&read("table3.json")).expect("table3.json parses");
    for m in t3["matrices"].as_array().expect("matrices") {
        assert_eq!(m["largest_l2"], "NaN", "{}", m["name"]);
        assert_eq!(
            m["matrix"]["cells"][0][1]["summary"]["l2"]["max"], "NaN",
            "{}",
            m["name"]
        );
    }
    assert!(read("table3.md").contains("| NaN / NaN |"), "{}", read("table3.md"));
    let pol = md_row(&read("runs.md"), "fixture-pol");
    let n = pol.len();
    assert_eq!(
        (pol[9].as_str(), pol[n - 3].as_str(), pol[n - 2].as_str()),
        ("NaN", "NaN", "undetermined"),
        "max interval L2, calibrated epsilon and its verdict: {pol:?}"
    );
    let html = std::fs::read_to_string(&files.index_html).expect("index.html");
    assert!(
        html.contains("<td>undetermined</td>") && html.contains("NaN"),
        "the page shows them too"
    );
}

#[test]
fn one_nan_triple_shows_in_its_cell() {
    let mut r = full_results();
    let cell = r.matrices[0].value.cells[1][2].as_mut().expect("cell");
    cell.summary.l2.max = f64::NAN;
    let out = tempfile::tempdir().expect("tempdir");
    write_report(&r, out.path()).expect("report");
    let md = std::fs::read_to_string(out.path().join("tables/table3.md")).expect("read");
    let name = r.matrices[0].value.devices[1].profile.name.clone();
    let row = md_row(&md, &name);
    assert!(row[3].ends_with("/ NaN"), "cell (1, 2) of {name}: {row:?}");
    assert!(
        !row[1].contains("NaN") && !row[2].contains("NaN"),
        "only that cell: {row:?}"
    );
    let csv = parse_csv(&std::fs::read_to_string(out.path().join("tables/table3.csv")).expect("read"));
    let col = |h: &str| csv[0].iter().position(|x| x == h).expect("column");
    let verifier = &r.matrices[0].value.devices[2].profile.name;
    let line = csv
        .iter()
        .find(|l| l[col("matrix")] == r.matrices[0].name && l[col("writer")] == name && l[col("verifier")] == *verifier)
        .expect("the cell's CSV line");
    assert_eq!(line[col("l2_max")], "NaN", "{line:?}");
}

/// Table 1 of the paper, as printed: (model, b, largest reproduction error, greedy attack's error in L2).
const PAPER_TABLE1: [(ModelKind, usize, f64, f64); 3] = [
    (ModelKind::Lenet5, 100, 3.1e-6, 7.9e-3),
    (ModelKind::Lenet5, 1000, 2.1e-6, 1e-3),
    (ModelKind::Vggmini, 100, 4.4e-4, 2.398),
];

#[test]
fn table1_published_columns_hold_the_papers_table1() {
    let mut r = Results::default();
    let rows = PAPER_TABLE1
        .iter()
        .map(|(m, b, _, _)| AttackRow {
            step_errors_l2: Vec::new(),
            attack: "greedy".into(),
            model: *m,
            dataset: m.default_dataset(),
            batch_size: *b,
            error_l2: 1.0,
            parameters: "test".into(),
            benign_l2: Some(1e-7),
            exact_arm: None,
        })
        .collect();
    r.attacks.push(Named::new("paper-settings", rows));
    let out = tempfile::tempdir().expect("tempdir");
    write_report(&r, out.path()).expect("report");
    let text = std::fs::read_to_string(out.path().join("tables/table1.json")).expect("read");
    let json: serde_json::Value = serde_json::from_str(&text).expect("table1.json parses");
    let rows = json["rows"].as_array().expect("rows");
    for (m, b, benign, greedy) in PAPER_TABLE1 {
        let row = rows
            .iter()
            .find(|x| x["model"] == m.to_string() && x["batch_size"] == b)
            .unwrap_or_else(|| panic!("{m} b={b} in Table 1"));
        let close = |key: &str, want: f64| {
            let got = row[key].as_f64();
            assert!(
                got.is_some_and(|a| (a - want).abs() <= 1e-3 * want),
                "{m} b={b}: {key} {got:?}, the paper's Table 1 says {want}"
            );
        };
        close("published_benign_l2", benign);
        close("published_l2", greedy);
        let src = row["published_source"].as_str().unwrap_or_default();
        assert!(src.contains("Table 1"), "{m} b={b}: source {src:?}");
    }
}

#[test]
fn the_exact_arm_has_its_own_column_and_never_sets_the_benign_reference() {
    use forgebench_shared::experiment::Arithmetic;
    use forgebench_shared::results::ExactArmCheck;
    let mut r = full_results();
    let before: Vec<Option<f64>> = forgebench_coordinator::report::table1(&r)
        .iter()
        .map(|t| t.benign_l2)
        .collect();
    // An exact-arm copy of the first matrix with every cell set far above the f32 arm's: it must not become the
    // benign reference, and its own largest cell goes to the exact column.
    let mut exact: CrossDeviceMatrix = r.matrices[0].value.clone();
    exact.key.arithmetic = Arithmetic::Exact;
    for c in exact.cells.iter_mut().flatten().flatten() {
        c.summary.l2.max = 100.0;
    }
    let setting = (exact.key.model, exact.key.dataset, exact.key.batch_size);
    r.push_matrix(exact);
    let check = ExactArmCheck {
        dim: 61_706,
        differing: 61_000,
        fixable_by_records: 4,
        l2: 3e-4,
    };
    let row = r
        .attacks
        .iter_mut()
        .flat_map(|n| n.value.iter_mut())
        .find(|a| (a.model, a.dataset, a.batch_size) == setting)
        .expect("an attack row of the matrix's setting");
    row.exact_arm = Some(check);
    let attack = row.attack.clone();
    let t1 = forgebench_coordinator::report::table1(&r);
    assert_eq!(
        t1.iter().map(|t| t.benign_l2).collect::<Vec<_>>(),
        before,
        "the exact arm moved a benign reference"
    );
    let t = t1
        .iter()
        .find(|t| t.attack.as_deref() == Some(attack.as_str()))
        .unwrap();
    assert_eq!((t.exact_benign_l2, t.exact_arm), (Some(100.0), Some(check)));
    let out = tempfile::tempdir().expect("tempdir");
    write_report(&r, out.path()).expect("report");
    let md = std::fs::read_to_string(out.path().join("tables/table1.md")).unwrap();
    assert!(md.contains("exact verifier (threshold 0)"), "{md}");
    assert!(
        md.contains("detected: 61,000 of 61,706 values differ, 4 fixable by records"),
        "{md}"
    );
}
