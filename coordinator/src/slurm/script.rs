//! The sbatch script, rendered by a pure function: one job whose `srun` steps are the workers, one per CPU
//! profile (times `cpu_workers`) and one per GPU for GPU profiles.
//!
//! Each step runs `forgebench worker --config C --profile P --coordinator A --token-file F` under `env` with the
//! profile's exact environment, so the script shows what every worker gets. The token is only ever read from the
//! private file `F`; neither the script nor any command line holds it.
use super::tasks::plan_tasks;
use crate::error::{CoordError, Result};
use forgebench_shared::config::{GpusPerNode, SlurmConfig};
use forgebench_shared::profile::DeviceProfile;
use std::fmt::Write;
use std::path::Path;

/// Everything the script depends on (paths absolute: the tasks run on other machines).
#[derive(Debug, Clone)]
pub struct ScriptSpec<'a> {
    /// The effective `[slurm]` settings.
    pub slurm: &'a SlurmConfig,
    /// The profiles the sweep selected.
    pub profiles: &'a [DeviceProfile],
    /// Names the job (`forgebench-<label>`), usually the sweep's name.
    pub label: &'a str,
    /// The `forgebench` executable, as the compute nodes see it.
    pub forgebench: &'a Path,
    /// `cluster.toml`, where the workers read their profile.
    pub config: &'a Path,
    /// The coordinator's address as the compute nodes reach it.
    pub coordinator: &'a str,
    /// The private (mode 600) file holding the token.
    pub token_file: &'a Path,
    /// The variable that would override the token file; unset so the file is what counts.
    pub token_env: &'a str,
    /// Where Slurm writes the job's and the tasks' output.
    pub output_dir: &'a Path,
    /// Each task works in `<work_dir>/<slurm job>/<task>-<profile>`.
    pub work_dir: &'a Path,
    /// The job's working directory.
    pub workdir: &'a Path,
}

/// Quotes `s` for a POSIX shell.
pub(crate) fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c)) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn path_str<'p>(what: &str, p: &'p Path) -> Result<&'p str> {
    let s = p
        .to_str()
        .ok_or_else(|| CoordError::Invalid(format!("{what} {} is not UTF-8", p.display())))?;
    if !p.is_absolute() || s.contains(['\n', '\r']) {
        return Err(CoordError::Invalid(format!(
            "{what} {s:?} must be an absolute path on one line"
        )));
    }
    Ok(s)
}

/// Translates the GPU index Slurm put in CUDA_VISIBLE_DEVICES into the GPU's UUID, so the worker and its
/// fingerprint name the exact device; inside the step's device cgroup the allocated GPU is the only one listed.
const PIN_GPU: &str = r#"FB_PIN_GPU='if [ -z "${CUDA_VISIBLE_DEVICES:-}" ]; then
  echo "forgebench: Slurm gave this GPU task no GPU (CUDA_VISIBLE_DEVICES is empty); check gres.conf" >&2; exit 1
fi
u=$(nvidia-smi --query-gpu=uuid --format=csv,noheader -i "${CUDA_VISIBLE_DEVICES%%,*}" 2>/dev/null | head -n 1)
case "$u" in
  GPU-*) export CUDA_VISIBLE_DEVICES="$u" ;;
  *) echo "forgebench: no UUID for GPU $CUDA_VISIBLE_DEVICES from nvidia-smi; keeping the index" >&2 ;;
esac
echo "forgebench task ${SLURM_PROCID:-?} on $(hostname): CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES" >&2
exec "$@"'
"#;

/// Renders the sbatch script.
pub fn render(spec: &ScriptSpec<'_>) -> Result<String> {
    let s = spec.slurm;
    s.validate()?;
    for p in spec.profiles {
        p.validate()?;
    }
    let tasks = plan_tasks(s, spec.profiles)?;
    if tasks.is_empty() {
        return Err(CoordError::Invalid(
            "the sweep selects no profile: no worker to launch".into(),
        ));
    }
    let label: String = spec
        .label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if spec.coordinator.is_empty() || spec.coordinator.contains(char::is_whitespace) {
        return Err(CoordError::Invalid(format!(
            "coordinator address {:?}",
            spec.coordinator
        )));
    }
    let (exe, config, token, out, work, workdir) = (
        path_str("forgebench executable", spec.forgebench)?,
        path_str("config", spec.config)?,
        path_str("token file", spec.token_file)?,
        path_str("output directory", spec.output_dir)?,
        path_str("work directory", spec.work_dir)?,
        path_str("working directory", spec.workdir)?,
    );
    let any_gpu = tasks.iter().any(|t| t.gpu);
    let gres = |n: u32| match &s.gpu_type {
        Some(t) => format!("gpu:{t}:{n}"),
        None => format!("gpu:{n}"),
    };
    let mut h = vec![format!("--job-name=forgebench-{label}")];
    let mut opt = |name: &str, v: &Option<String>| {
        if let Some(v) = v {
            h.push(format!("--{name}={v}"));
        }
    };
    opt("partition", &s.partition);
    opt("account", &s.account);
    opt("time", &s.time_limit);
    opt("mem-per-cpu", &s.mem_per_cpu);
    match (&s.gpus_per_node, any_gpu) {
        (Some(GpusPerNode::PerNode(m)), true) => {
            let nodes: Vec<&str> = m.keys().map(String::as_str).collect();
            h.push(format!("--nodes={}", nodes.len()));
            h.push(format!("--nodelist={}", nodes.join(",")));
            h.push(format!("--gpus={}", gres(m.values().sum()).trim_start_matches("gpu:")));
        }
        (Some(GpusPerNode::Count(n)), true) => {
            h.push(format!("--nodes={}", s.nodes.unwrap_or(1)));
            h.push(format!("--gres={}", gres(*n)));
        }
        _ => {
            if let Some(n) = s.nodes {
                h.push(format!("--nodes={n}"));
            }
        }
    }
    let max_cpus = tasks.iter().map(|t| t.cpus).max().unwrap_or(1);
    h.push(format!("--ntasks={}", tasks.len()));
    h.push(format!("--cpus-per-task={max_cpus}"));
    h.push(format!("--output={out}/forgebench-%j.out"));
    h.push(format!("--chdir={workdir}"));
    h.extend(s.sbatch_options.iter().cloned());

    let mut o = String::from("#!/bin/bash\n");
    let _ = writeln!(
        o,
        "# forgebench workers ({label}): {} srun tasks, one per worker.",
        tasks.len()
    );
    o.push_str("# Generated by `forgebench slurm launch`; the cluster token is not in this file.\n");
    for line in &h {
        let _ = writeln!(o, "#SBATCH {line}");
    }
    o.push_str("\nset -u\n");
    if !s.setup.is_empty() {
        o.push_str("# site set-up ([slurm] setup)\n");
        for line in &s.setup {
            let _ = writeln!(o, "{line}");
        }
    }
    let _ = writeln!(
        o,
        "\n# The workers read the token from this private file (mode 600) only."
    );
    let _ = writeln!(o, "unset {}", quote(spec.token_env));
    let _ = writeln!(o, "TOKEN_FILE={}", quote(token));
    let _ = writeln!(o, "FORGEBENCH={}", quote(exe));
    let _ = writeln!(o, "CONFIG={}", quote(config));
    let _ = writeln!(o, "COORDINATOR={}", quote(spec.coordinator));
    let _ = writeln!(o, "WORK_DIR={}/\"$SLURM_JOB_ID\"", quote(work));
    if any_gpu {
        o.push_str(PIN_GPU);
    }
    o.push_str("echo \"forgebench: job $SLURM_JOB_ID on $SLURM_JOB_NODELIST\" >&2\n");
    for (i, t) in tasks.iter().enumerate() {
        let p = spec
            .profiles
            .iter()
            .find(|p| p.name == t.profile)
            .ok_or_else(|| CoordError::Invalid(format!("task {i}: profile {} vanished", t.profile)))?;
        let _ = writeln!(o, "\n# task {i}: profile {} ({})", p.name, p.label());
        let mut srun = format!("srun --nodes=1 --ntasks=1 --exact --cpus-per-task={}", t.cpus);
        if let Some(m) = &s.mem_per_cpu {
            let _ = write!(srun, " --mem-per-cpu={m}");
        }
        if t.gpu {
            let _ = write!(srun, " --gres={}", gres(1));
        } else if any_gpu {
            // Without this a CPU step may be handed the job's GPUs and keep GPU steps waiting.
            srun.push_str(" --gres=none");
        }
        let _ = write!(
            srun,
            " --output={}",
            quote(&format!("{out}/forgebench-%j-{i}-{}.out", p.name))
        );
        // env takes its -u options before the assignments.
        let vars = p.env();
        let mut env = String::from("env -u FORGEBENCH_PROFILE_JSON");
        for (k, _) in vars.iter().filter(|(_, v)| v.is_none()) {
            let _ = write!(env, " -u {}", quote(k));
        }
        for (k, v) in vars.iter().filter_map(|(k, v)| Some((k, v.as_ref()?))) {
            let _ = write!(env, " {}", quote(&format!("{k}={v}")));
        }
        let pin = if t.gpu {
            "bash -c \"$FB_PIN_GPU\" forgebench-pin-gpu "
        } else {
            ""
        };
        // Names carry the Slurm job and task, so workers on different nodes never share a name (or an id).
        let name = quote(&p.name);
        let _ = writeln!(
            o,
            "{srun} \\\n  {env} \\\n  {pin}\"$FORGEBENCH\" worker --config \"$CONFIG\" --profile {name} \\\n  \
             --coordinator \"$COORDINATOR\" --token-file \"$TOKEN_FILE\" \\\n  \
             --name {name}@slurm-\"$SLURM_JOB_ID\".{i} --work-dir \"$WORK_DIR\"/{i}-{name} &"
        );
    }
    o.push_str("\nwait\necho \"forgebench: every worker task of job $SLURM_JOB_ID ended\" >&2\n");
    Ok(o)
}
