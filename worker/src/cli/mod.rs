//! The worker's command line: one-shot experiment subcommands, the single-machine matrix, and process set-up.
pub mod bench;
pub mod bench_exact;
pub mod benign;
pub mod benign_cmd;
pub mod explain;
pub mod forge_cmd;
pub mod matrix;
pub mod oneshot;
pub mod script_repro;
pub mod spawn;
pub mod torch_matrix;
pub mod torchrun;

use crate::error::{Result, WorkerError};
use crate::jobs::JobContext;
use clap::Args;
use forgebench_shared::profile::{ambient_profile, DeviceProfile};
use std::path::PathBuf;

/// Options every computing subcommand takes: which profile this process is, and where the data lives.
#[derive(Debug, Clone, Args)]
pub struct ProcessArgs {
    /// The profile as JSON (what spawners pass; the environment must already match it).
    #[arg(long, global = true, env = "FORGEBENCH_PROFILE_JSON", hide_env_values = true)]
    pub profile_json: Option<String>,
    /// Data root holding mnist/ and cifar10/ (default: the bundled subset in the repository's data/).
    #[arg(long, global = true, env = "FORGEBENCH_DATA")]
    pub data_dir: Option<PathBuf>,
}

impl ProcessArgs {
    /// Resolves and applies the profile, collects the fingerprint, and builds a job context writing to `work_dir`.
    /// Without a profile the process runs as "local", a CPU profile read from its own environment.
    pub fn context(&self, work_dir: PathBuf) -> Result<JobContext> {
        let profile = match &self.profile_json {
            Some(j) => {
                let p: DeviceProfile =
                    serde_json::from_str(j).map_err(|e| WorkerError::Invalid(format!("--profile-json: {e}")))?;
                crate::profile::apply(&p)?;
                p
            }
            None => {
                let p = ambient_profile("local", |k| std::env::var(k).ok());
                crate::profile::apply_in_process(&p)?;
                p
            }
        };
        // Before any kernel runs: a capability the CPU lacks is an illegal instruction, not an error message.
        if let Some(why) = forgebench_shared::host_cpu::problem_here(&profile) {
            return Err(WorkerError::Invalid(why));
        }
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(forgebench_shared::data::default_dir);
        Ok(JobContext {
            profile,
            fingerprint: crate::fingerprint::collect(),
            data_dir,
            work_dir,
        })
    }
}
