//! A trace on disk: safetensors with one tensor per site (F32 for the f32 arm, whose values are f32 values; F64
//! for the exact arm's values before rounding) and the site order and arm in the metadata, so any tool reads it.
use super::Trace;
use crate::error::{Result, SharedError};
use crate::experiment::Arithmetic;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

const SITES_KEY: &str = "forgebench.trace.sites";
const ARM_KEY: &str = "forgebench.trace.arithmetic";

/// Writes `t` to `path` (through a temporary name).
pub fn write_trace(t: &Trace, path: &Path) -> Result<()> {
    let bad = |m: String| SharedError::data(path, m);
    let (dtype, bytes): (Dtype, Vec<Vec<u8>>) = match t.arithmetic {
        Arithmetic::F32 => {
            let mut out = Vec::new();
            for (name, v) in &t.sites {
                if let Some(x) = v.iter().find(|x| (**x as f32) as f64 != **x && !x.is_nan()) {
                    return Err(bad(format!("site {name} of an f32 trace holds {x}, not an f32 value")));
                }
                out.push(v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect());
            }
            (Dtype::F32, out)
        }
        Arithmetic::Exact => (
            Dtype::F64,
            t.sites
                .iter()
                .map(|(_, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
                .collect(),
        ),
    };
    let mut views = Vec::new();
    for ((name, v), b) in t.sites.iter().zip(&bytes) {
        let view = TensorView::new(dtype, vec![v.len()], b).map_err(|e| bad(e.to_string()))?;
        views.push((name.clone(), view));
    }
    let names: Vec<&str> = t.sites.iter().map(|(n, _)| n.as_str()).collect();
    let meta = HashMap::from([
        (
            SITES_KEY.to_owned(),
            serde_json::to_string(&names).expect("names serialise"),
        ),
        (ARM_KEY.to_owned(), t.arithmetic.to_string()),
    ]);
    let tmp = path.with_extension("partial");
    safetensors::serialize_to_file(views, Some(meta), &tmp).map_err(|e| SharedError::data(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| SharedError::io(path, e))
}

/// Reads a trace written by [`write_trace`]; errors name the file and what is wrong.
pub fn read_trace(path: &Path) -> Result<Trace> {
    let bytes = std::fs::read(path).map_err(|e| SharedError::io(path, e))?;
    let bad = |m: String| SharedError::data(path, m);
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    let names: Vec<String> = meta
        .get(SITES_KEY)
        .ok_or_else(|| bad(format!("no {SITES_KEY} in the metadata: not a trace")))
        .and_then(|s| serde_json::from_str(s).map_err(|e| bad(format!("{SITES_KEY}: {e}"))))?;
    let arithmetic = meta
        .get(ARM_KEY)
        .ok_or_else(|| bad(format!("no {ARM_KEY} in the metadata")))?
        .parse()
        .map_err(bad)?;
    let mut sites = Vec::with_capacity(names.len());
    for n in names {
        let t = st.tensor(&n).map_err(|e| bad(format!("site {n}: {e}")))?;
        let v = match (t.dtype(), t.shape().len()) {
            (Dtype::F64, 1) => t
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
            (Dtype::F32, 1) => t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
                .collect(),
            _ => {
                return Err(bad(format!(
                    "site {n} is {:?} {:?}, expected F32 or F64 [n]",
                    t.dtype(),
                    t.shape()
                )))
            }
        };
        sites.push((n, v));
    }
    Ok(Trace { arithmetic, sites })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_round_trip_in_their_arms_precision_and_bad_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.safetensors");
        for (arm, v) in [(Arithmetic::F32, 1.5f64), (Arithmetic::Exact, 1.0 + 1e-12)] {
            let t = Trace {
                arithmetic: arm,
                sites: vec![("a.forward".into(), vec![v, -2.0]), ("update".into(), vec![0.25])],
            };
            write_trace(&t, &path).expect("write");
            assert_eq!(read_trace(&path).expect("read"), t);
        }
        let not_f32 = Trace {
            arithmetic: Arithmetic::F32,
            sites: vec![("a.forward".into(), vec![1.0 + 1e-12])],
        };
        let e = write_trace(&not_f32, &path).unwrap_err().to_string();
        assert!(e.contains("a.forward") && e.contains("not an f32 value"), "{e}");
        std::fs::write(&path, b"not a trace").expect("write");
        let e = read_trace(&path).unwrap_err().to_string();
        assert!(
            e.contains("t.safetensors") && e.contains("not a safetensors file"),
            "{e}"
        );
    }
}
