#!/usr/bin/env bash
# Ours and the peer (HF transformers) on the same lens workload, back to back, 2 threads:
# 1024 tokens as 8x128 and as 2x512, all layers, Shannon + Renyi-2. Prints the CPU and the load
# average first, then per shape both throughputs (token*layers/s), their ratio, both peak RSS,
# and the lens's unembedding rate (GFLOP/s, reductions included) beside this machine's sgemm
# peak on the same product (examples/bench_matmul.rs), so the gap to the limit shows in every run.
#   scripts/bench-lens.sh [MODEL] [SHAPES...]     MODEL: a GGUF path or a bundled name
#   DTYPES="f32 quantized" scripts/bench-lens.sh qwen2.5-coder-1.5b-instruct 8x128
#   FEATURES=mkl LENS="f32 bf16" scripts/bench-lens.sh qwen2.5-coder-1.5b-instruct 8x128
# DTYPES: our weight dtypes to run (default f32); the peer always runs in f32.
# LENS: our lens precisions (default f32; bf16 needs FEATURES=mkl and AMX or AVX512-BF16).
# FEATURES=mkl: build with Intel MKL (scripts/setup-mkl.sh; its own target dir); default: `gemm`.
# Needs the peer's venv (see ../shared/peer/README.md): PEER_PY, PEER_DIR override its location.
# Builds the examples in the shared build of `make test` (dev profile, optimised), so nothing
# but the two examples compiles.
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
FEATURES="${FEATURES:-}"
if [ "$FEATURES" = mkl ]; then
  bash scripts/setup-mkl.sh >/dev/null
  . "$HOME/.cache/entroscope/mkl/current/env.sh"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/entroscope/target-mkl}"
elif [ -n "$FEATURES" ]; then
  echo "error: FEATURES=$FEATURES: use mkl, or leave it empty for the gemm crate" >&2; exit 1
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/entroscope/target}"
export RAYON_NUM_THREADS=2
HOST=$(cargo -vV | sed -n 's/^host: //p')
CARGO_BUILD_TARGET=$HOST RUSTFLAGS=-Cprefer-dynamic cargo build ${FEATURES:+--features $FEATURES} \
  --example bench_lens --example bench_matmul >&2
EX="$CARGO_TARGET_DIR/$HOST/debug/examples"
OURS="$EX/bench_lens"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# The best of the direct sgemm paths at M = 341 rows (the lens's default block), GFLOP/s.
# "f32-peak,bf16-peak": the bf16 column (6) exists only in an mkl build on bf16 hardware.
PEAK=$("$EX/bench_matmul" 341 | awk -F'|' '$2+0 == 341 {a=$4+0; b=$5+0; print (a > b ? a : b) "," $6+0; exit}')
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for shape in ${SHAPES[@]}; do
  "$PEER_PY" "$PEER_DIR/lens_peer.py" --mode corpus --model "$MODEL" --shape "$shape" --dump-ids "$tmp/ids.json" 2>/dev/null
  "$PEER_PY" "$PEER_DIR/lens_peer.py" --mode lens --model "$MODEL" --ids "$tmp/ids.json" --threads 2 > "$tmp/peer.json" 2>/dev/null
  for dtype in $DTYPES; do for lens in $LENS; do
  "$OURS" "$MODEL" "$tmp/ids.json" --dtype "$dtype" --lens-precision "$lens" > "$tmp/ours.json"
  python3 - "$tmp/ours.json" "$tmp/peer.json" "$shape ($dtype)" "$PEAK" <<'PY'
import json, sys
o, p, shape = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
f32_peak, bf16_peak = (float(x) for x in sys.argv[4].split(","))
peak = bf16_peak if o["lens_precision"] == "bf16" and bf16_peak > 0 else f32_peak
d = max(abs(a - b) for a, b in zip(o["mean_shannon_per_layer"], p["mean_shannon_per_layer"]))
shape = f"{shape[:-1]}, lens {o['lens_precision']}, {o['matmul_backend']})"
print(f"{o['model']} {shape}: ours {o['token_layers_per_s']:.0f} token*layers/s "
      f"(forward {o['seconds']['t_forward']:.1f} s, lens {o['seconds']['t_lens']:.1f} s), "
      f"peer {p['token_layers_per_s']:.0f} (forward {p['seconds']['t_forward']:.1f}, "
      f"unembed {p['seconds']['t_matmul']:.1f}, reduce {p['seconds']['t_reduce']:.1f} s); "
      f"ratio {o['token_layers_per_s'] / p['token_layers_per_s']:.2f}x; "
      f"peak RSS ours {o['peak_rss_mib']:.0f} MiB (after load {o['rss_after_load_mib']:.0f}), "
      f"peer {p['peak_rss_mib']:.0f} MiB; max |mean Shannon diff| {d:.1e} nats")
flop = 2 * o["tokens"] * o["layers"] * o["d_model"] * o["vocab"]
rate = flop / o["seconds"]["t_lens"] / 1e9
print(f"  lens unembedding {rate:.0f} GFLOP/s (reductions included) = {100 * rate / peak:.0f} % of "
      f"this machine's {o['lens_precision']} peak on the same product ({peak:.0f} GFLOP/s at M = 341)")
PY
  done; done
done
