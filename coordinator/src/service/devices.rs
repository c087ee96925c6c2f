//! Sweeps over devices: a submitted sweep takes the live devices of its profiles, and a device that registers
//! while a sweep of its profile runs joins it, with its own jobs and its own row and column.
use super::Coordinator;
use crate::error::{CoordError, Result};
use crate::ledger::{now_ms, SweepRecord};
use crate::plan::{expand, sweep_identity};
use forgebench_shared::config::SweepConfig;
use forgebench_shared::ids::{DeviceId, SweepId};
use forgebench_shared::profile::DeviceProfile;

impl Coordinator {
    /// Expands and records a sweep (idempotent) over the live devices of its profiles; returns its id, the jobs
    /// planned so far and whether it already existed. Devices that register later join it ([`Coordinator::join`]).
    pub fn submit(&self, cfg: &SweepConfig) -> Result<(SweepId, usize, bool)> {
        cfg.validate()?;
        let workers = self.ledger().workers()?;
        let gpu_names = |p: &DeviceProfile| -> Vec<String> {
            workers
                .iter()
                .filter(|w| w.profile.name == p.name)
                .flat_map(|w| w.fingerprint.gpus.iter().map(|g| g.name.clone()))
                .collect()
        };
        let profiles = cfg.devices.select(&self.known_profiles()?, gpu_names)?;
        if let Some(p) = cfg
            .expect_devices
            .keys()
            .find(|k| !profiles.iter().any(|p| &p.name == *k))
        {
            let selected: Vec<_> = profiles.iter().map(|p| p.name.as_str()).collect();
            return Err(CoordError::Invalid(format!(
                "sweep.{}.expect_devices.{p}: the sweep does not select that profile (it selects {})",
                cfg.name,
                selected.join(", ")
            )));
        }
        let (id, fp) = sweep_identity(cfg, &profiles);
        let text = toml::to_string(cfg).map_err(|e| CoordError::Invalid(format!("sweep to TOML: {e}")))?;
        let rec = SweepRecord {
            id: &id,
            name: &cfg.name,
            fingerprint: &fp,
            config_toml: &text,
            profiles: &profiles,
        };
        let existed = self.ledger().insert_sweep(rec)?;
        if !existed {
            // Live: a worker heard from within two leases. A device whose workers are gone would hold the sweep.
            let since = now_ms() - 2 * self.settings().lease.as_millis() as i64;
            for d in self.ledger().live_devices(since)? {
                if profiles.iter().any(|p| p.name == d.profile.name) {
                    self.ledger().attach_device(&id, &d.id)?;
                }
            }
            self.plan_jobs(&id)?;
        }
        let jobs = self.ledger().sweep_status(&id)?.total() as usize;
        tracing::info!(sweep = %id, jobs, existed, "sweep submitted");
        self.wake();
        Ok((id, jobs, existed))
    }

    /// Adds the jobs of `sweep`'s devices that are not planned yet; returns how many.
    fn plan_jobs(&self, sweep: &SweepId) -> Result<usize> {
        let (cfg, profiles) = self.ledger().sweep_config(sweep)?;
        let devices = self.ledger().sweep_devices(sweep)?;
        let jobs = expand(sweep, &cfg, &profiles, &devices);
        self.ledger().add_jobs(sweep, &jobs, self.settings().max_attempts)
    }

    /// Lets `device` join every sweep of its profile that is not complete (running, or waiting for devices).
    pub fn join(&self, device: &DeviceId) -> Result<()> {
        let d = self.ledger().device(device)?;
        for sweep in self.ledger().sweep_ids()? {
            let (_, profiles) = self.ledger().sweep_config(&sweep)?;
            if !profiles.iter().any(|p| p.name == d.profile.name) || self.ledger().sweep_status(&sweep)?.complete() {
                continue;
            }
            if self.ledger().attach_device(&sweep, device)? {
                let jobs = self.plan_jobs(&sweep)?;
                tracing::info!(sweep = %sweep, device = %d.key, jobs, "device joined the sweep");
                self.wake();
            }
        }
        Ok(())
    }
}
