#!/usr/bin/env bash
# Ours and the peer (HF transformers) on the same lens workload, back to back, 2 threads: 1024
# tokens as 8x128 and as 2x512, all layers, Shannon + Renyi-2. Like for like: the peer runs in bf16
# where our weights or our lens are bf16, else in f32 (dequantizing the same GGUF file).
# Prints the CPU, its matrix instruction sets and the load average; then the machine's best
# measured matmul on this model's unembedding product [rows x d]·[d x vocab] over every path (the
# `gemm` crate, the build's backend, MKL's bf16 product where it runs, torch in each dtype);
# then per shape and setting both throughputs and their ratio, both forwards, both peak RSS, and
# each side's unembedding rate (GFLOP/s) as a share of that best in the lens's precision.
#   scripts/bench-lens.sh [MODEL] [SHAPES...]     MODEL: a GGUF path or a bundled name
#   DTYPES="f32 quantized" scripts/bench-lens.sh qwen2.5-coder-1.5b-instruct 8x128
#   BACKEND=mkl LENS="f32 bf16" scripts/bench-lens.sh qwen2.5-coder-1.5b-instruct 8x128
# BACKEND: gemm (the `gemm` crate, default), openblas (OpenBLAS from PyPI, scripts/setup-openblas.sh)
# or mkl (Intel MKL, scripts/setup-mkl.sh); openblas and mkl also run the forward's linear layers.
# DTYPES: our weight dtypes (default f32). LENS: our lens precisions (default f32; bf16 needs
# BACKEND=mkl and AMX or AVX512-BF16, else the lens says so and runs in f32).
# Needs the peer's venv (see ../shared/peer/README.md): PEER_PY, PEER_DIR override its location.
# Builds the examples in the shared build of `make test` (dev profile, optimised), so nothing
# but entroscope and the two examples compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS_DIR="${ENTROSCOPE_MODELS:-$HOME/.cache/entroscope/models}"
MODEL="${1:-SmolLM2-135M-Instruct.Q4_1.gguf}"
shift || true
case "$MODEL" in
  */*|*.gguf) ;;
  smollm2-135m-instruct) MODEL=SmolLM2-135M-Instruct.Q4_1.gguf ;;
  gemma-3-270m) MODEL=gemma-3-270m-q4_k_m.gguf ;;
  qwen2.5-coder-0.5b-instruct|qwen2.5-coder-1.5b-instruct) MODEL="$MODEL-q4_k_m.gguf" ;;
esac
[[ "$MODEL" == */* ]] || MODEL="$MODELS_DIR/$MODEL"
[ -f "$MODEL" ] || { echo "error: $MODEL not found; run make models" >&2; exit 1; }
SHAPES=("${@:-8x128 2x512}")
DTYPES="${DTYPES:-f32}"
PEER_PY="${PEER_PY:-$HOME/.cache/entroscope/peer-venv/bin/python}"
PEER_DIR="${PEER_DIR:-$(cd .. && pwd)/shared/peer}"
LENS="${LENS:-f32}"
BACKEND="${BACKEND:-gemm}"
case "$BACKEND" in
  gemm) FEATURES= ;;
  mkl|openblas) FEATURES=$BACKEND; bash "scripts/setup-$BACKEND.sh" >/dev/null
    . "$HOME/.cache/entroscope/$BACKEND/current/env.sh" ;;
  *) echo "error: BACKEND=$BACKEND: use gemm (the default), openblas or mkl" >&2; exit 1 ;;
esac
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/entroscope/target}"
export RAYON_NUM_THREADS=2
HOST=$(cargo -vV | sed -n 's/^host: //p')
CARGO_BUILD_TARGET=$HOST RUSTFLAGS=-Cprefer-dynamic cargo build ${FEATURES:+--features $FEATURES} \
  --example bench_lens --example bench_matmul >&2
EX="$CARGO_TARGET_DIR/$HOST/debug/examples"
OURS="$EX/bench_lens"
isa=$({ grep -o -w -E 'avx2|avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo || true; } | sort -u | tr '\n' ' ')
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') (${isa% }); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The peer's dtype for one of our settings: bf16 where our weights are bf16 or our lens runs in
# bf16 (asked for, in an mkl build, on a CPU with AMX or AVX512-BF16; else it runs in f32).
peer_dtype() {
  if [ "$1" = bf16 ] || { [ "$2" = bf16 ] && [ "$BACKEND" = mkl ] && [[ "$isa" =~ amx_bf16|avx512_bf16 ]]; }; then
    echo bf16
  else
    echo f32
  fi
}
PEER_DTYPES=$(for d in $DTYPES; do for l in $LENS; do peer_dtype "$d" "$l"; done; done | sort -u)
# The best matmul on this model's unembedding at the lens's rows per product (64 MiB of logits,
# at least 384 rows: src/lens.rs): ours (columns 4, 5 and, on bf16 hardware, 6 of
# bench_matmul's row) and torch's in each dtype the peer runs.
KN=$("$PEER_PY" - "$MODEL" <<'PY' 2>/dev/null
import sys, gguf
t = {t.name: t for t in gguf.GGUFReader(sys.argv[1]).tensors}
w = t.get("output.weight") or t["token_embd.weight"]  # [d, vocab] in GGML order
print(f"{min(int(x) for x in w.shape)}x{max(int(x) for x in w.shape)}")
PY
) || { echo "error: cannot read the unembedding's shape from $MODEL (the peer's gguf package)" >&2; exit 1; }
ROWS=$(( (64 << 20) / (4 * ${KN#*x}) )); [ "$ROWS" -ge 384 ] || ROWS=384
"$EX/bench_matmul" --kn "$KN" "$ROWS" | awk -F'|' -v be="$BACKEND" -v m="$ROWS" '$2+0 == m {
  a = $4 + 0; b = $5 + 0
  if (be == "gemm") print "gemm", (a > b ? a : b); else { print "gemm", a; print be, b }
  if ($6 + 0 > 0) print "mkl-bf16", $6 + 0 }' > "$tmp/best"
for pd in $PEER_DTYPES; do
  "$PEER_PY" "$PEER_DIR/lens_peer.py" --mode sgemm --model "$MODEL" --sgemm-tokens "$ROWS" --threads 2 --dtype "$pd" 2>/dev/null |
    python3 -c 'import json,sys; print("torch-'"$pd"'", json.load(sys.stdin)["gflops"])' >> "$tmp/best"
done
echo "matmul [$ROWS x ${KN%x*}]·[${KN/x/ x }] (GFLOP/s, best of repeats): $(tr '\n' ' ' < "$tmp/best")"
for shape in ${SHAPES[@]}; do
  "$PEER_PY" "$PEER_DIR/lens_peer.py" --mode corpus --model "$MODEL" --shape "$shape" --dump-ids "$tmp/ids.json" 2>/dev/null
  for pd in $PEER_DTYPES; do
    "$PEER_PY" "$PEER_DIR/lens_peer.py" --mode lens --model "$MODEL" --ids "$tmp/ids.json" --threads 2 --dtype "$pd" > "$tmp/peer-$pd.json" 2>/dev/null
  done
  for dtype in $DTYPES; do for lens in $LENS; do
  "$OURS" "$MODEL" "$tmp/ids.json" --dtype "$dtype" --lens-precision "$lens" > "$tmp/ours.json"
  python3 - "$tmp/ours.json" "$tmp/peer-$(peer_dtype "$dtype" "$lens").json" "$shape" "$tmp/best" "$(peer_dtype "$dtype" "$lens")" <<'PY'
import json, sys
o, p, shape, peer_dtype = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], sys.argv[5]
# the best product in our lens's precision (bf16 paths against bf16, f32 against f32)
bf16 = o["lens_precision"] == "bf16"
best = [(float(v), k) for k, v in (line.split() for line in open(sys.argv[4])) if ("bf16" in k) == bf16]
top, top_path = max(best)
d = max(abs(a - b) for a, b in zip(o["mean_shannon_per_layer"], p["mean_shannon_per_layer"]))
so, sp = o["seconds"], p["seconds"]
print(f"{o['model']} {shape}, ours {o['dtype']} weights, lens {o['lens_precision']}, {o['matmul_backend']}; "
      f"peer {peer_dtype}: ours {o['token_layers_per_s']:.0f} token*layers/s "
      f"(forward {so['t_forward']:.1f} s, lens {so['t_lens']:.1f} s), "
      f"peer {p['token_layers_per_s']:.0f} (forward {sp['t_forward']:.1f}, "
      f"unembed {sp['t_matmul']:.1f}, reduce {sp['t_reduce']:.1f} s); "
      f"ratio {o['token_layers_per_s'] / p['token_layers_per_s']:.2f}x, "
      f"forward ours/peer {so['t_forward'] / sp['t_forward']:.2f}; "
      f"peak RSS ours {o['peak_rss_mib']:.0f} MiB (after load {o['rss_after_load_mib']:.0f}), "
      f"peer {p['peak_rss_mib']:.0f} MiB; max |mean Shannon diff| {d:.1e} nats")
flop = 2 * o["tokens"] * o["layers"] * o["d_model"] * o["vocab"] / 1e9
ours, peer = flop / so["t_lens"], flop / sp["t_matmul"]
print(f"  unembedding: ours {ours:.0f} GFLOP/s (reductions included) = {100 * ours / top:.0f} %, "
      f"peer {peer:.0f} GFLOP/s (final norm included) = {100 * peer / top:.0f} % of this machine's "
      f"best measured {o['lens_precision']} product ({top:.0f} GFLOP/s, {top_path})")
PY
  done; done
done
