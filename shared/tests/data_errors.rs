//! Damaged data files: each gives an error whose message names the file and the problem.
use forgebench_shared::data::{self, bundled_dir, Split};
use forgebench_shared::experiment::DatasetKind;
use std::io::Read;
use std::path::Path;

const IMAGES: &str = "t10k-images-idx3-ubyte";
const LABELS: &str = "t10k-labels-idx1-ubyte";

/// The bundled MNIST test file `name`, decompressed.
fn mnist_bytes(name: &str) -> Vec<u8> {
    let raw = std::fs::read(bundled_dir().join("mnist").join(format!("{name}.gz"))).expect("read bundled MNIST");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .expect("gunzip bundled MNIST");
    out
}

/// A temp dir holding the bundled MNIST test split uncompressed, after `damage` changed (images, labels).
fn damaged_mnist(damage: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>)) -> tempfile::TempDir {
    let (mut images, mut labels) = (mnist_bytes(IMAGES), mnist_bytes(LABELS));
    damage(&mut images, &mut labels);
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join(IMAGES), images).expect("write images");
    std::fs::write(tmp.path().join(LABELS), labels).expect("write labels");
    tmp
}

/// Asserts that loading `split` of `kind` from `dir` fails naming `file` and containing `problem`.
fn assert_fails(kind: DatasetKind, dir: &Path, split: Split, file: &str, problem: &str) {
    let err = match data::load(kind, dir, split) {
        Ok(ds) => panic!(
            "loading {kind} {split} from {} succeeded with {} examples",
            dir.display(),
            ds.n
        ),
        Err(e) => e.to_string(),
    };
    println!("{err}");
    assert!(err.contains(file), "error {err:?} does not name {file:?}");
    assert!(err.contains(problem), "error {err:?} does not say {problem:?}");
}

#[test]
fn truncated_images_file_is_an_error() {
    let tmp = damaged_mnist(|images, _| images.truncate(images.len() - 5000));
    let problem = "truncated: header says 500 images of 28x28 = 392000 bytes but 387000 remain";
    assert_fails(DatasetKind::Mnist, tmp.path(), Split::Test, IMAGES, problem);
}

#[test]
fn trailing_bytes_after_the_labels_are_an_error() {
    let tmp = damaged_mnist(|_, labels| labels.extend_from_slice(&[1, 2, 3]));
    let problem = "3 trailing bytes: header says 500 labels = 500 bytes but 503 remain";
    assert_fails(DatasetKind::Mnist, tmp.path(), Split::Test, LABELS, problem);
}

#[test]
fn truncated_gzip_file_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = bundled_dir().join("mnist");
    let gz = std::fs::read(src.join(format!("{IMAGES}.gz"))).expect("read");
    std::fs::write(tmp.path().join(format!("{IMAGES}.gz")), &gz[..gz.len() / 2]).expect("write");
    std::fs::copy(
        src.join(format!("{LABELS}.gz")),
        tmp.path().join(format!("{LABELS}.gz")),
    )
    .expect("copy");
    assert_fails(
        DatasetKind::Mnist,
        tmp.path(),
        Split::Test,
        IMAGES,
        "gzip stream is corrupt or truncated",
    );
}

#[test]
fn garbled_magic_is_an_error() {
    let tmp = damaged_mnist(|images, _| images[3] = 0x04);
    let problem = "bad magic 0x00000804, expected 0x00000803";
    assert_fails(DatasetKind::Mnist, tmp.path(), Split::Test, IMAGES, problem);
    let tmp = damaged_mnist(|_, labels| labels[0] = 0x7f);
    let problem = "bad magic 0x7f000801, expected 0x00000801";
    assert_fails(DatasetKind::Mnist, tmp.path(), Split::Test, LABELS, problem);
}

#[test]
fn wrong_image_size_is_an_error() {
    let tmp = damaged_mnist(|images, _| images[11] = 27);
    assert_fails(
        DatasetKind::Mnist,
        tmp.path(),
        Split::Test,
        IMAGES,
        "images are 27x28, expected 28x28",
    );
}

#[test]
fn mnist_label_out_of_range_is_an_error() {
    let tmp = damaged_mnist(|_, labels| labels[8 + 3] = 12);
    assert_fails(
        DatasetKind::Mnist,
        tmp.path(),
        Split::Test,
        LABELS,
        "entry 3 has label 12, outside the range 0..=9",
    );
}

#[test]
fn image_and_label_counts_must_agree() {
    let tmp = damaged_mnist(|_, labels| {
        labels.pop();
        labels[4..8].copy_from_slice(&499u32.to_be_bytes());
    });
    assert_fails(
        DatasetKind::Mnist,
        tmp.path(),
        Split::Test,
        LABELS,
        "holds 499 labels but",
    );
}

#[test]
fn missing_labels_file_is_an_error() {
    let tmp = damaged_mnist(|_, _| {});
    std::fs::remove_file(tmp.path().join(LABELS)).expect("remove labels");
    assert_fails(DatasetKind::Mnist, tmp.path(), Split::Test, LABELS, "missing: neither");
}

#[test]
fn a_directory_without_data_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_string_lossy().into_owned();
    assert_fails(
        DatasetKind::Mnist,
        tmp.path(),
        Split::Train,
        &dir,
        "holds no mnist train files",
    );
    assert_fails(
        DatasetKind::Cifar10,
        tmp.path(),
        Split::Test,
        &dir,
        "holds no cifar10 test files",
    );
}

/// A temp dir holding the bundled CIFAR-10 test batch after `damage`.
fn damaged_cifar(damage: impl FnOnce(&mut Vec<u8>)) -> tempfile::TempDir {
    let mut bytes = std::fs::read(bundled_dir().join("cifar10/test_batch.bin")).expect("read bundled test_batch.bin");
    damage(&mut bytes);
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("test_batch.bin"), bytes).expect("write");
    tmp
}

#[test]
fn cifar_file_of_wrong_length_is_an_error() {
    let tmp = damaged_cifar(|b| b.truncate(b.len() - 100));
    let problem =
        "length 614500 is not a positive multiple of the 3073-byte record (199 whole records and 2973 bytes left over)";
    assert_fails(DatasetKind::Cifar10, tmp.path(), Split::Test, "test_batch.bin", problem);
    let tmp = damaged_cifar(|b| b.clear());
    assert_fails(
        DatasetKind::Cifar10,
        tmp.path(),
        Split::Test,
        "test_batch.bin",
        "length 0 is not a positive",
    );
}

#[test]
fn cifar_label_out_of_range_is_an_error() {
    let tmp = damaged_cifar(|b| b[2 * 3073] = 12);
    let problem = "record 2 has label 12, outside the range 0..=9";
    assert_fails(DatasetKind::Cifar10, tmp.path(), Split::Test, "test_batch.bin", problem);
}

#[test]
fn a_bad_later_cifar_training_batch_names_that_batch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let batch = bundled_dir().join("cifar10/data_batch_1.bin");
    std::fs::copy(&batch, tmp.path().join("data_batch_1.bin")).expect("copy");
    let mut second = std::fs::read(&batch).expect("read");
    second.push(0);
    std::fs::write(tmp.path().join("data_batch_2.bin"), second).expect("write");
    assert_fails(
        DatasetKind::Cifar10,
        tmp.path(),
        Split::Train,
        "data_batch_2.bin",
        "3073-byte record",
    );
}
