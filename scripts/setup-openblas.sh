#!/usr/bin/env bash
# What `cargo build --features openblas` needs, installed outside the clone from PyPI (no system
# install, no root): OpenBLAS as SciPy ships it, the `scipy-openblas32` wheel. Its one library,
# `libscipy_openblas.so`, picks the CPU's kernels at run time (Haswell/Zen on AVX2, SkylakeX on
# AVX-512) and prefixes every symbol with `scipy_`, so it never clashes with another BLAS in the
# process. The wheel is only downloaded (`pip download --no-deps`) and unzipped. Idempotent: a
# second run only rewrites the env file.
#   scripts/setup-openblas.sh      then: source ~/.cache/entroscope/openblas/current/env.sh
# OPENBLAS_WHEEL_VERSION picks the release.
set -euo pipefail
VER="${OPENBLAS_WHEEL_VERSION:-0.3.34.481.3}"
PY="${PYTHON:-python3}"
DIR="${ENTROSCOPE_CACHE:-$HOME/.cache/entroscope}/openblas/$VER"
mkdir -p "$DIR"

if [ ! -f "$DIR/.installed" ]; then
  command -v unzip >/dev/null || { echo "setup-openblas: needs unzip (apt install unzip)" >&2; exit 1; }
  echo "setup-openblas: downloading scipy-openblas32 $VER into $DIR (about 20 MB)" >&2
  rm -rf "$DIR/whl" "$DIR/unpacked" "$DIR/lib"
  "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$DIR/whl" "scipy-openblas32==$VER"
  for w in "$DIR"/whl/*.whl; do unzip -o -q "$w" -d "$DIR/unpacked"; done
  cp -a "$DIR/unpacked/scipy_openblas32/lib" "$DIR/lib"
  rm -rf "$DIR/whl" "$DIR/unpacked"
  [ -e "$DIR/lib/libscipy_openblas.so" ] || { echo "setup-openblas: no lib/libscipy_openblas.so in the wheel" >&2; exit 1; }
  touch "$DIR/.installed"
fi

# Only what build.rs reads: it links the library with an rpath, so binaries need no LD_LIBRARY_PATH.
cat > "$DIR/env.sh" <<ENV
# Written by scripts/setup-openblas.sh: what \`cargo build --features openblas\` (build.rs) needs.
export ENTROSCOPE_OPENBLAS_LIB="$DIR/lib"
ENV
ln -sfn "$VER" "$(dirname "$DIR")/current"
echo "setup-openblas: OpenBLAS ($VER) ready; source $DIR/env.sh (also at $(dirname "$DIR")/current/env.sh)" >&2
cat "$DIR/env.sh"
