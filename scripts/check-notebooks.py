#!/usr/bin/env python3
"""Fails when the committed executed copies are stale or lost output: every notebooks/<name>.ipynb
needs notebooks/executed/<name>.ipynb with the same code cells, in order, and no output of an
executed copy may be a chart's debug string (`Chart(…)`, a chart that did not display) or a
trimmed summary, nor carry two rich displays in one bundle (evcxr merges a cell's displays into
one, and a frontend draws one of them: the other is lost; one display per cell). `make notebooks` regenerates the copies. Used by .ci/run.
    python3 scripts/check-notebooks.py"""
import json, pathlib, re, sys

root = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
bad = []
for src in sorted(root.glob("*.ipynb")):
    done = root / "executed" / src.name
    if not done.exists():
        bad.append(f"{src.name}: no executed copy in notebooks/executed/")
        continue
    code = lambda nb: ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    a, b = json.loads(src.read_text()), json.loads(done.read_text())
    if code(a) != code(b):
        n = next((i for i, (x, y) in enumerate(zip(code(a), code(b))) if x != y), min(len(code(a)), len(code(b))))
        bad.append(f"{src.name}: code cell {n + 1} of the executed copy differs from the source")
    for i, c in enumerate(c for c in b["cells"] if c["cell_type"] == "code"):
        for o in c.get("outputs", []):
            texts = [o.get("text", "")] + [v for k, v in o.get("data", {}).items() if k.startswith("text/plain")]
            text = "".join("".join(t) if isinstance(t, list) else t for t in texts)
            if re.search(r"^Chart\(", text, re.M):
                bad.append(f"{src.name}: code cell {i + 1} prints a Chart(…) debug string instead of the chart")
            if re.search(r"more lines? trimmed", text):
                bad.append(f"{src.name}: code cell {i + 1} has a trimmed summary")
            rich = [k for k in o.get("data", {}) if k != "text/plain"]
            if len(rich) > 1 or (rich and "text/plain" in o.get("data", {}) and o.get("output_type") == "display_data"):
                bad.append(f"{src.name}: code cell {i + 1} shows {', '.join(sorted(o['data']))} in one display; a frontend draws one of them")
for b in bad:
    print("check-notebooks:", b, file=sys.stderr)
if bad:
    print("check-notebooks: regenerate the executed copies with `make notebooks`", file=sys.stderr)
    sys.exit(1)
print(f"check-notebooks: {len(list(root.glob('*.ipynb')))} notebooks, executed copies current")
