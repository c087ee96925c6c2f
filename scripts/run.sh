#!/usr/bin/env bash
# The main job: installs libtorch if missing, builds, then starts a local cluster (a coordinator and one worker per
# CPU profile in cluster.toml that this machine's CPU runs), runs the default sweep on the bundled data, and prints
# the cross-device tables.
# Extra arguments go to `forgebench up` (for example --config other.toml).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-libtorch.sh
cargo build --workspace --bins
exec target/debug/forgebench up "$@"
