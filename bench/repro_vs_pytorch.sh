#!/usr/bin/env bash
# The reproduction-log generation loop (draw theta, gather a batch, forward, backward, SGD update, copy theta_next
# out) in forgebench (release build, `forgebench-worker bench-loop`) side by side with the same loop in PyTorch
# (bench/repro_loop.py) on the same torch 2.13.0 and the same thread count. Prints steps per second of each and the
# ratio forgebench / PyTorch. Goals: >= 1.0x on LeNet-5 and VGGmini, >= 1.5x on logistic regression.
#
#   bench/repro_vs_pytorch.sh                 THREADS=1 REPEATS=3: logreg (b = 100 and 10), lenet5, vggmini (b = 100)
#   THREADS=2 REPEATS=5 bench/repro_vs_pytorch.sh logreg:100 lenet5:100    model:batch-size pairs
#
# Runs alternate between the two implementations and the best of REPEATS runs is reported for each, which is the
# figure least disturbed by other processes on a shared machine. The PyTorch build installed by
# scripts/setup-libtorch.sh is the CUDA wheel without its CUDA libraries (the Rust worker links only libtorch_cpu);
# its Python extension needs them to import, so they are installed once (~2.6 GB, no-deps pip into the git-ignored
# .libtorch/pydeps) and put on LD_LIBRARY_PATH. Nothing of them runs: every computation here is on the CPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
threads=${THREADS:-1}
repeats=${REPEATS:-3}
models=("$@")
[[ ${#models[@]} -eq 0 ]] && models=(logreg:100 logreg:10 lenet5:100 vggmini:100)
py=${PYTHON:-python3}

scripts/setup-libtorch.sh
site=$root/.libtorch/site
deps=$root/.libtorch/pydeps
if [[ ! -f $deps/.complete ]]; then
  echo "bench: installing torch 2.13.0's CUDA libraries for its Python import into $deps" >&2
  "$py" -m pip install --quiet --disable-pip-version-check --target "$deps" \
    "cuda-toolkit[cublas,cufft,cufile,curand,cusparse,nvrtc]==13.0.3" nvidia-cudnn-cu13==9.20.0.48 \
    nvidia-cusparselt-cu13==0.8.1 nvidia-nccl-cu13==2.29.7 nvidia-nvshmem-cu13==3.4.5 \
    typing-extensions sympy networkx jinja2 fsspec filelock
  touch "$deps/.complete"
fi
ld=$(find "$deps/nvidia" "$site/nvidia" -name '*.so*' -printf '%h\n' | sort -u | paste -sd:)
pyenv=(env LD_LIBRARY_PATH="$ld" PYTHONPATH="$site:$deps" OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads")
"${pyenv[@]}" "$py" -c 'import torch; assert torch.__version__.startswith("2.13.0"), torch.__version__' \
  || { echo "bench: torch 2.13.0 does not import from $site" >&2; exit 1; }

cargo build --quiet --release -p forgebench-worker
worker=$root/target/release/forgebench-worker

# steps per model: enough for about a second or more of timed work per run on one thread.
steps_for() { case $1 in logreg) echo 3000 ;; lenet5) echo 200 ;; vggmini) echo 3 ;; *) echo 50 ;; esac; }
field() { sed -n "s/.*\"$2\": *\([0-9.e+-]*\).*/\1/p" <<<"$1"; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }

printf '\n%-8s %4s %7s %8s | %14s %14s | %6s\n' model b threads steps "forgebench/s" "pytorch/s" ratio
for mb in "${models[@]}"; do
  m=${mb%%:*} b=100
  [[ $mb == *:* ]] && b=${mb#*:}
  steps=$(steps_for "$m")
  warm=2
  [[ $m == vggmini ]] && warm=1
  rs=() ps=()
  for _ in $(seq "$repeats"); do
    r=$(OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads "$worker" bench-loop --model "$m" --batch-size "$b" \
      --triples "$steps" --warmup "$warm")
    rs+=("$(field "$r" steps_per_s)")
    p=$("${pyenv[@]}" "$py" -W ignore bench/repro_loop.py --model "$m" --batch-size "$b" --steps "$steps" \
      --warmup "$warm" --threads "$threads" --data-dir "${FORGEBENCH_DATA:-$root/data}")
    ps+=("$(field "$p" steps_per_s)")
  done
  r=$(best "${rs[@]}") p=$(best "${ps[@]}")
  ratio=$(awk -v a="$r" -v b="$p" 'BEGIN { printf "%.2f", a / b }')
  printf '%-8s %4s %7s %8s | %14.2f %14.2f | %5sx\n' "$m" "$b" "$threads" "$steps" "$r" "$p" "$ratio"
  echo "  runs: forgebench ${rs[*]} | pytorch ${ps[*]}" >&2
done
