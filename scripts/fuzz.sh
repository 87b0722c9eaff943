#!/usr/bin/env bash
# Fuzz one parser with AFL++ through cargo-afl (stable Rust): `make fuzz FUZZ_TARGET=gguf FUZZ_SECONDS=600`.
# Targets (fuzz/targets/): gguf (reader, tokenizer assembly, full load), hf_config, prompts
# (txt/jsonl/csv/parquet), chat_template. Installs cargo-afl and builds AFL++ on first use, builds
# the targets with AFL's instrumentation into their own target directory, starts from the
# committed seeds (fuzz/seeds/<target>/, written by the make_seeds bin), keeps the queue under
# ~/.cache/entroscope/fuzz/<target> so a second run goes on from it, and prints AFL's summary:
# executions, corpus paths, crashes and hangs. A crash's input is in .../default/crashes/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ENTROSCOPE_CACHE:-$HOME/.cache/entroscope}"
TARGET="${1:?usage: scripts/fuzz.sh TARGET [SECONDS]  (gguf | hf_config | prompts | chat_template)}"
SECS="${2:-600}"
[ -f "$ROOT/fuzz/targets/$TARGET.rs" ] || { echo "fuzz: no target '$TARGET' (fuzz/targets/*.rs)" >&2; exit 2; }

command -v cargo-afl >/dev/null || cargo install cargo-afl --locked
# AFL++ itself, built once by cargo-afl (no LLVM plugins needed on stable)
cargo afl config --build >/dev/null 2>&1 || true
export CARGO_TARGET_DIR="$CACHE/target-fuzz"
cd "$ROOT/fuzz"
cargo afl build --release --bin "$TARGET" --bin make_seeds
[ -n "$(ls -A "seeds/$TARGET" 2>/dev/null)" ] || "$CARGO_TARGET_DIR/release/make_seeds"

OUT="$CACHE/fuzz/$TARGET"
mkdir -p "$OUT"
BIN="$CARGO_TARGET_DIR/release/$TARGET"
# the coverage map the (large) instrumented binary needs, which afl-fuzz asks for up front
# (only above AFL's default of 65536: a smaller value makes every seed crash)
MAP="$(AFL_DUMP_MAP_SIZE=1 "$BIN" </dev/null 2>/dev/null || true)"
if [ "${MAP:-0}" -gt 65536 ]; then export AFL_MAP_SIZE="$MAP"; else unset AFL_MAP_SIZE; fi
# afl-fuzz itself, not `cargo afl fuzz`: that adds -c0 (CMPLOG), which a stable-Rust build has no
# instrumentation for, and every seed then times out
AFL_FUZZ="$(ls -td "${XDG_DATA_HOME:-$HOME/.local/share}"/afl.rs/rustc-*/afl.rs-*/afl/bin/afl-fuzz 2>/dev/null | head -1 || true)"
[ -x "$AFL_FUZZ" ] || { echo "fuzz: no afl-fuzz under ~/.local/share/afl.rs (run: cargo afl config --build)" >&2; exit 1; }
AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_AUTORESUME=1 \
AFL_NO_AFFINITY=1 ENTROSCOPE_PROGRESS=0 \
  "$AFL_FUZZ" -i "seeds/$TARGET" -o "$OUT" -V "$SECS" -t 5000 -- "$BIN" \
  > "$OUT/afl.log" 2>&1 || { tail -30 "$OUT/afl.log" >&2; exit 1; }
S="$OUT/default/fuzzer_stats"
v() { sed -n "s/^$1 *: *//p" "$S"; }
echo "fuzz $TARGET: $(v run_time) s, $(v execs_done) execs ($(v execs_per_sec)/s), corpus $(v corpus_count) paths, crashes $(v saved_crashes), hangs $(v saved_hangs), edges $(v edges_found)/$(v total_edges)"
[ "$(v saved_crashes)" = 0 ] || { echo "crashing inputs: $OUT/default/crashes/" >&2; exit 1; }
