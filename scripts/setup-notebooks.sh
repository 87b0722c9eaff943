#!/usr/bin/env bash
# Installs what headless notebook runs need, outside the clone and idempotently:
#   1. evcxr_jupyter (the Rust Jupyter kernel) from crates.io, pinned, into $ENTROSCOPE_CACHE/evcxr
#   2. a small Python venv with nbconvert/nbclient/jupyter_client in $ENTROSCOPE_CACHE/jupyter-venv
#   3. evcxr's settings ($ENTROSCOPE_CACHE/evcxr-config/init.evcxr): build in the project's shared
#      target directory with the profile of `make test`, so the notebooks reuse its dependencies
#   4. the Rust kernelspec in $ENTROSCOPE_CACHE/jupyter/kernels/rust (JUPYTER_PATH points there)
# A second run checks versions and returns in about a second.
#
#   scripts/setup-notebooks.sh            install / verify, print timings
#   source scripts/setup-notebooks.sh     only set the environment (PATH, JUPYTER_PATH, ...) in
#                                         this shell, e.g. before `jupyter lab` or evcxr by hand
#
# Environment:
#   ENTROSCOPE_CACHE   cache root (default ~/.cache/entroscope)
#   CARGO_TARGET_DIR   the target directory that `make test` builds into (default $ENTROSCOPE_CACHE/target)
#   PYTHON             interpreter for the venv (default python3)
#   EVCXR_VERSION      evcxr_jupyter version (default below; 0.22.x is what the notebooks are tested with)

ENTROSCOPE_CACHE="${ENTROSCOPE_CACHE:-$HOME/.cache/entroscope}"
EVCXR_VERSION="${EVCXR_VERSION:-0.22.0}"
ENTROSCOPE_EVCXR_ROOT="$ENTROSCOPE_CACHE/evcxr"
ENTROSCOPE_JUPYTER_VENV="$ENTROSCOPE_CACHE/jupyter-venv"
# Jupyter looks for kernelspecs in $JUPYTER_PATH/kernels (first) and `evcxr_jupyter --install`
# writes to $JUPYTER_PATH/kernels/rust when JUPYTER_PATH is set: one directory serves both.
export JUPYTER_PATH="$ENTROSCOPE_CACHE/jupyter"
export JUPYTER_DATA_DIR="$ENTROSCOPE_CACHE/jupyter"
export PATH="$ENTROSCOPE_EVCXR_ROOT/bin:$ENTROSCOPE_JUPYTER_VENV/bin:$PATH"
export ENTROSCOPE_CACHE
# evcxr reads init.evcxr from here; the kernelspec sets it too, so Jupyter started by hand agrees.
# Always our own folder: the set-up rewrites init.evcxr, which must not touch a personal one.
export EVCXR_CONFIG_DIR="$ENTROSCOPE_CACHE/evcxr-config"
# evcxr's crate folder (the cells' Cargo.toml, Cargo.lock and sources), kept between kernels.
export EVCXR_TMPDIR="${EVCXR_TMPDIR:-$ENTROSCOPE_CACHE/evcxr-build}"

# Python packages for `jupyter nbconvert --execute` (no notebook server, no ipykernel: the kernel
# is Rust). Bounded so that a new major version does not change behaviour under us.
ENTROSCOPE_JUPYTER_REQS=("nbconvert>=7.16,<8" "nbclient>=0.10,<0.12" "jupyter_client>=8.6,<9" "nbformat>=5.10,<6")

# Sourced: stop here, leaving the caller's shell options alone.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  return 0
fi

set -euo pipefail

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
t_all=$(now)
echo "setup-notebooks: cache $ENTROSCOPE_CACHE, load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

# 1. evcxr_jupyter ---------------------------------------------------------------------------
t=$(now)
evcxr_bin="$ENTROSCOPE_EVCXR_ROOT/bin/evcxr_jupyter"
installed_version() { # cargo's own record of what it installed into this root
  grep -o "^\"evcxr_jupyter [0-9.]*" "$ENTROSCOPE_EVCXR_ROOT/.crates.toml" 2>/dev/null | cut -d' ' -f2
}
if [[ -x "$evcxr_bin" && "$(installed_version)" == "$EVCXR_VERSION" ]]; then
  echo "ok    evcxr_jupyter $EVCXR_VERSION (cached, $(since "$t"))"
else
  echo "build evcxr_jupyter $EVCXR_VERSION from crates.io (cold: ~10 min on 2 cores)"
  mkdir -p "$ENTROSCOPE_EVCXR_ROOT"
  # Built in cargo's own temporary target dir, never in the project's shared CARGO_TARGET_DIR
  # (whose lock other builds hold), and from a directory without the repo's .cargo/config.toml.
  (cd "$ENTROSCOPE_EVCXR_ROOT" &&
    env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR \
      cargo install evcxr_jupyter --locked --version "=$EVCXR_VERSION" --root "$ENTROSCOPE_EVCXR_ROOT")
  echo "ok    evcxr_jupyter $EVCXR_VERSION installed ($(since "$t"))"
fi

# 2. Python venv with the execution tools ----------------------------------------------------
t=$(now)
stamp="$ENTROSCOPE_JUPYTER_VENV/.entroscope-reqs"
want="${ENTROSCOPE_JUPYTER_REQS[*]}"
if [[ -x "$ENTROSCOPE_JUPYTER_VENV/bin/jupyter-nbconvert" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "ok    jupyter venv $ENTROSCOPE_JUPYTER_VENV (cached, $(since "$t"))"
else
  echo "make  jupyter venv $ENTROSCOPE_JUPYTER_VENV"
  "${PYTHON:-python3}" -m venv "$ENTROSCOPE_JUPYTER_VENV"
  "$ENTROSCOPE_JUPYTER_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "${ENTROSCOPE_JUPYTER_REQS[@]}"
  echo "$want" >"$stamp"
  echo "ok    jupyter venv ($("$ENTROSCOPE_JUPYTER_VENV/bin/jupyter-nbconvert" --version 2>/dev/null \
    | sed 's/^/nbconvert /'), $(since "$t"))"
fi

# 3. evcxr's settings: one build with `make test` --------------------------------------------
# evcxr generates a manifest whose [profile.dev] equals ours (Cargo.toml) but for opt-level and the
# two runtime checks, builds for the explicit host target with RUSTFLAGS=-Cprefer-dynamic (as the
# Makefile does) and forces CARGO_TARGET_DIR=target in its own folder. `:build_env` overrides what
# differs, so every dependency that `make test` compiled is fresh here and a notebook's first
# `:dep entroscope` cell compiles only entroscope itself. (`:linker system`: evcxr would pick lld or
# mold when installed, and lld changes RUSTFLAGS.)
#   :preserve_vars_on_panic 0   a panic ends the cell with an error instead of a stderr message
#            with status "ok" (evcxr catches panics by default), so a panicking notebook fails.
# The dependency versions must be ours too, but evcxr's start-up build (a cell `42`, no
# dependencies) prunes its crate's Cargo.lock, so a lock put there beforehand is gone by the
# notebook's `:dep`. The last line of init.evcxr, which runs after that build, puts a copy of the
# project's Cargo.lock (kept beside init.evcxr) back into evcxr's crate folder.
t=$(now)
shared_target="${CARGO_TARGET_DIR:-$ENTROSCOPE_CACHE/target}"
mkdir -p "$EVCXR_CONFIG_DIR" "$shared_target"
shared_target="$(cd "$shared_target" && pwd)" # evcxr's cargo runs in its own folder
repo_lock="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/Cargo.lock"
if ! cmp -s "$repo_lock" "$EVCXR_CONFIG_DIR/Cargo.lock"; then
  cp "$repo_lock" "$EVCXR_CONFIG_DIR/Cargo.lock"
fi
init_evcxr="$(printf '%s\n' \
  ':opt 3' \
  ':linker system' \
  ':build_env CARGO_PROFILE_DEV_DEBUG_ASSERTIONS=false' \
  ':build_env CARGO_PROFILE_DEV_OVERFLOW_CHECKS=false' \
  ":build_env CARGO_TARGET_DIR=$shared_target" \
  ":build_env CARGO_BUILD_BUILD_DIR=$shared_target" \
  ':preserve_vars_on_panic 0' \
  'if let (Ok(config), Ok(dir)) = (std::env::var("EVCXR_CONFIG_DIR"), std::env::var("EVCXR_TMPDIR")) { let _ = std::fs::copy(std::path::Path::new(&config).join("Cargo.lock"), std::path::Path::new(&dir).join("Cargo.lock")); }')"
if [[ "$(cat "$EVCXR_CONFIG_DIR/init.evcxr" 2>/dev/null)" == "$init_evcxr" ]]; then
  echo "ok    evcxr settings $EVCXR_CONFIG_DIR/init.evcxr (cached, $(since "$t"))"
else
  printf '%s\n' "$init_evcxr" >"$EVCXR_CONFIG_DIR/init.evcxr"
  echo "ok    evcxr settings $EVCXR_CONFIG_DIR/init.evcxr written (builds in $shared_target)"
fi

# 4. Rust kernelspec -------------------------------------------------------------------------
# evcxr links each cell with -Cprefer-dynamic and loads it with dlopen; the library finds libstd
# through a RUNPATH relative to target/.../deps, but evcxr loads the copy one directory up. That
# only works by accident when the build dir shares no prefix with the toolchain (/tmp vs ~/.rustup);
# with our build dir under ~/.cache it fails ("dlopen failed"). So the kernelspec puts the
# toolchain's std directory on LD_LIBRARY_PATH (jupyter_client fills in ${LD_LIBRARY_PATH}).
t=$(now)
kernel_json="$JUPYTER_PATH/kernels/rust/kernel.json"
std_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/lib"
ld_path="$std_dir:\${LD_LIBRARY_PATH}"
if [[ -f "$kernel_json" ]] && grep -qF "\"$evcxr_bin\"" "$kernel_json" && grep -qF "\"$ld_path\"" "$kernel_json" \
  && grep -qF "\"$EVCXR_CONFIG_DIR\"" "$kernel_json" && grep -qF "\"$EVCXR_TMPDIR\"" "$kernel_json"; then
  echo "ok    kernelspec $kernel_json (cached, $(since "$t"))"
else
  "$evcxr_bin" --install >/dev/null
  "$ENTROSCOPE_JUPYTER_VENV/bin/python" - "$kernel_json" "$ld_path" "$EVCXR_CONFIG_DIR" "$EVCXR_TMPDIR" <<'PY'
import json, sys
path, ld, config, tmpdir = sys.argv[1:5]
spec = json.load(open(path))
spec.setdefault("env", {}).update(LD_LIBRARY_PATH=ld, EVCXR_CONFIG_DIR=config, EVCXR_TMPDIR=tmpdir)
json.dump(spec, open(path, "w"), indent=2, ensure_ascii=False)
PY
  echo "ok    kernelspec $kernel_json written ($(since "$t"))"
fi
if ! jupyter kernelspec list 2>/dev/null | grep -q "^ *rust "; then
  echo "error: the venv's jupyter does not see the rust kernel; JUPYTER_PATH=$JUPYTER_PATH" >&2
  exit 1
fi

echo "setup-notebooks: done in $(since "$t_all"); use: scripts/run-notebooks.sh [notebook...]"
