//! The Slurm watcher inside a running coordinator: when `cluster.toml` has a `[slurm]` table, a thread follows the
//! ledger's Slurm jobs (resubmitting ones that ended while their sweep has work, cancelling them when it is done).
use crate::service::Coordinator;
use crate::slurm::{poll_all, SlurmCli, WatchPolicy};
use forgebench_shared::config::ClusterConfig;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running watcher; stops when dropped.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts the watcher when the config has a `[slurm]` table. It shells out to Slurm's commands, so it runs on its
/// own thread, never on the async reactor.
pub fn start(cfg: &ClusterConfig, coord: &Coordinator) -> Option<Watcher> {
    let slurm = cfg.slurm.clone()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, coord) = (stop.clone(), coord.clone());
    let period = Duration::from_secs_f64(slurm.poll_seconds);
    let thread = std::thread::spawn(move || {
        let (cli, policy) = (SlurmCli::new(), WatchPolicy::from(&slurm));
        while !flag.load(Ordering::Relaxed) {
            match poll_all(coord.ledger(), &cli, policy) {
                Ok(events) => events.iter().for_each(|e| tracing::info!(event = %e, "slurm")),
                Err(e) => tracing::warn!(error = %e, "slurm watcher"),
            }
            let until = Instant::now() + period;
            while Instant::now() < until && !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    Some(Watcher {
        stop,
        thread: Some(thread),
    })
}

impl Watcher {
    /// One last look (so a sweep that just completed gets its Slurm jobs cancelled), then stops.
    pub fn finish(self, coord: &Coordinator, cfg: &ClusterConfig) {
        if let Some(slurm) = &cfg.slurm {
            if let Err(e) = poll_all(coord.ledger(), &SlurmCli::new(), WatchPolicy::from(slurm)) {
                tracing::warn!(error = %e, "slurm watcher");
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
