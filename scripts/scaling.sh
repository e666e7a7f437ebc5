#!/usr/bin/env bash
# Images/s of `ssl train` on 1 and on 2 ranks (mpirun) on the same device, and rank 0's share of
# time waiting on communication, with the bytes each rank exchanges per step.
# Usage: bash scripts/scaling.sh [METHOD] [STEPS] [extra ssl train arguments…]
#   e.g. bash scripts/scaling.sh simclr 40 --device opencl
set -euo pipefail
cd "$(dirname "$0")/.."
method=${1:-simclr}; steps=${2:-40}; shift 2 || shift $#
swift build -c release --product ssl >&2
bin=$(swift build -c release --show-bin-path)/ssl
root=""; [ "$(id -u)" = 0 ] && root="--allow-run-as-root"
out=runs/scaling/$method
rm -rf "$out"
common=(train --method "$method" --preset cpu --steps "$steps" --no-eval "$@")
echo "== $method, $steps steps, 1 rank"
"$bin" "${common[@]}" --out "$out/1" 2>&1 | grep -E "^(device|1 rank)"
echo "== $method, $steps steps, 2 ranks (mpirun -np 2)"
mpirun $root --oversubscribe -np 2 "$bin" "${common[@]}" --out "$out/2" 2>&1 | grep -E "^(rank [0-9]/|2 ranks)"
