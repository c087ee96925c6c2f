//! A user's own data set in a folder: both forms load with their values, shape and sha256; every malformed
//! array is refused naming its file and the problem.
use forgebench_shared::data::{self, folder, DataSource, Split};
use forgebench_shared::experiment::DatasetKind;
use npyz::WriterBuilder;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn npy<T: npyz::AutoSerialize + Copy>(shape: &[u64], values: &[T]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut out)
        .begin_nd()
        .unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
    out.into_inner()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fb-folder-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn npy_folder(name: &str, inputs: &[u8], labels: &[u8]) -> PathBuf {
    let d = dir(name);
    std::fs::write(d.join(folder::INPUTS_NPY), inputs).unwrap();
    std::fs::write(d.join(folder::LABELS_NPY), labels).unwrap();
    d
}

fn load(d: &Path) -> data::Dataset {
    data::load(DatasetKind::Folder, d, Split::Train).unwrap_or_else(|e| panic!("{}: {e}", d.display()))
}

fn refused(d: &Path, file: &str, words: &str) {
    let err = data::load(DatasetKind::Folder, d, Split::Train)
        .map(|_| ())
        .expect_err("a malformed folder loads")
        .to_string();
    assert!(
        err.contains(file) && err.contains(words),
        "expected {file:?} and {words:?} in: {err}"
    );
}

#[test]
fn uint8_npy_inputs_are_scaled_and_hashed_over_both_files() {
    let pixels: Vec<u8> = (0..5 * 4).map(|i| (i * 13) as u8).collect();
    let (ib, lb) = (npy(&[5, 1, 2, 2], &pixels), npy(&[5], &[3i64, 0, 9, 11, 255]));
    let d = npy_folder("u8", &ib, &lb);
    let ds = load(&d);
    assert_eq!((ds.n, ds.shape.clone(), ds.example_len()), (5, vec![1, 2, 2], 4));
    assert_eq!(ds.labels, vec![3, 0, 9, 11, 255]);
    let want: Vec<f32> = pixels.iter().map(|&b| f32::from(b) / 255.0).collect();
    assert_eq!(ds.images, want);
    let sha = hex::encode(Sha256::digest([ib, lb].concat()));
    assert_eq!(ds.sha256, sha, "the sha256 is over inputs.npy then labels.npy");
    assert_eq!(ds.folder(), Some(d.canonicalize().unwrap()));
    // Labels above 9 are the folder's own classes; the ten-class histogram leaves them out.
    assert_eq!(ds.class_counts().iter().sum::<usize>(), 3);
    let src: DataSource = d.display().to_string().parse().unwrap();
    assert_eq!(src, DataSource::Folder(d.clone()));
}

#[test]
fn float_safetensors_inputs_are_taken_as_they_are() {
    let values: Vec<f32> = (0..12).map(|i| i as f32 * -0.25).collect();
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let labels: Vec<u8> = [1i32, 2, 0, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let views = vec![
        ("inputs", TensorView::new(Dtype::F32, vec![4, 3], &bytes).unwrap()),
        ("labels", TensorView::new(Dtype::I32, vec![4], &labels).unwrap()),
    ];
    let d = dir("st");
    let file = d.join(folder::SAFETENSORS_FILE);
    safetensors::serialize_to_file(views, None, &file).unwrap();
    let ds = load(&d);
    assert_eq!((ds.n, ds.shape.clone()), (4, vec![3]));
    assert_eq!(ds.images, values);
    assert_eq!(ds.labels, vec![1, 2, 0, 1]);
    assert_eq!(ds.sha256, hex::encode(Sha256::digest(std::fs::read(&file).unwrap())));
}

#[test]
fn malformed_arrays_are_refused_naming_the_file() {
    let good_in = npy(&[3, 2], &[0u8; 6]);
    let good_lab = npy(&[3], &[0i64, 1, 2]);
    let d = npy_folder("f64", &npy(&[3, 2], &[0.5f64; 6]), &good_lab);
    refused(&d, folder::INPUTS_NPY, "not uint8, float32");
    let d = npy_folder("nan", &npy(&[3, 2], &[0.5f32, f32::NAN, 0., 0., 0., 0.]), &good_lab);
    refused(&d, folder::INPUTS_NPY, "NaN");
    let d = npy_folder("count", &good_in, &npy(&[4], &[0i64; 4]));
    refused(&d, folder::LABELS_NPY, "shaped [3]");
    let d = npy_folder("range", &good_in, &npy(&[3], &[0i64, -1, 2]));
    refused(&d, folder::LABELS_NPY, "label 1 is -1");
    // uint8 labels, as MNIST's own are, load.
    let d = npy_folder("u8-labels", &good_in, &npy(&[3], &[7u8, 0, 200]));
    assert_eq!(load(&d).labels, vec![7, 0, 200]);
    let d = npy_folder("float-labels", &good_in, &npy(&[3], &[0f32; 3]));
    refused(&d, folder::LABELS_NPY, "integers");
    let d = npy_folder("flat", &npy(&[6], &[0u8; 6]), &good_lab);
    refused(&d, folder::INPUTS_NPY, "[n, ...]");
    let d = npy_folder("cut", &good_in[..good_in.len() - 2], &good_lab);
    refused(&d, folder::INPUTS_NPY, "truncated");
    let d = npy_folder("junk", b"not an array", &good_lab);
    refused(&d, folder::INPUTS_NPY, "not a .npy array");
    let d = dir("half");
    std::fs::write(d.join(folder::INPUTS_NPY), &good_in).unwrap();
    refused(&d, folder::LABELS_NPY, "missing");
    let d = dir("st-junk");
    std::fs::write(d.join(folder::SAFETENSORS_FILE), b"\x08\0\0\0\0\0\0\0{}").unwrap();
    refused(&d, folder::SAFETENSORS_FILE, "");
    let err = data::load(
        DatasetKind::Folder,
        &npy_folder("test", &good_in, &good_lab),
        Split::Test,
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("no test split"), "{err}");
    let err = "no/such/folder".parse::<DataSource>().unwrap_err();
    assert!(err.contains("neither mnist, cifar10 nor a folder"), "{err}");
}
