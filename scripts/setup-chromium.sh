#!/usr/bin/env bash
# Installs Debian's Chromium when no Chromium is on PATH: the dashboard's browser test runs the page in it headless.
# Needs root or sudo and Debian's package registry; where neither is available it says so and leaves the test to
# skip (under CI the test fails instead).
set -euo pipefail
for c in chromium chromium-browser google-chrome; do
  command -v "$c" >/dev/null && exit 0
done
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "setup-chromium: no Chromium and no root to install it; the dashboard's browser test will be skipped" >&2
    exit 0
  fi
fi
command -v apt-get >/dev/null || { echo "setup-chromium: no apt-get; install Chromium by hand" >&2; exit 0; }
echo "setup-chromium: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
command -v chromium >/dev/null || { echo "setup-chromium: the chromium package installed no chromium command" >&2; exit 1; }
