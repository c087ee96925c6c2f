#!/usr/bin/env bash
# Gram against naive candidate scoring on LeNet-5 at b = 100 with a pool of n = 1000 (one-time cost, candidates per
# second of each, total for M = 10,000), then local search against greedy at the same wall-clock budget.
# Usage: bench/gram.sh [DATA_DIR] [extra bench-gram options]; DATA_DIR defaults to ../shared/data (the full MNIST),
# falling back to the bundled subset. The naive total for M is extrapolated from --naive-candidates (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"
shift || true
[ -d "$data" ] || data=data
cargo build -q --release -p forgebench-worker
out=runs/bench
mkdir -p "$out"
./target/release/forgebench-worker --data-dir "$data" bench-gram --model lenet5 --batch-size 100 --pool 1000 \
  --candidates 10000 "$@" | tee "$out/gram.json"
python3 - "$out/gram.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"one-time: per-example gradients {r['pergrad_seconds']:.2f} s, K and a {r['gram_seconds']:.2f} s ({r['threads']} threads)")
print(f"Gram {r['gram_candidates_per_s']:.0f} candidates/s, naive {r['naive_candidates_per_s']:.1f}/s: "
      f"steady-state {r['steady_state_ratio']:.0f}x (goal >= 1000x)")
print(f"M = {r['gram_candidates']}: Gram {r['gram_total_s_for_m']:.1f} s total vs naive {r['naive_total_s_for_m']:.1f} s: "
      f"{r['total_ratio']:.1f}x (goal >= 10x)")
print(f"budget {r['budget_s']} s: greedy alone ({r['greedy_only_candidates']} candidates) L2 {r['greedy_only_l2']:.4e}; "
      f"greedy start {r['local_start_l2']:.4e} + {r['local_moves']} local moves -> L2 {r['local_l2']:.4e}")
PY
