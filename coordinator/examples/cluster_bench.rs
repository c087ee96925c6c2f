//! Cluster benchmark (run by `bench/cluster.sh`): coordinator overhead and cluster efficiency of a reproduction
//! sweep over local workers whose jobs sleep, and artifact transfer (bulk channel and gRPC) against raw TCP copies,
//! measured in one run. The sweep's workers move their small artifacts over gRPC.
//!
//! Efficiency = summed job compute / (workers x wall time); overhead per job = (workers x wall - compute) / jobs.
//! The jobs' computation is a measured sleep, so on a small shared machine the numbers isolate what the
//! coordinator and the protocol cost rather than how busy the CPUs are. Goals: efficiency >= 0.9 for
//! jobs of a second or more, transfer >= 0.5x raw TCP.
#[path = "cluster_bench/fake.rs"]
mod fake;
#[path = "cluster_bench/raw.rs"]
mod raw;
#[path = "cluster_bench/sweep.rs"]
mod sweep;
#[path = "cluster_bench/transfer.rs"]
mod transfer;
#[path = "cluster_bench/worker.rs"]
mod worker;

use clap::Parser;
use std::time::Duration;

/// Efficiency goal for jobs of at least [`LONG_JOB_S`].
const EFFICIENCY_GOAL: f64 = 0.9;
/// Jobs this long or longer are held to the efficiency goal.
const LONG_JOB_S: f64 = 1.0;
/// Transfer goal, as a fraction of raw TCP throughput.
const TRANSFER_GOAL: f64 = 0.5;

#[derive(Parser, Debug)]
#[command(about = "Coordinator overhead, cluster efficiency and artifact transfer over loopback")]
struct Args {
    /// Job lengths to measure, seconds (comma-separated); one sweep each.
    #[arg(long, value_delimiter = ',', default_value = "1.0,0.01")]
    job_seconds: Vec<f64>,
    /// Seeds of the sweep; each gives workers + workers^2 jobs (20 with 4 workers).
    #[arg(long, default_value_t = 10)]
    seeds: u64,
    /// Local workers, one per CPU profile.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Heartbeat period the coordinator hands the workers, milliseconds.
    #[arg(long, default_value_t = 500)]
    heartbeat_ms: u64,
    /// Artifact size for the transfer measurement, MiB (0 skips it).
    #[arg(long, default_value_t = 64)]
    transfer_mib: usize,
    /// Repetitions of the transfer measurement (the median is shown).
    #[arg(long, default_value_t = 3)]
    reps: usize,
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let a = Args::parse();
    anyhow::ensure!(
        a.workers > 0 && a.seeds > 0 && a.reps > 0,
        "workers, seeds and reps must be positive"
    );
    anyhow::ensure!(
        a.job_seconds.iter().all(|s| s.is_finite() && *s >= 0.0),
        "job seconds must be finite and non-negative"
    );
    let dir = tempfile::tempdir()?;
    println!(
        "cluster: {} workers (one CPU profile each) on loopback, reproduction sweep of {} seeds, heartbeat {} ms",
        a.workers, a.seeds, a.heartbeat_ms
    );
    println!(
        "{:>7} {:>5} {:>8} {:>10} {:>10} {:>16}  goal",
        "job s", "jobs", "wall s", "compute s", "efficiency", "overhead/job ms"
    );
    for (i, &s) in a.job_seconds.iter().enumerate() {
        let d = dir.path().join(format!("sweep-{i}"));
        let hb = Duration::from_millis(a.heartbeat_ms);
        let m = sweep::measure(&d, a.workers, a.seeds, Duration::from_secs_f64(s), hb).await?;
        let capacity = a.workers as f64 * m.wall;
        let eff = m.compute / capacity;
        let overhead_ms = (capacity - m.compute) / m.jobs as f64 * 1e3;
        let goal = if s >= LONG_JOB_S {
            format!(">= {EFFICIENCY_GOAL} {}", verdict(eff >= EFFICIENCY_GOAL))
        } else {
            "(no goal below 1 s)".to_owned()
        };
        println!(
            "{s:>7.3} {:>5} {:>8.2} {:>10.2} {eff:>10.3} {overhead_ms:>16.1}  {goal}",
            m.jobs, m.wall, m.compute
        );
        let per_job = |x: f64| x / m.jobs as f64 * 1e3;
        let p = m.phases;
        println!(
            "{:>7} per job, ms: lease {:.1}, inputs {:.1}, outputs {:.1}, report {:.1}; idle between jobs {:.1}",
            "",
            per_job(p.lease),
            per_job(p.inputs),
            per_job(p.outputs),
            per_job(p.report),
            per_job(capacity - p.lease - p.inputs - p.compute - p.outputs - p.report)
        );
    }
    if a.transfer_mib > 0 {
        let t = transfer::measure(&dir.path().join("transfer"), a.transfer_mib << 20, a.reps).await?;
        let mbps = |secs: f64| t.bytes as f64 / secs / 1e6;
        println!(
            "transfer: {} MiB artifact over loopback, median of {} repetitions",
            a.transfer_mib, a.reps
        );
        println!(
            "{:>26} {:>9} {:>8} {:>10}  goal (vs raw TCP)",
            "path", "MB/s", "vs TCP", "vs files"
        );
        let row = |name: &str, secs: f64| {
            format!(
                "{name:>26} {:>9.1} {:>7.2}x {:>9.2}x",
                mbps(secs),
                t.tcp / secs,
                t.tcp_files / secs
            )
        };
        println!("{}", row("raw TCP, memory to memory", t.tcp));
        println!("{}", row("raw TCP, file to file", t.tcp_files));
        println!("{}  (the check before BLAKE3)", row("SHA-256 alone", t.sha256));
        println!("{}  (the check on receipt)", row("BLAKE3 alone", t.blake3));
        for (name, secs) in [
            ("bulk upload", t.bulk.0),
            ("bulk download", t.bulk.1),
            ("gRPC upload", t.grpc.0),
            ("gRPC download", t.grpc.1),
        ] {
            let ok = name.starts_with("bulk").then(|| verdict(t.tcp / secs >= TRANSFER_GOAL));
            println!(
                "{}  {}",
                row(name, secs),
                ok.map_or(String::new(), |v| format!(">= {TRANSFER_GOAL}x {v}"))
            );
        }
    }
    Ok(())
}
