#!/usr/bin/env python3
"""The peer: the same analyses with Hugging Face transformers + PyTorch (CPU, or a GPU with
--device cuda), on the same GGUF file.

A copy of ../shared/peer/lens_peer.py for scripts/gpu-check.sh, plus `--warmup` (lens: one
untimed pass on the first row, so CUDA start-up is not timed; bench_lens has the same flag).

entroscope's numbers are checked against this script's and its speed is measured against it, side
by side on the same machine in one run. See README.md beside this file for set-up.

Modes
  corpus  write the benchmark corpus (token ids, B rows of T tokens) to --dump-ids and exit
  lens    normed (default) or raw logit lens at every layer; per-layer mean Shannon and Renyi-2
          entropies (nats); timings, throughput (token*layers/s), peak RSS
  gen     greedy generation with the KV cache, tokens/s
  dola    DoLa generation (transformers' own implementation), tokens/s
  sgemm   matmul throughput of the lens shape [tokens, d] x [d, vocab] (the physical limit)

Layer convention: 0 = embeddings, l = output of block l, L = last block. The normed lens applies the
model's final norm to every layer (HF's last hidden state already has it, so it is not applied twice);
Gemma's final logit soft-cap is applied when the config has one.
"""
import argparse
import csv
import json
import os
import resource
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = Path(__file__).resolve().parent
DEV = torch.device("cpu")


def sync():
    """Wait for the device, so wall-clock timings cover the work (no-op on CPU)."""
    if DEV.type == "cuda":
        torch.cuda.synchronize()
NEWS = HERE.parent / "data" / "factor" / "news_factor.csv"


def load(path, dtype=torch.float32):
    p = Path(path)
    if p.suffix == ".gguf":
        kw = dict(gguf_file=p.name)
        src = str(p.parent)
    else:
        kw, src = {}, str(p)
    tok = AutoTokenizer.from_pretrained(src, **kw)
    if kw:
        honour_gguf_bos(tok, p)
    dtype_kw = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    model = AutoModelForCausalLM.from_pretrained(src, **{dtype_kw: dtype}, **kw).eval().to(DEV)
    return tok, model


def honour_gguf_bos(tok, path):
    """transformers 4.x adds BOS to GGUF Llama tokenizers even when the file says not to (5.x does
    not); follow the file, so both versions give the same ids."""
    from gguf import GGUFReader
    field = GGUFReader(path).fields.get("tokenizer.ggml.add_bos_token")
    if field is not None and hasattr(tok, "add_bos_token"):
        tok.add_bos_token = bool(field.parts[field.data[0]][0])


def corpus_ids(tok, batch, seq):
    """B rows of exactly T token ids cut from the FACTOR news texts (deduplicated, in file order).
    Each row starts with BOS when the tokenizer adds one by default."""
    texts, seen = [], set()
    with open(NEWS, newline="") as f:
        for row in csv.DictReader(f):
            t = row["full_prefix"].strip()
            if t and t not in seen:
                seen.add(t)
                texts.append(t)
    stream = tok("\n\n".join(texts), add_special_tokens=False).input_ids
    bos = tok("x").input_ids[0] if tok("x").input_ids[0] == tok.bos_token_id else None
    body = seq - (1 if bos is not None else 0)
    if len(stream) < batch * body:
        sys.exit(f"corpus has {len(stream)} tokens, need {batch * body}")
    rows = [stream[i * body:(i + 1) * body] for i in range(batch)]
    return [([bos] if bos is not None else []) + r for r in rows]


def read_ids(args, tok):
    if args.ids:
        return json.load(open(args.ids))["ids"]
    b, t = (int(x) for x in args.shape.lower().split("x"))
    return corpus_ids(tok, b, t)


def lens_stats(model, ids, raw, dump):
    """Per-layer Shannon and Renyi-2 entropies of the logit lens, one layer at a time."""
    norm, head = model.model.norm, model.get_output_embeddings()
    cap = getattr(model.config, "final_logit_softcapping", None)
    x = torch.tensor(ids, device=DEV)
    sync()
    t0 = time.perf_counter()
    out = model.model(x, output_hidden_states=True)
    sync()
    t_fwd = time.perf_counter() - t0
    hs = out.hidden_states
    last_is_normed = torch.equal(hs[-1], out.last_hidden_state)
    L = len(hs) - 1
    t_mm = t_red = 0.0
    shannon, renyi2, cells = [], [], {"shannon": [], "renyi2": []}
    for l, h in enumerate(hs):
        ta = time.perf_counter()
        if l == L:  # the model's own final layer: always normed, never twice
            z = h if last_is_normed else norm(h)
        else:
            z = h if raw else norm(h)
        logits = head(z)
        sync()
        tb = time.perf_counter()
        if cap:
            logits = torch.tanh(logits / cap) * cap
        lp = torch.log_softmax(logits.float(), -1)
        H = -(lp.exp() * lp).sum(-1)
        R2 = -torch.logsumexp(2 * lp, -1)
        sync()
        tc = time.perf_counter()
        t_mm += tb - ta
        t_red += tc - tb
        shannon.append(H.mean().item())
        renyi2.append(R2.mean().item())
        if dump:
            cells["shannon"].append(H.tolist())
            cells["renyi2"].append(R2.tolist())
    return dict(layers=L, shannon=shannon, renyi2=renyi2, t_forward=t_fwd, t_matmul=t_mm,
                t_reduce=t_red, cells=cells if dump else None)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mode_lens(args, tok, model):
    ids = read_ids(args, tok)
    step = args.rows_per_pass or len(ids)
    passes = [ids[i:i + step] for i in range(0, len(ids), step)]
    if args.warmup:
        lens_stats(model, ids[:1], args.raw, False)
    rows = [lens_stats(model, p, args.raw, bool(args.dump_matrices)) for p in passes]
    n_tok = sum(len(r) for r in ids)
    L = rows[0]["layers"]
    tot = {k: sum(r[k] for r in rows) for k in ("t_forward", "t_matmul", "t_reduce")}
    wall = sum(tot.values())
    w = [sum(len(r) for r in p) for p in passes]  # tokens per pass: weights of the mean
    mean = lambda key, l: sum(r[key][l] * wi for r, wi in zip(rows, w)) / sum(w)
    res = {
        "model": Path(args.model).name, "lens": "raw" if args.raw else "normed",
        "shape": f"{len(ids)}x{len(ids[0])}", "tokens": n_tok, "layers": L + 1,
        "threads": torch.get_num_threads(), "device": str(DEV),
        "mean_shannon_per_layer": [round(mean("shannon", l), 6) for l in range(L + 1)],
        "mean_renyi2_per_layer": [round(mean("renyi2", l), 6) for l in range(L + 1)],
        "seconds": {k: round(v, 3) for k, v in tot.items()} | {"total": round(wall, 3)},
        "token_layers_per_s": round(n_tok * (L + 1) / wall, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    if args.dump_matrices:
        cells = {"shannon": [], "renyi2": []}
        for r in rows:
            for k in cells:
                if not cells[k]:
                    cells[k] = [[] for _ in range(L + 1)]
                for l in range(L + 1):
                    cells[k][l].extend(r["cells"][k][l])
        json.dump({"ids": ids, "layers": L + 1, **cells}, open(args.dump_matrices, "w"))
    print(json.dumps(res, indent=1))


def timed_generate(model, ids, n, **kw):
    x = torch.tensor([ids], device=DEV)
    model.generate(x, max_new_tokens=4, min_new_tokens=4, do_sample=False, **kw)  # warm-up
    sync()
    t0 = time.perf_counter()
    out = model.generate(x, max_new_tokens=n, min_new_tokens=n, do_sample=False, **kw)
    sync()
    dt = time.perf_counter() - t0
    return out[0, len(ids):].tolist(), dt


def mode_gen(args, tok, model, dola=False):
    ids = json.load(open(args.ids))["ids"][0] if args.ids else tok(args.prompt).input_ids
    kw = dict(custom_generate=args.dola_impl, trust_remote_code=True) if dola and args.dola_impl else {}
    if dola:
        kw |= dict(dola_layers=args.dola_layers, repetition_penalty=args.repetition_penalty)
    try:
        new, dt = timed_generate(model, ids, args.new_tokens, **kw)
    except (ValueError, TypeError, OSError) as e:
        sys.exit(f"{'DoLa' if dola else 'generation'} is not available in this transformers "
                 f"({e}); see README.md")
    print(json.dumps({
        "model": Path(args.model).name, "mode": "dola" if dola else "greedy",
        "prompt_tokens": len(ids), "new_tokens": len(new), "ids": new,
        "text": tok.decode(new), "seconds": round(dt, 3),
        "tokens_per_s": round(len(new) / dt, 2), "peak_rss_mib": round(peak_rss_mib(), 1),
    }, indent=1))


def mode_sgemm(args, tok, model):
    head = model.get_output_embeddings().weight.detach()
    d = head.shape[1]
    a = torch.randn(args.sgemm_tokens, d, device=DEV, dtype=head.dtype)
    a @ head.T  # warm-up
    best = float("inf")
    for _ in range(args.repeats):
        sync()
        t0 = time.perf_counter()
        a @ head.T
        sync()
        best = min(best, time.perf_counter() - t0)
    flop = 2 * args.sgemm_tokens * d * head.shape[0]
    print(json.dumps({"shape": [args.sgemm_tokens, d, head.shape[0]], "best_s": round(best, 4),
                      "gflops": round(flop / best / 1e9, 1), "threads": torch.get_num_threads()}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mode", required=True, choices=["corpus", "lens", "gen", "dola", "sgemm"])
    ap.add_argument("--model", required=True, help="a .gguf file or a Hugging Face model directory")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shape", default="8x128", help="corpus rows x tokens per row (lens, corpus)")
    ap.add_argument("--ids", help="JSON file {'ids': [[...], ...]}: lens rows instead of the "
                    "corpus; gen/dola: the first row is the prompt")
    ap.add_argument("--dump-ids", help="write the corpus token ids as JSON here")
    ap.add_argument("--dump-matrices", help="lens: write per-layer, per-position entropies as JSON")
    ap.add_argument("--raw", action="store_true", help="lens without the final norm (DoLa/END)")
    ap.add_argument("--warmup", action="store_true", help="lens: one untimed pass first")
    ap.add_argument("--rows-per-pass", type=int, default=0, help="lens: rows per forward pass")
    ap.add_argument("--prompt", default="The capital of France is")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--dola-layers", default="high")
    ap.add_argument("--dola-impl", default="", help="custom_generate source for DoLa, if needed")
    ap.add_argument("--repetition-penalty", type=float, default=1.2)
    ap.add_argument("--sgemm-tokens", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N] (weights and work on it)")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"],
                    help="weight dtype; log-softmax and entropies are always computed in f32")
    args = ap.parse_args()
    global DEV
    DEV = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tok, model = load(args.model, {"f32": torch.float32, "bf16": torch.bfloat16,
                                   "f16": torch.float16}[args.dtype])
    with torch.inference_mode():
        if args.mode == "corpus":
            b, t = (int(x) for x in args.shape.lower().split("x"))
            ids = corpus_ids(tok, b, t)
            out = args.dump_ids or "/dev/stdout"
            json.dump({"model": Path(args.model).name, "shape": args.shape, "ids": ids}, open(out, "w"))
        elif args.mode == "lens":
            if args.dump_ids:
                json.dump({"ids": read_ids(args, tok)}, open(args.dump_ids, "w"))
            mode_lens(args, tok, model)
        elif args.mode in ("gen", "dola"):
            mode_gen(args, tok, model, dola=args.mode == "dola")
        else:
            mode_sgemm(args, tok, model)


if __name__ == "__main__":
    main()
