#!/usr/bin/env bash
# Installs, for the current user, what the notebooks need: GoNB (pinned), goimports and gopls, and the
# vegclf kernel specs (kernels/vegclf-cpu: the pure Go backend; kernels/vegclf-cuda: XLA on a GPU), with
# the gonb path filled in. Both specs set GODEBUG=madvdontneed=0 for the cells' programs (GoNB passes the
# kernel's environment on), as the CLI sets it for itself (vegclf/cmd/vegclf/freedmem.go). Jupyter itself
# comes from Debian's packages (see scripts/setup.sh --notebooks).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/goenv.sh
# Where 'go install' puts commands: GOBIN, else the first GOPATH entry's bin. It need not be on the
# user's PATH: the kernel specs get it, with the go command's folder, in front of theirs.
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
godir=$(dirname "$(command -v go)")
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

# Jupyter's data folder: JUPYTER_DATA_DIR, else the user's (~/.local/share/jupyter, made if missing), else
# for root without a usable HOME the system's, which Jupyter also searches.
if [ -n "${JUPYTER_DATA_DIR:-}" ]; then
  data_dir=$JUPYTER_DATA_DIR
elif [ -n "${HOME:-}" ] && [ -w "$HOME" ]; then
  data_dir="$HOME/.local/share/jupyter"
elif [ "$(id -u)" -eq 0 ]; then
  data_dir=/usr/local/share/jupyter
else
  echo "kernels: HOME ('${HOME:-}') is unset or not writable: set JUPYTER_DATA_DIR to a writable folder, here and when you start Jupyter" >&2
  exit 1
fi
kernels="$data_dir/kernels"
for spec in kernels/vegclf-*/; do
  name=$(basename "$spec")
  mkdir -p "$kernels/$name" || { echo "kernels: cannot make $kernels/$name: set JUPYTER_DATA_DIR to a writable folder" >&2; exit 1; }
  # GoNB runs the go command for every cell: the spec's GOTOOLCHAIN must be go.mod's.
  grep -q "\"GOTOOLCHAIN\": \"$GOTOOLCHAIN\"" "$spec/kernel.json" ||
    { echo "kernels: $spec/kernel.json does not set GOTOOLCHAIN to go.mod's $GOTOOLCHAIN" >&2; exit 1; }
  # gonb by its path; GoNB finds go, goimports and gopls on the kernel's PATH (Jupyter fills in ${PATH}).
  sed -e "s#\"gonb\"#\"$gobin/gonb\"#" -e "s#\"env\": {#\"env\": {\"PATH\": \"$gobin:$godir:\${PATH}\", #" \
    "$spec/kernel.json" > "$kernels/$name/kernel.json"
  echo "kernels: installed $name in $kernels/$name"
done
