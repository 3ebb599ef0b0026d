#!/usr/bin/env bash
# Measures data loading (decode, resize, normalize: one pass over DATA/train) of vegclf and of PyTorch's
# DataLoader side by side, in alternating rounds on this machine, and prints the medians and their ratio.
# Environment: DATA (../shared/data/hymenoptera, real photos), SIZE (224), BATCH (16), WORKERS (PyTorch's
# worker processes, 2), ROUNDS (5), BASELINE (optional: another vegclf binary with 'bench --loading-only',
# e.g. an older build, measured in the same rounds).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
. scripts/goenv.sh
data=${DATA:-../shared/data/hymenoptera} size=${SIZE:-224} batch=${BATCH:-16} workers=${WORKERS:-2} rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o bin/vegclf ./vegclf/cmd/vegclf
sides="vegclf torch"
[ -n "${BASELINE:-}" ] && sides="baseline $sides"
for round in $(seq "$rounds"); do
  for side in $sides; do
    case $side in
    vegclf) bin/vegclf bench --data "$data" --image-size "$size" --batch "$batch" --loading-only --json "$work/$side.$round.json" >/dev/null ;;
    baseline) "$BASELINE" bench --data "$data" --image-size "$size" --batch "$batch" --loading-only --json "$work/$side.$round.json" >/dev/null ;;
    torch) /usr/bin/python3 vegclf/internal/torchref/bench_loading.py "$data" "$size" "$workers" "$batch" >"$work/$side.$round.json" ;;
    esac
  done
done
/usr/bin/python3 - "$work" "$rounds" $sides <<'PY'
import json, statistics, sys
work, rounds, sides = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
med = {}
for side in sides:
    runs = [json.load(open(f"{work}/{side}.{r}.json"))["data_loading_images_per_second"] for r in range(1, rounds + 1)]
    med[side] = statistics.median(runs)
    print(f"{side:9s} images/s: median {med[side]:7.1f}  runs " + " ".join(f"{v:.1f}" for v in runs))
print(f"vegclf/PyTorch: {med['vegclf'] / med['torch']:.2f}")
if "baseline" in med:
    print(f"vegclf/baseline: {med['vegclf'] / med['baseline']:.2f}")
PY
echo "decoder: $(bin/vegclf backend | sed -n 's/^JPEG decoder: //p'); PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), $workers workers"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
