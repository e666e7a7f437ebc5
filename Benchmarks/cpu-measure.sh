#!/usr/bin/env bash
# The CPU-speed tables of Benchmarks/README.md, side by side in one sitting on this machine:
#   1. SGEMM at the MLP's sizes: ours (the device's GEMM: host BLAS on PoCL) against NumPy;
#   2. whole training steps (ssl-bench --train) against the same steps in PyTorch on the CPU:
#      SimCLR with the 1024→512 MLP encoder, then every method's --preset cpu recipe.
# usage: bash Benchmarks/cpu-measure.sh [OUT_DIR]   (default: cpu-results; needs numpy and torch)
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which slow a current NumPy, are unset for the peers.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-cpu-results}
mkdir -p "$out"
swift build -c release --product ssl-bench >&2
bench=$(swift build -c release --show-bin-path)/ssl-bench
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 "$@"; }

gemm=(--gemm 256x1024x784 --gemm 1024x784x256 --gemm 256x512x1024 --gemm 1024)
peer Benchmarks/peers/numpy_peer.py --op gemm "${gemm[@]}" > "$out/numpy-gemm.jsonl"
echo "== SGEMM: ours against NumPy"
"$bench" --compare "$out/numpy-gemm.jsonl"
"$bench" --op gemm "${gemm[@]}"

echo "== SimCLR, MLP 1024→512, batch 256: ours against PyTorch CPU"
peer Benchmarks/peers/torch_train_peer.py --train simclr --train-size 256x1024x512 > "$out/torch-train-1024.jsonl"
"$bench" --train simclr --compare "$out/torch-train-1024.jsonl"

echo "== every method's --preset cpu recipe (MLP 512→256, batch 256): ours against PyTorch CPU"
methods=(simclr moco memorybank swav deepcluster sela byol simsiam dino barlow vicreg)
peer Benchmarks/peers/torch_train_peer.py "${methods[@]/#/--train=}" > "$out/torch-train-cpu.jsonl"
"$bench" "${methods[@]/#/--train=}" --compare "$out/torch-train-cpu.jsonl"

echo "== the same steps, ours alone: ms per step and the device's busy share"
"$bench" "${methods[@]/#/--train=}"
