//! Every figure of the report is a valid SVG (parses as XML, `<svg>` root) or a valid, non-trivial PNG (signature,
//! decodes, over 1 KB, more than one colour), and each kind of result gets its figure.
mod report_common;

use forgebench_coordinator::report::write_report;
use report_common::full_results;
use std::path::Path;

fn check_svg(p: &Path) {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{} is not XML: {e}", p.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg", "{} root", p.display());
    assert!(text.len() > 1024, "{} has only {} bytes", p.display(), text.len());
    assert!(
        doc.descendants().any(|n| n.has_tag_name("text")),
        "{} has no text",
        p.display()
    );
}

fn check_png(p: &Path) {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(bytes.len() > 1024, "{} has only {} bytes", p.display(), bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} signature", p.display());
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", p.display()));
    assert!(
        info.width >= 200 && info.height >= 100,
        "{} is {}x{}",
        p.display(),
        info.width,
        info.height
    );
    let px = &buf[..info.buffer_size()];
    let first = &px[..3];
    let distinct = px.chunks(3).filter(|c| c != &first).count();
    assert!(
        distinct > 500,
        "{}: only {distinct} pixels differ from the first",
        p.display()
    );
}

#[test]
fn every_figure_is_a_valid_svg_or_png() {
    let r = full_results();
    let out = tempfile::tempdir().expect("tempdir");
    let files = write_report(&r, out.path()).expect("report");
    let mut svgs = 0;
    let mut pngs = 0;
    for p in &files.figures {
        match p.extension().and_then(|e| e.to_str()) {
            Some("svg") => {
                check_svg(p);
                svgs += 1;
            }
            Some("png") => {
                check_png(p);
                pngs += 1;
            }
            other => panic!("unexpected figure file {} ({other:?})", p.display()),
        }
    }
    assert_eq!(svgs, pngs, "each figure comes as SVG and PNG");
    let names: Vec<String> = files
        .figures
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for expected in [
        "benign-vs-attack.svg",
        "heatmap-reproduction-lenet5-mnist-b100.png",
        "heatmap-reproduction-logreg-mnist-b100.svg",
        "adam-lenet5-mnist-b100.svg",
        "shuffle-fixture-shuffle.png",
        "grid-real.png",
        "grid-forged-fixture.svg",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing {expected} among {names:?}"
        );
    }
}

#[test]
fn heatmap_svg_names_every_device_and_cell() {
    let r = full_results();
    let out = tempfile::tempdir().expect("tempdir");
    write_report(&r, out.path()).expect("report");
    let m = &r.matrices[0];
    let text = std::fs::read_to_string(out.path().join(format!("figures/heatmap-{}.svg", m.name))).expect("read");
    for d in &m.value.devices {
        assert!(
            text.contains(&d.profile.name),
            "heatmap lacks device {}",
            d.profile.name
        );
    }
    let off = m.value.cells[0][1].as_ref().expect("cell").summary.l2.max;
    assert!(
        text.contains(&format!("{off:.2e}")),
        "heatmap lacks the cell value {off:.2e}"
    );
}

#[test]
fn strips_mark_published_values_and_show_every_model() {
    let r = full_results();
    let out = tempfile::tempdir().expect("tempdir");
    write_report(&r, out.path()).expect("report");
    let text = std::fs::read_to_string(out.path().join("figures/benign-vs-attack.svg")).expect("read");
    let doc = roxmltree::Document::parse(&text).expect("SVG parses");
    let labels: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
        .collect();
    let has = |l: &str| labels.iter().any(|x| x == l);
    for model in ["logreg", "lenet5", "vggmini"] {
        assert!(has(model), "no strip for {model} among {labels:?}");
    }
    assert!(
        has("published greedy b=100 2.40e0"),
        "Kong et al.'s published figure is not marked: {labels:?}"
    );
    assert!(
        has("published prop2 b=100 2.50e-8"),
        "the published Proposition 2 error is not marked: {labels:?}"
    );
    assert!(
        has("greedy b=100 3.25e-2"),
        "the LeNet greedy point (3.25e-2) is missing: {labels:?}"
    );
    assert!(
        has("benign b=100 1.27e-6"),
        "LeNet's benign point (real matrix, 1.267e-6) is missing: {labels:?}"
    );
    // The paper's Table 1 figures of the drawn settings: its largest reproduction error and its attacks'.
    for l in [
        "published benign b=100 3.10e-6",
        "published greedy b=100 7.90e-3",
        "published benign b=100 4.40e-4",
        "published adam b=100 1.38e0",
    ] {
        assert!(has(l), "{l} is not marked: {labels:?}");
    }
}
