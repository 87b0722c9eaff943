#!/usr/bin/env python3
"""Write entroscope's reference fixtures with Hugging Face transformers (CPU, f32).

    PY=~/.cache/entroscope/peer-venv/bin/python
    $PY scripts/make_fixtures.py all          # = tiny + tiny-tf4 + real + peer
    $PY scripts/make_fixtures.py tiny         # tests/fixtures/tiny-<family>/ (seconds)
    $PY scripts/make_fixtures.py tiny-tf4     # check config.tf4.json with transformers 4.x
    $PY scripts/make_fixtures.py real         # tests/fixtures/real/<model>.json   (~4 min)
    $PY scripts/make_fixtures.py peer         # tests/fixtures/peer/<model>.{normed,raw}.json (~8 min)

See tests/fixtures/README.md for what each file holds and the conventions (layer 0 = embedding
output as it enters block 0, layer l = output of block l, the last one BEFORE the final norm).
"""
import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import transformers

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
CACHE = Path.home() / ".cache" / "entroscope"
MODELS = CACHE / "models"
PEER_DIR = Path(os.environ.get("ENTROSCOPE_PEER_DIR", "/work/shared/peer"))
TF4_DIR = CACHE / "peer-tf4"  # transformers 4.55.4, pip --target (see the peer's README)
REAL_MODELS = ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf",
               "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"]

SEED = 1234
INIT_STD = 0.2  # weights ~ N(0, 0.2²): activations of order 1, so every difference shows
NORM_STD = 0.2  # norm weights 1 + N(0, 0.2²) (gemma: the stored w itself, used as 1 + w)
BIAS_STD = 0.1

PROMPT = "The capital of France is"
PARAGRAPH = ("The old lighthouse stood at the edge of the cliff, and every night its keeper climbed "
             "the narrow stairs to light the lamp. Ships passing in the dark relied on that steady "
             "beam to find their way safely into the harbour.")


def save_safetensors(tensors, path, metadata):
    """Byte-stable safetensors writer (the library's header order varies from run to run, so a
    regeneration would otherwise rewrite identical files): tensors in name order, sorted JSON keys,
    header padded with spaces to a multiple of 8 bytes. Read back and checked."""
    from safetensors.torch import load_file
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, off = {"__metadata__": dict(metadata)}, [], 0
    for k in sorted(tensors):
        t = tensors[k].contiguous()
        b = t.numpy().tobytes()
        header[k] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    Path(path).write_bytes(len(h).to_bytes(8, "little") + h + b"".join(blobs))
    back = load_file(str(path))
    assert back.keys() == tensors.keys() and all(torch.equal(back[k], tensors[k]) for k in tensors)


def versions():
    import gguf  # noqa: F401
    from importlib.metadata import version
    return {"transformers": transformers.__version__, "torch": torch.__version__,
            "gguf": version("gguf"), "tokenizers": version("tokenizers"),
            "safetensors": version("safetensors"), "numpy": np.__version__,
            "python": sys.version.split()[0]}


# ----------------------------------------------------------------------------------------------
# Hooks: the residual stream in our convention, and the two sub-block outputs of every block
# ----------------------------------------------------------------------------------------------

def parts(model):
    """(blocks, final_norm, attn_modules, mlp_modules) whose outputs are what we record.

    attn/mlp: the module whose output is added to the residual stream as is."""
    mt = model.config.model_type
    if mt == "gpt2":
        blocks = list(model.transformer.h)
        return blocks, model.transformer.ln_f, [b.attn for b in blocks], [b.mlp for b in blocks]
    blocks = list(model.model.layers)
    if mt.startswith("gemma") or mt == "olmo2":  # the post-norms' outputs are what is added
        return (blocks, model.model.norm, [b.post_attention_layernorm for b in blocks],
                [b.post_feedforward_layernorm for b in blocks])
    return blocks, model.model.norm, [b.self_attn for b in blocks], [b.mlp for b in blocks]


def first(x):
    return x[0] if isinstance(x, (tuple, list)) else x


class Recorder:
    """Forward hooks: resid[0] = input of block 0, resid[l] = output of block l; attn[l], mlp[l]."""

    def __init__(self, model, sub=True):
        blocks, self.norm, attn, mlp = parts(model)
        self.L = len(blocks)
        self.handles = []
        self.clear()

        def pre(_m, args, kwargs):
            self.resid[0] = (args[0] if args else kwargs["hidden_states"]).detach().clone()

        self.handles.append(blocks[0].register_forward_pre_hook(pre, with_kwargs=True))
        for l, b in enumerate(blocks):
            self.handles.append(b.register_forward_hook(self._put(self.resid, l + 1)))
            if sub:
                self.handles.append(attn[l].register_forward_hook(self._put(self.attn, l)))
                self.handles.append(mlp[l].register_forward_hook(self._put(self.mlp, l)))

    def _put(self, store, i):
        def hook(_m, _args, out):
            store[i] = first(out).detach().clone()
        return hook

    def clear(self):
        self.resid, self.attn, self.mlp = {}, {}, {}

    def stack(self, store, n):
        return torch.stack([store[i][0] for i in range(n)])  # drop the batch dim

    def remove(self):
        for h in self.handles:
            h.remove()


def softcap(model, logits):
    cap = getattr(model.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


# ----------------------------------------------------------------------------------------------
# Part 1: tiny random-weight models, one per family
# ----------------------------------------------------------------------------------------------

TINY_VOCAB = 288
TINY_CORPUS = [
    PROMPT, PARAGRAPH,
    "the cat sat on the mat. the dog sat on the log. the bird sat on the wire.",
    "In the beginning there was the word, and the word was with the model.",
    "Entropy measures how uncertain a distribution is; the logit lens reads every layer.",
    "one two three four five six seven eight nine ten, 0123456789!",
]


def tiny_tokenizer(specials, bos=None):
    """Byte-level BPE over a small fixed corpus, exactly TINY_VOCAB tokens, specials first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TINY_VOCAB, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=1)
    tok.train_from_iterator(TINY_CORPUS, trainer)
    assert tok.get_vocab_size() == TINY_VOCAB, tok.get_vocab_size()
    if bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def tiny_specs():
    """family -> (config, special tokens (ids 0..), BOS the tokenizer prepends or None, their roles)."""
    from transformers import (GPT2Config, Gemma2Config, Gemma3TextConfig, LlamaConfig, MistralConfig,
                              Olmo2Config, Phi3Config, Qwen2Config, Qwen3Config)
    V = TINY_VOCAB
    common = dict(vocab_size=V, initializer_range=INIT_STD)
    return {
        "gpt2": (GPT2Config(n_positions=64, n_embd=32, n_layer=2, n_head=4, n_inner=128,
                            activation_function="gelu_new", layer_norm_epsilon=1e-5, resid_pdrop=0.0,
                            embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
                            tie_word_embeddings=True, **common),
                 ["<|endoftext|>"], None, {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}),
        "llama": (LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                              max_position_embeddings=64, rms_norm_eps=1e-5,
                              rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
                              tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
                              pad_token_id=2, **common),
                  ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None,
                  {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}),
        "qwen2": (Qwen2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2,
                              max_position_embeddings=64, rms_norm_eps=1e-6,
                              rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                              tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, **common),
                  ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None,
                  {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}),
        "qwen3": (Qwen3Config(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                              max_position_embeddings=64, rms_norm_eps=1e-6,
                              rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                              tie_word_embeddings=True, bos_token_id=0, eos_token_id=0, **common),
                  ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None,
                  {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}),
        "gemma3": (Gemma3TextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                    num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                    max_position_embeddings=64, rms_norm_eps=1e-6,
                                    sliding_window=4,
                                    layer_types=["sliding_attention", "full_attention",
                                                 "sliding_attention"],
                                    rope_parameters={
                                        "sliding_attention": {"rope_type": "default", "rope_theta": 20000.0},
                                        "full_attention": {"rope_type": "default", "rope_theta": 400000.0}},
                                    query_pre_attn_scalar=24, final_logit_softcapping=5.0,
                                    attn_logit_softcapping=None, hidden_activation="gelu_pytorch_tanh",
                                    tie_word_embeddings=True, pad_token_id=0, eos_token_id=1,
                                    bos_token_id=2, **common),
                   ["<pad>", "<eos>", "<bos>", "<unk>"], "<bos>",
                   {"pad_token": "<pad>", "eos_token": "<eos>", "bos_token": "<bos>", "unk_token": "<unk>"}),
        # Both soft-caps small on purpose (real models: 50 / 30), so forgetting either cannot pass.
        "gemma2": (Gemma2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                max_position_embeddings=64, rms_norm_eps=1e-6, sliding_window=4,
                                layer_types=["sliding_attention", "full_attention",
                                             "sliding_attention"],
                                rope_parameters={"rope_type": "default", "rope_theta": 20000.0},
                                query_pre_attn_scalar=24, attn_logit_softcapping=3.0,
                                final_logit_softcapping=5.0, hidden_activation="gelu_pytorch_tanh",
                                tie_word_embeddings=True, pad_token_id=0, eos_token_id=1,
                                bos_token_id=2, **common),
                   ["<pad>", "<eos>", "<bos>", "<unk>"], "<bos>",
                   {"pad_token": "<pad>", "eos_token": "<eos>", "bos_token": "<bos>", "unk_token": "<unk>"}),
        "mistral": (MistralConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                  num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                                  max_position_embeddings=64, rms_norm_eps=1e-5, sliding_window=4,
                                  rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                                  tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, **common),
                    ["<unk>", "<s>", "</s>"], "<s>",
                    {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}),
        # Half of each head rotates and every layer has a window, so both must be honoured.
        "phi3": (Phi3Config(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                            num_attention_heads=4, num_key_value_heads=2,
                            max_position_embeddings=64, rms_norm_eps=1e-5, sliding_window=4,
                            partial_rotary_factor=0.5,
                            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                            tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                            pad_token_id=0, **common),
                 ["<unk>", "<s>", "</s>"], "<s>",
                 {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}),
        "olmo2": (Olmo2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                              num_attention_heads=4, num_key_value_heads=2,
                              max_position_embeddings=64, rms_norm_eps=1e-6,
                              rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                              tie_word_embeddings=False, bos_token_id=None, eos_token_id=0,
                              pad_token_id=0, **common),
                  ["<|endoftext|>", "<|pad|>"], None,
                  {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|pad|>"}),
    }


def randomize(model, family):
    """Every parameter drawn again from the fixed seed: weights N(0, INIT_STD²), biases
    N(0, BIAS_STD²), norm weights 1 + N(0, NORM_STD²) (gemma: N(0, NORM_STD²), used as 1 + w)."""
    g = torch.Generator().manual_seed(SEED)
    seen = set()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.data_ptr() in seen:  # tied lm_head
                continue
            seen.add(p.data_ptr())
            r = torch.randn(p.shape, generator=g)
            is_norm = ("norm" in name or ".ln_" in name or name.startswith("transformer.ln_")) and p.dim() == 1
            if is_norm and name.endswith("weight"):
                p.copy_(r * NORM_STD + (0.0 if family.startswith("gemma") else 1.0))
            elif name.endswith("bias"):
                p.copy_(r * BIAS_STD)
            else:
                p.copy_(r * INIT_STD)


def tiny_inputs(family, tok, bos_id):
    """Three inputs: the tokenizer's ids of a short text, and two random ones of 9 and 12 tokens
    (longer than gemma3's sliding window of 4)."""
    g = torch.Generator().manual_seed(SEED + 1)
    text = "the cat sat on the mat."
    ids0 = tok.encode(text).ids
    out = [ids0]
    for n in (9, 12):
        ids = torch.randint(0, TINY_VOCAB, (n,), generator=g).tolist()
        if bos_id is not None:
            ids[0] = bos_id
        out.append(ids)
    return text, out


@torch.no_grad()
def reference(model, ids):
    rec = Recorder(model)
    x = torch.tensor([ids])
    out = model(x, output_hidden_states=True, output_attentions=True)
    L = rec.L
    resid = rec.stack(rec.resid, L + 1)
    attn, mlp = rec.stack(rec.attn, L), rec.stack(rec.mlp, L)
    rec.remove()
    normed_last = rec.norm(resid[L:L + 1])[0]
    logits = out.logits[0]
    # Self-checks: the hooks saw what HF computed, in HF's order of additions.
    for l in range(L):
        assert torch.equal(resid[l + 1], (resid[l] + attn[l]) + mlp[l]), f"resid {l + 1} != sum"
    hs = out.hidden_states
    for l in range(L):
        assert torch.equal(hs[l][0], resid[l]), f"hidden_states[{l}] differs"
    assert torch.allclose(hs[L][0], normed_last) and not torch.allclose(hs[L][0], resid[L]), \
        "expected HF's last hidden state to be the normed one"
    head = model.get_output_embeddings()
    assert torch.allclose(softcap(model, head(normed_last)), logits, atol=1e-5)
    pattern = torch.stack([a[0] for a in out.attentions])  # [L, heads, t, t]
    assert torch.allclose(pattern.sum(-1), torch.ones(pattern.shape[:-1])), "rows must sum to 1"
    return dict(resid=resid, attn_out=attn, mlp_out=mlp, resid_mid=resid[:L] + attn,
                pattern=pattern, normed_last=normed_last, logits=logits)


# Config changes that must each move the logits noticeably, so a loader that ignores the setting
# cannot pass (checked after writing; nothing is written).
SENSITIVITY = {
    "gemma2": {"sliding_window": {"sliding_window": 64},
               "layer_types": {"layer_types": ["sliding_attention"] * 3},
               "query_pre_attn_scalar": {"query_pre_attn_scalar": 16},
               "attn_logit_softcapping": {"attn_logit_softcapping": None},
               "final_logit_softcapping": {"final_logit_softcapping": None},
               "rope_theta": {"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}}},
    "mistral": {"sliding_window": {"sliding_window": None},
                "rope_theta": {"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}}},
    "phi3": {"sliding_window": {"sliding_window": None},
             "partial_rotary_factor": {"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                                           "partial_rotary_factor": 1.0}}},
}
MIN_SENSITIVITY = 0.05


@torch.no_grad()
def check_sensitivity(d, family, inputs, tensors):
    from transformers import AutoConfig, AutoModelForCausalLM
    for what, changes in SENSITIVITY.get(family, {}).items():
        cfg = AutoConfig.from_pretrained(d)
        for k, v in changes.items():
            setattr(cfg, k, v)
        m = AutoModelForCausalLM.from_pretrained(d, config=cfg, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
        delta = max((m(torch.tensor([ids])).logits[0] - tensors[f"logits_{i}"]).abs().max().item()
                    for i, ids in enumerate(inputs))
        print(f"tiny-{family}: changing {what} moves the logits by up to {delta:.3f}", file=sys.stderr)
        assert delta >= MIN_SENSITIVITY, (family, what, delta)


def make_tiny(families):
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
    specs = tiny_specs()
    for family in families:
        cfg, specials, bos, sp = specs[family]
        d = FIX / f"tiny-{family}"
        d.mkdir(parents=True, exist_ok=True)
        for f in d.iterdir():
            f.unlink()
        torch.manual_seed(SEED)
        cfg._attn_implementation = "eager"
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
        randomize(model, family)
        model.save_pretrained(d, safe_serialization=True)
        tok = tiny_tokenizer(specials, bos)
        PreTrainedTokenizerFast(tokenizer_object=tok, **sp).save_pretrained(d)
        # Read back what is on disk, exactly as a user would, and compute the reference from it.
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32,
                                                     attn_implementation="eager").eval()
        text, inputs = tiny_inputs(family, tok, tok.token_to_id(bos) if bos else None)
        tensors, shapes = {}, []
        for i, ids in enumerate(inputs):
            ref = reference(model, ids)
            tensors[f"ids_{i}"] = torch.tensor(ids, dtype=torch.int64)
            for k, v in ref.items():
                tensors[f"{k}_{i}"] = v.contiguous().float()
            shapes.append(len(ids))
        meta = {"family": family, "n_inputs": str(len(inputs)), "text_0": text,
                "seq_lens": json.dumps(shapes), "layers": str(model.config.num_hidden_layers),
                "seed": str(SEED), "attn_implementation": "eager",
                "versions": json.dumps(versions()),
                "convention": "resid_i[0]=embedding output entering block 0 (gemma: times "
                              "sqrt(hidden)), resid_i[l]=output of block l (pre final norm); "
                              "normed_last_i=final norm(resid_i[L]); logits_i=model logits "
                              "(after soft-cap); attn_out_i/mlp_out_i[l]=sub-block outputs "
                              "added to the residual; resid_mid_i[l]=resid_i[l]+attn_out_i[l] "
                              "(block l+1 between attention and MLP); pattern_i[l]=block "
                              "l+1's attention probabilities [heads, t, t] (see README)"}
        save_safetensors(tensors, d / "reference.safetensors", meta)
        write_tf4_config(d, model.config)
        check_sensitivity(d, family, inputs, tensors)
        mx = max(t.abs().max().item() for k, t in tensors.items() if k.startswith("logits"))
        size = sum(f.stat().st_size for f in d.iterdir())
        print(f"tiny-{family}: {len(inputs)} inputs {shapes}, max|logit| {mx:.2f}, "
              f"{size / 1024:.0f} KiB", file=sys.stderr)


# The hub's config.json files were written by transformers 4.x: RoPE as top-level `rope_theta`
# (gemma3: plus `rope_local_base_freq`), not 5.x's `rope_parameters`. config.tf4.json is the same
# model in that older spelling, checked with transformers 4.55.4 by `tiny-tf4`.

def write_tf4_config(d, cfg):
    c = json.loads((d / "config.json").read_text())
    rp = c.pop("rope_parameters", None)
    if rp:
        if "full_attention" in rp:
            c["rope_theta"] = rp["full_attention"]["rope_theta"]
            c["rope_local_base_freq"] = rp["sliding_attention"]["rope_theta"]
        else:
            c["rope_theta"] = rp["rope_theta"]
            if rp.get("rope_type", "default") != "default":
                c["rope_scaling"] = rp
    c["transformers_version"] = "4.55.4"
    c.pop("dtype", None)
    c["torch_dtype"] = "float32"
    (d / "config.tf4.json").write_text(json.dumps(c, indent=2, sort_keys=True) + "\n")


TF4_CHECK = r"""
import sys
# The venv's `kernels` (for transformers 5) needs a newer huggingface_hub than 4.55.4's: hide it.
sys.modules["kernels"] = None
import json, shutil, tempfile, torch, transformers
from pathlib import Path
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
assert transformers.__version__.startswith("4."), transformers.__version__
d = Path(sys.argv[1])
with tempfile.TemporaryDirectory() as t:
    t = Path(t)
    shutil.copy(d / "config.tf4.json", t / "config.json")
    shutil.copy(d / "model.safetensors", t / "model.safetensors")
    m = AutoModelForCausalLM.from_pretrained(t, torch_dtype=torch.float32, attn_implementation="eager").eval()
ref = load_file(str(d / "reference.safetensors"))
n = sum(1 for k in ref if k.startswith("ids_"))
worst = 0.0
with torch.no_grad():
    for i in range(n):
        out = m(ref[f"ids_{i}"][None]).logits[0]
        worst = max(worst, (out - ref[f"logits_{i}"]).abs().max().item())
print(json.dumps({"dir": d.name, "transformers": transformers.__version__, "max_abs_logit_diff": worst}))
assert worst < 1e-4, worst
"""


def check_tf4(families):
    env = dict(os.environ, PYTHONPATH=str(TF4_DIR))
    for family in families:
        d = FIX / f"tiny-{family}"
        r = subprocess.run([sys.executable, "-c", TF4_CHECK, str(d)], env=env, capture_output=True,
                           text=True)
        if r.returncode:
            sys.exit(f"config.tf4.json check failed for {family}:\n{r.stderr[-3000:]}")
        print(r.stdout.strip(), file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# Part 2: the real GGUF models
# ----------------------------------------------------------------------------------------------

def peer_module():
    sys.path.insert(0, str(PEER_DIR))
    import lens_peer
    return lens_peer


CONFIG_KEYS = ["model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
               "num_attention_heads", "num_key_value_heads", "head_dim", "hidden_act",
               "hidden_activation", "max_position_embeddings", "rms_norm_eps", "rope_parameters",
               "rope_theta", "rope_local_base_freq", "sliding_window", "layer_types",
               "query_pre_attn_scalar", "final_logit_softcapping", "attn_logit_softcapping",
               "tie_word_embeddings", "attention_bias", "mlp_bias", "bos_token_id", "eos_token_id",
               "pad_token_id", "unk_token_id", "use_bidirectional_attention", "_sliding_window_pattern"]

TOKENIZER_CASES = ["Hello world", "  two  spaces\n\nand a newline", "naïve café 123456 ",
                   "<|im_start|>user\nHi<|im_end|>", "<bos>x", " leading space", "ümlaut ß 日本語 😀",
                   "3.14159 + 2,718 = 5.85959"]


def f32(x):
    return float(x)


def weight_probe(model):
    """A few tensors after HF's own GGUF processing (dequantized, q/k un-permuted, gemma norms -1):
    shape, sum, sum of |x| and the first 8 values in row-major order."""
    sd = model.state_dict()
    pref = "model.layers.0."
    names = ["model.embed_tokens.weight", "model.norm.weight"] + \
        sorted(k for k in sd if k.startswith(pref))
    out = {}
    for k in names:
        t = sd[k].float()
        out[k] = {"shape": list(t.shape), "sum": f32(t.double().sum()), "abs_sum": f32(t.double().abs().sum()),
                  "first8": [f32(v) for v in t.flatten()[:8]]}
    return out


def tokenizer_info(tok):
    j = json.loads(tok.backend_tokenizer.to_str())
    m = j["model"]
    return {
        "class": type(tok).__name__,
        "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
        "add_bos_token": getattr(tok, "add_bos_token", None),
        "normalizer": j["normalizer"], "pre_tokenizer": j["pre_tokenizer"],
        "post_processor": j["post_processor"], "decoder": j["decoder"],
        "model": {k: v for k, v in m.items() if k not in ("vocab", "merges")}
        | {"vocab_size": len(m.get("vocab", [])), "n_merges": len(m.get("merges", []))},
        "n_added_tokens": len(j["added_tokens"]),
        "added_tokens_first": [{"id": a["id"], "content": a["content"], "special": a["special"]}
                               for a in j["added_tokens"][:20]],
        "cases": [{"text": s, "ids": tok(s).input_ids} for s in TOKENIZER_CASES],
    }


@torch.no_grad()
def real_stats(model, ids):
    rec = Recorder(model, sub=False)
    out = model(torch.tensor([ids]), output_hidden_states=True)
    L = rec.L
    resid = rec.stack(rec.resid, L + 1)
    rec.remove()
    hs = out.hidden_states
    hs_same = all(torch.equal(hs[l][0], resid[l]) for l in range(L))
    last_normed = torch.allclose(hs[L][0], rec.norm(resid[L:L + 1])[0])
    logits = out.logits[0].float()
    top = torch.topk(logits[-1], 10)
    normed_last = rec.norm(resid[L:L + 1])[0]
    return {
        "n_tokens": len(ids),
        "layers": L + 1,
        "hidden_mean": [f32(resid[l].double().mean()) for l in range(L + 1)],
        "hidden_max_abs": [f32(resid[l].abs().max()) for l in range(L + 1)],
        "hidden_last_pos_first8": [[f32(v) for v in resid[l, -1, :8]] for l in range(L + 1)],
        "normed_last_pos_first8": [f32(v) for v in normed_last[-1, :8]],
        "top10_last_pos": {"ids": top.indices.tolist(), "values": [f32(v) for v in top.values]},
        "argmax_per_position": logits.argmax(-1).tolist(),
        "logits_last_pos_mean": f32(logits[-1].double().mean()),
        "logits_last_pos_logsumexp": f32(torch.logsumexp(logits[-1].double(), -1)),
        "check_hf_hidden_states_0_to_L-1_equal_ours": hs_same,
        "check_hf_last_hidden_state_is_normed": last_normed,
    }


def make_real(names):
    lp = peer_module()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out_dir = FIX / "real"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = MODELS / name
        print(f"real: loading {path}", file=sys.stderr)
        tok, model = lp.load(str(path))
        cfg = model.config.to_dict()
        prompts = {}
        for key, text in (("capital", PROMPT), ("paragraph", PARAGRAPH)):
            ids = tok(text).input_ids
            prompts[key] = {"text": text, "ids": ids} | real_stats(model, ids)
        ids = prompts["capital"]["ids"]
        with torch.no_grad():
            # plain greedy: no min_new_tokens (it would mask EOS), stops early only at EOS
            gen = model.generate(torch.tensor([ids]), max_new_tokens=10, do_sample=False,
                                 use_cache=True, repetition_penalty=1.0, num_beams=1,
                                 temperature=None, top_p=None, top_k=None)
        new = gen[0, len(ids):].tolist()
        assert len(new) == 10 or new[-1] == model.generation_config.eos_token_id, new
        res = {
            "model": name,
            "produced_by": "scripts/make_fixtures.py real (loading as /work/shared/peer/lens_peer.py "
                           "does: AutoModelForCausalLM/AutoTokenizer from_pretrained(gguf_file=, "
                           "dtype=float32) + honour_gguf_bos)",
            "versions": versions(),
            "torch_threads": torch.get_num_threads(),
            "attn_implementation": model.config._attn_implementation,
            "model_class": type(model).__name__,
            "convention": "layers: 0 = embedding output as it enters block 0 (gemma: times "
                          "sqrt(hidden)), l = output of block l, L = last block BEFORE the final "
                          "norm; L+1 entries. hidden_mean/max_abs over all positions and dims.",
            "config": {k: cfg[k] for k in CONFIG_KEYS if k in cfg},
            "config_full": {k: v for k, v in cfg.items() if k not in ("id2label", "label2id")},
            "prompts": prompts,
            "greedy": {"prompt": PROMPT, "prompt_ids": ids, "new_tokens": 10, "new_ids": new,
                       "text": tok.decode(new), "do_sample": False, "use_cache": True,
                       "repetition_penalty": 1.0,
                       "eos_token_id": model.generation_config.eos_token_id},
            "tokenizer": tokenizer_info(tok),
            "weights_probe": weight_probe(model),
        }
        dst = out_dir / (Path(name).stem + ".json")
        dst.write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
        print(f"real: wrote {dst} ({dst.stat().st_size / 1024:.0f} KiB); greedy {res['greedy']['text']!r}",
              file=sys.stderr)
        del model


# ----------------------------------------------------------------------------------------------
# Part 3: peer logit-lens references (lens_peer.py, normed and raw)
# ----------------------------------------------------------------------------------------------

PEER_SHAPE = {"SmolLM2-135M-Instruct.Q4_1.gguf": "2x64", "gemma-3-270m-q4_k_m.gguf": "2x64",
              "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf": "2x64",
              "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": "2x64"}


def r6(x):
    return [r6(v) for v in x] if isinstance(x, list) else round(x, 6)


# Longer rows (normed lens only): past the CPU attention's block of 128 queries.
PEER_LONG_SHAPE = {"SmolLM2-135M-Instruct.Q4_1.gguf": "2x200", "gemma-3-270m-q4_k_m.gguf": "2x200"}


def make_peer(names, threads):
    for name in names:
        for lens in ("normed", "raw"):
            peer_fixture(name, lens, PEER_SHAPE[name], "", threads)
        if name in PEER_LONG_SHAPE:
            peer_fixture(name, "normed", PEER_LONG_SHAPE[name], "." + PEER_LONG_SHAPE[name], threads)


def peer_fixture(name, lens, shape, suffix, threads):
    """`peer/<stem>.<lens><suffix>.json`: the peer's lens on `shape` (rows x tokens)."""
    out_dir = FIX / "peer"
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "entroscope-peer"
    tmp.mkdir(exist_ok=True)
    ids_f, cells_f = tmp / f"{name}.{lens}.ids.json", tmp / f"{name}.{lens}.cells.json"
    cmd = [sys.executable, str(PEER_DIR / "lens_peer.py"), "--mode", "lens",
           "--model", str(MODELS / name), "--shape", shape,
           "--threads", str(threads), "--dump-ids", str(ids_f), "--dump-matrices", str(cells_f)]
    if lens == "raw":
        cmd.append("--raw")
    print("peer:", " ".join(cmd), file=sys.stderr)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(r.stderr[-3000:])
    summary = json.loads(r.stdout)
    cells = json.loads(cells_f.read_text())
    ids = json.loads(ids_f.read_text())["ids"]
    assert ids == cells["ids"]
    res = {
        "model": name, "lens": lens, "shape": summary["shape"], "layers": cells["layers"],
        "produced_by": "lens_peer.py " + " ".join(c if "/" not in c else Path(c).name
                                                  for c in cmd[2:]),
        "versions": versions(),
        "convention": "layers: 0 = embeddings, l = output of block l; normed: final norm "
                      "on every layer then unembedding (+ soft-cap if any); raw: no norm "
                      "for layers < L, layer L = the model's own final logits. Entropies "
                      "in nats from log_softmax in f32; cells rounded to 6 decimals.",
        "ids": ids,
        "mean_shannon_per_layer": summary["mean_shannon_per_layer"],
        "mean_renyi2_per_layer": summary["mean_renyi2_per_layer"],
        "shannon": r6(cells["shannon"]),  # [layer][row][position]
        "renyi2": r6(cells["renyi2"]),
    }
    dst = out_dir / f"{Path(name).stem}.{lens}{suffix}.json"
    dst.write_text(json.dumps(res, separators=(",", ":")) + "\n")
    print(f"peer: wrote {dst} ({dst.stat().st_size / 1024:.0f} KiB)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("part", choices=["all", "tiny", "tiny-tf4", "real", "peer"])
    ap.add_argument("--families", default="gpt2,llama,qwen2,qwen3,gemma3,gemma2,mistral,phi3,olmo2")
    ap.add_argument("--models", default=",".join(REAL_MODELS))
    ap.add_argument("--threads", type=int, default=2, help="peer: lens_peer.py --threads")
    a = ap.parse_args()
    fams, names = a.families.split(","), a.models.split(",")
    if a.part in ("all", "tiny"):
        make_tiny(fams)
    if a.part in ("all", "tiny", "tiny-tf4"):
        if TF4_DIR.exists():
            check_tf4(fams)
        else:
            print(f"tiny-tf4: skipped, no transformers 4.x in {TF4_DIR}", file=sys.stderr)
    if a.part in ("all", "real"):
        make_real(names)
    if a.part in ("all", "peer"):
        make_peer(names, a.threads)


if __name__ == "__main__":
    main()
