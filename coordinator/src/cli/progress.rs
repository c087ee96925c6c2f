//! Showing sweep status: plain text and JSON for `status`, and the live progress display of `up` (a bar with jobs
//! done, total and time left on a terminal; a line every few seconds otherwise, so logs stay readable).
use crate::ledger::SweepRow;
use forgebench_proto::v1 as pb;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// `status` as text.
pub fn status_text(s: &pb::StatusResponse) -> String {
    let mut out = String::new();
    for w in &s.sweeps {
        out += &format!(
            "sweep {} ({}): {}/{} done, {} running, {} pending, {} failed, {:.1} s of compute\n",
            w.sweep_id, w.name, w.done, w.total, w.leased, w.pending, w.failed, w.compute_seconds
        );
        for d in &w.devices {
            out += &format!("  device: {d}\n");
        }
        if !w.awaiting_devices.is_empty() {
            out += &format!("  waiting for devices: {}\n", w.awaiting_devices.join(", "));
        }
        for f in &w.failures {
            out += &format!("  failed: {f}\n");
        }
        if !w.slurm_jobs.is_empty() {
            out += &format!("  slurm jobs: {}\n", w.slurm_jobs.join(", "));
        }
    }
    if s.sweeps.is_empty() {
        out += "no sweeps\n";
    }
    for w in &s.workers {
        let job = w.running_job.as_deref().unwrap_or("idle");
        out += &format!(
            "worker {} [{}] {}: seen {:.1} s ago, {job}\n",
            w.worker_id,
            w.profile,
            w.hardware,
            w.last_seen_ms_ago as f64 / 1e3
        );
    }
    out
}

/// `status` as JSON.
pub fn status_json(s: &pb::StatusResponse) -> String {
    let sweeps: Vec<_> = s
        .sweeps
        .iter()
        .map(|w| {
            serde_json::json!({"sweep_id": w.sweep_id, "name": w.name, "total": w.total, "pending": w.pending,
                "leased": w.leased, "done": w.done, "failed": w.failed, "compute_seconds": w.compute_seconds,
                "failures": w.failures, "slurm_jobs": w.slurm_jobs, "devices": w.devices,
                "awaiting_devices": w.awaiting_devices})
        })
        .collect();
    let workers: Vec<_> = s
        .workers
        .iter()
        .map(|w| {
            serde_json::json!({"worker_id": w.worker_id, "profile": w.profile, "hardware": w.hardware,
                "last_seen_ms_ago": w.last_seen_ms_ago, "running_job": w.running_job})
        })
        .collect();
    serde_json::json!({ "sweeps": sweeps, "workers": workers }).to_string()
}

/// The live display of one sweep.
pub struct Live {
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl Live {
    /// A display for a sweep of `total` jobs.
    pub fn new(total: u32) -> Live {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} jobs, ~{eta} left {msg}",
            ) {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Live {
            bar,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    /// Shows `s`.
    pub fn update(&mut self, s: &SweepRow) {
        let finished = s.counts[2] + s.counts[3];
        let mut msg = format!("({} running, {} failed)", s.counts[1], s.counts[3]);
        if !s.awaiting.is_empty() {
            msg += &format!(", waiting for devices: {}", s.awaiting.join(", "));
        }
        if let Some(b) = &self.bar {
            b.set_length(s.total() as u64);
            b.set_position(finished as u64);
            b.set_message(msg);
        } else if self.last_line.elapsed() >= Duration::from_secs(5) || s.complete() {
            self.last_line = Instant::now();
            let el = self.started.elapsed().as_secs_f64();
            let left = if finished > 0 {
                format!("~{:.0} s left", el / finished as f64 * (s.total() - finished) as f64)
            } else {
                "time left unknown".into()
            };
            eprintln!("[{el:6.1} s] {finished}/{} jobs {msg}, {left}", s.total());
        }
    }

    /// Removes the bar.
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}
