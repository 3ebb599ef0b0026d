#!/usr/bin/env bash
# Sets up vegclf, builds its command, and runs the main job: the tutorial's whole recipe (frozen-backbone
# phase, fine-tuning, validation, predictions) on a small generated vegetable dataset. Extra arguments
# go to 'vegclf demo' (see 'bin/vegclf demo -h').
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/goenv.sh
go build -o bin/vegclf ./vegclf/cmd/vegclf
exec bin/vegclf demo "$@"
