#!/usr/bin/env bash
# The CPU analogue of the paper's explanation of its RTX 4090 diagonal (auto-tuning): which numeric setting moves
# which model's reproduction error, and by how much. Runs reproduction sweeps (b = 100, K = 10, linear verification)
# on the full training set over the built-in CPU profiles and one profile per cause (the AVX-512 profile with one
# setting changed: bench/causes.toml), then prints the L2 error (max over triples) between cpu-avx512 and every
# other profile, and each profile's equivalence class within its run.
# Usage: bench/causes.sh [--data DIR] [--model lenet5|vggmini] [--group N]
#   --data   data root (default ../shared/data)
#   --model  lenet5 (MNIST, default) or vggmini (CIFAR-10)
#   --group  profiles per run, cpu-avx512 always among them (default: all ten in one run). Every worker holds its
#            data set and activations: ten VGGmini workers (about 2 GB each) overflow a 24 GB machine, so use
#            --group 4 there.
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data model=lenet5 group=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --data) data=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --group) group=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# Every cause profile is cpu-avx512 with one setting changed; a CPU without AVX-512 cannot run it (SIGILL).
missing=$(for f in avx512f avx512bw avx512vl avx512dq; do grep -qw "$f" /proc/cpuinfo || printf '%s ' "$f"; done)
if [[ -n $missing ]]; then
  echo "causes.sh: this CPU lacks ${missing}and every profile of bench/causes.toml but" \
    "cpu-avx2 and cpu-default needs it; run it on a CPU with AVX-512" >&2
  exit 1
fi
scripts/setup-libtorch.sh
cargo build -q --workspace --bins
python3 - "$data" "$model" "$group" <<'PY'
import json, pathlib, subprocess, sys, tomllib
data, model, group = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = tomllib.loads(pathlib.Path("bench/causes.toml").read_text())
profiles = cfg["profile"]
base, rest = profiles[0], profiles[1:]
group = group or len(profiles)
runs = [[base] + rest[i:i + group - 1] for i in range(0, len(rest), group - 1)]
def value(v):
    return str(v).lower() if isinstance(v, bool) else json.dumps(v)
print(f"{model} b=100 K=10 on {data}: L2 from {base['name']} (max over triples) and classes within each run")
for n, chosen in enumerate(runs):
    out = pathlib.Path(f"runs/causes/{model}-{n}")
    subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir(parents=True)
    lines = ['default_sweep = "causes"', "[coordinator]", 'listen = "127.0.0.1:50161"',
             f'token_file = "{out}/token"', f'ledger = "{out}/ledger.sqlite"', "lease_seconds = 300.0",
             "heartbeat_seconds = 5.0"]
    for p in chosen:
        lines += ["[[profile]]", f'name = "{p["name"]}"', "[profile.cpu]"]
        lines += [f"{k} = {value(v)}" for k, v in p["cpu"].items()]
    lines += ["[[sweep]]", 'name = "causes"', 'experiments = ["reproduction"]', f'models = ["{model}"]',
              "batch_sizes = [100]", "seeds = [0]", "triples = 10", 'devices = "all"']
    (out / "cluster.toml").write_text("\n".join(lines) + "\n")
    r = subprocess.run(["target/debug/forgebench", "--config", str(out / "cluster.toml"), "up", "--data-dir", data,
                        "--out", str(out)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"up failed:\n{r.stderr}")
    m = json.loads(next((out / "results" / "matrices").glob("*.json")).read_text())
    names = [d["profile"]["name"] for d in m["devices"]]
    b = names.index(base["name"])
    for j, name in enumerate(names):
        if n > 0 and j == b:
            continue
        c = m["cells"][b][j]
        l2 = c["summary"]["l2"]["max"] if c else "missing"
        print(f"  {name:20s} {l2:<24} class {m['classes'][j]} of run {n}")
PY
