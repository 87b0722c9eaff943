#!/usr/bin/env bash
# Count the public items of the library outside src/papers (a proxy for the public surface that
# needs no nightly rustdoc): `pub` fns, types, traits, consts, modules and re-exports, not
# `pub(crate)`/`pub(super)`. Usage: scripts/public-items.sh [git-rev]  (default: the work tree)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-}
files() {
  if [ -n "$rev" ]; then git ls-tree -r --name-only "$rev" -- src | grep '\.rs$'
  else git ls-files src | grep '\.rs$'; fi
}
show() { if [ -n "$rev" ]; then git show "$rev:$1"; else cat "$1"; fi; }
total=0
for f in $(files | grep -v '^src/papers/\|^src/bin/'); do
  n=$(show "$f" | grep -cE '^\s*pub (async )?(fn|struct|enum|trait|type|const|static|mod|use) ' || true)
  total=$((total + n))
done
echo "$total"
