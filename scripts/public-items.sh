#!/usr/bin/env bash
# Count the library's public API outside `papers` as rustdoc sees it: item pages (structs, enums,
# traits, functions, constants, type aliases, modules) and the methods documented on them.
# Usage: scripts/public-items.sh [DOC_DIR]  (default: build the docs of the work tree first)
set -euo pipefail
cd "$(dirname "$0")/.."
doc=${1:-}
if [ -z "$doc" ]; then
  cargo doc --no-deps --lib -q 2>/dev/null
  doc=${CARGO_TARGET_DIR:-target}/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}doc/entroscope
fi
# rustdoc also leaves redirect stubs where a re-exported item was defined: not counted.
pages=$(find "$doc" -name '*.html' ! -path '*/papers/*' |
  grep -E '/(struct|enum|trait|fn|constant|static|type|macro)\.[^/]+\.html$' |
  xargs grep -L 'Redirecting to' || true)
items=$(printf '%s\n' "$pages" | grep -c . || true)
modules=$(find "$doc" -name index.html ! -path '*/papers/*' | grep -c . || true)
# inherent methods only: the anchors between "Implementations" and the trait implementations
methods=$(python3 - "$doc" <<'PY'
import pathlib, re, sys
n = 0
for p in pathlib.Path(sys.argv[1]).rglob("*.html"):
    if "/papers/" in str(p) or not re.match(r"(struct|enum|trait)\.", p.name):
        continue
    t = p.read_text(errors="ignore")
    a = t.find('id="implementations"')
    if p.name.startswith("trait."):
        a, b = t.find('id="required-methods"'), t.find('id="implementors"')
    else:
        b = t.find('id="trait-implementations"')
    if a < 0:
        continue
    n += len(set(re.findall(r'id="(?:ty)?method\.([^"]+)"', t[a:b if b > 0 else len(t)])))
print(n)
PY
)
echo "items $items, modules $modules, methods $methods (outside papers)"
