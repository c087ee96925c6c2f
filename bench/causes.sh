#!/usr/bin/env bash
# The CPU analogue of the paper's explanation of its RTX 4090 diagonal (auto-tuning): which numeric setting moves
# which model's reproduction error, and by how much. Runs a reproduction sweep of LeNet-5/MNIST (b = 100, K = 10) on
# the full training set over the built-in CPU profiles and one profile per cause (the AVX-512 profile with one
# setting changed: bench/causes.toml), then prints, per matrix, the L2 error (max over triples) between cpu-avx512
# and every other profile, and the equivalence classes.
# Usage: bench/causes.sh [DATA_DIR]; DATA_DIR defaults to ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
scripts/setup-libtorch.sh
cargo build -q --workspace --bins
out=runs/causes
rm -rf "$out"
target/debug/forgebench --config bench/causes.toml up --data-dir "$data" --out "$out" >"$out.tables.md"
python3 - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
for f in sorted((out / "results" / "matrices").glob("*.json")):
    m = json.loads(f.read_text())
    key = m["key"]
    names = [d["profile"]["name"] for d in m["devices"]]
    base = names.index("cpu-avx512")
    print(f"\n{key['model']}/{key['dataset']} b={key['batch_size']}: L2 from cpu-avx512 (max over triples)")
    for j, name in enumerate(names):
        c = m["cells"][base][j]
        print(f"  {name:20s} {c['summary']['l2']['max'] if c else 'missing'}")
    print("  classes:", ", ".join(f"{n}={c}" for n, c in zip(names, m["classes"])))
PY
