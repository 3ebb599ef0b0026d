#!/usr/bin/env bash
# The README's main command as a new machine runs it, twice (about 5 minutes on 2 cores; test.sh runs it):
#  1. a fresh clone of this repository's HEAD, an empty Go module cache (so go.mod's toolchain is fetched
#     too, as on a machine that never ran it) and build cache, HOME an empty folder (no ~/.cache, no
#     Jupyter folder) and a PATH without Go's bin folders;
#  2. the same as a user who is not root, with HOME unset, Go's caches left to scripts/goenv.sh (a fresh
#     TMPDIR) and the module cache of the first run shared read-only.
# Each time ./scripts/run.sh must exit 0 and end with a validation accuracy above 90%.
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

# check_validation LOG: the run's validation line, above 90%.
check_validation() {
  local line
  line=$(grep '^Validation: ' "$1" | tail -n 1)
  awk -v l="$line" 'BEGIN { split(l, f, /[ %]+/); exit !(f[2] + 0 > 90) }' ||
    { echo "first-run check: no validation accuracy above 90% in $1 ('$line')"; tail -n 30 "$1"; exit 1; }
  echo "first-run check: $line"
}

echo "first-run check 1: fresh clone, empty module and build caches, empty HOME, PATH=$path"
git clone -q "$repo" "$work/clone"
start=$SECONDS
if ! (cd "$work/clone" && env -i PATH="$path" HOME="$work/home" GOMODCACHE="$work/gomod" GOCACHE="$work/gocache" \
  GOFLAGS=-modcacherw TERM=dumb ./scripts/run.sh >"$work/run1.log" 2>&1); then
  echo "first-run check 1: ./scripts/run.sh failed on a new machine:"; tail -n 30 "$work/run1.log"; exit 1
fi
echo "first-run check 1: $((SECONDS - start)) s"
check_validation "$work/run1.log"

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
check_validation "$work/run2.log"
