//! Progress on long work: a throttled one-line report on stderr ("write-log: 40/100, 12.1 s, about 18 s left").
use std::time::{Duration, Instant};

/// Reports `done/total` at most once per interval, and always at the end.
pub struct Progress {
    what: String,
    total: usize,
    started: Instant,
    last: Option<Instant>,
    every: Duration,
}

impl Progress {
    /// A reporter for `total` units of `what`.
    pub fn new(what: impl Into<String>, total: usize) -> Self {
        Progress {
            what: what.into(),
            total,
            started: Instant::now(),
            last: None,
            every: Duration::from_secs(2),
        }
    }

    /// Records that `done` units are finished.
    pub fn update(&mut self, done: usize) {
        let now = Instant::now();
        let due = self.last.is_none_or(|t| now.duration_since(t) >= self.every);
        if done < self.total && !due {
            return;
        }
        self.last = Some(now);
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let left = if done > 0 {
            elapsed / done as f64 * (self.total - done.min(self.total)) as f64
        } else {
            0.0
        };
        eprintln!(
            "{}: {done}/{}, {elapsed:.1} s, about {left:.0} s left",
            self.what, self.total
        );
    }
}
