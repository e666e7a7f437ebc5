#!/usr/bin/env bash
# Trains every method with one preset (`ssl train --method M --preset P`, nothing else) and prints
# the README's results table and the recipe each run used, from the runs' metrics.json files.
# Usage: bash scripts/results.sh [cpu|gpu] [extra ssl train arguments…]; TABLE_ONLY=1 only prints.
# The README's CPU table was made with `nice -n 15 bash scripts/results.sh cpu` (a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-cpu}; shift || true
swift build -c release --product ssl >&2
bin=$(swift build -c release --show-bin-path)
methods=(simclr moco memorybank swav deepcluster sela byol simsiam dino barlow vicreg)
[ "${TABLE_ONLY:-0}" = 1 ] || for m in "${methods[@]}"; do
    "$bin/ssl" train --method "$m" --preset "$preset" --out "runs/results-$preset/$m" --force "$@" >&2
done
python3 - "$preset" "${methods[@]}" <<'PY'
import json, sys
preset, methods = sys.argv[1], sys.argv[2:]
runs = {}
for m in methods:
    try:
        runs[m] = json.load(open(f"runs/results-{preset}/{m}/metrics.json"))
    except FileNotFoundError:
        pass
pct = lambda v: f"{100 * v:.2f}%"
print("| method | encoder | epochs | device | kNN k=20 (random init) | silhouette (random init) | linear probe (random init) | wall time |")
print("|---|---|---|---|---|---|---|---|")
for m in methods:
    if m not in runs:
        print(f"| {m} | | | | not measured | | | |")
        continue
    r = runs[m]
    rows = {row["representation"]: row["scores"] for row in r["rows"]}
    t, z = rows["trained encoder"], rows["random-init encoder"]
    print(f"| {m} | {r['encoder']} {r['config'].get('encoderWidths')} | {r['config']['epochs']} | {r['device'].split('[')[0].strip()} "
          f"| {pct(t['knnTop1'])} ({pct(z['knnTop1'])}) | {t['silhouette']:.3f} ({z['silhouette']:.3f}) "
          f"| {pct(t['linearProbe'])} ({pct(z['linearProbe'])}) | {r['history']['wallSeconds']:.0f} s |")
# The configuration each run used, from its metrics.json (the preset's recipe, ShortRunRecipe.table).
print()
print("| method | optimizer, base lr, weight decay | training images × epochs | crops | heads (projector; prototypes) | other |")
print("|---|---|---|---|---|---|")
for m in methods:
    if m not in runs:
        continue
    c = runs[m]["config"]
    other = [f"{k} {c[k]}" for k in ("emaMomentum", "temperature", "negatives") if c.get(k) is not None]
    if m in ("swav", "dino"):
        other.append(f"localCrops {c['localCrops']}")
    images = c.get("trainSubset") or 60000
    heads = ", ".join(filter(None, [str(c.get("projector") or ""), str(c.get("prototypes") or "")]))
    print(f"| {m} | {c['optimizer']} {c['baseLR']:g}, {c['weightDecay']:g} | {images} × {c['epochs']} | {c.get('cropScale')} | {heads} | {', '.join(other)} |")
PY
