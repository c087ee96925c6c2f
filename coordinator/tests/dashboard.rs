//! The live dashboard in a real headless Chromium: refused without the login link, the matrix of a running sweep
//! appears half computed and then fills, the complete sweep links its report, and the browser console stays clean.
//! Fake workers drive the sweep over real gRPC. Chromium comes from Debian's package (`scripts/setup-chromium.sh`);
//! where it is missing the test is skipped, except under CI, where it fails.
mod common;

use common::*;
use forgebench_shared::config::SweepConfig;
use forgebench_shared::profile::default_cpu_profiles_for;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    let names = ["chromium", "chromium-browser", "google-chrome"];
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

/// The DOM after the page ran for a few seconds of virtual time, and the console messages it logged.
fn dump(chrome: &Path, url: &str, profile: &Path) -> (String, Vec<String>) {
    let out = Command::new("timeout")
        .arg("90")
        .arg(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args([
            "--virtual-time-budget=5000",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            url,
        ])
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// One plain HTTP/1.1 GET: (status, headers and body).
fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{cookie}\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

/// The cells of the page's first matrix table: (computed, not yet computed).
fn first_matrix(dom: &str) -> (usize, usize) {
    let start = dom
        .find("class=\"matrix\"")
        .unwrap_or_else(|| panic!("no matrix table on the page:\n{dom}"));
    let table = &dom[start..start + dom[start..].find("</table>").expect("table end")];
    let empty = table.matches("class=\"cell empty\"").count();
    (table.matches("class=\"cell\"").count(), empty)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_in_chromium() {
    let Some(chrome) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Chromium: scripts/setup-chromium.sh installs it"
        );
        eprintln!("skipped: no Chromium here (scripts/setup-chromium.sh installs Debian's package)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = settings(dir.path(), 5_000, 3);
    settings.dashboard_port = Some(0);
    let (coord, running) = coordinator_with(dir.path(), settings, "127.0.0.1:0").await;
    let d = running.dashboard().expect("a dashboard is served").clone();
    let base = format!("http://{}/", d.addr);
    let profile = dir.path().join("chromium");

    // Refused without the link: the page, the data and a wrong login token.
    let (dom, _) = tokio::task::spawn_blocking({
        let (c, b, p) = (chrome.clone(), base.clone(), profile.join("a"));
        move || dump(&c, &b, &p)
    })
    .await
    .expect("chromium");
    assert!(
        dom.contains("Not signed in") && !dom.contains("class=\"matrix\""),
        "{dom}"
    );
    assert_eq!(get(d.addr, "/api/state", None).0, 401);
    assert_eq!(get(d.addr, "/?login=0000", None).0, 401);
    let (status, signed) = get(d.addr, &d.url[d.url.find("/?").expect("query")..], None);
    assert_eq!(status, 303, "{signed}");
    let cookie = signed
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    assert_eq!(get(d.addr, "/api/state", Some(&cookie)).0, 200);

    // A running sweep: all three devices registered, only cpu-avx512 working, and only two jobs.
    let sweep = SweepConfig::from_toml_str(SWEEP).expect("sweep");
    let (id, _, _) = coord.submit(&sweep).expect("submit");
    for p in default_cpu_profiles_for(None) {
        let mut c = client(&running, TOKEN).await;
        register(&mut c, &p, &format!("{}-w", p.name)).await.expect("register");
    }
    let first = default_cpu_profiles_for(None).remove(0);
    let dirp = dir.path().join(&first.name);
    fake_worker(
        target(&running),
        first.clone(),
        format!("{}-w", first.name),
        dirp,
        Behaviour::Work,
        2,
    )
    .await;
    let (dom, console) = tokio::task::spawn_blocking({
        let (c, u, p) = (chrome.clone(), d.url.clone(), profile.join("b"));
        move || dump(&c, &u, &p)
    })
    .await
    .expect("chromium");
    let (filled, empty) = first_matrix(&dom);
    assert!(
        filled >= 1 && empty >= 1,
        "a half-computed matrix: {filled} computed, {empty} not:\n{dom}"
    );
    assert!(dom.contains("Running.") && dom.contains("cpu-avx2"), "{dom}");
    assert!(console.is_empty(), "console: {console:?}");

    // The sweep completes: every cell computed, the report linked and served.
    let mut tasks = Vec::new();
    for p in default_cpu_profiles_for(None) {
        let dirp = dir.path().join(format!("{}-2", p.name));
        tasks.push(tokio::spawn(fake_worker(
            target(&running),
            p.clone(),
            format!("{}-w", p.name),
            dirp,
            Behaviour::Work,
            20,
        )));
    }
    let done = {
        let (c, id) = (coord.clone(), id.clone());
        move || c.ledger().sweep_status(&id).is_ok_and(|s| s.complete())
    };
    assert!(wait_for(30, done).await, "the sweep completed");
    for t in tasks {
        t.await.expect("worker");
    }
    let (dom, console) = tokio::task::spawn_blocking({
        let (c, u, p) = (chrome.clone(), d.url.clone(), profile.join("c"));
        move || dump(&c, &u, &p)
    })
    .await
    .expect("chromium");
    assert_eq!(first_matrix(&dom), (9, 0), "every cell computed:\n{dom}");
    assert!(
        dom.contains("full report") && dom.contains("Hardware database"),
        "{dom}"
    );
    assert!(console.is_empty(), "console: {console:?}");
    let (status, page) = get(d.addr, &format!("/report/{id}"), Some(&cookie));
    assert!(
        status == 200 && page.contains("forgebench report"),
        "{status}: {}",
        &page[..page.len().min(2000)]
    );
    running.shutdown().await.expect("clean shutdown");
}
