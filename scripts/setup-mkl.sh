#!/usr/bin/env bash
# What `cargo build --features mkl` needs, installed outside the clone from Intel's PyPI wheels
# (no system install, no root): MKL's single dynamic library `libmkl_rt.so.3` with the libraries it
# loads at run time, its headers, and Intel's OpenMP runtime `libiomp5.so`. The wheels are only
# downloaded (`pip download --no-deps`) and unzipped; their `*.data/data/{lib,include}` trees are
# merged into one prefix. Idempotent: a second run only rewrites the env file.
#   scripts/setup-mkl.sh          then: source ~/.cache/entroscope/mkl/current/env.sh
# MKL_VERSION picks the wheels (the mkl, mkl-include, mkl-devel and intel-openmp releases share it).
set -euo pipefail
VER="${MKL_VERSION:-2026.2.0}"
PY="${PYTHON:-python3}"
DIR="${ENTROSCOPE_CACHE:-$HOME/.cache/entroscope}/mkl/$VER"
ROOT="$DIR/root"  # the MKLROOT layout: lib/ (libmkl_rt.so.3, libiomp5.so, ...), include/ (mkl.h)
mkdir -p "$DIR"

if [ ! -f "$DIR/.installed" ]; then
  command -v unzip >/dev/null || { echo "setup-mkl: needs unzip (apt install unzip)" >&2; exit 1; }
  echo "setup-mkl: downloading the MKL $VER wheels into $DIR (about 300 MB)" >&2
  rm -rf "$DIR/whl" "$DIR/unpacked" "$ROOT"
  "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$DIR/whl" "mkl==$VER" "mkl-include==$VER" "mkl-devel==$VER" "intel-openmp==$VER"
  for w in "$DIR"/whl/*.whl; do unzip -o -q "$w" -d "$DIR/unpacked"; done
  mkdir -p "$ROOT"
  for d in "$DIR"/unpacked/*.data/data; do cp -a "$d/." "$ROOT/"; done
  rm -rf "$DIR/whl" "$DIR/unpacked"
  [ -e "$ROOT/lib/libmkl_rt.so.3" ] || { echo "setup-mkl: no lib/libmkl_rt.so.3 in the wheels" >&2; exit 1; }
  touch "$DIR/.installed"
fi

# Only what build.rs reads: it links libmkl_rt with an rpath, so the binaries need no
# LD_LIBRARY_PATH, and nothing compiles against MKL's headers. Setting CPATH here would change the
# environment of every C build script (zstd, ring, ...) and rebuild the shared target's
# dependencies at each switch between an mkl build and a plain one.
cat > "$DIR/env.sh" <<ENV
# Written by scripts/setup-mkl.sh: what \`cargo build --features mkl\` (build.rs) needs.
export MKLROOT="$ROOT"
export ENTROSCOPE_MKL_LIB="$ROOT/lib"
ENV
ln -sfn "$VER" "$(dirname "$DIR")/current"
echo "setup-mkl: MKL $VER ready; source $DIR/env.sh (also at $(dirname "$DIR")/current/env.sh)" >&2
cat "$DIR/env.sh"
