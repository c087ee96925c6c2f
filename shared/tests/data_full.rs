//! The loaders on the full official MNIST and CIFAR-10 sets, where a copy sits at `../shared/data` beside the
//! repository (CI has one); skipped with a printed note otherwise.
use forgebench_shared::data::{self, bundled_dir, Split};
use forgebench_shared::experiment::DatasetKind;
use std::path::PathBuf;
use std::time::Instant;

/// `../shared/data` beside the repository, when present.
fn full_data_root() -> Option<PathBuf> {
    Some(bundled_dir().join("../../shared/data")).filter(|p| p.join("mnist").is_dir())
}

#[test]
fn full_mnist_train_loads_with_the_official_hash() {
    let Some(root) = full_data_root() else {
        println!("skipped: no ../shared/data with the full MNIST set");
        return;
    };
    let start = Instant::now();
    let ds = data::load(DatasetKind::Mnist, &root, Split::Train).expect("load full MNIST train");
    println!(
        "full MNIST train ({}) loaded in {:.3} s",
        root.display(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(ds.n, 60_000);
    assert_eq!(
        ds.files[0].sha256,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    );
    assert_eq!(ds.files[0].len, 16 + 60_000 * 784);
    let bundled = data::load(DatasetKind::Mnist, &bundled_dir(), Split::Train).expect("load bundled MNIST");
    assert_eq!(
        &ds.images[..bundled.images.len()],
        &bundled.images[..],
        "the subset is the full set's prefix"
    );
    let test = data::load(DatasetKind::Mnist, &root, Split::Test).expect("load full MNIST test");
    assert_eq!((test.n, &test.labels[..8]), (10_000, &[7u8, 2, 1, 0, 4, 1, 4, 9][..]));
}

#[test]
fn full_cifar_train_loads_all_five_batches() {
    let Some(root) = full_data_root().filter(|r| r.join("cifar-10-batches-bin").is_dir()) else {
        println!("skipped: no ../shared/data with the full CIFAR-10 set");
        return;
    };
    let start = Instant::now();
    let ds = data::load(DatasetKind::Cifar10, &root, Split::Train).expect("load full CIFAR-10 train");
    println!("full CIFAR-10 train loaded in {:.3} s", start.elapsed().as_secs_f64());
    assert_eq!((ds.n, ds.files.len()), (50_000, 5));
    assert_eq!(ds.class_counts(), [5000; 10], "CIFAR-10 training classes are balanced");
    assert_eq!(
        ds.files[0].sha256,
        "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5"
    );
    let test = data::load(DatasetKind::Cifar10, &root, Split::Test).expect("load CIFAR-10 test subset");
    assert_eq!((test.n, &test.labels[..5]), (1000, &[3u8, 8, 8, 0, 6][..]));
}
