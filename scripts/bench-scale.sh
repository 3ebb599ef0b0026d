#!/usr/bin/env bash
# Scale benchmark (issue 46): generates a dataset of the Kaggle vegetable set's shape (15 classes,
# 15000/3000/3000 224x224 JPEGs: synthetic, vegclf synth's vegetables three times over, each a class of its
# own), or FRACTION of it, and trains ResNet-50 at 224 from random weights (--weights none: no download) for
# one frozen and one fine-tuning epoch on it (1x), then the same short run on 5x the images. It reports the
# feature pass, the frozen epoch, fine-tuning's images/s, the peak resident memory and the run folder's size
# of the 1x run, and the peak memory of the 1x and 5x runs: with both caches set below the 1x data's size,
# the two should be within 10%.
#
# Usage: scripts/bench-scale.sh [FRACTION]   (default 1: the Kaggle set's size; 0.01 on a small machine)
# Environment: ARCH (resnet50), SIZE (224), BATCH (16), IMAGE_CACHE_MB (64), FEATURE_CACHE_MB (1): the
# caches, set below the 1x data's size at 0.01 (its training images take 88 MB, its features 1.7 MB);
# WORK (a folder to keep the data and runs in; default a temporary one, removed).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/goenv.sh
fraction=${1:-1}
arch=${ARCH:-resnet50} size=${SIZE:-224} batch=${BATCH:-16}
icache=${IMAGE_CACHE_MB:-64} fcache=${FEATURE_CACHE_MB:-1}
if [ -n "${WORK:-}" ]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
go build -o bin/vegclf ./vegclf/cmd/vegclf

# generate DIR SCALE: 15 classes of round(1000, 200, 200 x FRACTION x SCALE) train, test and validation
# images each (at least 1), as three draws of 5 vegetables with different seeds.
generate() {
  local dir=$1 scale=$2
  read -r train test validation < <(/usr/bin/python3 -c "
f = $fraction * $scale
print(*(max(1, round(n * f)) for n in (1000, 200, 200)))")
  for draw in 0 1 2; do
    bin/vegclf synth --out "$work/draw" --classes 5 --train "$train" --test "$test" --validation "$validation" \
      --size "$size" --seed "$((draw + 1))" >/dev/null
    for split in train test validation; do
      for class in "$work/draw/$split"/*; do
        mkdir -p "$dir/$split"
        mv "$class" "$dir/$split/$(basename "$class")-$draw"
      done
    done
    rm -rf "$work/draw"
  done
}

# run SCALE: trains the short run on the data at SCALE into $work/run-SCALEx, its report in run-SCALEx.log.
run() {
  local scale=$1
  generate "$work/data-${scale}x" "$scale"
  bin/vegclf train --data "$work/data-${scale}x" --out "$work/run-${scale}x" --arch "$arch" --weights none \
    --image-size "$size" --batch "$batch" --frozen-epochs 1 --finetune-epochs 1 \
    --image-cache-mb "$icache" --feature-cache-mb "$fcache" >"$work/run-${scale}x.log" 2>&1 ||
    { cat "$work/run-${scale}x.log" >&2; exit 1; }
  du -sb "$work/run-${scale}x" | cut -f1 >"$work/run-${scale}x.bytes"
}

run 1
run 5
/usr/bin/python3 - "$work" "$fraction" "$arch" "$size" "$batch" "$icache" "$fcache" <<'PY'
import json, sys
work, fraction, arch, size, batch, icache, fcache = sys.argv[1:]
def load(scale):
    s = json.load(open(f"{work}/run-{scale}x/summary.json"))
    frozen = [e for e in s["epochs"] if e["phase"] == "frozen"][0]
    finetune = [e for e in s["epochs"] if e["phase"] == "finetune"][0]
    feature_pass = s["phase_seconds"]["frozen"] - frozen["seconds"]
    size = int(open(f"{work}/run-{scale}x.bytes").read())
    return s, frozen, finetune, feature_pass, size
s1, frozen1, finetune1, pass1, bytes1 = load(1)
s5, frozen5, finetune5, pass5, bytes5 = load(5)
images1 = s1["train_images"] + s1["test_images"]
print(f"{arch} at {size}x{size}, batch {batch}, random weights; fraction {fraction} of the Kaggle set's 15000/3000/3000 images;")
print(f"caches: images {icache} MB, features {fcache} MB")
print(f"| measure | 1x ({s1['train_images']} train, {s1['test_images']} test) | 5x ({s5['train_images']} train, {s5['test_images']} test) |")
print("| --- | --- | --- |")
print(f"| feature pass (train and test), s | {pass1:.1f} ({images1 / pass1:.1f} images/s) | {pass5:.1f} ({(s5['train_images'] + s5['test_images']) / pass5:.1f} images/s) |")
print(f"| frozen epoch on the cached features (and its test), s | {frozen1['seconds']:.2f} | {frozen5['seconds']:.2f} |")
print(f"| fine-tuning epoch, training images/s | {finetune1['train_images_per_second']:.2f} | {finetune5['train_images_per_second']:.2f} |")
print(f"| peak resident memory, MB | {s1['peak_rss_mb']:.0f} | {s5['peak_rss_mb']:.0f} |")
print(f"| run folder, MB (10^6 bytes) | {bytes1 / 1e6:.0f} | {bytes5 / 1e6:.0f} |")
print(f"peak memory 5x/1x: {s5['peak_rss_mb'] / s1['peak_rss_mb']:.3f}")
PY
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
