#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test, builds the DocC
# documentation (no warning allowed), then every kernel's parity tests again under Oclgrind
# (scripts/oclgrind.sh).
# OpenCL parity tests run on the first OpenCL device (PoCL on a CPU); with CI set, a missing
# device fails the run instead of skipping those tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# Swift Testing's summary, restated as the plain 'N passed, N failed' line.
if summary=$(grep -Eo 'Test run with [0-9]+ tests?' "$log" | tail -n 1); then
    total=$(echo "$summary" | grep -Eo '[0-9]+')
    failed=$(grep -Eo 'Test run with [0-9]+ tests? .* failed .* with [0-9]+ issues?' "$log" | grep -c . || true)
    if [ "$status" -eq 0 ]; then echo "tests: $total passed, 0 failed"; fi
fi
[ "$status" -eq 0 ] || exit "$status"
# Every target's documentation (libraries, executables, and the dependencies the plugin adds)
# builds with no DocC warning (broken links, undocumented parameters).
swift package generate-documentation --warnings-as-errors > "$log" 2>&1 \
    || { cat "$log"; echo "DocC: warnings or errors above" >&2; exit 1; }
echo "docs: every target without a warning"
bash scripts/oclgrind.sh
