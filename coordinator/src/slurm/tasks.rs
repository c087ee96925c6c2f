//! The worker tasks of a launch: every CPU profile `cpu_workers` times, then one task per GPU of the allocation
//! with the GPUs dealt round-robin over the GPU profiles.
use crate::error::{CoordError, Result};
use forgebench_shared::config::SlurmConfig;
use forgebench_shared::profile::{Device, DeviceProfile};

/// One worker task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The profile it runs.
    pub profile: String,
    /// Whether it gets one GPU of its own.
    pub gpu: bool,
    /// CPUs it gets.
    pub cpus: u32,
}

/// The worker tasks for `profiles`: CPU profiles `cpu_workers` each, then one task per GPU of the allocation,
/// the GPUs dealt round-robin over the GPU profiles.
pub fn plan_tasks(slurm: &SlurmConfig, profiles: &[DeviceProfile]) -> Result<Vec<Task>> {
    let cpus = |p: &DeviceProfile| slurm.cpus_per_task.unwrap_or(p.cpu.threads.unwrap_or(1));
    let mut tasks = Vec::new();
    for p in profiles.iter().filter(|p| !p.device.is_cuda()) {
        for _ in 0..slurm.cpu_workers {
            tasks.push(Task {
                profile: p.name.clone(),
                gpu: false,
                cpus: cpus(p),
            });
        }
    }
    let gpu: Vec<&DeviceProfile> = profiles.iter().filter(|p| p.device.is_cuda()).collect();
    if gpu.is_empty() {
        return Ok(tasks);
    }
    for p in &gpu {
        // Each task sees only the GPU Slurm gave it, as ordinal 0; a profile naming another device cannot run.
        if p.device != Device::CudaOrdinal(0) {
            return Err(CoordError::Invalid(format!(
                "profile {}: device {} cannot be placed by Slurm; each Slurm task sees only its own GPU, so GPU \
                 profiles launched through Slurm use device = \"cuda:0\"",
                p.name, p.device
            )));
        }
    }
    let per_node = slurm.gpus_per_node.as_ref().ok_or_else(|| {
        CoordError::Invalid(
            "slurm.gpus_per_node: the sweep selects GPU profiles; say how many GPUs each node has \
             (in [slurm] or with --gpus-per-node)"
                .into(),
        )
    })?;
    let slots = per_node.total(slurm.nodes.unwrap_or(1)) as usize;
    if slots < gpu.len() {
        return Err(CoordError::Invalid(format!(
            "{} GPU profiles but the job asks for {slots} GPUs: raise slurm.gpus_per_node or slurm.nodes",
            gpu.len()
        )));
    }
    for i in 0..slots {
        let p = gpu[i % gpu.len()];
        tasks.push(Task {
            profile: p.name.clone(),
            gpu: true,
            cpus: cpus(p),
        });
    }
    Ok(tasks)
}
