#!/usr/bin/env bash
# The main job: installs what is missing, builds in release mode, lists the OpenCL devices and
# runs a quick benchmark of GEMM, cross-correlation and Sinkhorn on the best device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product ssl
swift build -c release --product ssl-bench
bin=$(swift build -c release --show-bin-path)
"$bin/ssl" devices
"$bin/ssl-bench" --quick "$@"
