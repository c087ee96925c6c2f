//! Property tests of the reproduction-log and PoL-log readers (safetensors plus the JSON manifest in its metadata) on
//! damaged copies of two tiny logistic-regression logs: truncations, bit flips, random garbage, garbage appended,
//! valid prefixes followed by garbage, a damaged manifest text, manifest fields replaced by random JSON values, and
//! tensors dropped, reshaped or retyped.
//!
//! Reading never panics and never allocates what the manifest claims rather than what the file holds. It fails
//! with an error naming the file, or returns a log that is consistent with its manifest (what the verifiers index
//! by): a flipped bit in a weight is still a valid log, which verification, not reading, catches.
use forgebench_shared::data::{self, Split};
use forgebench_shared::experiment::{DatasetKind, ModelKind, ReproSpec};
use forgebench_shared::jobs::PolSpec;
use forgebench_shared::profile::DeviceProfile;
use forgebench_shared::provenance::{code_version, Provenance};
use forgebench_worker::{pol, repro, WorkerError};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

const CASES: u32 = 256;
const META_KEY: &str = "forgebench.manifest";

/// The bytes of a full reproduction log (K = 2, b = 4) and of a PoL log (3 steps, b = 4, s = 2: checkpoints after
/// steps 0, 2 and 3), both logistic regression on the bundled MNIST training set.
struct Logs {
    repro: Vec<u8>,
    pol: Vec<u8>,
}

fn logs() -> &'static Logs {
    static L: OnceLock<Logs> = OnceLock::new();
    L.get_or_init(|| {
        let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).expect("bundled MNIST");
        let provenance = Provenance {
            code_version: code_version(),
            profile: DeviceProfile::cpu("test"),
            fingerprint: forgebench_worker::fingerprint::collect(),
            seeds: vec![("seed".into(), 3)],
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        let (rp, pp) = (tmp.path().join("repro.safetensors"), tmp.path().join("pol.safetensors"));
        let rs = ReproSpec {
            model: ModelKind::Logreg,
            dataset: DatasetKind::Mnist,
            batch_size: 4,
            eta: 0.01,
            triples: 2,
            seed: 3,
            full: true,
            arithmetic: Default::default(),
            tolerance_units: None,
        };
        repro::write_log(&rs, &ds, tch::Device::Cpu, provenance.clone(), &rp, |_| {}).expect("write repro log");
        let ps = PolSpec {
            model: ModelKind::Logreg,
            dataset: DatasetKind::Mnist,
            batch_size: 4,
            eta: 0.01,
            steps: 3,
            checkpoint_every: 2,
            seed: 3,
            arithmetic: Default::default(),
        };
        pol::train(&ps, &ds, tch::Device::Cpu, provenance, &pp).expect("write PoL log");
        Logs {
            repro: std::fs::read(&rp).expect("read repro log"),
            pol: std::fs::read(&pp).expect("read PoL log"),
        }
    })
}

/// Which reader.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Repro,
    Pol,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Repro), Just(Kind::Pol)]
}

fn original(k: Kind) -> &'static [u8] {
    match k {
        Kind::Repro => &logs().repro,
        Kind::Pol => &logs().pol,
    }
}

/// Checks what the verifiers rely on in an accepted reproduction log.
fn repro_consistent(log: &repro::ReproLog) -> Result<(), TestCaseError> {
    let m = &log.manifest;
    let (k, b, dim) = (m.spec.triples, m.spec.batch_size, m.dim);
    prop_assert_eq!(m.format.as_str(), repro::LOG_FORMAT);
    prop_assert_eq!(dim, m.spec.model.param_count(), "dim vs the model's parameters");
    prop_assert!(
        k >= 1 && (1..=m.dataset_len).contains(&b),
        "K = {k}, b = {b}, n = {}",
        m.dataset_len
    );
    prop_assert_eq!(log.theta_next.len(), k * dim, "theta_next length");
    prop_assert_eq!(log.theta.is_some(), m.spec.full, "theta stored vs spec.full");
    if let Some(t) = &log.theta {
        prop_assert_eq!(t.len(), k * dim, "theta length");
    }
    prop_assert_eq!(log.indices.is_some(), m.spec.full, "batch indices stored vs spec.full");
    if let Some(ix) = &log.indices {
        prop_assert_eq!(ix.len(), k * b, "batch_indices length");
        prop_assert!(
            ix.iter().all(|&i| (0..m.dataset_len as i64).contains(&i)),
            "an index outside 0..n"
        );
    }
    Ok(())
}

/// Checks what the PoL verifier and the forgers rely on in an accepted PoL log.
fn pol_consistent(log: &pol::PolLog) -> Result<(), TestCaseError> {
    let m = &log.manifest;
    let (steps, b, dim) = (m.spec.steps, m.spec.batch_size, m.dim);
    prop_assert_eq!(m.format.as_str(), pol::POL_FORMAT);
    prop_assert_eq!(dim, m.spec.model.param_count(), "dim vs the model's parameters");
    prop_assert!(
        steps >= 1 && m.spec.checkpoint_every >= 1 && (1..=m.dataset_len).contains(&b),
        "steps = {steps}, s = {}, b = {b}, n = {}",
        m.spec.checkpoint_every,
        m.dataset_len
    );
    prop_assert_eq!(
        log.checkpoints.len(),
        log.checkpoint_steps().len() * dim,
        "checkpoints length"
    );
    prop_assert_eq!(log.indices.len(), steps * b, "batch_indices length");
    prop_assert!(
        log.indices.iter().all(|&i| (0..m.dataset_len as i64).contains(&i)),
        "an index outside 0..n"
    );
    Ok(())
}

/// Writes `bytes` to a temp file and reads it as `k`: whether it was accepted, after checking an accepted log's
/// consistency or that the error names the file.
fn read(k: Kind, bytes: &[u8]) -> Result<bool, TestCaseError> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("log.safetensors");
    std::fs::write(&path, bytes).expect("write");
    let err: WorkerError = match k {
        Kind::Repro => match repro::read_log(&path) {
            Ok(log) => return repro_consistent(&log).map(|()| true),
            Err(e) => e,
        },
        Kind::Pol => match pol::read(&path) {
            Ok(log) => return pol_consistent(&log).map(|()| true),
            Err(e) => e,
        },
    };
    let (msg, want) = (err.to_string(), path.display().to_string());
    prop_assert!(msg.contains(&want), "error {msg:?} does not name {want:?}");
    Ok(false)
}

/// Length of the safetensors header (8-byte length plus the JSON), where the names, shapes and manifest live.
fn header_len(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize
}

/// A byte position: in the header, or anywhere.
#[derive(Debug, Clone, Copy)]
enum Pos {
    Head(Index),
    Any(Index),
}

/// One way of damaging the file's bytes.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(Index),
    Flip(Vec<(Pos, u8)>),
    Append(Vec<u8>),
    Garbage(Vec<u8>),
    PrefixGarbage(Index, Vec<u8>),
}

impl Damage {
    /// `b` damaged; header positions fall into its first `head` bytes.
    fn apply(&self, b: &[u8], head: usize) -> Vec<u8> {
        match self {
            Damage::Truncate(cut) => b[..cut.index(b.len())].to_vec(),
            Damage::Flip(flips) => {
                let mut out = b.to_vec();
                for &(pos, bit) in flips {
                    let i = match pos {
                        Pos::Head(i) => i.index(head),
                        Pos::Any(i) => i.index(b.len()),
                    };
                    out[i] ^= 1 << bit;
                }
                out
            }
            Damage::Append(tail) => [b, tail].concat(),
            Damage::Garbage(g) => g.clone(),
            Damage::PrefixGarbage(cut, tail) => [&b[..cut.index(b.len() + 1)], tail].concat(),
        }
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    let pos = prop_oneof![any::<Index>().prop_map(Pos::Head), any::<Index>().prop_map(Pos::Any)];
    let flips = move |n: std::ops::RangeInclusive<usize>| vec((pos.clone(), 0u8..8), n).prop_map(Damage::Flip);
    // Garbage that starts like a safetensors file (a small header length) gets past the first check.
    let garbage = prop_oneof![
        vec(any::<u8>(), 0..300),
        (0u64..300, vec(any::<u8>(), 0..300)).prop_map(|(n, g)| [&n.to_le_bytes()[..], &g].concat()),
    ];
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        flips(1..=1),
        flips(2..=8),
        vec(any::<u8>(), 1..64).prop_map(Damage::Append),
        garbage.prop_map(Damage::Garbage),
        (any::<Index>(), vec(any::<u8>(), 0..64)).prop_map(|(c, g)| Damage::PrefixGarbage(c, g)),
    ]
}

/// The file's tensors as (name, dtype, shape, bytes) and its manifest text.
type Parts = (Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, String);

fn parts(bytes: &[u8]) -> Parts {
    let st = SafeTensors::deserialize(bytes).expect("a valid fixture");
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    let (_, meta) = SafeTensors::read_metadata(bytes).expect("a valid fixture");
    let json = meta.metadata().as_ref().expect("metadata")[META_KEY].clone();
    (tensors, json)
}

/// A safetensors file of `tensors` with `manifest` under the manifest key.
fn assemble((tensors, manifest): &Parts) -> Vec<u8> {
    let views = tensors.iter().map(|(n, dtype, shape, data)| {
        (
            n.clone(),
            TensorView::new(*dtype, shape.clone(), data).expect("a consistent view"),
        )
    });
    let meta = HashMap::from([(META_KEY.to_owned(), manifest.clone())]);
    safetensors::serialize(views, Some(meta)).expect("serialise")
}

/// JSON pointers of every leaf (and every object, so whole sub-objects get replaced too) of `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            out.push(at.clone());
            m.iter().for_each(|(k, c)| pointers(c, format!("{at}/{k}"), out));
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => out.push(at),
    }
}

/// A random JSON value: numbers at the edges of `usize` and `f64`, zero, strings, booleans, null, small containers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop_oneof![
            Just(0u64),
            Just(1),
            Just(4),
            Just(1 << 40),
            Just(u64::MAX),
            any::<u64>()
        ]
        .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(-1.5f64),
            Just(1e300),
            any::<f64>().prop_filter("finite", |f| f.is_finite())
        ]
        .prop_map(Value::from),
        prop_oneof![
            Just("logreg"),
            Just("lenet5"),
            Just("cifar10"),
            Just("forgebench-pol-log/1"),
            Just("")
        ]
        .prop_map(Value::from),
        "[a-z0-9-]{0,10}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            vec(("[a-z]{1,5}", inner), 0..3).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// One change to the tensors: drop one, flatten its shape, or relabel its dtype with the same byte length.
#[derive(Debug, Clone)]
enum TensorChange {
    Drop(Index),
    Flatten(Index),
    Retype(Index, Dtype),
    Duplicate(Index, String),
}

fn tensor_change() -> impl Strategy<Value = TensorChange> {
    let dtype = prop_oneof![
        Just(Dtype::F32),
        Just(Dtype::I64),
        Just(Dtype::F64),
        Just(Dtype::I32),
        Just(Dtype::U8)
    ];
    let name = prop_oneof![
        Just("theta"),
        Just("batch_indices"),
        Just("checkpoints"),
        Just("theta_next")
    ];
    prop_oneof![
        any::<Index>().prop_map(TensorChange::Drop),
        any::<Index>().prop_map(TensorChange::Flatten),
        (any::<Index>(), dtype).prop_map(|(i, d)| TensorChange::Retype(i, d)),
        (any::<Index>(), name).prop_map(|(i, n)| TensorChange::Duplicate(i, n.to_owned())),
    ]
}

impl TensorChange {
    fn apply(&self, (tensors, manifest): &Parts) -> Parts {
        let mut t = tensors.clone();
        match self {
            TensorChange::Drop(i) => {
                t.remove(i.index(t.len()));
            }
            TensorChange::Flatten(i) => {
                let shape = &mut t[i.index(tensors.len())].2;
                *shape = vec![shape.iter().product()];
            }
            TensorChange::Retype(i, d) => {
                let (_, dtype, shape, data) = &mut t[i.index(tensors.len())];
                *dtype = *d;
                // Keep the byte length whole: one flat dimension of however many elements the bytes hold.
                let bytes = d.bitsize() / 8;
                data.truncate(data.len() / bytes * bytes);
                *shape = vec![data.len() / bytes];
            }
            TensorChange::Duplicate(i, name) => {
                let mut copy = t[i.index(tensors.len())].clone();
                copy.0 = name.clone();
                t.retain(|x| x.0 != *name);
                t.push(copy);
            }
        }
        (t, manifest.clone())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Any byte damage: a valid log consistent with its manifest, or an error naming the file.
    #[test]
    fn damaged_log_bytes(k in kind(), d in damage()) {
        read(k, &d.apply(original(k), header_len(original(k))))?;
    }

    /// safetensors accounts for every byte, so a strict prefix or appended bytes are always an error.
    #[test]
    fn truncated_or_extended_log_is_an_error(k in kind(), cut in any::<Index>(), tail in vec(any::<u8>(), 0..32)) {
        let d = if tail.is_empty() { Damage::Truncate(cut) } else { Damage::Append(tail) };
        prop_assert!(!read(k, &d.apply(original(k), 1))?, "{d:?} was accepted");
    }

    /// A flipped bit in one tensor's data (each tensor equally likely, so the small index tensors are hit too)
    /// leaves a readable file: the log is accepted exactly when the flip hit a weight or left every batch index in
    /// range (the bundled training set has 2,000 examples), and then the flipped weight is read back.
    #[test]
    fn flipped_tensor_bit_is_read_back(k in kind(), which in any::<Index>(), at in any::<Index>(), bit in 0u8..8) {
        let bytes = original(k);
        let st = SafeTensors::deserialize(bytes).expect("a valid fixture");
        let mut names = st.names();
        names.sort_unstable();
        let name = names[which.index(names.len())];
        let data = st.tensor(name).expect("a listed tensor").data();
        let j = at.index(data.len());
        let i = data.as_ptr() as usize - bytes.as_ptr() as usize + j;
        let mut damaged = bytes.to_vec();
        damaged[i] ^= 1 << bit;
        let flipped = &damaged[i - j..i - j + data.len()];
        // Weights may hold any bits; checkpoint steps must match the schedule; batch indices must stay in 0..n.
        let want = match name {
            "checkpoint_steps" => false,
            "batch_indices" => flipped
                .chunks_exact(8)
                .all(|c| (0..2000).contains(&i64::from_le_bytes(c.try_into().expect("8 bytes")))),
            _ => true,
        };
        prop_assert_eq!(read(k, &damaged)?, want, "accepted (left) vs expected (right), bit {} of {}", bit, name);
        if want && k == Kind::Repro && name == "theta_next" {
            let tmp = tempfile::tempdir().expect("tempdir");
            let path = tmp.path().join("log.safetensors");
            std::fs::write(&path, &damaged).expect("write");
            let got = repro::read_log(&path).expect("accepted above").theta_next[j / 4].to_le_bytes();
            prop_assert_eq!(&got[..], &flipped[j / 4 * 4..j / 4 * 4 + 4], "theta_next value {}", j / 4);
        }
    }

    /// The manifest text damaged (and made valid UTF-8 again, as safetensors metadata must be).
    #[test]
    fn damaged_manifest_text(k in kind(), d in damage()) {
        let (tensors, json) = parts(original(k));
        let text = String::from_utf8_lossy(&d.apply(json.as_bytes(), json.len())).into_owned();
        read(k, &assemble(&(tensors, text)))?;
    }

    /// One manifest field (or sub-object) replaced by a random JSON value, or removed: nothing the manifest says
    /// is trusted before it is checked against the tensors.
    #[test]
    fn replaced_manifest_field(k in kind(), at in any::<Index>(), value in json_value(), remove in any::<bool>()) {
        let (tensors, json) = parts(original(k));
        let mut v: Value = serde_json::from_str(&json).expect("the fixture's manifest");
        let mut ptrs = Vec::new();
        pointers(&v, String::new(), &mut ptrs);
        let ptr = &ptrs[at.index(ptrs.len())];
        let (parent, field) = ptr.rsplit_once('/').unwrap_or(("", ""));
        match (remove, v.pointer_mut(parent).and_then(Value::as_object_mut)) {
            (true, Some(obj)) => {
                obj.remove(field);
            }
            _ => *v.pointer_mut(ptr).expect("a pointer of v") = value,
        }
        read(k, &assemble(&(tensors, v.to_string())))?;
    }

    /// Manifest counts set anywhere in `usize` (the fields the readers size tensors by), the tensors unchanged.
    #[test]
    fn manifest_counts(k in kind(), field in 0usize..3, n in prop_oneof![0usize..8, any::<usize>(), Just(usize::MAX)]) {
        let (tensors, json) = parts(original(k));
        let mut v: Value = serde_json::from_str(&json).expect("the fixture's manifest");
        let name = match (k, field) {
            (_, 0) => "batch_size",
            (Kind::Repro, _) => "triples",
            (Kind::Pol, 1) => "steps",
            (Kind::Pol, _) => "checkpoint_every",
        };
        v["spec"][name] = Value::from(n);
        let unchanged = v == serde_json::from_str::<Value>(&json).expect("manifest");
        let accepted = read(k, &assemble(&(tensors, v.to_string())))?;
        prop_assert_eq!(accepted, unchanged, "{} = {} accepted (left) vs the value the tensors were written for (right)",
            name, n);
    }

    /// A tensor dropped, flattened, retyped or stored under another name.
    #[test]
    fn changed_tensors(k in kind(), change in tensor_change()) {
        read(k, &assemble(&change.apply(&parts(original(k)))))?;
    }
}

/// The fixtures read back, so the properties start from valid logs; also pins the PoL fixture's checkpoints.
#[test]
fn fixtures_read_back() {
    for k in [Kind::Repro, Kind::Pol] {
        let accepted = read(k, original(k)).unwrap_or_else(|e| panic!("{k:?}: {e}"));
        assert!(accepted, "the {k:?} fixture is rejected");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("pol.safetensors");
    std::fs::write(&path, &logs().pol).expect("write");
    let log = pol::read(&path).expect("read the PoL fixture");
    assert_eq!(log.checkpoint_steps(), [0, 2, 3], "PoL checkpoint steps");
}
