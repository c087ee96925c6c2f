//! The loaders on the bundled subset: counts, known labels, pixel range and layout, hashes.
use forgebench_shared::data::{self, bundled_dir, Dataset, Split};
use forgebench_shared::experiment::DatasetKind;
use sha2::{Digest, Sha256};
use std::path::Path;

fn bundled(kind: DatasetKind, split: Split) -> Dataset {
    data::load(kind, &bundled_dir(), split).unwrap_or_else(|e| panic!("bundled {kind} {split}: {e}"))
}

fn assert_pixels_in_unit_range(ds: &Dataset) {
    assert_eq!(
        ds.images.len(),
        ds.n * ds.kind.example_shape().unwrap().iter().product::<usize>(),
        "{} {} image buffer length",
        ds.kind,
        ds.split
    );
    let (lo, hi) = ds
        .images
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    // Real images use the full byte range, so 0 and 255 both occur and map exactly to 0.0 and 1.0.
    assert!(
        lo == 0.0 && hi == 1.0,
        "{} {} pixel range is [{lo}, {hi}], expected [0, 1]",
        ds.kind,
        ds.split
    );
    assert!(
        ds.labels.iter().all(|&l| l <= 9),
        "{} {} has a label above 9",
        ds.kind,
        ds.split
    );
    assert_eq!(ds.class_counts().iter().sum::<usize>(), ds.n);
}

#[test]
fn bundled_mnist_has_the_documented_counts_and_first_test_labels() {
    let train = bundled(DatasetKind::Mnist, Split::Train);
    let test = bundled(DatasetKind::Mnist, Split::Test);
    assert_eq!((train.n, test.n), (2000, 500));
    assert_eq!(&test.labels[..8], &[7, 2, 1, 0, 4, 1, 4, 9]);
    assert_eq!(
        &train.labels[..8],
        &[5, 0, 4, 1, 9, 2, 1, 3],
        "official first MNIST training labels"
    );
    assert_pixels_in_unit_range(&train);
    assert_pixels_in_unit_range(&test);
    assert_eq!(
        train.source,
        bundled_dir().join("mnist"),
        "the root resolves to its mnist/ subfolder"
    );
}

#[test]
fn bundled_cifar_has_the_documented_counts_and_first_test_labels() {
    let train = bundled(DatasetKind::Cifar10, Split::Train);
    let test = bundled(DatasetKind::Cifar10, Split::Test);
    assert_eq!((train.n, test.n), (1000, 200));
    assert_eq!(&test.labels[..5], &[3, 8, 8, 0, 6]);
    assert_eq!(
        &train.labels[..5],
        &[6, 9, 9, 4, 1],
        "official first CIFAR-10 training labels"
    );
    assert_pixels_in_unit_range(&train);
    assert_pixels_in_unit_range(&test);
}

#[test]
fn cifar_examples_are_channels_first_bytes_over_255() {
    let ds = bundled(DatasetKind::Cifar10, Split::Test);
    let raw = std::fs::read(bundled_dir().join("cifar10/test_batch.bin")).expect("read bundled test_batch.bin");
    let record = 7;
    let bytes = &raw[record * 3073..(record + 1) * 3073];
    assert_eq!(ds.label(record), bytes[0]);
    for (j, &v) in ds.example(record).iter().enumerate() {
        let want = f32::from(bytes[1 + j]) / 255.0;
        assert_eq!(
            v.to_bits(),
            want.to_bits(),
            "record {record} value {j}: got {v}, want {want}"
        );
    }
}

#[test]
fn gather_concatenates_examples_in_index_order() {
    let ds = bundled(DatasetKind::Mnist, Split::Test);
    let (x, y) = ds.gather(&[3, 0, 3, 499]);
    assert_eq!(y, vec![ds.labels[3], ds.labels[0], ds.labels[3], ds.labels[499]]);
    let want: Vec<f32> = [3, 0, 3, 499].iter().flat_map(|&i| ds.example(i).to_vec()).collect();
    assert_eq!(x, want);
}

#[test]
#[should_panic(expected = "example index 500 out of range")]
fn gather_panics_on_an_index_past_the_end() {
    bundled(DatasetKind::Mnist, Split::Test).gather(&[0, 500]);
}

#[test]
fn dataset_hash_covers_the_decompressed_files_in_order() {
    for kind in [DatasetKind::Mnist, DatasetKind::Cifar10] {
        let ds = bundled(kind, Split::Train);
        let mut all = Sha256::new();
        for f in &ds.files {
            let bytes = decompressed(&f.path);
            assert_eq!(f.sha256, hex::encode(Sha256::digest(&bytes)), "{}", f.path.display());
            assert_eq!(f.len, bytes.len(), "{}", f.path.display());
            all.update(&bytes);
        }
        assert_eq!(ds.sha256, hex::encode(all.finalize()), "{kind} data set hash");
    }
}

#[test]
fn bundled_files_match_sha256sums() {
    let root = bundled_dir();
    let sums = std::fs::read_to_string(root.join("SHA256SUMS")).expect("read data/SHA256SUMS");
    let mut checked = 0;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (want, name) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("malformed SHA256SUMS line {line:?}"));
        let bytes = std::fs::read(root.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex::encode(Sha256::digest(&bytes)), want, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 6, "SHA256SUMS should list the 4 MNIST and 2 CIFAR-10 files");
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mnist = bundled_dir().join("mnist");
    // Images: gzip bytes under the plain name. Labels: plain bytes under the plain name.
    std::fs::copy(
        mnist.join("t10k-images-idx3-ubyte.gz"),
        tmp.path().join("t10k-images-idx3-ubyte"),
    )
    .expect("copy");
    let labels = decompressed(&mnist.join("t10k-labels-idx1-ubyte.gz"));
    std::fs::write(tmp.path().join("t10k-labels-idx1-ubyte"), labels).expect("write");
    let ds = data::load(DatasetKind::Mnist, tmp.path(), Split::Test).expect("load renamed files");
    assert_eq!(ds.sha256, bundled(DatasetKind::Mnist, Split::Test).sha256);
}

fn decompressed(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return raw;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

/// `Dataset::sha256` of the bundled splits, as listed in data/README.md; pins the hashing order, since results
/// record this hash and a verifier compares it.
#[test]
fn bundled_dataset_hashes_match_the_readme() {
    let want = [
        (
            DatasetKind::Mnist,
            Split::Train,
            "7e46931a966b62f9a4867533bd544e17888ab775c473486b0d29e5808cd47126",
        ),
        (
            DatasetKind::Mnist,
            Split::Test,
            "b7b7b89014f813feddaca51cf1f1595c407c64c4471b29665a6eaf4395116264",
        ),
        (
            DatasetKind::Cifar10,
            Split::Train,
            "1c5f9ea0fc1111d586f29115efd3db25eecf7db27b29aaebbe84721446b052cc",
        ),
        (
            DatasetKind::Cifar10,
            Split::Test,
            "0dc203403e1aa2df7a5f56cf39cec0a8640c7855d044363b110652d14a0a93d9",
        ),
    ];
    let readme = std::fs::read_to_string(bundled_dir().join("README.md")).expect("read data/README.md");
    for (kind, split, sha) in want {
        assert_eq!(bundled(kind, split).sha256, sha, "{kind} {split}");
        assert!(
            readme.contains(sha),
            "data/README.md does not list {kind} {split} hash {sha}"
        );
    }
}
