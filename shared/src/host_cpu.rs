//! What this machine's CPU can run. ATen dispatches to the kernels `ATEN_CPU_CAPABILITY` names without checking
//! that the CPU has them (libtorch 2.13 reports "CPU capability usage: AVX512" on an AVX2-only CPU, then dies of
//! SIGILL at its first kernel), so a profile is checked against the host before a worker of it computes anything,
//! and the built-in profile set is the one the host runs.
use crate::profile::DeviceProfile;

/// The host CPU, as `/proc/cpuinfo` describes its first processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCpu {
    /// `model name`.
    pub model: String,
    /// `flags`, as the kernel names them (avx2, fma, avx512f, ...).
    pub flags: Vec<String>,
}

/// The CPU flags ATen's kernels of `capability` execute (x86-64; other capabilities are not checked).
fn aten_flags(capability: &str) -> &'static [&'static str] {
    match capability {
        "avx512" => &["avx512f", "avx512bw", "avx512vl", "avx512dq"],
        "avx2" => &["avx2", "fma"],
        _ => &[],
    }
}

impl HostCpu {
    /// This machine's CPU; None where `/proc/cpuinfo` is unreadable or describes no x86 processor (nothing is
    /// checked there).
    pub fn read() -> Option<HostCpu> {
        HostCpu::parse(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
    }

    /// Parses `/proc/cpuinfo` text.
    pub fn parse(text: &str) -> Option<HostCpu> {
        let field = |name: &str| cpuinfo_field(text, name);
        let flags: Vec<String> = field("flags")?.split_whitespace().map(str::to_owned).collect();
        Some(HostCpu {
            model: field("model name").unwrap_or_else(|| "unknown CPU".into()),
            flags,
        })
    }

    /// Whether the CPU has every flag ATen's `capability` kernels need.
    pub fn runs_capability(&self, capability: &str) -> bool {
        aten_flags(capability).iter().all(|f| self.flags.iter().any(|x| x == f))
    }

    /// Why a worker of `p` cannot compute here, if it cannot.
    pub fn problem_with(&self, p: &DeviceProfile) -> Option<String> {
        let cap = p.cpu.aten_cpu_capability.as_deref()?;
        let missing: Vec<&str> = aten_flags(cap)
            .iter()
            .copied()
            .filter(|f| !self.flags.iter().any(|x| x == f))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "profile {} sets ATEN_CPU_CAPABILITY={cap}, but this CPU ({}) lacks {}: ATen would run {cap} kernels \
                 and die of an illegal instruction. Run it on a machine that has them, or use a profile this CPU \
                 runs ({})",
                p.name,
                self.model,
                missing.join(", "),
                crate::profile::default_cpu_profiles_for(Some(self))
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

/// The value of the first `name : value` line of `/proc/cpuinfo` text (its first processor's).
pub fn cpuinfo_field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// Why `p` cannot run on this machine, if it cannot (None where the CPU cannot be read).
pub fn problem_here(p: &DeviceProfile) -> Option<String> {
    HostCpu::read()?.problem_with(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AVX2_ONLY: &str = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx fma avx2 bmi2\n";

    #[test]
    fn an_avx512_profile_is_refused_on_an_avx2_cpu_naming_what_is_missing() {
        let host = HostCpu::parse(AVX2_ONLY).expect("x86 cpuinfo");
        assert_eq!(host.model, "AMD EPYC");
        let all = crate::profile::builtin_cpu_profiles();
        let avx512 = all.iter().find(|p| p.name == "cpu-avx512").expect("built in");
        let why = host.problem_with(avx512).expect("refused");
        assert!(
            why.contains("avx512f") && why.contains("AMD EPYC") && why.contains("cpu-compat"),
            "{why}"
        );
        for p in crate::profile::default_cpu_profiles_for(Some(&host)) {
            assert_eq!(host.problem_with(&p), None, "{}", p.name);
        }
        let names: Vec<_> = crate::profile::default_cpu_profiles_for(Some(&host))
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["cpu-compat", "cpu-avx2", "cpu-default"]);
        let avx512_host = HostCpu::parse(&AVX2_ONLY.replace("avx2", "avx2 avx512f avx512bw avx512vl avx512dq"));
        let names: Vec<_> = crate::profile::default_cpu_profiles_for(avx512_host.as_ref())
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["cpu-avx512", "cpu-avx2", "cpu-default"]);
        assert_eq!(
            HostCpu::parse("processor : 0\n"),
            None,
            "no flags line: nothing to check"
        );
    }
}
