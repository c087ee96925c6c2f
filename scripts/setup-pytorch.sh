#!/usr/bin/env bash
# Installs Python's torch==2.13.0 with its dependencies into the git-ignored folder .libtorch/py when it is missing:
# the real PyTorch that the tests train with (worker/python/), beside the libtorch the worker links (.libtorch/site,
# the same wheel without its CUDA libraries, which Python's torch needs to import). About 4.7 GB, 1-2 minutes.
# Use it as PYTHONPATH=.libtorch/py python3 ...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.libtorch/py
want=2.13.0
stamp=$root/.libtorch/py-installed
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $dest/torch/__init__.py ]]; then
  exit 0
fi
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "setup-pytorch: $py not found; install Python 3 with pip" >&2; exit 1; }
echo "setup-pytorch: installing torch==$want into $dest" >&2
rm -rf "$dest"
mkdir -p "$dest"
"$py" -m pip install --quiet --no-cache-dir --disable-pip-version-check --target "$dest" "torch==$want"
PYTHONPATH=$dest "$py" -c "import torch; assert torch.__version__.startswith('$want'), torch.__version__" 2>/dev/null ||
  { echo "setup-pytorch: torch does not import from $dest" >&2; exit 1; }
echo "$want" >"$stamp"
