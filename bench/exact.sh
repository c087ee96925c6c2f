#!/usr/bin/env bash
# The exact arithmetic arm against the f32 arm, side by side in one process per setting (steps alternate): seconds
# per step of each and their ratio, and the rounding records' packed size per step beside theta_next's own size.
# Settings: logistic regression b = 100, LeNet-5 b = 100 and b = 1000, VGGmini b = 100.
# Usage: bench/exact.sh [DATA_DIR] [STEPS]; DATA_DIR defaults to ../shared/data, falling back to the bundled subset.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"
steps="${2:-5}"
[ -d "$data" ] || data=data
scripts/setup-libtorch.sh
cargo build -q --release -p forgebench-worker
out=runs/bench
mkdir -p "$out"
: > "$out/exact.jsonl"
for setting in "logreg 100" "lenet5 100" "lenet5 1000" "vggmini 100"; do
  set -- $setting
  n="$steps"
  [ "$1" = vggmini ] && n=$(( steps < 3 ? steps : 3 ))
  ./target/release/forgebench-worker --data-dir "$data" bench-exact --model "$1" --batch-size "$2" --triples "$n" \
    | tee -a "$out/exact.jsonl"
done
python3 - "$out/exact.jsonl" <<'PY'
import json, sys
print("| model | b | steps | f32 s/step | exact s/step | exact / f32 | values rounded | records (fraction) | record bytes | theta_next bytes |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"| {r['model']} | {r['batch_size']} | {r['steps']} | {r['f32_s_per_step']:.4f} | {r['exact_s_per_step']:.4f} | "
          f"{r['time_ratio']:.1f}x | {r['values_rounded_per_step']:,} | {r['records_per_step']:.0f} ({r['record_fraction']:.1e}) | "
          f"{r['record_bytes_per_step']:.0f} (+{r['digest_bytes_per_step']} digest) | {r['theta_next_bytes_per_step']:,} |")
PY
