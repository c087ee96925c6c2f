#!/usr/bin/env bash
# Installs libtorch 2.13.0 into the project-local, git-ignored folder .libtorch/ (from PyPI's torch wheel) when it
# is missing. .cargo/config.toml points LIBTORCH there, and the worker's build script gives every binary and test an
# rpath to its lib/ folder, so nothing else needs setting.
#
#   scripts/setup-libtorch.sh          CPU use: torch without its CUDA dependencies (~540 MB, about 20 s)
#   FORGEBENCH_GPU=1 scripts/setup-libtorch.sh
#                                      GPU use: the full torch==2.13.0 with its CUDA 13 libraries; then build the
#                                      worker with `--features cuda`.
#   FORGEBENCH_LIBTORCH_DIR=DIR ...    install into DIR instead of .libtorch (then build with LIBTORCH=DIR/site/torch),
#                                      e.g. a GPU install beside the CPU one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${FORGEBENCH_LIBTORCH_DIR:-$root/.libtorch}
dest=$base/site
want=2.13.0
stamp=$base/installed
mode=cpu
[[ ${FORGEBENCH_GPU:-0} == 1 ]] && mode=gpu
if [[ -f $stamp && $(cat "$stamp") == "$want $mode" && -f $dest/torch/lib/libtorch_cpu.so ]]; then
  exit 0
fi
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "setup-libtorch: $py not found; install Python 3 with pip" >&2; exit 1; }
echo "setup-libtorch: installing torch==$want ($mode) into $dest" >&2
rm -rf "$dest"
mkdir -p "$dest"
# --no-cache-dir: pip's cache would keep a second copy of every wheel (4 GB for the GPU install).
if [[ $mode == gpu ]]; then
  "$py" -m pip install --quiet --no-cache-dir --disable-pip-version-check --target "$dest" "torch==$want"
else
  # The CUDA runtime and CUPTI are the only libraries libtorch_cuda.so needs at load time; the linker drops
  # libtorch_cuda (--as-needed) unless the `cuda` feature is on, so a CPU build never touches a GPU library.
  "$py" -m pip install --quiet --no-cache-dir --disable-pip-version-check --no-deps --target "$dest" \
    "torch==$want" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
fi
test -f "$dest/torch/lib/libtorch_cpu.so" || { echo "setup-libtorch: no libtorch_cpu.so after install" >&2; exit 1; }
echo "$want $mode" >"$stamp"
