#!/usr/bin/env bash
# Cuts the small real data subset bundled under data/ from a full copy of the official MNIST and CIFAR-10 files.
#
# Usage: scripts/make-data-subset.sh [SOURCE_DIR]   (default ../shared/data beside the repository, which holds mnist/ and
# cifar-10-batches-bin/ in the official layout). Writes data/mnist/*.gz, data/cifar10/*.bin and data/SHA256SUMS.
#
# MNIST: the first 2,000 training and the first 500 test images and labels, written as valid IDX files with the
# header counts rewritten, gzip-compressed with mtime 0 and no file name so that the output is byte-reproducible
# with the same zlib. CIFAR-10: the first 1,000 records of data_batch_1.bin and the first 200 records of the test
# set (test_batch.bin, or test_subset_1000.bin which holds its first 1,000 records), copied byte for byte.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$root/../shared/data}
out="$root/data"
mkdir -p "$out/mnist" "$out/cifar10"

python3 - "$src" "$out" <<'PY'
import gzip, os, struct, sys

src, out = sys.argv[1], sys.argv[2]

def read_maybe_gz(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                data = f.read()
            return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    sys.exit(f"missing {path}[.gz]")

def cut_idx(data, n, what):
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        header, per = 16, rows * cols
        new_header = struct.pack(">IIII", magic, n, rows, cols)
    elif magic == 0x801:
        header, per = 8, 1
        new_header = struct.pack(">II", magic, n)
    else:
        sys.exit(f"{what}: bad magic {magic:#010x}")
    if count < n:
        sys.exit(f"{what}: holds {count} items, need {n}")
    return new_header + data[header:header + n * per]

for prefix, n in (("train", 2000), ("t10k", 500)):
    for part in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        name = f"{prefix}-{part}"
        cut = cut_idx(read_maybe_gz(os.path.join(src, "mnist", name)), n, name)
        with open(os.path.join(out, "mnist", name + ".gz"), "wb") as f:
            f.write(gzip.compress(cut, compresslevel=9, mtime=0))

REC = 3073
cifar = os.path.join(src, "cifar-10-batches-bin")
test = next((p for p in (os.path.join(cifar, "test_batch.bin"), os.path.join(cifar, "test_subset_1000.bin"))
             if os.path.exists(p)), None)
if test is None:
    sys.exit(f"no test_batch.bin or test_subset_1000.bin in {cifar}")
for source, n, name in ((os.path.join(cifar, "data_batch_1.bin"), 1000, "data_batch_1.bin"), (test, 200, "test_batch.bin")):
    with open(source, "rb") as f:
        data = f.read(n * REC)
    if len(data) != n * REC:
        sys.exit(f"{source}: holds fewer than {n} records")
    with open(os.path.join(out, "cifar10", name), "wb") as f:
        f.write(data)
PY

# SHA256SUMS of the bundled files as stored (the .gz files are compressed bytes).
cd "$out"
sha256sum mnist/*.gz cifar10/*.bin > SHA256SUMS
cat SHA256SUMS
