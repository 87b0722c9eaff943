#!/usr/bin/env bash
# On a CUDA machine with PyTorch + transformers but no Rust and no network, with gpu-bundle/ (from
# scripts/build-gpu-bundle.sh) in the working tree, in about 10 minutes:
#  1. device agreement: every tiny fixture on CUDA in f32 and bf16 against the CPU in f32;
#  2. the lens workload, ours vs the peer (torch on the same GPU), on random-weight models with
#     real shapes (scripts/gpu/configs/), in each dtype; prints throughputs and their ratio.
# Figures go to stdout and, when $OUT is set, to $OUT/gpu-check.txt (plus the JSON of each run).
#   scripts/gpu-check.sh                 # CUDA
#   scripts/gpu-check.sh --device cpu    # dry run of this script on any machine (small shapes)
# Knobs: PYTHON, CONFIGS, SHAPE (BxT), DTYPES.
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=cuda
[ "${1:-}" = --device ] && DEVICE="$2"
PY="${PYTHON:-python3}"
B=gpu-bundle
if [ "$DEVICE" = cpu ]; then
  CONFIGS="${CONFIGS:-scripts/gpu/configs/smollm2-135m.json}" SHAPE="${SHAPE:-2x16}" DTYPES="${DTYPES:-f32}"
else
  CONFIGS="${CONFIGS:-scripts/gpu/configs/*.json}" SHAPE="${SHAPE:-8x512}" DTYPES="${DTYPES:-bf16 f32}"
fi
OUTD="${OUT:-$(mktemp -d)}"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
REPORT="$OUTD/gpu-check.txt"; : > "$REPORT"
say() { echo "$*" | tee -a "$REPORT"; }
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONWARNINGS=ignore CUDA_MODULE_LOADING=LAZY
mkdir -p "$WORK/bin"
for x in device_agreement bench_lens; do  # the bundle holds them xz-compressed
  "$PY" -c 'import lzma, sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' \
    "$B/$x.xz" > "$WORK/bin/$x" && chmod +x "$WORK/bin/$x" || { echo "gpu-check: no $B/$x.xz"; exit 1; }
done

# The CUDA libraries the binaries link (cublas, cublasLt, curand, nvrtc, cudart): torch's wheels,
# then the toolkit beside nvcc, then the bundle's cudart and, only if curand is nowhere, its stub.
torch_libs=$("$PY" -c 'import glob, importlib.util, os
roots = [p for m in ("nvidia", "torch") for p in getattr(importlib.util.find_spec(m), "submodule_search_locations", None) or []]
print(":".join(sorted({os.path.dirname(p) for r in roots for p in glob.glob(r + "/**/lib*.so*", recursive=True)})))' 2>/dev/null)
nvcc_root=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")")")
export LD_LIBRARY_PATH="$torch_libs:$nvcc_root/lib64:$nvcc_root/lib:/usr/local/cuda/lib64:$PWD/$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
missing() { ldd "$WORK/bin/bench_lens" "$WORK/bin/device_agreement" | awk '/not found/{print $1}' | sort -u; }
if missing | grep -q libcurand; then
  say "gpu-check: no libcurand here; using the bundle's stub (generators only)"
  LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$PWD/$B/fallback"
fi
if [ "$DEVICE" = cpu ] && missing | grep -q libcuda; then  # dry run on a machine with no driver
  LD_LIBRARY_PATH="$LD_LIBRARY_PATH:${ENTROSCOPE_CACHE:-$HOME/.cache/entroscope}/cuda/current/stub"
fi
if [ -n "$(missing)" ]; then
  say "gpu-check: libraries not found: $(missing | tr '\n' ' ')(no driver, or no CUDA 13 libraries)"
  exit 1
fi
say "gpu-check on $DEVICE: $(cat "$B/MANIFEST" | tr '\n' ';')"
command -v nvidia-smi >/dev/null && say "$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader)"
say "torch $("$PY" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)')"

fail=0
say "== 1. device agreement (tiny fixtures, $DEVICE vs cpu f32)"
timeout 300 "$WORK/bin/device_agreement" --device "$DEVICE" --fixtures tests/fixtures 2>&1 | tee -a "$REPORT"
agree=${PIPESTATUS[0]}
[ "$agree" = 0 ] || fail=1

say "== 2. lens workload $SHAPE, all layers, Shannon + Renyi-2: ours vs torch on $DEVICE"
for cfg in $CONFIGS; do
  name=$(basename "$cfg" .json)
  if ! timeout 300 "$PY" scripts/gpu/make_random_model.py "$cfg" "$WORK/$name" \
      --ids "$WORK/$name.ids.json" --shape "$SHAPE" >/dev/null 2>"$WORK/err"; then
    say "$name: could not write the random model: $(tail -1 "$WORK/err")"; fail=1; continue
  fi
  for dt in $DTYPES; do
    o="$OUTD/$name.$dt.ours.json" p="$OUTD/$name.$dt.peer.json"
    timeout 300 "$WORK/bin/bench_lens" "$WORK/$name" "$WORK/$name.ids.json" --device "$DEVICE" \
      --dtype "$dt" --warmup > "$o" 2>"$WORK/err" || { say "$name $dt ours failed: $(tail -1 "$WORK/err")"; fail=1; continue; }
    timeout 300 "$PY" scripts/gpu/lens_peer.py --mode lens --model "$WORK/$name" --warmup \
      --ids "$WORK/$name.ids.json" --device "$DEVICE" --dtype "$dt" --threads "$(nproc)" \
      > "$p" 2>"$WORK/err" || { say "$name $dt peer failed: $(tail -1 "$WORK/err")"; fail=1; continue; }
    "$PY" - "$o" "$p" "$name" "$dt" <<'PY' | tee -a "$REPORT"
import json, sys
o, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
d = max(abs(a - b) for a, b in zip(o["mean_shannon_per_layer"], p["mean_shannon_per_layer"]))
so, sp = o["seconds"], p["seconds"]
print(f"{sys.argv[3]} {sys.argv[4]} {o['shape']}, {o['layers']} layers: "
      f"ours {o['token_layers_per_s']:.0f} token*layers/s (forward {so['t_forward']:.3f} s, "
      f"lens {so['t_lens']:.3f} s), torch {p['token_layers_per_s']:.0f} (forward "
      f"{sp['t_forward']:.3f}, unembed {sp['t_matmul']:.3f}, reduce {sp['t_reduce']:.3f} s); "
      f"ratio {o['token_layers_per_s'] / p['token_layers_per_s']:.2f}x; "
      f"max |mean Shannon diff| {d:.1e} nats")
PY
  done
  rm -rf "${WORK:?}/$name"
done
say "== summary: agreement $([ "$agree" = 0 ] && echo ok || echo FAILED), $([ "$fail" = 0 ] && echo 'all steps ran' || echo 'some step FAILED'); report in $REPORT"
exit "$fail"
