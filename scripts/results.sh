#!/usr/bin/env bash
# Trains every method with one preset and prints the README's results table from the runs'
# metrics.json files. Usage: bash scripts/results.sh [cpu|gpu] [extra ssl train arguments…]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-cpu}; shift || true
swift build -c release --product ssl >&2
bin=$(swift build -c release --show-bin-path)
methods=(simclr moco memorybank swav deepcluster sela byol simsiam dino barlow vicreg)
[ "${TABLE_ONLY:-0}" = 1 ] || for m in "${methods[@]}"; do
    "$bin/ssl" train --method "$m" --preset "$preset" --out "runs/results-$preset/$m" "$@" >&2
done
python3 - "$preset" "${methods[@]}" <<'PY'
import json, sys
preset, methods = sys.argv[1], sys.argv[2:]
print("| method | encoder | epochs | device | kNN k=20 (random init) | silhouette (random init) | linear probe (random init) | wall time |")
print("|---|---|---|---|---|---|---|---|")
for m in methods:
    try:
        r = json.load(open(f"runs/results-{preset}/{m}/metrics.json"))
    except FileNotFoundError:
        print(f"| {m} | | | | not measured | | | |")
        continue
    rows = {row["representation"]: row["scores"] for row in r["rows"]}
    t, z = rows["trained encoder"], rows["random-init encoder"]
    pct = lambda v: f"{100 * v:.2f}%"
    print(f"| {m} | {r['encoder']} {r['config'].get('encoderWidths')} | {r['config']['epochs']} | {r['device'].split('[')[0].strip()} "
          f"| {pct(t['knnTop1'])} ({pct(z['knnTop1'])}) | {t['silhouette']:.3f} ({z['silhouette']:.3f}) "
          f"| {pct(t['linearProbe'])} ({pct(z['linearProbe'])}) | {r['history']['wallSeconds']:.0f} s |")
PY
