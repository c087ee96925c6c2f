//! Property tests of the `cluster.toml` and sweep-file parsers on damaged copies of the checked-in `cluster.toml`:
//! truncations, bit flips, random garbage, garbage appended, valid prefixes followed by garbage, and single values
//! replaced by random TOML values.
//!
//! Parsing never panics; an error names the file (TOML and I/O errors) or the field (validation errors, keyed from
//! a table of the file); a value replaced by one of the wrong type is named by its key; and every configuration that
//! validates is usable downstream: its durations convert to `Duration` and its Slurm GPU count fits a `u32`.
use forgebench_shared::config::{ClusterConfig, GpusPerNode, Overrides, SweepConfig};
use forgebench_shared::SharedError;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::Path;
use std::time::Duration;

const CHECKED_IN: &str = include_str!("../../cluster.toml");
const CASES: u32 = 256;
/// A `[slurm]` table using every key, appended to the checked-in file (which has none).
const SLURM: &str = "
[slurm]
partition = \"gpu,debug\"
account = \"lab\"
time_limit = \"1-02:00:00\"
nodes = 2
cpus_per_task = 2
mem_per_cpu = \"4G\"
gpus_per_node = { node01 = 4, node02 = 2 }
gpu_type = \"a100\"
cpu_workers = 1
output_dir = \"runs/slurm\"
setup = [\"module load cuda/12.4\"]
sbatch_options = [\"--qos=high\"]
resubmit_limit = 3
poll_seconds = 30.0
";

/// The last `[[sweep]]` table of `cluster.toml` (attacks-small), as a sweep file: its keys at top level.
fn sweep_file() -> &'static str {
    CHECKED_IN.rsplit("[[sweep]]").next().expect("cluster.toml has a sweep")
}

/// Tables whose keys validation errors name (`coordinator.lease_seconds`, `sweep.<name>.eta`, ...).
const ROOTS: [&str; 5] = ["coordinator.", "profile.", "sweep.", "slurm.", "default_sweep"];

/// Checks that `err`, from parsing `path`, names the file or a field of it; returns its message.
fn names_file_or_field(err: &SharedError, path: &Path) -> Result<String, TestCaseError> {
    let msg = err.to_string();
    let file = path.display().to_string();
    match err {
        SharedError::Toml { .. } | SharedError::Io { .. } => {
            prop_assert!(msg.contains(&file), "{msg:?} does not name {file:?}")
        }
        SharedError::Config { key, .. } => {
            prop_assert!(
                ROOTS.iter().any(|r| key.starts_with(r)),
                "{msg:?}: {key:?} is not a field"
            );
            prop_assert!(msg.contains(key.as_str()), "{msg:?} does not name {key:?}");
        }
        other => prop_assert!(false, "{other:?} names neither {file:?} nor a field"),
    }
    Ok(msg)
}

/// Checks what code downstream of validation relies on: durations that convert, a GPU total that fits.
fn usable(c: &ClusterConfig) -> Result<(), TestCaseError> {
    let co = &c.coordinator;
    let slurm_poll = c.slurm.as_ref().map(|s| s.poll_seconds);
    // Lease and heartbeat travel to workers as u32 milliseconds; the Slurm poll period only becomes a Duration.
    for (key, s, max_ms) in [
        ("lease_seconds", Some(co.lease_seconds), u128::from(u32::MAX)),
        ("heartbeat_seconds", Some(co.heartbeat_seconds), u128::from(u32::MAX)),
        ("slurm.poll_seconds", slurm_poll, u128::MAX),
    ] {
        if let Some(s) = s {
            let ms = Duration::try_from_secs_f64(s).map(|d| d.as_millis());
            prop_assert!(
                ms.as_ref().is_ok_and(|&ms| ms <= max_ms),
                "{key} = {s} validated but is {ms:?} ms, limit {max_ms}"
            );
        }
    }
    if let Some(s) = &c.slurm {
        let total = match &s.gpus_per_node {
            Some(GpusPerNode::Count(n)) => n.checked_mul(s.nodes.unwrap_or(1)),
            Some(GpusPerNode::PerNode(m)) => m.values().try_fold(0u32, |a, &n| a.checked_add(n)),
            None => Some(0),
        };
        prop_assert!(
            total.is_some(),
            "slurm GPUs {:?} x nodes {:?} overflow u32",
            s.gpus_per_node,
            s.nodes
        );
    }
    Ok(())
}

/// Parses `bytes` as the file `cluster.toml` in a temp dir: checks the error or the accepted configuration.
fn load_cluster(bytes: &[u8]) -> Result<Result<ClusterConfig, String>, TestCaseError> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("cluster.toml");
    std::fs::write(&path, bytes).expect("write");
    match ClusterConfig::load(&path, &Overrides::default()) {
        Ok(c) => usable(&c).map(|()| Ok(c)),
        Err(e) => names_file_or_field(&e, &path).map(Err),
    }
}

/// Parses `bytes` as the sweep file `sweep.toml` in a temp dir: checks the error.
fn load_sweep(bytes: &[u8]) -> Result<Result<SweepConfig, String>, TestCaseError> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("sweep.toml");
    std::fs::write(&path, bytes).expect("write");
    match SweepConfig::load(&path) {
        Ok(s) => Ok(Ok(s)),
        Err(e) => names_file_or_field(&e, &path).map(Err),
    }
}

/// One way of damaging a text file's bytes.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(Index),
    /// (byte, bit) pairs; the bytes may become invalid UTF-8.
    Flip(Vec<(Index, u8)>),
    Append(Vec<u8>),
    Garbage(Vec<u8>),
    PrefixGarbage(Index, Vec<u8>),
}

impl Damage {
    fn apply(&self, b: &[u8]) -> Vec<u8> {
        match self {
            Damage::Truncate(cut) => b[..cut.index(b.len())].to_vec(),
            Damage::Flip(flips) => {
                let mut out = b.to_vec();
                flips.iter().for_each(|&(i, bit)| out[i.index(b.len())] ^= 1 << bit);
                out
            }
            Damage::Append(tail) => [b, tail].concat(),
            Damage::Garbage(g) => g.clone(),
            Damage::PrefixGarbage(cut, tail) => [&b[..cut.index(b.len() + 1)], tail].concat(),
        }
    }
}

/// Garbage: random bytes, or random printable text that looks more like TOML.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..200),
        "[a-z_\\[\\]{}=\".,0-9 \n#-]{0,200}".prop_map(String::into_bytes),
    ]
}

fn damage() -> impl Strategy<Value = Damage> {
    let flips = |n: std::ops::RangeInclusive<usize>| vec((any::<Index>(), 0u8..8), n).prop_map(Damage::Flip);
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        flips(1..=1),
        flips(2..=8),
        garbage()
            .prop_filter("non-empty", |g| !g.is_empty())
            .prop_map(Damage::Append),
        garbage().prop_map(Damage::Garbage),
        (any::<Index>(), garbage()).prop_map(|(cut, g)| Damage::PrefixGarbage(cut, g)),
    ]
}

/// A random TOML value: numbers at and past the edges of the fields' types, special floats, strings, booleans,
/// arrays and inline tables.
fn toml_value() -> impl Strategy<Value = String> {
    const EDGE: [&str; 27] = [
        "0",
        "1",
        "-1",
        "65536",
        "4294967295",
        "4294967296",
        "9223372036854775807",
        "0.0",
        "-0.0",
        "1e-300",
        "1e300",
        "1.7976931348623157e308",
        "nan",
        "inf",
        "-inf",
        "2.5",
        "true",
        "false",
        "\"\"",
        "\"all\"",
        "\"cpu\"",
        "\"cuda:0\"",
        "\"logreg\"",
        "\"mnist\"",
        "\"reproduction\"",
        "\"127.0.0.1:0\"",
        "\"a\\nb\"",
    ];
    let leaf = prop_oneof![
        proptest::sample::select(&EDGE[..]).prop_map(String::from),
        any::<i64>().prop_map(|i| i.to_string()),
        (0u32..100).prop_map(|i| i.to_string()),
        "[a-zA-Z0-9 ._:,;/-]{0,12}".prop_map(|s| format!("\"{s}\"")),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            vec(("[a-z]{1,6}", inner), 0..3).prop_map(|kv| {
                let body: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", body.join(", "))
            }),
        ]
    })
}

/// The `key = value` lines of `text` (not comments): their line numbers and keys.
fn assignments(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .filter_map(|(i, l)| l.split_once(" = ").map(|(k, _)| (i, k.trim())))
        .collect()
}

/// `text` with line `line`'s value replaced by `value`.
fn replace_value(text: &str, line: usize, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let key = lines[line].split_once(" = ").expect("an assignment").0.to_owned();
    lines[line] = format!("{key} = {value}");
    lines.join("\n") + "\n"
}

/// Checks the outcome of a replaced value: a TOML error (wrong type, bad literal) names the key, as its line is
/// quoted; the file and field naming of every error is checked on the way.
fn check_replaced(out: Result<(), String>, key: &str) -> Result<(), TestCaseError> {
    if let Err(msg) = out {
        if msg.contains("TOML parse error") {
            prop_assert!(msg.contains(key), "{msg:?} does not name the replaced key {key:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Any damage to `cluster.toml` (with a `[slurm]` table) parses or names the file or a field.
    #[test]
    fn damaged_cluster_toml(d in damage()) {
        let _ = load_cluster(&d.apply(format!("{CHECKED_IN}{SLURM}").as_bytes()))?;
    }

    /// Garbage alone is never a configuration: `[coordinator]` is required.
    #[test]
    fn garbage_is_no_cluster_toml(g in garbage()) {
        prop_assert!(load_cluster(&g)?.is_err(), "garbage {:?} parsed", String::from_utf8_lossy(&g));
    }

    /// Any damage to a sweep file parses or names the file or a field.
    #[test]
    fn damaged_sweep_file(d in damage()) {
        let _ = load_sweep(&d.apply(sweep_file().as_bytes()))?;
    }

    /// One value of `cluster.toml` (with a `[slurm]` table) replaced by a random TOML value.
    #[test]
    fn replaced_cluster_value(at in any::<Index>(), value in toml_value()) {
        let text = format!("{CHECKED_IN}{SLURM}");
        let lines = assignments(&text);
        let (line, key) = lines[at.index(lines.len())];
        let out = load_cluster(replace_value(&text, line, &value).as_bytes())?;
        check_replaced(out.map(drop), key)?;
    }

    /// One value of a sweep file replaced by a random TOML value.
    #[test]
    fn replaced_sweep_value(at in any::<Index>(), value in toml_value()) {
        let lines = assignments(sweep_file());
        let (line, key) = lines[at.index(lines.len())];
        let out = load_sweep(replace_value(sweep_file(), line, &value).as_bytes())?;
        check_replaced(out.map(drop), key)?;
    }

    /// Timing values anywhere in `f64`: accepted only when they make a `Duration`.
    #[test]
    fn timing_values(
        lease in prop_oneof![any::<f64>(), 1e6f64..1e30, Just(f64::MAX)],
        beat in prop_oneof![any::<f64>(), 0.0f64..10.0],
        poll in prop_oneof![any::<f64>(), 1e6f64..1e30, Just(f64::MAX)],
    ) {
        let fmt = |v: f64| if v.is_nan() { "nan".to_owned() } else if v.is_infinite() {
            if v > 0.0 { "inf".to_owned() } else { "-inf".to_owned() }
        } else { format!("{v:e}") };
        let text = format!("{CHECKED_IN}{SLURM}")
            .replace("lease_seconds = 30.0", &format!("lease_seconds = {}", fmt(lease)))
            .replace("heartbeat_seconds = 3.0", &format!("heartbeat_seconds = {}", fmt(beat)))
            .replace("poll_seconds = 30.0", &format!("poll_seconds = {}", fmt(poll)));
        let _ = load_cluster(text.as_bytes())?;
    }

    /// Slurm node and GPU counts anywhere in `u32`: accepted only when the job's GPU total fits.
    #[test]
    fn slurm_counts(nodes in any::<u32>(), gpus in prop_oneof![any::<u32>(), 1u32..9], per_node in any::<bool>()) {
        let per = if per_node { format!("{{ node01 = {gpus}, node02 = {gpus} }}") } else { gpus.to_string() };
        let text = format!("{CHECKED_IN}{SLURM}")
            .replace("nodes = 2", &format!("nodes = {nodes}"))
            .replace("gpus_per_node = { node01 = 4, node02 = 2 }", &format!("gpus_per_node = {per}"));
        let _ = load_cluster(text.as_bytes())?;
    }

    /// Deeply nested arrays and inline tables neither overflow the stack nor slip through.
    #[test]
    fn deep_nesting(depth in 1usize..3000, table in any::<bool>()) {
        let (open, close) = if table { ("{ a = ", " }") } else { ("[", "]") };
        let value = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let text = format!("{CHECKED_IN}{SLURM}").replace("cpu_workers = 1", &format!("cpu_workers = {value}"));
        prop_assert!(load_cluster(text.as_bytes())?.is_err(), "a nested cpu_workers parsed");
    }
}

/// The fixtures themselves are valid, so the properties above start from files that parse.
#[test]
fn fixtures_parse() {
    let c = load_cluster(format!("{CHECKED_IN}{SLURM}").as_bytes()).expect("checks pass");
    assert!(c.expect("cluster.toml with [slurm] parses").slurm.is_some());
    let s = load_sweep(sweep_file().as_bytes())
        .expect("checks pass")
        .expect("the sweep file parses");
    assert_eq!(s.name, "attacks-small");
}
