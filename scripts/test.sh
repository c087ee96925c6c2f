#!/usr/bin/env bash
# The test command: installs libtorch, Python's torch (the tests train in real PyTorch) and Chromium (for the
# dashboard's browser test) if missing, builds every binary (integration tests spawn them), runs all tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-libtorch.sh
scripts/setup-pytorch.sh
scripts/setup-chromium.sh
scripts/check-deps.sh
cargo build --workspace --bins
cargo test --workspace "$@"
