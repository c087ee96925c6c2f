#!/usr/bin/env bash
# GPU readiness on a machine without a GPU (CI's last step): installs the full GPU libtorch beside the CPU one,
# builds the worker with `--features cuda` (linking libtorch_cuda and, through it, every CUDA library), then checks
# that the worker starts (so every CUDA library loads), that its fingerprint says plainly that no driver is
# present, and that a worker of a GPU profile refuses to start with a message naming the profile.
# Usage: scripts/ci-gpu-build.sh   (CARGO_TARGET_DIR picks the build folder, default target/)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$PWD/.libtorch-gpu
FORGEBENCH_GPU=1 FORGEBENCH_LIBTORCH_DIR=$dir scripts/setup-libtorch.sh
export LIBTORCH=$dir/site/torch
cargo build -p forgebench-worker --features cuda --bins
worker=${CARGO_TARGET_DIR:-target}/debug/forgebench-worker
# ldd's output is read whole before it is searched: `ldd | grep -q` under pipefail fails at random when grep stops
# reading early and ldd dies of SIGPIPE.
libs=$(ldd "$worker")
grep -q libtorch_cuda.so <<<"$libs" || { echo "ci-gpu-build: the worker does not link libtorch_cuda:"$'\n'"$libs" >&2; exit 1; }
missing=$(grep "not found" <<<"$libs" || true)
[[ -z $missing ]] || { echo "ci-gpu-build: CUDA libraries missing:"$'\n'"$missing" >&2; exit 1; }
fp=$("$worker" fingerprint)
echo "$fp"
FP=$fp python3 - <<'PY'
import json, os
fp = json.loads(os.environ["FP"])
assert "no CUDA driver" in fp["cuda_driver"], f"the fingerprint should say no driver is present: {fp['cuda_driver']!r}"
assert fp["gpus"] == [], fp["gpus"]
print("ci-gpu-build: every CUDA library loaded; driver:", fp["cuda_driver"])
PY
profile='{"name":"gpu0","device":"cuda:0"}'
set +e
msg=$(env -u ATEN_CPU_CAPABILITY -u DNNL_MAX_CPU_ISA -u MKL_CBWR -u MKL_ENABLE_INSTRUCTIONS -u OMP_NUM_THREADS \
  -u MKL_NUM_THREADS -u CUBLAS_WORKSPACE_CONFIG -u NVIDIA_TF32_OVERRIDE FORGEBENCH_PROFILE=gpu0 \
  CUDA_DEVICE_ORDER=PCI_BUS_ID FORGEBENCH_PROFILE_JSON="$profile" FORGEBENCH_TOKEN=x \
  "$worker" serve --coordinator 127.0.0.1:9 --work-dir "$(mktemp -d)" 2>&1)
rc=$?
set -e
echo "$msg"
[[ $rc -ne 0 ]] || { echo "ci-gpu-build: the GPU profile's worker started without a GPU" >&2; exit 1; }
grep -q "profile gpu0 needs CUDA" <<<"$msg" || { echo "ci-gpu-build: the refusal does not name the profile" >&2; exit 1; }
echo "ci-gpu-build: a GPU profile is refused without a GPU"
