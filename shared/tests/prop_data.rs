//! Property tests of the MNIST (IDX) and CIFAR-10 loaders on damaged copies of the bundled files: truncations, bit
//! flips, random garbage, garbage appended and valid prefixes followed by garbage.
//!
//! A load never panics. It succeeds exactly when the damaged bytes still form a valid file (a flipped pixel, a label
//! flipped to another digit, a CIFAR-10 file cut at a record boundary), and then returns exactly those bytes under a
//! data-set hash that differs from the original's, which is how a verifier catches such damage. Every failure names
//! the damaged file. A gzip file's CRC-32 catches every change of its content, so a damaged `.gz` either fails or
//! still decompresses to the original bytes.
use flate2::{write::GzEncoder, Compression};
use forgebench_shared::data::{self, bundled_dir, Dataset, Split};
use forgebench_shared::experiment::DatasetKind;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const IMAGES: &str = "t10k-images-idx3-ubyte";
const LABELS: &str = "t10k-labels-idx1-ubyte";
/// Examples in the fixtures: few, so that files are small and a random position often lands in a header.
const N: usize = 6;
const PIXELS: usize = 28 * 28;
const RECORD: usize = 1 + 3 * 32 * 32;
const CASES: u32 = 256;

/// The first `N` bundled test examples: MNIST images and labels (uncompressed, header counts rewritten to `N`, as
/// `scripts/make-data-subset.sh` does) and a CIFAR-10 batch of `N` records.
struct Fixtures {
    images: Vec<u8>,
    labels: Vec<u8>,
    cifar: Vec<u8>,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let prefix = |name: &str, header: usize, item: usize| {
            let mut b = gunzip(&bundled_dir().join("mnist").join(format!("{name}.gz")));
            b.truncate(header + N * item);
            b[4..8].copy_from_slice(&(N as u32).to_be_bytes());
            b
        };
        let mut cifar = std::fs::read(bundled_dir().join("cifar10/test_batch.bin")).expect("read test_batch.bin");
        cifar.truncate(N * RECORD);
        Fixtures {
            images: prefix(IMAGES, 16, PIXELS),
            labels: prefix(LABELS, 8, 1),
            cifar,
        }
    })
}

fn gunzip(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .expect("gunzip a bundled file");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// A byte position: one of the first 24 (where the IDX headers are), or anywhere.
#[derive(Debug, Clone, Copy)]
enum Pos {
    Head(usize),
    Any(Index),
}

impl Pos {
    fn at(self, len: usize) -> usize {
        match self {
            Pos::Head(i) => i % len,
            Pos::Any(ix) => ix.index(len),
        }
    }
}

/// One way of damaging a file.
#[derive(Debug, Clone)]
enum Damage {
    /// Keep a strict prefix.
    Truncate(Index),
    /// Flip these bits (byte position, bit); two flips of the same bit cancel.
    Flip(Vec<(Pos, u8)>),
    /// Append bytes.
    Append(Vec<u8>),
    /// Replace the whole file.
    Garbage(Vec<u8>),
    /// Keep a prefix (possibly empty or whole) and append bytes.
    PrefixGarbage(Index, Vec<u8>),
}

impl Damage {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Damage::Truncate(cut) => bytes[..cut.index(bytes.len())].to_vec(),
            Damage::Flip(flips) => {
                let mut out = bytes.to_vec();
                for &(pos, bit) in flips {
                    out[pos.at(bytes.len())] ^= 1 << bit;
                }
                out
            }
            Damage::Append(tail) => [bytes, tail].concat(),
            Damage::Garbage(g) => g.clone(),
            Damage::PrefixGarbage(cut, tail) => [&bytes[..cut.index(bytes.len() + 1)], tail].concat(),
        }
    }
}

fn pos() -> impl Strategy<Value = Pos> {
    prop_oneof![(0usize..24).prop_map(Pos::Head), any::<Index>().prop_map(Pos::Any)]
}

fn flips(n: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<(Pos, u8)>> {
    vec((pos(), 0u8..8), n)
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

/// Every kind of damage; `whole` adds whole CIFAR-10 records to the appended bytes, so that appending sometimes
/// yields a valid file.
fn damage() -> impl Strategy<Value = Damage> {
    let tail = prop_oneof![
        bytes(64),
        vec(0u8..=11, 1..3).prop_flat_map(|labels| {
            vec(any::<u8>(), labels.len() * RECORD).prop_map(move |mut b| {
                for (i, &l) in labels.iter().enumerate() {
                    b[i * RECORD] = l;
                }
                b
            })
        })
    ];
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        flips(1..=1).prop_map(Damage::Flip),
        flips(2..=8).prop_map(Damage::Flip),
        tail.clone()
            .prop_filter("non-empty", |t| !t.is_empty())
            .prop_map(Damage::Append),
        bytes(4 * RECORD).prop_map(Damage::Garbage),
        (any::<Index>(), tail).prop_map(|(cut, t)| Damage::PrefixGarbage(cut, t)),
    ]
}

/// Loads `split` of `kind` from `dir`: the data set, or `None` after checking that the error names `damaged`.
fn load_named(kind: DatasetKind, dir: &Path, split: Split, damaged: &Path) -> Result<Option<Dataset>, TestCaseError> {
    match data::load(kind, dir, split) {
        Ok(ds) => Ok(Some(ds)),
        Err(e) => {
            let msg = e.to_string();
            let want = damaged.display().to_string();
            prop_assert!(msg.contains(&want), "error {msg:?} does not name {want:?}");
            Ok(None)
        }
    }
}

/// Whether `images` and `labels` form a valid MNIST pair, by the IDX specification; written independently of the
/// loader so that the two can disagree.
fn idx_valid(images: &[u8], labels: &[u8]) -> bool {
    let word = |b: &[u8], i: usize| u32::from_be_bytes(b[4 * i..4 * i + 4].try_into().expect("4 bytes")) as usize;
    if images.len() < 16 || labels.len() < 8 || word(images, 0) != 0x803 || word(labels, 0) != 0x801 {
        return false;
    }
    let n = word(images, 1);
    word(images, 2) == 28
        && word(images, 3) == 28
        && images.len() - 16 == n * PIXELS
        && word(labels, 1) == n
        && labels.len() - 8 == n
        && labels[8..].iter().all(|&l| l <= 9)
}

/// Whether `bytes` is a valid CIFAR-10 batch: one or more whole records, every label a digit.
fn cifar_valid(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.len().is_multiple_of(RECORD) && bytes.iter().step_by(RECORD).all(|&l| l <= 9)
}

fn sha(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    parts.iter().for_each(|p| h.update(p));
    hex::encode(h.finalize())
}

/// Asserts that `ds` holds exactly `pixels` (as bytes / 255) and `labels` under the hash `want_sha`.
fn assert_holds(ds: &Dataset, pixels: &[u8], labels: &[u8], want_sha: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(&ds.labels[..], labels, "labels");
    prop_assert_eq!(ds.images.len(), pixels.len(), "number of pixel values");
    if let Some(j) = (0..pixels.len()).find(|&j| ds.images[j] != f32::from(pixels[j]) / 255.0) {
        prop_assert!(false, "value {j} is {} but the byte is {}", ds.images[j], pixels[j]);
    }
    prop_assert_eq!(&ds.sha256, want_sha, "data-set hash");
    Ok(())
}

/// A temp dir with the MNIST test split as `images` (gzip-compressed under the `.gz` name when `gz`) and `labels`;
/// also returns the two paths.
fn mnist_dir(images: &[u8], labels: &[u8], gz: bool) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ip = tmp.path().join(if gz { format!("{IMAGES}.gz") } else { IMAGES.into() });
    let lp = tmp.path().join(LABELS);
    std::fs::write(&ip, images).expect("write images");
    std::fs::write(&lp, labels).expect("write labels");
    (tmp, ip, lp)
}

/// A load's outcome with the damaged images and labels it read.
type Loaded = (Option<Dataset>, Vec<u8>, Vec<u8>);

/// Damages the images (`on_images`) or the labels of the fixture and loads them raw; checks the outcome against
/// [`idx_valid`] and returns it with the damaged bytes.
fn load_damaged_mnist(on_images: bool, d: &Damage) -> Result<Loaded, TestCaseError> {
    let f = fixtures();
    let (images, labels) = match on_images {
        true => (d.apply(&f.images), f.labels.clone()),
        false => (f.images.clone(), d.apply(&f.labels)),
    };
    let (tmp, ip, lp) = mnist_dir(&images, &labels, false);
    let ds = load_named(
        DatasetKind::Mnist,
        tmp.path(),
        Split::Test,
        if on_images { &ip } else { &lp },
    )?;
    let valid = idx_valid(&images, &labels);
    prop_assert_eq!(ds.is_some(), valid, "loaded (left) vs valid by the IDX spec (right)");
    if let Some(ds) = &ds {
        assert_holds(ds, &images[16..], &labels[8..], &sha(&[&images, &labels]))?;
    }
    Ok((ds, images, labels))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Any damage to either IDX file loads exactly when the result is a valid IDX pair, else names the file.
    #[test]
    fn damaged_idx_loads_iff_valid(on_images in any::<bool>(), d in damage()) {
        load_damaged_mnist(on_images, &d)?;
    }

    /// IDX files carry their length in the header, so a strict prefix or extra bytes are always an error.
    #[test]
    fn truncated_or_extended_idx_is_an_error(on_images in any::<bool>(), cut in any::<Index>(), tail in bytes(40)) {
        let d = if tail.is_empty() { Damage::Truncate(cut) } else { Damage::Append(tail) };
        let (ds, _, _) = load_damaged_mnist(on_images, &d)?;
        prop_assert!(ds.is_none(), "{d:?} on the {} loaded", if on_images { "images" } else { "labels" });
    }

    /// One flipped bit: in a header always an error; in pixels always loads, with a different data-set hash; in a
    /// label loads exactly when the label is still a digit.
    #[test]
    fn one_flipped_idx_bit(on_images in any::<bool>(), at in pos(), bit in 0u8..8) {
        let (ds, images, labels) = load_damaged_mnist(on_images, &Damage::Flip(vec![(at, bit)]))?;
        let f = fixtures();
        let (len, header) = if on_images { (f.images.len(), 16) } else { (f.labels.len(), 8) };
        let i = at.at(len);
        let want = match (i < header, on_images) {
            (true, _) => false,
            (false, true) => true,
            (false, false) => labels[i] <= 9,
        };
        prop_assert_eq!(ds.is_some(), want, "byte {} bit {} of the {} loaded (left) vs expected (right)",
            i, bit, if on_images { "images" } else { "labels" });
        if let Some(ds) = ds {
            prop_assert_ne!(ds.sha256, sha(&[&f.images, &f.labels]), "the hash misses the flip");
            prop_assert_ne!((images, labels), (f.images.clone(), f.labels.clone()));
        }
    }

    /// A header with the right magic and random counts and sizes, over a payload of random length.
    #[test]
    fn random_idx_headers(
        n in prop_oneof![0u32..8, any::<u32>()],
        rows in prop_oneof![Just(28u32), any::<u32>()],
        cols in prop_oneof![Just(28u32), any::<u32>()],
        items in 0usize..8,
    ) {
        let header = [0x803u32, n, rows, cols].map(u32::to_be_bytes).concat();
        let payload = vec![7u8; items * PIXELS];
        load_damaged_mnist(true, &Damage::Garbage([header, payload].concat()))?;
    }

    /// Damage to a gzip-compressed images file: CRC-32 and length in the trailer catch every change of the
    /// content, so it fails naming the `.gz` file or loads the original bytes.
    #[test]
    fn damaged_gzip_fails_or_loads_the_original(d in damage()) {
        let f = fixtures();
        let (tmp, ip, _) = mnist_dir(&d.apply(&gzip(&f.images)), &f.labels, true);
        if let Some(ds) = load_named(DatasetKind::Mnist, tmp.path(), Split::Test, &ip)? {
            assert_holds(&ds, &f.images[16..], &f.labels[8..], &sha(&[&f.images, &f.labels]))?;
        }
    }

    /// Any damage to a CIFAR-10 batch loads exactly when the bytes are whole records with digit labels (the format
    /// has no header, so a cut at a record boundary is valid), and then returns exactly those records.
    #[test]
    fn damaged_cifar_loads_iff_valid(d in damage()) {
        let f = fixtures();
        let bytes = d.apply(&f.cifar);
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("test_batch.bin");
        std::fs::write(&path, &bytes).expect("write");
        let ds = load_named(DatasetKind::Cifar10, tmp.path(), Split::Test, &path)?;
        prop_assert_eq!(ds.is_some(), cifar_valid(&bytes), "loaded (left) vs valid (right), {} bytes", bytes.len());
        if let Some(ds) = ds {
            let labels: Vec<u8> = bytes.iter().step_by(RECORD).copied().collect();
            let pixels: Vec<u8> = bytes.chunks(RECORD).flat_map(|r| r[1..].to_vec()).collect();
            assert_holds(&ds, &pixels, &labels, &sha(&[&bytes]))?;
            prop_assert_eq!(bytes == f.cifar, ds.sha256 == sha(&[&f.cifar]), "hash equal iff bytes equal");
        }
    }

    /// With two training batches, damage to either is reported against that batch and not the other.
    #[test]
    fn damaged_cifar_training_batch_is_named(second in any::<bool>(), d in damage()) {
        let f = fixtures();
        let tmp = tempfile::tempdir().expect("tempdir");
        let paths = [1, 2].map(|i| tmp.path().join(format!("data_batch_{i}.bin")));
        let (bad, good) = if second { (&paths[1], &paths[0]) } else { (&paths[0], &paths[1]) };
        let bytes = d.apply(&f.cifar);
        std::fs::write(bad, &bytes).expect("write");
        std::fs::write(good, &f.cifar).expect("write");
        match data::load(DatasetKind::Cifar10, tmp.path(), Split::Train) {
            Ok(ds) => {
                prop_assert!(cifar_valid(&bytes), "invalid {} loaded", bad.display());
                prop_assert_eq!(ds.n, N + bytes.len() / RECORD);
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!cifar_valid(&bytes), "valid batches failed: {msg}");
                prop_assert!(msg.contains(&bad.display().to_string()), "{msg:?} does not name {}", bad.display());
                prop_assert!(!msg.contains(&good.display().to_string()), "{msg:?} names the intact {}", good.display());
            }
        }
    }
}
