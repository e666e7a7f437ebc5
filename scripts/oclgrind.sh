#!/usr/bin/env bash
# Every kernel's parity tests under Oclgrind, a simulated GPU-type device that checks each memory
# access: data races, out-of-bounds and uninitialised reads, barrier divergence and API misuse.
# PoCL runs a work-group's items as loops on one thread and hides exactly those bugs.
#
#   scripts/oclgrind.sh [SUITE ...]     (default: every suite below; needs a debug test build)
#
# The suites run at the tests' small odd sizes (SSL_TEST_OCLGRIND, see Oclgrind.cases in
# Tests/SSLCoreTests/TestSupport.swift), in one process; the run fails on a failed test or on any
# Oclgrind report, and prints them. OCLGRIND_LOGS=DIR keeps the full logs. Oclgrind 21.10's uninitialised
# check stops at LLVM's `freeze` instruction, so programs are built with -cl-opt-disable.
set -euo pipefail
cd "$(dirname "$0")/.."

xctest=.build/debug/SSLPackageTests.xctest
command -v oclgrind >/dev/null || { echo "oclgrind: not installed (Debian: apt install oclgrind)" >&2; exit 1; }
[ -x "$xctest" ] || { echo "oclgrind: $xctest missing: run swift build --build-tests first" >&2; exit 1; }

# The suites that run kernels: every op, loss, layer, optimizer, augmentation and evaluation kernel,
# each variant (fused and GEMM NT-Xent, Gram and feature forms, the Sinkhorn versions, fused and
# unfused top-k, both row and column forms, the TF32 kernel emulated) and CLBlast's GEMMs.
default_suites=(
    AugmentOpTests BYOLTests BarlowTwinsTests BatchNormTests DINOTests DeepClusterTests ElementwiseTests
    EvalMarginTests EvalOpsTests GemmTF32Tests GemmTests LayerOpsParityTests MemoryBankTests MoCoTests NTXentTests
    OptimizerParityTests RowOpsTests SeLATests SimSiamTests SimilarityTopKTests SinkhornTests SwAVTests
    PrimitiveOpsTests SyncBatchNormTests VICRegTests
)
# DeviceLimitsTests runs apart, on a simulated device with the small limits it is about:
# groups of at most 64 work-items and 16 KiB of local memory.
small_limit_suites=(DeviceLimitsTests)
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=("${default_suites[@]}" "${small_limit_suites[@]}")
main_suites=() small_suites=()
for suite in "${suites[@]}"; do
    if [[ " ${small_limit_suites[*]} " == *" $suite "* ]]; then small_suites+=("$suite"); else main_suites+=("$suite"); fi
done

# OCLGRIND_LOGS=DIR keeps each suite's full log there.
if [ -n "${OCLGRIND_LOGS:-}" ]; then
    logs=$OCLGRIND_LOGS
    mkdir -p "$logs"
else
    logs=$(mktemp -d)
    trap 'rm -rf "$logs"' EXIT
fi

# Every Oclgrind report names the kernel it happened in, or the API call for --check-api.
count_reports() { grep -cE '^[[:space:]]+Kernel: |OpenCL runtime error detected' "$1" || true; }

# One process for all suites, so that each program (CLBlast's GEMMs above all) is built once:
# under Oclgrind a build is unoptimised LLVM, seconds per program. Oclgrind spreads each kernel's
# work-groups over the cores itself.
#   run_suites NAME [VAR=VALUE ...] -- SUITE ...: extra environment for Oclgrind before the --.
run_suites() {
    local name=$1 log="$logs/$1.log" start=$SECONDS filter extra=()
    shift
    while [ "$1" != "--" ]; do extra+=("$1"); shift; done
    shift
    filter="SSLCoreTests\.($(IFS='|'; echo "$*"))/"
    # --no-parallel: Oclgrind's compiler is not safe to enter from two threads at once.
    env "${extra[@]}" SSL_TEST_OCLGRIND=1 SSL_KERNEL_CACHE=off OCLGRIND_BUILD_OPTIONS=-cl-opt-disable \
        oclgrind --data-races --uninitialized --check-api \
        "$xctest" --testing-library swift-testing --no-parallel --filter "$filter" >"$log" 2>&1
    local status=$?
    local reports
    reports=$(count_reports "$log")
    grep -E '^✔ Suite .* passed after' "$log" | sed -E 's/^✔ Suite ([A-Za-z0-9]+) passed after ([0-9.]+) seconds.*/ok   \1: \2 s/'
    if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ] || ! grep -q 'Test run with .* passed' "$log"; then
        echo "FAIL $name: exit $status, $reports Oclgrind reports, $((SECONDS - start)) s"
        grep -E '✘|^[A-Z][a-z-]+ .* (address|detected|race)|^[[:space:]]+(Kernel|Entity|Function|Error): |^[[:space:]]+At line|crash|[Ff]atal|corrupt|free\(\)|tcache' "$log" \
            | head -n 80 | sed 's/^/    /'
        return 1
    fi
    echo "ok   $name: $(grep -Eo 'Test run with [0-9]+ tests?' "$log" | grep -Eo '[0-9]+') tests, 0 reports, $((SECONDS - start)) s"
}

# The command line as users run it: a CLBlast GEMM under every check, then a
# clean exit (CLBlast's program cache used to corrupt the heap at exit: OpenCLContext).
run_cli() {
    local dir log="$logs/cli.log" start=$SECONDS
    dir=$(mktemp -d)
    local status=0
    {
        SSL_KERNEL_CACHE=off OCLGRIND_BUILD_OPTIONS=-cl-opt-disable oclgrind --data-races --uninitialized --check-api \
            .build/debug/ssl op gemm --a Tests/Fixtures/gemm_7x13x5_NN_a.npy --b Tests/Fixtures/gemm_7x13x5_NN_b.npy \
            --out "$dir/c.npy" --device opencl || status=$?
    } >"$log" 2>&1
    rm -rf "$dir"
    local reports
    reports=$(count_reports "$log")
    if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
        echo "FAIL ssl op gemm: exit $status, $reports Oclgrind reports"
        grep -vE '^[[:space:]]*$' "$log" | head -n 30 | sed 's/^/    /'
        return 1
    fi
    echo "ok   ssl op gemm: clean exit, 0 reports, $((SECONDS - start)) s"
}

start=$SECONDS
set +e
run_cli
cli_status=$?
status=0
if [ ${#main_suites[@]} -gt 0 ]; then run_suites suites -- "${main_suites[@]}" || status=1; fi
if [ ${#small_suites[@]} -gt 0 ]; then
    run_suites small-limits OCLGRIND_MAX_WGSIZE=64 OCLGRIND_LOCAL_MEM_SIZE=16384 -- "${small_suites[@]}" || status=1
fi
[ "$cli_status" -eq 0 ] || status=1
set -e
echo "oclgrind: ${#suites[@]} suites in $((SECONDS - start)) s"
[ "$status" -eq 0 ] || { echo "oclgrind: failed" >&2; exit 1; }
