mod report_common;
#[test]
fn scratch() {
    let r = report_common::full_results();
    forgebench_coordinator::report::write_results(&r, std::path::Path::new("/tmp/rep-in")).unwrap();
    forgebench_coordinator::report::run_report_command(std::path::Path::new("/tmp/rep-in"), std::path::Path::new("/tmp/rep")).unwrap();
}
