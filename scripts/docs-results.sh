#!/usr/bin/env bash
# Refresh the docs from a figures run: each paper's results.md (the report's markdown()) goes into
# docs/<paper>.md between the markers "<!-- results: begin -->" and "<!-- results: end -->"
# (appended the first time), headed by the run's size and date. The prose above it is kept by
# hand; `make figures` calls this, so a rerun refreshes the tables.
#   scripts/docs-results.sh [OUT=figures] [SIZE=default]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-figures}"
SIZE="${2:-default}"
for paper in uncertainty entropy_lens end edt; do
  src="$OUT/$paper/results.md"
  doc="$ROOT/docs/$paper.md"
  [ -f "$src" ] && [ -f "$doc" ] || continue
  python3 - "$doc" "$src" "$SIZE" "$OUT/$paper" <<'PY'
import datetime, re, sys
doc, src, size, out = sys.argv[1:]
body = open(src).read().strip()
# one heading level down, so the run's headings sit under the section's
body = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", body, flags=re.M)
today = datetime.date.today().isoformat()
block = (
    "<!-- results: begin -->\n"
    f"## The last `make figures` run (SIZE={size}, {today})\n\n"
    f"Written by `scripts/docs-results.sh` from `{out}/results.md`; figures and tables beside it.\n\n"
    f"{body}\n"
    "<!-- results: end -->\n"
)
text = open(doc).read()
pat = re.compile(r"<!-- results: begin -->.*?<!-- results: end -->\n?", re.S)
text = pat.sub(lambda _: block, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + block
open(doc, "w").write(text)
print(f"docs-results: {doc} <- {src}")
PY
done
