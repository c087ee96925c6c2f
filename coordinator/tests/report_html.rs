//! The HTML page is self-contained (no http(s) URL, no external script, stylesheet or image; every `src`/`href` is a
//! data URI) and shows the tables' numbers, the published values marked as such, and the inline figures.
mod report_common;

use forgebench_shared::numfmt::error;

use forgebench_coordinator::report::{run_report_command, write_results};
use report_common::full_results;

#[test]
fn page_references_no_external_resource() {
    let r = full_results();
    let dir = tempfile::tempdir().expect("tempdir");
    write_results(&r, &dir.path().join("results")).expect("write results");
    let files = run_report_command(
        &dir.path().join("results"),
        &dir.path().join("report"),
        Default::default(),
    )
    .expect("report");
    let html = std::fs::read_to_string(&files.index_html).expect("read index.html");
    let lower = html.to_ascii_lowercase();
    for bad in [
        "http://", "https://", "<script", "<link", "<iframe", "<object", "<embed", "@import", "url(",
    ] {
        assert!(!lower.contains(bad), "index.html contains {bad:?}");
    }
    for attr in ["src=\"", "href=\""] {
        for (i, _) in lower.match_indices(attr) {
            let value = &lower[i + attr.len()..];
            assert!(
                value.starts_with("data:"),
                "{attr} not a data URI at byte {i}: {}",
                &value[..value.len().min(60)]
            );
        }
    }
    assert!(html.contains("<svg"), "no inline figure");
    assert!(
        html.matches("<svg").count() >= 6,
        "expected the heatmaps, strips, Adam, shuffle and grid figures"
    );
    assert!(html.contains("(published)") && html.contains("Published reference values"));
    let lenet = &r
        .matrices
        .iter()
        .find(|m| m.name.contains("lenet5"))
        .expect("lenet")
        .value;
    let c = lenet.cells[0][2].as_ref().expect("cell").summary.l2;
    assert!(
        html.contains(&format!("{} / {}", error(c.mean), error(c.max))),
        "matrix cell missing from the page"
    );
    // Every figure says what to look at, and the paper's LeNet-5 b=100 matrix sits beside the measured one.
    assert_eq!(
        html.matches("<span class=\"reading\">Look at").count(),
        html.matches("<figure>").count(),
        "a figure without its reading line"
    );
    assert!(
        html.contains("Table 3(a)") && html.contains("GTX 4090"),
        "no published Table 3 matrix"
    );
    assert!(
        html.contains("Provenance") && html.contains("libtorch"),
        "no provenance block"
    );
}
