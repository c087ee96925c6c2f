#!/usr/bin/env bash
# Linear against exhaustive verification of a reproduction matrix, side by side in one run: for D = 3, 4 and 6 CPU
# profiles (the first D of bench/causes.toml), the same LeNet-5 sweep (b = 100, K triples, bundled data) once with
# `verification = "linear"` (D log jobs and D repeat runs; the coordinator compares the stored logs) and once with
# `verification = "exhaustive"` (D logs and D^2 recomputations). Prints the jobs, the summed compute seconds of the
# finished jobs and the ratios, and checks that both modes give the same cells bit for bit.
# Usage: bench/verification.sh [--triples K] [--sizes 3,4,6]
set -euo pipefail
cd "$(dirname "$0")/.."
triples=10
sizes=3,4,6
while [[ $# -gt 0 ]]; do
  case $1 in
    --triples) triples=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
scripts/setup-libtorch.sh
cargo build -q --workspace --bins
python3 - "$triples" "$sizes" <<'PY'
import json, pathlib, re, subprocess, sys, tomllib
triples, sizes = int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")]
profiles = tomllib.loads(pathlib.Path("bench/causes.toml").read_text())["profile"]
root = pathlib.Path("runs/verification")
def toml_value(v):
    return json.dumps(v) if not isinstance(v, bool) else str(v).lower()
def run(d, mode):
    out = root / f"d{d}-{mode}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir(parents=True)
    lines = ['default_sweep = "v"', "[coordinator]", 'listen = "127.0.0.1:50171"',
             f'token_file = "{out}/token"', f'ledger = "{out}/ledger.sqlite"', "lease_seconds = 120.0",
             "heartbeat_seconds = 5.0"]
    for p in profiles[:d]:
        lines += ["[[profile]]", f'name = "{p["name"]}"', "[profile.cpu]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in p["cpu"].items()]
    lines += ["[[sweep]]", 'name = "v"', 'experiments = ["reproduction"]', 'models = ["lenet5"]',
              "batch_sizes = [100]", "seeds = [0]", f"triples = {triples}", 'devices = "all"',
              f'verification = "{mode}"']
    cfg = out / "cluster.toml"
    cfg.write_text("\n".join(lines) + "\n")
    r = subprocess.run(["target/debug/forgebench", "--config", str(cfg), "up", "--out", str(out)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"up failed for D={d} {mode}:\n{r.stderr}")
    done, seconds = re.search(r"(\d+) done, \d+ failed, ([\d.]+) s of compute", r.stderr).groups()
    matrix = json.loads(next((out / "results" / "matrices").glob("*.json")).read_text())
    return int(done), float(seconds), matrix["cells"]
print(f"LeNet-5 b=100, K={triples}, bundled data: jobs and summed compute seconds per verification mode")
print(f"{'D':>3} {'linear jobs':>12} {'exhaustive jobs':>16} {'linear s':>10} {'exhaustive s':>13} {'s ratio':>8} {'same cells':>11}")
for d in sizes:
    lj, ls, lc = run(d, "linear")
    ej, es, ec = run(d, "exhaustive")
    print(f"{d:>3} {lj:>12} {ej:>16} {ls:>10.1f} {es:>13.1f} {es / ls:>7.2f}x {str(lc == ec):>11}")
PY
