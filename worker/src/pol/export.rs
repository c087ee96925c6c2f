//! Export of a PoL log in the layout of the public Proof-of-Learning code (cleverhans-lab/Proof-of-Learning,
//! `train.py`): a folder with `indices.npy` (int64 [steps, b], the batch sequence) and one checkpoint per saved step
//! named `model_step_{step}`. The public code pickles `{'net': state_dict, 'optimizer': ...}` with `torch.save`;
//! forgebench writes each checkpoint as `model_step_{step}.safetensors` holding the state_dict under PyTorch's
//! parameter names (load with `safetensors.torch.load_file` and `model.load_state_dict(..., strict=False)`: BatchNorm
//! running statistics are buffers and are not part of theta). `hash.txt` holds the public code's hash of the training
//! set (over `str()` of each uint8 image, MNIST only; for CIFAR-10 forgebench's own sha256), and `forgebench.json`
//! what the layout does not record (the model, plain SGD, the learning rate, inputs `byte / 255`), so that
//! `pol-verify --log DIR --model MODEL` reads the export back.
use super::log::PolLog;
use crate::error::{Result, WorkerError};
use crate::models;
use forgebench_shared::data::Dataset;
use forgebench_shared::optim::Optimizer;
use forgebench_shared::torchrun::{ExportNote, Transform, EXPORT_NOTE_FILE};
use safetensors::tensor::{Dtype, TensorView};
use std::path::Path;

/// The NPY (format 1.0) encoding of a C-order little-endian int64 array of `shape`.
fn npy_i64(values: &[i64], shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<i8', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + header length (2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + values.len() * 8);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// Writes `log` into `dir` (created if missing) in the public PoL layout described in the module documentation.
pub fn export_public(log: &PolLog, ds: &Dataset, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| WorkerError::io(dir, e))?;
    let m = &log.manifest;
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| WorkerError::io(&p, e))
    };
    write(
        "indices.npy",
        &npy_i64(&log.indices, &[m.spec.steps, m.spec.batch_size]),
    )?;
    let hash = match crate::torchrun::hash::pol_dataset_hash(ds) {
        Ok(h) => h,
        Err(_) => m.dataset_sha256.clone(),
    };
    write("hash.txt", hash.as_bytes())?;
    let note = ExportNote {
        model: m.spec.model.to_string(),
        optimizer: Optimizer::Plain,
        lr: m.spec.eta,
        transform: Transform::Scaled,
    };
    let json = serde_json::to_string_pretty(&note).map_err(|e| WorkerError::Invalid(e.to_string()))?;
    write(EXPORT_NOTE_FILE, json.as_bytes())?;
    let specs = models::layout(m.spec.model);
    for (i, step) in log.checkpoint_steps().into_iter().enumerate() {
        let bytes: Vec<u8> = log.checkpoint(i).iter().flat_map(|x| x.to_le_bytes()).collect();
        let path = dir.join(format!("model_step_{step}.safetensors"));
        let mut views = Vec::with_capacity(specs.len());
        let mut off = 0;
        for s in &specs {
            let len = s.numel() * 4;
            let shape: Vec<usize> = s.shape.iter().map(|&d| d as usize).collect();
            let v = TensorView::new(Dtype::F32, shape, &bytes[off..off + len])
                .map_err(|e| WorkerError::artifact(&path, format!("{}: {e}", s.name)))?;
            views.push((s.name.clone(), v));
            off += len;
        }
        safetensors::serialize_to_file(views, None, &path).map_err(|e| WorkerError::artifact(&path, e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn npy_header_is_aligned() {
        let b = super::npy_i64(&[1, 2, 3, 4, 5, 6], &[2, 3]);
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0, "header of {hlen} bytes is not 64-aligned");
        let header = std::str::from_utf8(&b[10..10 + hlen]).expect("ascii header");
        assert!(header.contains("'shape': (2, 3)"), "header {header:?}");
        assert_eq!(b.len(), 10 + hlen + 48);
    }
}
