#!/usr/bin/env bash
# The main job: installs what is missing, builds in release mode, trains SimCLR on Fashion-MNIST
# on the best device (a short CPU recipe on PoCL, a longer one on a GPU) and prints kNN,
# silhouette and linear-probe accuracy for raw pixels, the random-init and the trained encoder.
# Extra arguments go to `ssl train` (e.g. --method barlow, --epochs 5, --device reference).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product ssl
bin=$(swift build -c release --show-bin-path)
"$bin/ssl" devices
# Each run of the main job starts over (--force), unless asked to --resume the last one.
force=--force
for argument in "$@"; do [ "$argument" = --resume ] && force=; done
"$bin/ssl" train --method simclr --preset auto --out runs/main $force "$@"
echo "report: runs/main/report.svg, metrics: runs/main/metrics.json"
