//! The coordinator's gRPC services over one cloneable handle: the state (ledger, settings, a wake-up signal for
//! long-polling workers) sits behind an `Arc`, and each handler validates, delegates and maps errors to a status.
mod control;
mod devices;
mod worker;

use crate::error::Result;
use crate::ledger::Ledger;
use crate::store::{Reservation, Reservations, StoreLimits};
use forgebench_shared::config::ClusterConfig;
use forgebench_shared::profile::DeviceProfile;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// What the services need from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a lease lasts without a heartbeat.
    pub lease: Duration,
    /// How often workers send heartbeats.
    pub heartbeat: Duration,
    /// Attempts per job.
    pub max_attempts: u32,
    /// Where artifact bytes are stored, by content id.
    pub artifacts_dir: PathBuf,
    /// The profiles sweeps expand over (besides those of registered workers).
    pub profiles: Vec<DeviceProfile>,
    /// Longest long-poll of a lease request.
    pub max_wait: Duration,
    /// The bulk channel's port (0: any free one); `None` keeps artifacts on gRPC.
    pub bulk_port: Option<u16>,
    /// What the artifact store accepts.
    pub store: StoreLimits,
    /// The dashboard's port (0: any free one); `None` serves no dashboard.
    pub dashboard_port: Option<u16>,
}

impl Settings {
    /// Settings of a validated cluster config; artifacts live beside the ledger.
    pub fn from_config(c: &ClusterConfig) -> Settings {
        let co = &c.coordinator;
        let dir = co.ledger.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        Settings {
            lease: Duration::from_secs_f64(co.lease_seconds),
            heartbeat: Duration::from_secs_f64(co.heartbeat_seconds),
            max_attempts: co.max_attempts,
            artifacts_dir: dir.join("artifacts"),
            profiles: c.profiles.clone(),
            max_wait: Duration::from_secs(10),
            bulk_port: co.bulk_transfer.then_some(co.bulk_port),
            dashboard_port: co.dashboard.then_some(co.dashboard_port),
            store: StoreLimits {
                max_artifact_bytes: co.max_artifact_bytes,
                quota_bytes: co.store_quota_bytes,
                min_free_bytes: co.min_free_disk_bytes,
            },
        }
    }
}

struct Inner {
    ledger: Ledger,
    settings: Settings,
    /// Signalled whenever a job may have become ready (submission, completion, requeue).
    changed: Notify,
    /// The port the bulk channel listens on, once it does.
    bulk_bound: std::sync::OnceLock<u16>,
    /// Bytes of uploads in flight.
    reservations: Reservations,
}

/// The coordinator: cheap to clone, one per server.
#[derive(Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

impl Coordinator {
    /// A coordinator over `ledger`.
    pub fn new(ledger: Ledger, settings: Settings) -> Coordinator {
        Coordinator {
            inner: Arc::new(Inner {
                ledger,
                settings,
                changed: Notify::new(),
                bulk_bound: std::sync::OnceLock::new(),
                reservations: Reservations::default(),
            }),
        }
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Records the port the bulk channel listens on; registration then advertises it.
    pub fn set_bulk_port(&self, port: u16) {
        let _ = self.inner.bulk_bound.set(port);
    }

    /// The advertised bulk port, 0 when there is no bulk channel.
    pub fn bulk_port(&self) -> u16 {
        self.inner.bulk_bound.get().copied().unwrap_or(0)
    }

    /// Admits an upload of `size` bytes into the store (RESOURCE_EXHAUSTED past a limit); keep the reservation
    /// until the bytes are stored or refused.
    pub fn admit_upload(&self, size: u64) -> Result<Reservation> {
        let s = &self.inner.settings;
        self.inner
            .reservations
            .admit(&s.store, &self.inner.ledger, &s.artifacts_dir, size)
    }

    fn wake(&self) {
        self.inner.changed.notify_waiters();
    }

    /// Every profile a sweep may cover: the configured ones, then those of workers that joined with another.
    pub fn known_profiles(&self) -> Result<Vec<DeviceProfile>> {
        let mut out = self.inner.settings.profiles.clone();
        for w in self.inner.ledger.workers()? {
            if !out.iter().any(|p| p.name == w.profile.name) {
                out.push(w.profile);
            }
        }
        Ok(out)
    }

    /// Expires overdue leases every so often until `shutdown` resolves, waking waiting workers when jobs return.
    pub async fn reap_leases(self, shutdown: impl std::future::Future<Output = ()>) {
        let period = (self.inner.settings.lease / 4).clamp(Duration::from_millis(50), Duration::from_secs(2));
        let mut tick = tokio::time::interval(period);
        match self
            .inner
            .ledger
            .restore_leases(self.inner.settings.lease.as_millis() as i64)
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(leases = n, "restored running leases with a grace period of one lease"),
            Err(e) => tracing::error!(error = %e, "restoring leases"),
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tick.tick() => match self.inner.ledger.expire_leases() {
                    Ok(0) => {}
                    Ok(_) => self.wake(),
                    Err(e) => tracing::error!(error = %e, "expiring leases"),
                },
            }
        }
    }
}
