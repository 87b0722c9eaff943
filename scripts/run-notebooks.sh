#!/usr/bin/env bash
# Executes notebooks headless with the Rust (evcxr) kernel and writes executed copies whose
# outputs are cleaned of what a reader does not need (timing metadata, compile noise).
# Exits non-zero as soon as a cell fails (compile error, panic, `?` error) or times out.
#
#   scripts/run-notebooks.sh                       every notebooks/*.ipynb
#   scripts/run-notebooks.sh notebooks/smoke.ipynb ...
#   ENTROSCOPE_QUICK=1 scripts/run-notebooks.sh    cells see ENTROSCOPE_QUICK=1 (std::env::var)
#
# Environment:
#   ENTROSCOPE_QUICK      passed through to the kernel and the notebook's code (default unset)
#   ENTROSCOPE_SIZE       quick, default, full or paper: the paper notebooks' preset (default: default)
#   NOTEBOOKS_OUT         where executed copies go (default notebooks/executed; "inplace" overwrites
#                         the input notebooks)
#   NOTEBOOK_TIMEOUT      seconds one cell may take (default 3600: without `make test` first, the
#                         first `:dep` compiles every dependency, optimised, on 2 cores)
#   NOTEBOOK_STRIP        1 (default) cleans outputs (see execute_notebook below); 0 keeps them as run
#   EVCXR_TMPDIR          evcxr's crate directory (default $ENTROSCOPE_CACHE/evcxr-build), kept
#                         between runs; the compiled dependencies are those of `make test`, in the
#                         shared target directory (setup-notebooks.sh). See notebooks/README.md.
#   ENTROSCOPE_CACHE      cache root (default ~/.cache/entroscope), as in setup-notebooks.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/setup-notebooks.sh
source "$repo/scripts/setup-notebooks.sh" # environment only (PATH, JUPYTER_PATH, ...)
# Installs on first use; about a second when everything is already there.
"$repo/scripts/setup-notebooks.sh"

out="${NOTEBOOKS_OUT:-$repo/notebooks/executed}"
timeout="${NOTEBOOK_TIMEOUT:-3600}"
strip="${NOTEBOOK_STRIP:-1}"
if [[ -n "${ENTROSCOPE_QUICK:-}" ]]; then export ENTROSCOPE_QUICK; fi
if [[ -n "${ENTROSCOPE_SIZE:-}" ]]; then export ENTROSCOPE_SIZE; fi
mkdir -p "$EVCXR_TMPDIR"
# One evcxr build directory serves one kernel at a time: a second run waits for the first.
exec 9>"$EVCXR_TMPDIR.lock"
if ! flock -n 9; then
  echo "run-notebooks: waiting for another run that holds $EVCXR_TMPDIR.lock"
  flock 9
fi

if [[ $# -eq 0 ]]; then
  shopt -s nullglob
  set -- "$repo"/notebooks/*.ipynb
  [[ $# -gt 0 ]] || { echo "run-notebooks: no notebooks in $repo/notebooks" >&2; exit 1; }
fi

# Executes one notebook with nbclient (what `jupyter nbconvert --execute` runs inside), stopping at
# the first failing cell, printing each cell's time as it finishes, and on failure evcxr's error
# (compile errors arrive only as an `error` output, not in nbconvert's exception text). Then, with
# NOTEBOOK_STRIP=1, cleans outputs: no timing metadata or compile noise; images, values and
# printed text kept whole (a summary is never cut).
execute_notebook() { # src dest timeout strip
  "$ENTROSCOPE_JUPYTER_VENV/bin/python" - "$@" <<'PY'
import os, re, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

src, dest, timeout, strip = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
NOISE = re.compile(r"^\s*(Compiling|Checking|Finished|Updating|Downloaded|Downloading|Locking|Adding|Blocking|Fresh)\b")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

nb = nbformat.read(src, as_version=4)
client = NotebookClient(nb, timeout=timeout, startup_timeout=120, kernel_name="rust",
                        resources={"metadata": {"path": os.path.dirname(src)}})
started = {}
def merged_streams(outputs):
    """evcxr sends every printed line as its own output; join consecutive ones of one stream."""
    merged = []
    for o in outputs:
        if o.output_type == "stream" and merged and merged[-1].output_type == "stream" \
                and merged[-1].name == o.name:
            merged[-1].text += o.text
        else:
            merged.append(o)
    return merged
def head(text, n=20):
    lines = text.rstrip().splitlines()
    return "\n".join(lines[:n] + ([f"... ({len(lines) - n} more lines)"] if len(lines) > n else []))
def first_line(cell):
    lines = [l for l in cell.source.splitlines() if l.strip()]
    return lines[0][:60] if lines else ""
def on_start(cell, cell_index, **_):
    started[cell_index] = time.monotonic()
def on_done(cell, cell_index, **_):
    secs = time.monotonic() - started.get(cell_index, time.monotonic())
    print(f"    cell {cell_index:3d} {secs:8.1f} s  {first_line(cell)}", flush=True)
client.on_cell_execute = on_start
client.on_cell_executed = on_done

t0 = time.monotonic()
PANIC = re.compile(r"^thread '.*' (\(\d+\) )?panicked at ", re.M)
def panicked():  # backstop for a config where evcxr still reports a caught panic as "ok"
    for c in nb.cells:
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            if o.output_type == "stream" and o.name == "stderr" and PANIC.search(o.text):
                return c
    return None

try:
    # The kernel's own stdout/stderr (evcxr's and cargo's messages) go to our stderr, the log.
    client.execute(stdout=sys.stderr, stderr=sys.stderr)
    bad = panicked()
    if bad is not None:
        print(f"notebook failed: CellExecutionError (panic) after {time.monotonic() - t0:.1f} s", file=sys.stderr)
        print("--- cell:\n" + bad.source, file=sys.stderr)
        print("--- stderr:\n" + head("".join(o.text for o in bad.outputs if o.output_type == "stream")), file=sys.stderr)
        sys.exit(1)
except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
    bad = next((c for c in nb.cells if c.cell_type == "code"
                and any(o.output_type == "error" for o in c.get("outputs", []))), None)
    print(f"notebook failed: {type(e).__name__} after {time.monotonic() - t0:.1f} s", file=sys.stderr)
    if bad is not None:
        print("--- cell:\n" + bad.source, file=sys.stderr)
        for o in merged_streams(bad.outputs):
            if o.output_type == "stream":
                print(f"--- {o.name}:\n" + head(o.text), file=sys.stderr)
            elif o.output_type == "error":
                print(f"--- {o.ename}: {o.evalue}", file=sys.stderr)
                print(ANSI.sub("", "\n".join(o.traceback)), file=sys.stderr)
    else:
        print(ANSI.sub("", str(e))[-4000:], file=sys.stderr)
    sys.exit(1)

if strip:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        kept = []
        for o in merged_streams(cell.get("outputs", [])):
            if o.output_type == "stream":
                lines = [l for l in o.text.splitlines() if not NOISE.match(l)]
                if not lines:
                    continue
                o.text = "\n".join(lines) + "\n"
            elif o.output_type in ("display_data", "execute_result"):
                o.metadata = {k: v for k, v in o.get("metadata", {}).items() if k in ("image/png", "image/svg+xml")}
                # An image makes its text/plain twin redundant.
                if ("image/png" in o.data or "image/svg+xml" in o.data) and "text/plain" in o.data:
                    o.data.pop("text/plain")
            kept.append(o)
        cell.outputs = kept
    nb.metadata.pop("widgets", None)
nbformat.write(nb, dest)
PY
}

echo "run-notebooks: kernel rust (evcxr_jupyter $EVCXR_VERSION), build dir $EVCXR_TMPDIR, quick=${ENTROSCOPE_QUICK:-0}"
echo "run-notebooks: load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
log="$EVCXR_TMPDIR.run.log"
failed=0
total_start=$(date +%s.%N)
for nb in "$@"; do
  [[ -f "$nb" ]] || { echo "run-notebooks: no such notebook: $nb" >&2; exit 2; }
  nb=$(cd "$(dirname "$nb")" && pwd)/$(basename "$nb")
  name=$(basename "$nb")
  if [[ "$out" == "inplace" ]]; then
    dest_dir=$(dirname "$nb")
  else
    dest_dir="$out"
    mkdir -p "$dest_dir"
  fi
  echo "== $name"
  start=$(date +%s.%N)
  # The kernel starts in the notebook's own directory, so `:dep entroscope = { path = ".." }`
  # resolves to the repository. Cargo's progress and the kernel's own messages go to $log.
  tmp_out="$dest_dir/.$name.tmp-$$"
  if execute_notebook "$nb" "$tmp_out" "$timeout" "$strip" 2>"$log"; then
    mv "$tmp_out" "$dest_dir/$name"
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    echo "ok   $name  ${secs} s  -> ${dest_dir#"$repo"/}/$name ($(du -h "$dest_dir/$name" | cut -f1))"
  else
    rm -f "$tmp_out"
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    echo "FAIL $name  ${secs} s" >&2
    # A `:dep` crate that does not compile shows its errors only in cargo's output.
    { grep -A 12 -E '^error(\[E[0-9]+\])?: ' "$log" | head -n 80; } >&2 || true
    { sed -n '/^notebook failed: /,$p' "$log" | head -n 60; } >&2 || true
    echo "(kernel and cargo log: $log)" >&2
    failed=$((failed + 1))
    break
  fi
done
total=$(awk -v a="$total_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "run-notebooks: $failed failed, ${total} s in all"
[[ $failed -eq 0 ]]
