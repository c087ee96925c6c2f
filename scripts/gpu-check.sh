#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU: installs the full GPU libtorch, builds with the `cuda` feature,
# prints the worker's fingerprint (GPUs, driver, settings in force), then runs local sweeps over GPU profiles that
# isolate one cuDNN/cuBLAS setting each (cuDNN auto-tuning on/off, TF32 on/off for cuBLAS and cuDNN, deterministic
# algorithms) plus one CPU profile: LeNet-5/MNIST at b = 100 and 1000 and VGGmini/CIFAR-10 at b = 100, K = 20 triples,
# on the full data sets. Tables and reports go to runs/gpu-check/. Written to take well under 8 minutes on one modern
# GPU (install and build not counted: they are cached after the first run).
# Usage: scripts/gpu-check.sh [DATA_DIR]   (default ../shared/data beside the repository)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=${1:-../shared/data}
export FORGEBENCH_GPU=1
scripts/setup-libtorch.sh
cargo build --workspace --bins --features forgebench-worker/cuda
echo "== fingerprint"
target/debug/forgebench-worker fingerprint
out=runs/gpu-check
rm -rf "$out"
mkdir -p "$out"
cat >"$out/cluster.toml" <<TOML
[coordinator]
listen = "127.0.0.1:50181"
token_file = "$out/token"
ledger = "$out/ledger.sqlite"
lease_seconds = 120.0
heartbeat_seconds = 5.0

[[profile]]
name = "gpu-tf32"
device = "cuda:0"
[profile.gpu]
tf32_cublas = true
tf32_cudnn = true
cudnn_benchmark = false

[[profile]]
name = "gpu-fp32"
device = "cuda:0"
[profile.gpu]
tf32_cublas = false
tf32_cudnn = false
cudnn_benchmark = false

[[profile]]
name = "gpu-autotune"
device = "cuda:0"
[profile.gpu]
tf32_cublas = false
tf32_cudnn = false
cudnn_benchmark = true

[[profile]]
name = "gpu-deterministic"
device = "cuda:0"
[profile.gpu]
tf32_cublas = false
tf32_cudnn = false
cudnn_benchmark = false
cudnn_deterministic = true
deterministic_algorithms = true
cublas_workspace_config = ":4096:8"

[[profile]]
name = "cpu-avx512"
[profile.cpu]
aten_cpu_capability = "avx512"
dnnl_max_cpu_isa = "AVX512_CORE"
mkl_enable_instructions = "AVX512"
threads = 1

[[sweep]]
name = "gpu-lenet5"
experiments = ["reproduction"]
models = ["lenet5"]
batch_sizes = [100, 1000]
seeds = [0]
triples = 20
devices = "all"

[[sweep]]
name = "gpu-vggmini"
experiments = ["reproduction"]
models = ["vggmini"]
batch_sizes = [100]
seeds = [0]
triples = 20
devices = "all"
TOML
for sweep in gpu-lenet5 gpu-vggmini; do
  echo "== sweep $sweep"
  start=$(date +%s)
  target/debug/forgebench --config "$out/cluster.toml" up --sweep "$sweep" --data-dir "$data" --out "$out/$sweep"
  echo "== $sweep took $(($(date +%s) - start)) s"
done
echo "== reports: $out/gpu-lenet5/report/index.html, $out/gpu-vggmini/report/index.html"
