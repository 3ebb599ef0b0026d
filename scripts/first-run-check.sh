#!/usr/bin/env bash
# The README's main command as a new machine runs it, twice (about 5 minutes on 2 cores; test.sh runs it):
#  1. a fresh clone of this repository's HEAD, an empty Go module cache (so go.mod's toolchain is fetched
#     too, as on a machine that never ran it) and build cache, HOME an empty folder (no ~/.cache, no
#     Jupyter folder) and a PATH without Go's bin folders;
#  2. the same as a user who is not root, with HOME unset, Go's caches left to scripts/goenv.sh (a fresh
#     TMPDIR) and the module cache of the first run shared read-only.
# Each time ./scripts/run.sh must exit 0 and its run (runs/demo/summary.json) record a validation accuracy
# above 90%.
# It checks what is committed: uncommitted changes are not in the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/gomod" "$work/gocache"

path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Go where the README says it may be: /usr/local/go (goenv.sh adds it) or on PATH (kept).
go_dir=$(dirname "$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)")
[ "$go_dir" = /usr/local/go/bin ] || path="$go_dir:$path"

# check_validation RUNDIR LOG: the run's validation accuracy, as its summary.json records it, above 90%
# (LOG's end is shown when it is not).
check_validation() {
  local acc
  if ! acc=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["validation_accuracy"])' "$1/summary.json" 2>&1); then
    echo "first-run check: no validation accuracy in $1/summary.json: $acc"; tail -n 30 "$2"; exit 1
  fi
  awk -v a="$acc" 'BEGIN { exit !(a + 0 > 0.9) }' ||
    { echo "first-run check: validation accuracy $acc in $1/summary.json, not above 0.9"; tail -n 30 "$2"; exit 1; }
  echo "first-run check: validation accuracy $acc ($1/summary.json)"
}

echo "first-run check 1: fresh clone, empty module and build caches, empty HOME, PATH=$path"
git clone -q "$repo" "$work/clone"
start=$SECONDS
if ! (cd "$work/clone" && env -i PATH="$path" HOME="$work/home" GOMODCACHE="$work/gomod" GOCACHE="$work/gocache" \
  GOFLAGS=-modcacherw TERM=dumb ./scripts/run.sh >"$work/run1.log" 2>&1); then
  echo "first-run check 1: ./scripts/run.sh failed on a new machine:"; tail -n 30 "$work/run1.log"; exit 1
fi
echo "first-run check 1: $((SECONDS - start)) s"
check_validation "$work/clone/runs/demo" "$work/run1.log"

if [ "$(id -u)" -ne 0 ]; then
  echo "first-run check 2: skipped (it runs as another user, which needs root)"
  exit 0
fi
echo "first-run check 2: user nobody, HOME unset, caches from scripts/goenv.sh, the module cache read-only"
git clone -q "$repo" "$work/clone2"
mkdir -p "$work/tmp"
chown -R nobody "$work/clone2" "$work/tmp"
start=$SECONDS
if ! (cd "$work/clone2" && runuser -u nobody -- env -i PATH="$path" TMPDIR="$work/tmp" GOMODCACHE="$work/gomod" \
  TERM=dumb ./scripts/run.sh >"$work/run2.log" 2>&1); then
  echo "first-run check 2: ./scripts/run.sh failed as a user without a HOME:"; tail -n 30 "$work/run2.log"; exit 1
fi
echo "first-run check 2: $((SECONDS - start)) s"
grep -q "^goenv: HOME ('') is unset or not writable" "$work/run2.log" ||
  { echo "first-run check 2: goenv.sh did not say where the caches went:"; head -n 5 "$work/run2.log"; exit 1; }
check_validation "$work/clone2/runs/demo" "$work/run2.log"
