#!/usr/bin/env bash
# Trains every method with one preset at three seeds (`ssl train --method M --preset P --seed S`,
# nothing else) and prints the README's results table from the runs' metrics.json files: raw
# pixels first, then the random initialisation of each encoder, then each method's trained
# encoder, as mean ± standard deviation over the seeds; kNN with the whole training set and with
# its first 10 000 images as the bank, the nearest-neighbour margin, the silhouette and the linear
# probe on the test images, and the recipe each run used.
# Usage: bash scripts/results.sh [cpu|gpu] [extra ssl train arguments…]
#   SEEDS="0 1 2" (default), METHODS="simclr …" (default: all), TABLE_ONLY=1 only prints.
# A run whose metrics.json holds the configuration the same command resolves to now
# (`ssl train … --print-config`) is kept, so an interrupted table continues where it stopped;
# RERUN=1 trains every run again.
# The README's CPU table was made with `nice -n 15 bash scripts/results.sh cpu` (a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-cpu}; shift || true
seeds=(${SEEDS:-0 1 2})
methods=(${METHODS:-simclr moco memorybank swav deepcluster sela byol simsiam dino barlow vicreg})
if [ "${TABLE_ONLY:-0}" != 1 ]; then
    swift build -c release --product ssl >&2
    bin=$(swift build -c release --show-bin-path)
    # Seed by seed, so that an interrupted table has every method at the first seeds.
    for s in "${seeds[@]}"; do
        for m in "${methods[@]}"; do
            out="runs/results-$preset/$m-seed$s"
            if [ "${RERUN:-0}" != 1 ] && [ -f "$out/metrics.json" ] && python3 -c '
import json, sys
sys.exit(json.load(open(sys.argv[1]))["config"] != json.loads(sys.argv[2]))' "$out/metrics.json" \
                "$("$bin/ssl" train --method "$m" --preset "$preset" --seed "$s" --out "$out" "$@" --print-config 2>/dev/null)"; then
                echo "kept $out (same configuration)" >&2
                continue
            fi
            "$bin/ssl" train --method "$m" --preset "$preset" --seed "$s" --out "$out" --force "$@" >&2
        done
    done
fi
python3 - "$preset" "${#seeds[@]}" "${seeds[@]}" "${methods[@]}" <<'PY'
import json, statistics, sys
preset, count = sys.argv[1], int(sys.argv[2])
seeds, methods = sys.argv[3:3 + count], sys.argv[3 + count:]
runs = {}
for m in methods:
    for s in seeds:
        try:
            run = json.load(open(f"runs/results-{preset}/{m}-seed{s}/metrics.json"))
        except FileNotFoundError:
            continue
        runs.setdefault(m, []).append(run)

def rows(run):
    return {row["representation"]: row["scores"] for row in run["rows"]}

def stat(values, scale=100, digits=2):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    mean = statistics.mean(values) * scale
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"

def line(name, scores, extra):
    cells = [stat([s["knnTop1"] for s in scores]), stat([s.get("knnTop1SmallBank") for s in scores]),
             stat([(s.get("marginCosine") or {}).get("mean") for s in scores], 1, 4),
             stat([s["silhouette"] for s in scores], 1, 3), stat([s.get("linearProbe") for s in scores])]
    return f"| {name} | " + " | ".join(cells) + f" | {extra} |"

print(f"kNN k=20 (%): bank of the whole training set / of its first 10 000 images; NN margin: cosine, mean; "
      f"linear probe (%); mean ± standard deviation over seeds {', '.join(seeds)}")
print()
print("| representation | kNN | kNN, 10 000 bank | NN margin | silhouette | linear probe | note |")
print("|---|---|---|---|---|---|---|")
first = next((r for m in methods for r in runs.get(m, [])), None)
if first is None:
    print("| (no runs) | | | | | | |")
    sys.exit(0)
raw = rows(first)["raw pixels"]
print(line("raw pixels", [raw], "the same normalisation as the encoders' input"))
# The random initialisation depends only on the encoder and the seed: one row per encoder (the
# first method's runs that have it), not a copy per method.
def encoder(run):
    return f"{run['config']['encoder']} {run['config'].get('encoderWidths')}"
initial = {}
for m in methods:
    for run in runs.get(m, []):
        initial.setdefault(encoder(run), {}).setdefault(run["config"]["seed"], rows(run)["random-init encoder"])
for name, by_seed in initial.items():
    print(line(f"random init, {name}", list(by_seed.values()), f"seed{'s' if len(by_seed) > 1 else ''} "
               + ", ".join(str(s) for s in sorted(by_seed))))
for m in methods:
    if m not in runs:
        print(f"| {m} | not measured | | | | | |")
        continue
    r = runs[m]
    trained = [rows(x)["trained encoder"] for x in r]
    wall = statistics.mean(x["history"]["wallSeconds"] for x in r)
    below = [name for name, key in (("kNN", "knnTop1"), ("kNN with the 10 000 bank", "knnTop1SmallBank"), ("probe", "linearProbe"))
             if statistics.mean(s[key] for s in trained) < raw[key]]
    note = f"{len(r)} seed{'s' if len(r) > 1 else ''}, {wall:.0f} s of training each" + (f"; below raw pixels on {' and '.join(below)}" if below else "")
    if len(initial) > 1:
        note += f"; {encoder(r[0])}"
    print(line(f"**{m}**", trained, note))
# The configuration each run used, from its metrics.json (the preset's recipe, ShortRunRecipe.table).
print()
print("| method | encoder | optimizer, base lr, weight decay | training images × epochs | crops | heads (projector; prototypes) | other |")
print("|---|---|---|---|---|---|---|")
for m in methods:
    if m not in runs:
        continue
    c = runs[m][0]["config"]
    other = [f"{k} {c[k]}" for k in ("emaMomentum", "temperature", "negatives") if c.get(k) is not None]
    if m in ("swav", "dino"):
        other.append(f"localCrops {c['localCrops']}")
    images = c.get("trainSubset") or 60000
    heads = ", ".join(filter(None, [str(c.get("projector") or ""), str(c.get("prototypes") or "")]))
    print(f"| {m} | {c['encoder']} {c.get('encoderWidths')} | {c['optimizer']} {c['baseLR']:g}, {c['weightDecay']:g} | {images} × {c['epochs']} "
          f"| {c.get('cropScale')} | {heads} | {', '.join(other)} |")
PY
