//! The public Proof-of-Learning code's data set hash (`hash.txt`): sha256 over torch's printed form, `str()`, of
//! each uint8 training image in order (`for d in dataset.data: m.update(d.__str__().encode('utf-8'))`). Reproduced
//! here from torch's `_tensor_str` for a 2-D uint8 tensor under the default print options (line width 80, no
//! summarising up to 1,000 values): each value right-aligned to the widest, rows wrapped to the line width.
use crate::error::{Result, WorkerError};
use forgebench_shared::data::Dataset;
use sha2::{Digest, Sha256};

const LINE_WIDTH: usize = 80;
const SUMMARISE_ABOVE: usize = 1000;
const PREFIX: &str = "tensor(";
const SUFFIX: &str = "dtype=torch.uint8";

/// `str()` of a `[h, w]` uint8 tensor holding `values` (row-major), as torch prints it.
pub fn torch_str_u8(values: &[u8], h: usize, w: usize) -> String {
    let width = values.iter().map(|v| v.to_string().len()).max().unwrap_or(1);
    let indent = PREFIX.len();
    // Rows are vectors printed at indent + 1.
    let per_line = ((LINE_WIDTH - (indent + 1)) / (width + 2)).max(1);
    let rows: Vec<String> = values
        .chunks(w)
        .take(h)
        .map(|row| {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:>width$}")).collect();
            let lines: Vec<String> = cells.chunks(per_line).map(|c| c.join(", ")).collect();
            format!("[{}]", lines.join(&format!(",\n{}", " ".repeat(indent + 2))))
        })
        .collect();
    let body = format!("{PREFIX}[{}]", rows.join(&format!(",\n{}", " ".repeat(indent + 1))));
    // Python's `len(s) - s.rfind("\n") + 1`, where rfind gives -1 without a newline.
    let last_line = body.len() as i64 - body.rfind('\n').map_or(-1, |i| i as i64) + 1;
    if last_line as usize + SUFFIX.len() + 2 > LINE_WIDTH {
        format!("{body},\n{}{SUFFIX})", " ".repeat(indent))
    } else {
        format!("{body}, {SUFFIX})")
    }
}

/// The bytes behind forgebench's `byte / 255` values.
fn bytes_of(ds: &Dataset) -> Result<Vec<u8>> {
    let table: std::collections::HashMap<u32, u8> =
        (0..=255u8).map(|b| ((f32::from(b) / 255.0).to_bits(), b)).collect();
    ds.images
        .iter()
        .map(|v| {
            table
                .get(&v.to_bits())
                .copied()
                .ok_or_else(|| WorkerError::Invalid(format!("{}: value {v} is not a byte / 255", ds.source.display())))
        })
        .collect()
}

/// The public PoL code's hash of `ds`'s images (grey images only: that code hashes torch tensors for MNIST, and
/// numpy arrays, printed otherwise, for CIFAR).
pub fn pol_dataset_hash(ds: &Dataset) -> Result<String> {
    let (c, h, w) = match ds.shape[..] {
        [c, h, w] => (c, h, w),
        _ => (0, 0, 0),
    };
    if c != 1 || h * w > SUMMARISE_ABOVE {
        return Err(WorkerError::Invalid(format!(
            "the public PoL code's hash.txt is reproduced for MNIST-like grey images of at most {SUMMARISE_ABOVE} \
             values, which torch prints in full; {} examples are shaped {:?}",
            ds.kind, ds.shape
        )));
    }
    let bytes = bytes_of(ds)?;
    let mut m = Sha256::new();
    for img in bytes.chunks_exact(h * w) {
        m.update(torch_str_u8(img, h, w).as_bytes());
    }
    Ok(hex::encode(m.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_torch_for_small_tensors() {
        // torch.tensor([[0, 12], [255, 3]], dtype=torch.uint8).__str__()
        assert_eq!(
            torch_str_u8(&[0, 12, 255, 3], 2, 2),
            "tensor([[  0,  12],\n        [255,   3]], dtype=torch.uint8)"
        );
        // 28 values of width 1 fit 24 per line at indent 8: (80 - 8) / 3 = 24.
        let s = torch_str_u8(&[0; 28], 1, 28);
        let first = s.lines().next().unwrap();
        assert_eq!(first.matches('0').count(), 24, "{s}");
    }
}
