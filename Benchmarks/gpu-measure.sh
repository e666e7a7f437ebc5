#!/usr/bin/env bash
# One-shot GPU measurement, run on the GPU machine from the repository root, within ~9 minutes:
#   0. every workload and variant checked against the reference (TF32 and the fused kernels
#      included, large sizes through a smaller twin); the script stops at the first wrong one;
#   1. ssl tune, briefly (CLBlast's GEMM parameters for this device and driver, then every op's
#      fused and unfused forms timed: the fastest become the device's automatic choices);
#   2. every ssl-bench workload at the issue's sizes with the tuned GEMM and the measured paths;
#   3. the same ops before this work: CLBlast untuned, two-pass Sinkhorn, GEMM + top-k kNN;
#   4. the kernel versions side by side (Sinkhorn's three at small and large B, kNN's two);
#   5. SGEMM on TF32 tensor cores (--tf32);
#   6. the PyTorch peer, eager and torch.compile (TF32 off), and SimCLR training steps against
#      PyTorch CUDA (ssl-bench --train);
#   7. the --compare tables (ours / torch) from the files, no device time.
#
# usage: bash Benchmarks/gpu-measure.sh [OUT_DIR]     (default: $OUT, else gpu-results)
#   GPU_MEASURE_DEVICE=opencl GPU_MEASURE_QUICK=1 …  runs the same steps at --quick sizes on any
#   OpenCL device (a smoke test of this script on PoCL; binaries from .gpu/ or .build/release/).
#
# Needs .gpu/ staged here beforehand (no Swift on the GPU machine):
#   /work/shared/tools/stage-gpu-bundle ssl ssl-bench
# then, through the device tool: run(command: "bash Benchmarks/gpu-measure.sh", carry: [".gpu"],
# timeout_s: 600). At most 8 files come back: tuning.json, ours.jsonl, ours-baseline.jsonl,
# ours-variants.jsonl, ours-tf32.jsonl, torch-eager.jsonl, torch-compile.jsonl and log.txt (every
# step's standard error and the tables). Each step has a time limit and the script a deadline,
# so a slow step costs its own rows, not the rest. Benchmarks/README.md, "On the GPU machine".
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-gpu-results}}
mkdir -p "$out"
log="$out/log.txt"
: > "$log"
start=$(date +%s)
deadline=$((start + ${GPU_MEASURE_SECONDS:-540}))
export PYTHONUNBUFFERED=1

say() { echo "== $*" | tee -a "$log" >&2; }

# step NAME SECONDS COMMAND...: runs COMMAND for at most SECONDS, and never past the deadline
# (less 20 s for the tables). Its standard error goes to the log.
step() {
    local name=$1 limit=$2
    shift 2
    local left=$((deadline - 20 - $(date +%s)))
    if [ "$left" -lt 15 ]; then say "$name: skipped, the deadline is near"; return 1; fi
    [ "$limit" -gt "$left" ] && limit=$left
    say "$name (at most ${limit} s, $(( $(date +%s) - start )) s in)"
    timeout --signal=INT --kill-after=10 "$limit" "$@" 2>>"$log"
    local status=$?
    if [ $status -eq 124 ]; then say "$name: stopped at its time limit"
    elif [ $status -ne 0 ]; then say "$name: exit status $status"; fi
    return $status
}

device=${GPU_MEASURE_DEVICE:-gpu}
quick=()
tune=(--budget 100 --size 4096 --direct-size 256)
small_sinkhorn=(--sinkhorn 32x1000 --sinkhorn 64x3000 --sinkhorn 256x3000)
large_sinkhorn=(--sinkhorn 4096x3000 --sinkhorn 16384x3000)
if [ -n "${GPU_MEASURE_QUICK:-}" ]; then
    quick=(--quick)
    tune=(--budget 20 --size 64 --direct-size 32 --candidates 1)
    small_sinkhorn=(--sinkhorn 32x100 --sinkhorn 64x300)
    large_sinkhorn=(--sinkhorn 256x300)
fi
if [ -x .gpu/bin/ssl-bench ] && [ -x .gpu/bin/ssl ]; then
    # shellcheck disable=SC1091
    source .gpu/env.sh
    bin=.gpu/bin
elif [ -n "${GPU_MEASURE_QUICK:-}" ] && [ -x .build/release/ssl-bench ] && [ -x .build/release/ssl ]; then
    bin=.build/release
else
    echo "no .gpu/bin/ssl and ssl-bench: stage them first (/work/shared/tools/stage-gpu-bundle ssl ssl-bench)" >&2
    exit 1
fi
if command -v nvidia-smi >/dev/null; then
    { nvidia-smi -L; nvidia-smi --query-gpu=driver_version,clocks.max.sm --format=csv; } >>"$log" 2>&1
fi
step "devices" 30 "$bin/ssl" devices >>"$log"
grep -q "gpu .*NVIDIA" "$log" || say "warning: ssl devices lists no NVIDIA GPU"

# 0. Checks first: timing a wrong kernel would measure nothing.
checks=("" "--tf32" "--ntxent-algorithm fused" "--redundancy-form feature")
for extra in "${checks[@]}"; do
    # shellcheck disable=SC2086  # each entry is zero or more options
    step "checks ${extra:-as shipped}" 40 "$bin/ssl-bench" --device "$device" "${quick[@]}" --check-only $extra >>"$log" \
        || { say "a check failed: see $log; nothing is timed"; exit 1; }
done
SSL_KNN=fused step "checks, fused kNN" 20 "$bin/ssl-bench" --device "$device" "${quick[@]}" --check-only --op knn >>"$log" \
    || { say "a check failed: see $log; nothing is timed"; exit 1; }
for v in two-pass one-pass one-group; do
    SSL_SINKHORN=$v step "checks, sinkhorn $v" 20 "$bin/ssl-bench" --device "$device" "${quick[@]}" --check-only --op sinkhorn >>"$log" \
        || { say "a check failed: see $log; nothing is timed"; exit 1; }
done

# 1. Tuning: Xgemm at 4096³ (60 % of the budget), XgemmDirect at 256³, the crossover, then the
#    paths (seconds on a GPU).
tuning="$out/tuning.json"
if step "ssl tune" 150 "$bin/ssl" tune --device "$device" "${tune[@]}" --out "$tuning" >>"$log"; then
    export SSL_GEMM_TUNING="$tuning"
else
    say "no tuning file: the measurements below use CLBlast's own parameters"
    export SSL_GEMM_TUNING=off
fi

# 2. Ours as shipped: tuned GEMM, fused and automatically chosen kernels, every workload.
step "ssl-bench, every workload" 150 "$bin/ssl-bench" --device "$device" "${quick[@]}" --json > "$out/ours.jsonl"

# 3. Before this work: untuned CLBlast, two-pass Sinkhorn, GEMM + top-k kNN.
SSL_GEMM_TUNING=off SSL_SINKHORN=two-pass SSL_KNN=unfused \
    step "ssl-bench, untuned and unfused" 90 "$bin/ssl-bench" --device "$device" "${quick[@]}" \
    --json --op gemm --op sinkhorn --op knn > "$out/ours-baseline.jsonl"

# 4. Kernel versions: each line's "variant" names the version that ran.
variants="$out/ours-variants.jsonl"
: > "$variants"
for v in one-group one-pass two-pass; do
    SSL_SINKHORN=$v step "sinkhorn $v" 30 "$bin/ssl-bench" --device "$device" --json --runs 20 \
        "${small_sinkhorn[@]}" >> "$variants"
done
for v in one-pass two-pass; do
    SSL_SINKHORN=$v step "sinkhorn $v, large" 30 "$bin/ssl-bench" --device "$device" --json \
        "${large_sinkhorn[@]}" >> "$variants"
done
SSL_KNN=unfused step "knn unfused (tuned GEMM)" 40 "$bin/ssl-bench" --device "$device" "${quick[@]}" --json --op knn >> "$variants"

# 5. TF32 tensor cores, SGEMM only (the issue's target: ≥ 150 TFLOP/s at 8192³).
step "ssl-bench --tf32 gemm" 60 "$bin/ssl-bench" --device "$device" "${quick[@]}" --json --tf32 --op gemm > "$out/ours-tf32.jsonl"

# 6. The peer. Eager first (fast); torch.compile compiles in its first, untimed call per workload.
step "torch eager" 120 python3 Benchmarks/peers/torch_peer.py "${quick[@]}" --variant eager > "$out/torch-eager.jsonl"
step "torch compile" 240 python3 Benchmarks/peers/torch_peer.py "${quick[@]}" --variant compile > "$out/torch-compile.jsonl"

# 6b. Whole training steps: SimCLR with the 1024→512 MLP, ours and PyTorch CUDA (the table goes
# to the log; the peer's rows to a file outside $out, which keeps its 8 files).
train_peer=$(mktemp)
if step "torch train peer" 60 python3 Benchmarks/peers/torch_train_peer.py --device cuda --train simclr --train-size 512x1024x512 > "$train_peer"; then
    step "ssl-bench --train simclr" 60 "$bin/ssl-bench" --device "$device" --train simclr --compare "$train_peer" >> "$log"
fi

# 7. Tables, from the files (no device work).
peers=()
for f in "$out/torch-eager.jsonl" "$out/torch-compile.jsonl"; do [ -s "$f" ] && peers+=("$f"); done
for ours in ours ours-baseline ours-tf32; do
    if [ -s "$out/$ours.jsonl" ] && [ ${#peers[@]} -gt 0 ]; then
        say "table: $ours.jsonl against ${peers[*]}"
        "$bin/ssl-bench" --compare "${peers[@]}" --ours "$out/$ours.jsonl" 2>>"$log" | tee -a "$log"
    fi
done
say "kernel versions (ours-variants.jsonl): op, shape, variant, median ms"
python3 - "$variants" <<'PY' | tee -a "$log"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"{r['op']:9} {'x'.join(map(str, r['shape'])):18} {r['variant']:22} {r['median_ms']:10.3f}")
PY
say "done in $(( $(date +%s) - start )) s; files: $(ls "$out" | tr '\n' ' ')"
