//! A user's own data set: one folder holding the inputs and the labels as NumPy arrays (`inputs.npy`,
//! `labels.npy`) or as one safetensors file (`data.safetensors`, tensors `inputs` and `labels`). Inputs are uint8
//! (scaled by 1/255, as the official sets' bytes are) or float32 (taken as they are), shaped `[n, ...]`: the rest of
//! the shape is one example's, given to the model as it is. Labels are integers in 0..=255, shaped `[n]`. The data
//! set's sha256 is over the files' bytes in that order (inputs, then labels; or the one safetensors file), so a
//! Python user computes it with `hashlib` alone.
use super::raw::{push_pixels, Parts};
use crate::error::{Result, SharedError};
use std::path::Path;

/// The inputs array of the NumPy form.
pub const INPUTS_NPY: &str = "inputs.npy";
/// The labels array of the NumPy form.
pub const LABELS_NPY: &str = "labels.npy";
/// The safetensors form's file.
pub const SAFETENSORS_FILE: &str = "data.safetensors";

/// Whether `dir` holds a data set in either form.
pub fn holds(dir: &Path) -> bool {
    dir.join(SAFETENSORS_FILE).is_file() || dir.join(INPUTS_NPY).is_file() || dir.join(LABELS_NPY).is_file()
}

/// Values and shape of one array as read.
enum Values {
    Bytes(Vec<u8>),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
}

/// Loads the folder `dir`: the decoded parts and one example's shape.
pub(crate) fn load(dir: &Path) -> Result<(Parts, Vec<usize>)> {
    let st = dir.join(SAFETENSORS_FILE);
    let mut parts = Parts::with_capacity(0, 0);
    let (inputs, in_shape, labels, lab_shape, in_path, lab_path) = if st.is_file() {
        let bytes = std::fs::read(&st).map_err(|e| SharedError::io(&st, e))?;
        let file = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| SharedError::data(&st, format!("not a safetensors file: {e}")))?;
        let get = |name: &str| -> Result<(Values, Vec<usize>)> {
            let t = file.tensor(name).map_err(|_| {
                SharedError::data(&st, format!("holds no tensor {name:?} (it needs inputs and labels)"))
            })?;
            Ok((st_values(&st, name, &t)?, t.shape().to_vec()))
        };
        let (i, is) = get("inputs")?;
        let (l, ls) = get("labels")?;
        parts.hash_file(&st, &bytes);
        (i, is, l, ls, st.clone(), st.clone())
    } else {
        let (ip, lp) = (dir.join(INPUTS_NPY), dir.join(LABELS_NPY));
        for p in [&ip, &lp] {
            if !p.is_file() {
                return Err(SharedError::data(
                    p,
                    format!(
                        "missing: a data folder holds {INPUTS_NPY} and {LABELS_NPY}, or {SAFETENSORS_FILE} with \
                         tensors inputs and labels"
                    ),
                ));
            }
        }
        let ib = std::fs::read(&ip).map_err(|e| SharedError::io(&ip, e))?;
        let lb = std::fs::read(&lp).map_err(|e| SharedError::io(&lp, e))?;
        let (i, is) = npy_values(&ip, &ib)?;
        let (l, ls) = npy_values(&lp, &lb)?;
        parts.hash_file(&ip, &ib);
        parts.hash_file(&lp, &lb);
        (i, is, l, ls, ip, lp)
    };
    if in_shape.len() < 2 || in_shape.contains(&0) {
        return Err(SharedError::data(
            &in_path,
            format!("inputs must be shaped [n, ...] with n and every dimension above 0, got {in_shape:?}"),
        ));
    }
    let n = in_shape[0];
    if lab_shape != [n] {
        return Err(SharedError::data(
            &lab_path,
            format!("labels must be shaped [{n}] (one per input), got {lab_shape:?}"),
        ));
    }
    match inputs {
        Values::Bytes(b) => push_pixels(&mut parts.images, &b),
        Values::Floats(f) => {
            if let Some(i) = f.iter().position(|v| !v.is_finite()) {
                return Err(SharedError::data(&in_path, format!("input value {i} is {}", f[i])));
            }
            parts.images = f;
        }
        Values::Ints(_) => {
            return Err(SharedError::data(
                &in_path,
                "inputs must be uint8 or float32, not integers",
            ))
        }
    }
    let l = match labels {
        Values::Ints(l) => l,
        Values::Bytes(b) => b.into_iter().map(i64::from).collect(),
        Values::Floats(_) => return Err(SharedError::data(&lab_path, "labels must be integers, not floats")),
    };
    parts.labels = l
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            u8::try_from(v).map_err(|_| SharedError::data(&lab_path, format!("label {i} is {v}, outside 0..=255")))
        })
        .collect::<Result<_>>()?;
    Ok((parts, in_shape[1..].to_vec()))
}

fn npy_values(path: &Path, bytes: &[u8]) -> Result<(Values, Vec<usize>)> {
    let bad = |p: String| SharedError::data(path, p);
    let npy = npyz::NpyFile::new(bytes).map_err(|e| bad(format!("not a .npy array: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() != npyz::Order::C {
        return Err(bad("a Fortran-ordered array: save it C-contiguous".into()));
    }
    let npyz::DType::Plain(t) = npy.dtype() else {
        return Err(bad("a structured array: expected a plain numeric one".into()));
    };
    let read = |e: std::io::Error| bad(format!("truncated or unreadable: {e}"));
    use npyz::TypeChar::{Float, Int, Uint};
    let values = match (t.type_char(), t.size_field()) {
        (Uint, 1) => Values::Bytes(npy.into_vec::<u8>().map_err(read)?),
        (Float, 4) => Values::Floats(npy.into_vec::<f32>().map_err(read)?),
        (Int, 1) => Values::Ints(npy.into_vec::<i8>().map_err(read)?.into_iter().map(i64::from).collect()),
        (Int, 2) => Values::Ints(
            npy.into_vec::<i16>()
                .map_err(read)?
                .into_iter()
                .map(i64::from)
                .collect(),
        ),
        (Uint, 2) => Values::Ints(
            npy.into_vec::<u16>()
                .map_err(read)?
                .into_iter()
                .map(i64::from)
                .collect(),
        ),
        (Int, 4) => Values::Ints(
            npy.into_vec::<i32>()
                .map_err(read)?
                .into_iter()
                .map(i64::from)
                .collect(),
        ),
        (Int, 8) => Values::Ints(npy.into_vec::<i64>().map_err(read)?),
        _ => return Err(bad(format!("dtype {t} is not uint8, float32 or an integer type"))),
    };
    Ok((values, shape))
}

fn st_values(path: &Path, name: &str, t: &safetensors::tensor::TensorView) -> Result<Values> {
    use safetensors::Dtype;
    let d = t.data();
    let ints = |size: usize, f: &dyn Fn(&[u8]) -> i64| Values::Ints(d.chunks_exact(size).map(f).collect());
    Ok(match t.dtype() {
        Dtype::U8 => Values::Bytes(d.to_vec()),
        Dtype::F32 => Values::Floats(
            d.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        Dtype::I8 => ints(1, &|c| i64::from(c[0] as i8)),
        Dtype::I16 => ints(2, &|c| i64::from(i16::from_le_bytes([c[0], c[1]]))),
        Dtype::I32 => ints(4, &|c| i64::from(i32::from_le_bytes(c.try_into().unwrap()))),
        Dtype::I64 => ints(8, &|c| i64::from_le_bytes(c.try_into().unwrap())),
        other => {
            return Err(SharedError::data(
                path,
                format!("tensor {name} is {other:?}, not uint8, float32 or an integer type"),
            ))
        }
    })
}
