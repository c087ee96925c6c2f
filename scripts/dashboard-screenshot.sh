#!/usr/bin/env bash
# A screenshot of the live dashboard during the default run, for the README: `forgebench up` on a fresh ledger, and
# headless Chromium photographing the page (signed in through the printed link) while the sweep runs.
# Usage: scripts/dashboard-screenshot.sh [OUT.png]   (default docs/figures/dashboard.png; FORGEBENCH_SHOT_AFTER=seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-docs/figures/dashboard.png}")
scripts/setup-libtorch.sh
scripts/setup-chromium.sh
cargo build --workspace --bins
tmp=$(mktemp -d)
target/debug/forgebench --ledger "$tmp/ledger.sqlite" up --out "$tmp/up" >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  grep -q '^dashboard: ' "$tmp/stdout" && break
  sleep 0.1
done
url=$(sed -n 's/^dashboard: //p' "$tmp/stdout" | head -1)
[[ -n $url ]] || { cat "$tmp/stderr" >&2; echo "dashboard-screenshot: no dashboard link was printed" >&2; exit 1; }
sleep "${FORGEBENCH_SHOT_AFTER:-6}"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2200 \
  --virtual-time-budget=3000 --screenshot="$out" "$url" 2>/dev/null
wait "$pid"
echo "dashboard-screenshot: $out (from a run whose output is in $tmp)"
