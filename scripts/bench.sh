#!/usr/bin/env bash
# Measures vegclf and the PyTorch tutorial side by side, on this machine and the same generated images,
# and prints a table of figures and vegclf/PyTorch ratios. Environment: ARCH (resnet50), SIZE (224),
# BATCH (16), PER_CLASS (train images per class, 16), DURATION (per measured step, 20s), EPOCH_PAIRS (1).
# Last, the one-epoch measure: 'vegclf train' for one fine-tuning epoch over 48 images, the whole command
# timed (start-up, weight loading, compilation, checkpoints, validation, predictions), against the tutorial's
# loop in PyTorch on the same images and backbone weights, its whole process timed too (Python's start,
# import torch, checkpoint, validation, predictions): EPOCH_PAIRS alternating pairs, PyTorch first.
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
echo "== one fine-tuning epoch over 48 images, whole command (start-up included)"
bin/vegclf synth --out "$work/epoch" --classes 4 --train 12 --test 4 --validation 4 --size 256 >/dev/null
/usr/bin/python3 -c "import sys, torch, torchvision; torch.manual_seed(0); torch.save(getattr(torchvision.models, sys.argv[1])().state_dict(), sys.argv[2])" \
  "$arch" "$work/weights.pth"
# wall prints the seconds the command takes (its output goes to $work/wall.log, shown if it fails).
wall() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$work/wall.log" 2>&1 || { cat "$work/wall.log" >&2; return 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
torch_sum=0 vegclf_sum=0
for pair in $(seq "${EPOCH_PAIRS:-1}"); do
  rm -rf "$work/epoch-run" "$work/epoch-torch" && mkdir "$work/epoch-torch"
  t=$(wall /usr/bin/python3 vegclf/internal/torchref/bench_cli_epoch.py "$work/epoch" "$arch" "$size" "$batch" "$work/weights.pth" "$work/epoch-torch")
  v=$(wall bin/vegclf train --data "$work/epoch" --out "$work/epoch-run" --arch "$arch" --weights "$work/weights.pth" \
    --image-size "$size" --batch "$batch" --frozen-epochs 0 --finetune-epochs 1)
  echo "pair $pair: PyTorch ${t} s, vegclf ${v} s"
  torch_sum=$(awk -v a="$torch_sum" -v b="$t" 'BEGIN { print a + b }') vegclf_sum=$(awk -v a="$vegclf_sum" -v b="$v" 'BEGIN { print a + b }')
done
awk -v t="$torch_sum" -v v="$vegclf_sum" -v n="${EPOCH_PAIRS:-1}" \
  'BEGIN { printf "one-epoch CLI run: PyTorch %.2f s, vegclf %.2f s (means of %d): PyTorch/vegclf %.2fx (goal >= 1.0)\n", t / n, v / n, n, t / v }'
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
