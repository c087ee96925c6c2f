//! Command-line values over the `[slurm]` table: single values replace, lists (sbatch options, set-up lines)
//! extend, and the result is validated like the file.
use crate::error::Result;
use forgebench_shared::config::{GpusPerNode, SlurmConfig};
use std::path::PathBuf;

/// Command-line values that replace (or, for lists, extend) the `[slurm]` table.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SlurmFlags {
    /// `--partition` for the job.
    #[arg(long)]
    pub partition: Option<String>,
    /// `--account` for the job.
    #[arg(long)]
    pub account: Option<String>,
    /// Time limit in a Slurm format (e.g. 4:00:00 or 1-00:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// Nodes of the job.
    #[arg(long)]
    pub nodes: Option<u32>,
    /// CPUs of each worker task.
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// GPUs of each node (one worker task per GPU).
    #[arg(long)]
    pub gpus_per_node: Option<u32>,
    /// GRES type of the GPUs (e.g. a100).
    #[arg(long)]
    pub gpu_type: Option<String>,
    /// Memory per CPU (e.g. 4G).
    #[arg(long)]
    pub mem_per_cpu: Option<String>,
    /// A further sbatch option (repeatable), e.g. --sbatch-option=--qos=high.
    #[arg(long = "sbatch-option", allow_hyphen_values = true)]
    pub sbatch_options: Vec<String>,
    /// A shell line run before the workers start (repeatable), e.g. "module load cuda".
    #[arg(long = "setup")]
    pub setup: Vec<String>,
    /// Where Slurm writes the output of the job and its tasks.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
}

impl SlurmFlags {
    /// `base` (the config's table or the defaults) with these flags applied, validated.
    pub fn apply(&self, base: Option<&SlurmConfig>) -> Result<SlurmConfig> {
        let mut s = base.cloned().unwrap_or_default();
        let set = |dst: &mut Option<String>, v: &Option<String>| {
            if v.is_some() {
                dst.clone_from(v);
            }
        };
        set(&mut s.partition, &self.partition);
        set(&mut s.account, &self.account);
        set(&mut s.time_limit, &self.time);
        set(&mut s.gpu_type, &self.gpu_type);
        set(&mut s.mem_per_cpu, &self.mem_per_cpu);
        s.nodes = self.nodes.or(s.nodes);
        s.cpus_per_task = self.cpus_per_task.or(s.cpus_per_task);
        if let Some(n) = self.gpus_per_node {
            s.gpus_per_node = Some(GpusPerNode::Count(n));
        }
        if let Some(d) = &self.output_dir {
            s.output_dir = Some(d.clone());
        }
        s.sbatch_options.extend(self.sbatch_options.iter().cloned());
        s.setup.extend(self.setup.iter().cloned());
        s.validate()?;
        Ok(s)
    }
}
