//! Files written by Python's `torch.save` (a zip of `data.pkl` and one entry per storage), read with candle's
//! PyTorch unpickler (`candle_core::pickle`) and flattened into leaves keyed by their path: `net/conv1.weight`,
//! `optimizer/param_groups/0/lr`, `optimizer/state/0/momentum_buffer`. libtorch's own unpickler
//! (`torch::pickle_load`) cannot serve here: it replaces every `collections.OrderedDict`, which is what a
//! `state_dict()` is, by None.
use crate::error::{Result, WorkerError};
use candle_core::pickle::{Object, Stack};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use tch::Tensor;

/// One leaf of a pickled object.
pub enum Leaf {
    /// A tensor (f32 storages only; others are [`Leaf::Other`]).
    Tensor(Tensor),
    /// A number (bools as 0 and 1).
    Number(f64),
    /// A string.
    Text(String),
    /// None.
    None,
    /// Anything else, in words.
    Other(String),
}

type Zip = zip::ZipArchive<std::io::BufReader<std::fs::File>>;

fn key_name(k: &Object) -> String {
    match k {
        Object::Unicode(s) => s.clone(),
        Object::Int(i) => i.to_string(),
        Object::Long(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

fn tensor(zip: &mut Zip, obj: Object, key: &str, dir: &Path) -> std::result::Result<Option<Leaf>, String> {
    let info = match obj.into_tensor_info(Object::Unicode(key.into()), dir) {
        Ok(Some(i)) => i,
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("{key}: {e}")),
    };
    if info.dtype != candle_core::DType::F32 {
        return Ok(Some(Leaf::Other(format!("a {:?} tensor", info.dtype))));
    }
    if !info.layout.is_contiguous() {
        return Err(format!("{key}: a non-contiguous tensor"));
    }
    let dims: Vec<i64> = info.layout.shape().dims().iter().map(|&d| d as i64).collect();
    let numel: usize = info.layout.shape().elem_count();
    let mut entry = zip
        .by_name(&info.path)
        .map_err(|e| format!("{key}: storage {}: {e}", info.path))?;
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).map_err(|e| format!("{key}: {e}"))?;
    let start = info.layout.start_offset();
    let data = bytes
        .get(start..start + 4 * numel)
        .ok_or_else(|| format!("{key}: storage {} holds {} bytes, too few", info.path, bytes.len()))?;
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Some(Leaf::Tensor(Tensor::from_slice(&values).reshape(dims.as_slice()))))
}

fn walk(
    zip: &mut Zip,
    obj: Object,
    key: &str,
    dir: &Path,
    out: &mut BTreeMap<String, Leaf>,
) -> std::result::Result<(), String> {
    let leaf = match obj {
        Object::Dict(kvs) => {
            for (k, v) in kvs {
                let name = key_name(&k);
                // An OrderedDict's attributes (a state_dict's `_metadata`), merged in by its BUILD.
                if name != "_metadata" {
                    walk(zip, v, &join(key, &name), dir, out)?;
                }
            }
            return Ok(());
        }
        Object::List(items) | Object::Tuple(items) => {
            for (i, v) in items.into_iter().enumerate() {
                walk(zip, v, &join(key, &i.to_string()), dir, out)?;
            }
            return Ok(());
        }
        Object::Build { callable, .. } => return walk(zip, *callable, key, dir, out),
        Object::Int(i) => Leaf::Number(i as f64),
        Object::Long(i) => Leaf::Number(i as f64),
        Object::Float(f) => Leaf::Number(f),
        Object::Bool(b) => Leaf::Number(f64::from(u8::from(b))),
        Object::Unicode(s) => Leaf::Text(s),
        Object::None => Leaf::None,
        obj @ Object::Reduce { .. } => {
            let shown = format!("{obj:.60?}");
            match tensor(zip, obj, key, dir)? {
                Some(t) => t,
                None => Leaf::Other(shown),
            }
        }
        other => Leaf::Other(format!("{other:.60?}")),
    };
    out.insert(key.to_string(), leaf);
    Ok(())
}

/// Every leaf of the object `torch.save` wrote to `path`.
pub fn load(path: &Path) -> Result<BTreeMap<String, Leaf>> {
    let bad = |p: String| WorkerError::artifact(path, format!("not a file torch.save wrote, or a damaged one: {p}"));
    let file = std::fs::File::open(path).map_err(|e| WorkerError::io(path, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    let pkl = zip
        .file_names()
        .find(|f| f.ends_with("data.pkl"))
        .map(str::to_string)
        .ok_or_else(|| bad("no data.pkl in the archive".into()))?;
    let dir = std::path::PathBuf::from(pkl.strip_suffix(".pkl").unwrap_or(&pkl));
    let obj = {
        let entry = zip.by_name(&pkl).map_err(|e| bad(e.to_string()))?;
        let mut stack = Stack::empty();
        stack
            .read_loop(&mut std::io::BufReader::new(entry))
            .map_err(|e| bad(e.to_string()))?;
        stack.finalize().map_err(|e| bad(e.to_string()))?
    };
    let mut out = BTreeMap::new();
    walk(&mut zip, obj, "", &dir, &mut out).map_err(bad)?;
    Ok(out)
}
