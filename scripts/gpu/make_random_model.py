#!/usr/bin/env python3
"""A random-weight model with a real model's shapes, for timing without a download: the config's
model built by transformers (seeded init), saved as f32 safetensors with a word-level tokenizer
(tokens t0..t{V-1}), plus B rows of T random token ids for the lens workload.

  make_random_model.py CONFIG.json OUT_DIR --ids IDS.json --shape 8x512

The configs under configs/ copy real models' shapes; the 1B one keeps Llama-3.2's sizes but the
default RoPE (no llama3 frequency scaling, which entroscope does not implement): timing is the point.
"""
import argparse
import json

import torch
from tokenizers import Tokenizer, models
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

ap = argparse.ArgumentParser()
ap.add_argument("config")
ap.add_argument("out")
ap.add_argument("--ids", required=True)
ap.add_argument("--shape", default="8x512")
args = ap.parse_args()

spec = json.load(open(args.config))
cfg = AutoConfig.for_model(spec.pop("model_type"), **spec)
torch.manual_seed(0)
with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
    model = AutoModelForCausalLM.from_config(cfg).float()
model.save_pretrained(args.out)

vocab = {f"t{i}": i for i in range(cfg.vocab_size)}
tok = Tokenizer(models.WordLevel(vocab, unk_token="t0"))
PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="t0", bos_token="t1",
                        eos_token="t2").save_pretrained(args.out)

b, t = (int(x) for x in args.shape.split("x"))
g = torch.Generator().manual_seed(0)
ids = torch.randint(3, cfg.vocab_size, (b, t), generator=g).tolist()
json.dump({"model": args.out, "shape": args.shape, "ids": ids}, open(args.ids, "w"))
