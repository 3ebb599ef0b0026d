#!/usr/bin/env bash
# Measures vegclf and the PyTorch tutorial side by side, on this machine and the same generated images,
# and prints a table of figures and vegclf/PyTorch ratios. Environment: ARCH (resnet50), SIZE (224),
# BATCH (16), PER_CLASS (train images per class, 16), DURATION (per measured step, 20s).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
. scripts/goenv.sh
arch=${ARCH:-resnet50} size=${SIZE:-224} batch=${BATCH:-16} per_class=${PER_CLASS:-16}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o bin/vegclf ./vegclf/cmd/vegclf
bin/vegclf synth --out "$work/data" --classes 4 --train "$per_class" --test $((per_class / 4)) --validation $((per_class / 4)) --size 256
echo "== PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), $(nproc) threads"
/usr/bin/python3 vegclf/internal/torchref/bench_torch.py "$work/data" "$arch" "$size" "$batch" 5 2 "$work/torch.json"
cat "$work/torch.json"
echo "== vegclf"
bin/vegclf bench --data "$work/data" --arch "$arch" --image-size "$size" --batch "$batch" --recipe \
  --duration "${DURATION:-20s}" --json "$work/vegclf.json" --compare "$work/torch.json"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
