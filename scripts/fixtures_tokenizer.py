#!/usr/bin/env python3
"""Reference token ids for `src/model/gguf_tokenizer.rs`, computed by Hugging Face transformers.

Run (about a minute; Gemma's 262144-token vocabulary is slow to convert in Python):

    ~/.cache/entroscope/peer-venv/bin/python scripts/fixtures_tokenizer.py

It loads each real GGUF model of the test suite with
`AutoTokenizer.from_pretrained(dir, gguf_file=name)` (transformers 5.x builds the tokenizer from the
file's `tokenizer.ggml.*` metadata, exactly what our Rust code replicates), encodes a set of texts
with `add_special_tokens` True and False, decodes the ids back (with and without special tokens),
and writes `tests/fixtures/tokenizer/<model stem>.json`. It also records a compact fingerprint of
the backend tokenizer HF built (its normalizer / pre-tokenizer / post-processor / decoder / model
settings verbatim, plus counts and FNV-1a 64 checksums of the vocabulary, the merges and the added
tokens), so the Rust test can check the structure too, not only the ids of a few texts.

Environment: ENTROSCOPE_MODELS (default ~/.cache/entroscope/models) is where the GGUF files are.
A model whose file is missing is skipped with a message.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import gguf
import numpy as np

import tokenizers
import transformers
from transformers import AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "tokenizer"
MODELS = Path(os.environ.get("ENTROSCOPE_MODELS", Path.home() / ".cache" / "entroscope" / "models"))

# A text that touches every branch of both tokenizers: ASCII, accents, CJK, emoji (4-byte UTF-8,
# byte fallback in Gemma), leading and runs of spaces, tabs, newlines, digits, code, and a
# chat-template special token in the text (kept whole, never split).
COMMON = (
    "  Hello, world! The café naïve façade costs 1234567 € (or 3.14159 $).\n\n"
    "東京は日本の首都です。 Emoji: 🙂🚀 and 👩‍💻.\n"
    "\tTabbed\t\tline   with   runs of spaces    \n"
    "def f(x):\n    return x ** 2  # square\n\n\n"
    "fn main() { println!(\"{}\", 42); }\r\n"
    "Ünïcödé: Ελληνικά, русский, العربية, हिन्दी, 한국어.  End.  "
)

SHORT_COMMON = [
    "",
    " ",
    "  ",
    "Hello world",
    " Hello world",
    "Hello  world",
    "hello\n\nworld",
    "\n",
    "\t\tindented",
    "1234567",
    "3.14159",
    "café naïve",
    "東京は日本の首都です",
    "🙂🚀",
    "e\u0301 vs \u00e9",  # combining accent vs precomposed
    "a\u00a0b",  # no-break space
    "        eight spaces",
    " " * 40 + "forty",
    "trailing   ",
    "<unk> <s> </s> <0x41>",
    "don't won't I'm we'll they're",
    "x" * 64,
    "🙂" * 5,
    "\x00\x01\x7f",
]

SHORT_BY_MODEL = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": [
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|><|im_end|><|endoftext|>",
        "text<|endoftext|>more",
        "<|im_start",
        "<repo_name>x<file_sep>y",
    ],
    "gemma-3-270m-q4_k_m.gguf": [
        "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
        "<bos><eos><pad><unk><mask>",
        "<start_of_image>",
        "<table><tr><td>1</td></tr></table>",
        "<b>bold</b> and <s>strike</s>",
        "\t\t\ttabs\t",
        "\n\n\n\nfour newlines",
        "[multimodal]",
        "<start_of_turn",
        "<unused0><unused6241>",
    ],
}


def fnv1a64(chunks):
    """FNV-1a 64-bit over the UTF-8 bytes of the chunks, in order (mirrored in the Rust test)."""
    h = 0xCBF29CE484222325
    for chunk in chunks:
        for byte in chunk.encode("utf-8"):
            h ^= byte
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def fingerprint(tok):
    """What the backend tokenizer is made of, small enough to commit.

    Added tokens whose id is not one of the model vocabulary's are listed apart: transformers adds
    its classes' default special tokens (GPT-2's `<|endoftext|>`) even when the file lacks them,
    at ids past the embedding matrix, and the Rust side deliberately does not.
    """
    js = json.loads(tok.backend_tokenizer.to_str())
    model = dict(js["model"])
    vocab = model.pop("vocab")
    merges = model.pop("merges", None) or []
    merges = [m if isinstance(m, list) else m.split(" ") for m in merges]
    model_ids = set(vocab.values())
    added = sorted(js["added_tokens"], key=lambda a: a["id"])
    beyond = [[a["id"], a["content"]] for a in added if a["id"] not in model_ids]
    added = [a for a in added if a["id"] in model_ids]
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    return {
        "normalizer": js["normalizer"],
        "pre_tokenizer": js["pre_tokenizer"],
        "post_processor": js["post_processor"],
        "decoder": js["decoder"],
        "model": model,
        "vocab_size": len(vocab),
        "vocab_size_with_added": tok.backend_tokenizer.get_vocab_size(with_added_tokens=True) - len(beyond),
        "vocab_fnv": fnv1a64(f"{t}\t{i}\n" for t, i in by_id),
        "merges_count": len(merges),
        "merges_fnv": fnv1a64(f"{a} {b}\n" for a, b in merges),
        "merges_head": merges[:8],
        "merges_tail": merges[-8:],
        "added_count": len(added),
        "added_special_count": sum(a["special"] for a in added),
        "added_fnv": fnv1a64(
            f"{a['id']}\t{a['content']}\t{int(a['special'])}\t{int(a['normalized'])}\n" for a in added
        ),
        "added_not_special": [[a["id"], a["content"]] for a in added if not a["special"]][:40],
        "added_beyond_vocab": beyond,
    }


def encode_cases(tok, texts):
    cases = []
    for text in texts:
        for add in (True, False):
            ids = tok(text, add_special_tokens=add).input_ids
            cases.append(
                {
                    "text": text,
                    "add_special_tokens": add,
                    "ids": ids,
                    "decoded": tok.decode(ids, skip_special_tokens=False),
                    "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
                }
            )
    return cases


# ------------------------------------------------------------------------------------------------
# Synthetic files: tiny vocabularies for the paths the two real models do not take (a Llama-2
# style sentencepiece vocabulary with scores, byte-level vocabularies with a `pre` split regex and
# BOS/EOS flags, Phi-3, and Gemma's respelling of space tokens with a duplicate). Each is written
# as a real GGUF, loaded by transformers like the real ones, and stored in the fixture as its
# tokenizer metadata, from which the Rust test rebuilds a `gguf_file::Content`.
# ------------------------------------------------------------------------------------------------

def byte_chars():
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return [bytes_to_unicode()[b] for b in range(256)]


def llama2_like():
    pieces = ["\u2581", "a", "b", "c", "ab", "\u2581a", "\u2581ab", "bc", "abc", "\u2581abc", "h", "e", "l",
              "o", "he", "ll", "llo", "hello", "\u2581hello", "\u2581\u2581", "\u2581b"]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces + ["<tool>", "<ctl>"]
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces) + [4, 3]
    # Scores out of file order, so the derived merge order depends on them.
    scores = [0.0] * 259 + [-(i * 7 % len(pieces)) - 1.0 for i in range(len(pieces))] + [0.0, 0.0]
    return dict(arch="llama", model="llama", tokens=tokens, types=types, scores=scores,
                ids=dict(bos=1, eos=2, unk=0), flags=dict(add_bos=True))


def byte_level(arch, pre, control, bos, eos, add_bos, add_eos):
    chars = byte_chars()
    merges = ["\u0120 t", "h e", "\u0120t he", "i n", "\u0120 a", "\u0120a n", "\u0120an d", "1 2", "12 3",
              "\u00e2 \u0124", "\u00e2\u0124 \u00ac", "' s", "\u010a \u010a"]
    merged = [m.replace(" ", "") for m in merges]
    # "\u20ac" (the euro sign) is stored raw, not byte-level spelled: transformers respells it to
    # the spelling of its UTF-8 bytes, which the last merges build.
    merged[merged.index("\u00e2\u0124\u00ac")] = "\u20ac"
    tokens = control + chars + merged + ["<think>"]
    types = [3] * len(control) + [1] * (256 + len(merged)) + [4]
    return dict(arch=arch, model="gpt2", pre=pre, tokens=tokens, types=types, merges=merges,
                ids=dict(bos=bos, eos=eos), flags=dict(add_bos=add_bos, add_eos=add_eos))


def phi3_like():
    spec = llama2_like()
    spec["arch"] = "phi3"
    return spec


def gemma_like():
    # "  " and " \n" are both respelled to two "\u2581" (the second wins in the dict), "   " to three.
    pieces = ["\u2581", "a", "b", "ab", "\u2581a", "  ", " \n", "   ", "\u2581\u2581\u2581a", "\n", "\t"]
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces
    types = [3, 3, 3, 3, 3, 3] + [6] * 256 + [1] * (len(pieces) - 2) + [4, 4]
    scores = [0.0] * len(tokens)
    return dict(arch="gemma3", model="llama", tokens=tokens, types=types, scores=scores,
                ids=dict(bos=2, eos=1, unk=3, pad=0), flags=dict(add_bos=True, add_space_prefix=False))


SYNTHETIC = {
    "llama2_like": (llama2_like, ["abc hello", " abc", "  ab  c", "hello<tool>abc<ctl>", "xyz \u00e9\U0001f642", "bca", ""]),
    "qwen2_like": (
        lambda: byte_level("qwen2", "qwen2", ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|bad token|>"],
                           None, 2, False, False),
        ["the and 123 in", "<|im_start|>the<|im_end|>", "it's \u20ac12", "<think>\n\n", "<|bad token|>", "12345"],
    ),
    "llama3_like": (
        lambda: byte_level("llama", "llama-bpe", ["<|begin_of_text|>", "<|end_of_text|>"], 0, 1, True, True),
        ["the and 123 in", "it's \u20ac12", "1234567", "<|begin_of_text|>x", ""],
    ),
    "phi3_like": (phi3_like, ["abc hello", " abc", "  ab  c", "hello<tool>abc"]),
    "gemma_like": (gemma_like, ["ab  ab", "a \nb", "   a", "\t\nab", "<start_of_turn>ab", ""]),
}


def write_gguf(path, spec):
    w = gguf.GGUFWriter(str(path), spec["arch"])
    w.add_context_length(128)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_feed_forward_length(16)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_dimension_count(8)
    w.add_tokenizer_model(spec["model"])
    if spec.get("pre"):
        w.add_tokenizer_pre(spec["pre"])
    w.add_token_list(spec["tokens"])
    w.add_token_types(spec["types"])
    if "scores" in spec:
        w.add_token_scores(spec["scores"])
    if "merges" in spec:
        w.add_token_merges(spec["merges"])
    ids = spec["ids"]
    for name, add in [("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id), ("unk", w.add_unk_token_id),
                      ("pad", w.add_pad_token_id)]:
        if ids.get(name) is not None:
            add(ids[name])
    flags = spec["flags"]
    if "add_bos" in flags:
        w.add_add_bos_token(flags["add_bos"])
    if "add_eos" in flags:
        w.add_add_eos_token(flags["add_eos"])
    if "add_space_prefix" in flags:
        w.add_add_space_prefix(flags["add_space_prefix"])
    w.add_tensor("token_embd.weight", np.zeros((len(spec["tokens"]), 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def metadata_json(spec):
    """The tokenizer metadata as typed JSON values, as the Rust test rebuilds them."""
    md = {
        "general.architecture": {"string": spec["arch"]},
        "tokenizer.ggml.model": {"string": spec["model"]},
        "tokenizer.ggml.tokens": {"strings": spec["tokens"]},
        "tokenizer.ggml.token_type": {"i32s": spec["types"]},
    }
    if spec.get("pre"):
        md["tokenizer.ggml.pre"] = {"string": spec["pre"]}
    if "scores" in spec:
        md["tokenizer.ggml.scores"] = {"f32s": spec["scores"]}
    if "merges" in spec:
        md["tokenizer.ggml.merges"] = {"strings": spec["merges"]}
    for name, key in [("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unk", "unknown_token_id"),
                      ("pad", "padding_token_id")]:
        if spec["ids"].get(name) is not None:
            md[f"tokenizer.ggml.{key}"] = {"u32": spec["ids"][name]}
    for name, key in [("add_bos", "add_bos_token"), ("add_eos", "add_eos_token"),
                      ("add_space_prefix", "add_space_prefix")]:
        if name in spec["flags"]:
            md[f"tokenizer.ggml.{key}"] = {"bool": spec["flags"][name]}
    return md


def synthetic():
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (make, texts) in SYNTHETIC.items():
            spec = make()
            write_gguf(Path(tmp) / f"{name}.gguf", spec)
            tok = AutoTokenizer.from_pretrained(tmp, gguf_file=f"{name}.gguf")
            out.append(
                {
                    "name": name,
                    "metadata": metadata_json(spec),
                    "fingerprint": fingerprint(tok),
                    "cases": encode_cases(tok, texts),
                }
            )
            print(f"synthetic {name}: {type(tok).__name__}", file=sys.stderr)
    doc = {
        "generated_by": "scripts/fixtures_tokenizer.py",
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "tokenizers": out,
    }
    path = OUT / "synthetic.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    synthetic()
    for name, extra in SHORT_BY_MODEL.items():
        path = MODELS / name
        if not path.is_file():
            print(f"skip {name}: {path} not found (run scripts/fetch-models.sh)", file=sys.stderr)
            continue
        print(f"loading {name} ...", file=sys.stderr)
        tok = AutoTokenizer.from_pretrained(str(MODELS), gguf_file=name)
        cases = encode_cases(tok, [COMMON] + SHORT_COMMON + extra)
        doc = {
            "generated_by": "scripts/fixtures_tokenizer.py",
            "model_file": name,
            "transformers_version": transformers.__version__,
            "tokenizers_version": tokenizers.__version__,
            "bos_token": tok.bos_token,
            "eos_token": tok.eos_token,
            "fingerprint": fingerprint(tok),
            "cases": cases,
        }
        stem = name.removesuffix(".gguf")
        out = OUT / f"{stem}.json"
        out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out.relative_to(ROOT)} ({len(cases)} cases)", file=sys.stderr)


if __name__ == "__main__":
    main()
