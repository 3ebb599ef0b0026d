#!/usr/bin/env bash
# Installs, for the current user, what the notebooks need: GoNB (pinned), goimports and gopls, and the
# vegclf kernel specs (kernels/vegclf-cpu: the pure Go backend; kernels/vegclf-cuda: XLA on a GPU), with
# the gonb path filled in. Jupyter itself comes from Debian's packages (see scripts/setup.sh --notebooks).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/goenv.sh
gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"

gonb_version=v0.11.5     # The version GoMLX v0.28.16 requires.
goimports_version=v0.52.0 # golang.org/x/tools: GoMLX v0.28.16 requires v0.50.0 or later.
gopls_version=v0.23.0

if ! command -v gonb >/dev/null 2>&1; then
  # 'go install gonb@version' is refused by the module proxy here; a throwaway module works.
  tmp=$(mktemp -d)
  (cd "$tmp" && go mod init tmp >/dev/null 2>&1 && go get "github.com/janpfeifer/gonb@$gonb_version" && go install github.com/janpfeifer/gonb)
  rm -rf "$tmp"
fi
command -v goimports >/dev/null 2>&1 || go install "golang.org/x/tools/cmd/goimports@$goimports_version"
command -v gopls >/dev/null 2>&1 || go install "golang.org/x/tools/gopls@$gopls_version"
gonb --install >/dev/null 2>&1 || { echo "kernels: 'gonb --install' failed" >&2; exit 1; }

kernels="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels"
for spec in kernels/vegclf-*/; do
  name=$(basename "$spec")
  mkdir -p "$kernels/$name"
  # GoNB runs the go command for every cell: the spec's GOTOOLCHAIN must be go.mod's.
  grep -q "\"GOTOOLCHAIN\": \"$GOTOOLCHAIN\"" "$spec/kernel.json" ||
    { echo "kernels: $spec/kernel.json does not set GOTOOLCHAIN to go.mod's $GOTOOLCHAIN" >&2; exit 1; }
  sed "s#\"gonb\"#\"$gobin/gonb\"#" "$spec/kernel.json" > "$kernels/$name/kernel.json"
  echo "kernels: installed $name in $kernels/$name"
done
