#!/usr/bin/env bash
# VGGmini's surrogate candidate scoring against naive scoring (a real backward pass per candidate), b = 100, a pool of
# n = 500 (full CIFAR-10): the surrogate's one-time cost, candidates per second of each, their rank agreement on a
# sample scored both ways, greedy search with each at the same wall-clock budget (set-up included) judged by its
# exact error, and the time of verified local-search moves (100 moves extrapolated).
# Usage: bench/surrogate.sh [DATA_DIR] [extra bench-surrogate options]; DATA_DIR defaults to ../shared/data, falling
# back to the bundled subset.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"
shift || true
[ -d "$data" ] || data=data
scripts/setup-libtorch.sh
cargo build -q --release -p forgebench-worker
out=runs/bench
mkdir -p "$out"
./target/release/forgebench-worker --data-dir "$data" bench-surrogate --batch-size 100 --pool 500 "$@" \
  | tee "$out/surrogate.json"
python3 - "$out/surrogate.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
met = lambda ok: "met" if ok else "MISSED"
print(f"set-up: surrogate of the pool {r['setup_s']:.1f} s ({r['threads']} threads, sketch {r['sketch_dim']})")
print(f"surrogate {r['surrogate_per_s']:.0f} candidates/s, naive {r['naive_per_s']:.2f}/s: "
      f"{r['scoring_ratio']:.0f}x (goal >= 100x: {met(r['scoring_ratio'] >= 100)})")
print(f"rank agreement on the sample: Spearman {r['spearman']:.3f}; same best candidate: {r['same_best']}")
n, s = r['naive_greedy'], r['surrogate_greedy']
print(f"greedy at equal wall time: naive {n[0]} candidates -> exact L2 {n[1]:.4e}; surrogate {s[0]} ranked, "
      f"{s[1]} re-scored exactly -> exact L2 {s[2]:.4e} (goal: surrogate <= naive: {met(s[2] <= n[1])})")
m, secs, l2 = r['local']
print(f"verified local search: {m} moves in {secs:.1f} s -> exact L2 {l2:.4e}; "
      f"100 moves ~ {100 * r['seconds_per_move'] / 60:.1f} min (goal < 60 min: {met(100 * r['seconds_per_move'] < 3600)})")
PY
