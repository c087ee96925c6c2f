#!/usr/bin/env bash
# Cluster benchmark: a reproduction sweep of 200 jobs (10 seeds x (4 logs + 16 verifications)) over 4
# local workers on loopback, once with 1 s jobs (goal: efficiency >= 0.9) and once with 10 ms jobs (shows the
# per-job overhead); then a 64 MiB artifact through the bulk channel and through the gRPC streams against a raw TCP
# copy of the same bytes memory to memory (goal >= 0.5x) and file to file, with BLAKE3 alone beside them (every
# transfer checks the content id on receipt, so its rate bounds any checked transfer) and SHA-256 alone, the check
# before content ids were BLAKE3. The jobs sleep instead of computing, so
# the numbers measure the coordinator, not the CPUs. All ratios are measured side by side in one run.
# Usage: bench/cluster.sh [--job-seconds 1.0,0.01] [--seeds 10] [--workers 4] [--transfer-mib 64] [--reps 3] ...
set -euo pipefail
cd "$(dirname "$0")/.."
# Release builds of the coordinator never link libtorch.
cargo build -q --release -p forgebench-coordinator --example cluster_bench
./target/release/examples/cluster_bench "$@"
