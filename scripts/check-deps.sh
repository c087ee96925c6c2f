#!/usr/bin/env bash
# The crate split is a rule: shared and coordinator never link libtorch (nor tch, nor cudarc).
set -euo pipefail
cd "$(dirname "$0")/.."
for crate in forgebench-shared forgebench-coordinator; do
  if cargo tree -p "$crate" -e normal,build --prefix none 2>/dev/null | grep -E '^(tch|torch-sys|cudarc) ' ; then
    echo "check-deps: $crate depends on libtorch/CUDA crates (see above)" >&2
    exit 1
  fi
done
echo "check-deps: shared and coordinator do not link libtorch"
