#!/usr/bin/env python3
"""Reference fixtures for entroscope's decoding tests (tests/decode.rs), written by Hugging Face
transformers itself.

    PY=~/.cache/entroscope/peer-venv/bin/python
    $PY scripts/fixtures_decode.py all          # = processors + tiny + real
    $PY scripts/fixtures_decode.py processors   # HF logits processors on a hand-made vector (seconds)
    $PY scripts/fixtures_decode.py tiny         # greedy (5.x) and DoLa (4.55.4) on tiny random models
    $PY scripts/fixtures_decode.py real         # SmolLM2 greedy (5.x) and DoLa (4.55.4), ~1 min
    $PY scripts/fixtures_decode.py scoring      # lm_score of DoLa / END's reference code, tiny model

Writes tests/fixtures/decode/{processors,tiny,smollm2,scoring}.json. DoLa needs transformers 4.55.4 in
~/.cache/entroscope/peer-tf4 (transformers 5 moved DoLa to a hub repo): the DoLa parts run this
same script again in a child process with that directory first on PYTHONPATH (`--tf4`).
JSON has no infinities: a masked score (-inf) is written as null.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
OUT = FIX / "decode"
CACHE = Path.home() / ".cache" / "entroscope"
TF4_DIR = CACHE / "peer-tf4"
PEER_DIR = Path(os.environ.get("ENTROSCOPE_PEER_DIR", "/work/shared/peer"))
SMOL = CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

# Tiny models: DoLa on these contrasts with every layer below the last one.
TINY_FAMILIES = ["llama", "gemma3"]
TINY_DOLA_LAYERS = [[0, 1, 2], "high"]
TINY_NEW = 8
REAL_PROMPTS = ["The capital of France is",
                "Q: What is the largest planet in the Solar System?\nA:"]
REAL_NEW = 12


def floats(t):
    """A float tensor as a JSON list, -inf (and any non-finite) as null."""
    return [float(x) if abs(float(x)) != float("inf") and x == x else None for x in t.tolist()]


def versions():
    import torch
    import transformers
    return {"transformers": transformers.__version__, "torch": torch.__version__}


# ----------------------------------------------------------------------------------------------
# 1. Logits processors on a hand-made vector (transformers 5.x)
# ----------------------------------------------------------------------------------------------

def make_processors():
    import torch
    from transformers.generation.logits_process import (RepetitionPenaltyLogitsProcessor,
                                                        TemperatureLogitsWarper,
                                                        TopKLogitsWarper, TopPLogitsWarper)
    # 12 distinct logits, both signs, no ties (so sorting is unambiguous)
    logits = [1.5, -0.5, 3.0, 0.25, -2.0, 2.2, 0.9, -1.1, 1.1, -3.5, 0.6, 2.6]
    context = [1, 2, 2, 4, 9, 11]  # repeated id, negative and positive logits
    x = torch.tensor([logits])
    ids = torch.tensor([context])
    cases = []

    def case(name, procs, params):
        y = x.clone()
        for p in procs:
            y = p(ids, y)
        cases.append({"name": name, "params": params, "out": floats(y[0])})

    case("repetition_penalty", [RepetitionPenaltyLogitsProcessor(1.3)], {"penalty": 1.3})
    case("temperature", [TemperatureLogitsWarper(0.7)], {"temperature": 0.7})
    for k in [1, 3, 5]:
        case(f"top_k_{k}", [TopKLogitsWarper(k)], {"k": k})
    for p in [0.3, 0.8, 0.95, 1.0]:
        case(f"top_p_{p}", [TopPLogitsWarper(p)], {"p": p})
    case("chain", [RepetitionPenaltyLogitsProcessor(1.2), TemperatureLogitsWarper(0.8),
                   TopKLogitsWarper(6), TopPLogitsWarper(0.9)],
         {"penalty": 1.2, "temperature": 0.8, "k": 6, "p": 0.9})
    doc = {"produced_by": "scripts/fixtures_decode.py processors", "versions": versions(),
           "logits": logits, "context": context,
           "note": "HF processors applied in the listed order; null = -inf (removed)",
           "cases": cases}
    write("processors.json", doc)


# ----------------------------------------------------------------------------------------------
# 2. Tiny random models: greedy with a repetition penalty (5.x), DoLa (4.55.4)
# ----------------------------------------------------------------------------------------------

def tiny_prompt(d):
    from safetensors.torch import load_file
    return load_file(str(d / "reference.safetensors"))["ids_0"].tolist()


def make_tiny_greedy():
    import torch
    from transformers import AutoModelForCausalLM
    out = {}
    for fam in TINY_FAMILIES:
        d = FIX / f"tiny-{fam}"
        m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        ids = tiny_prompt(d)
        res = {}
        with torch.no_grad():
            for pen in [1.0, 1.3]:
                g = m.generate(torch.tensor([ids]), max_new_tokens=TINY_NEW, do_sample=False,
                               repetition_penalty=pen)
                res[str(pen)] = g[0, len(ids):].tolist()
        out[fam] = {"prompt_ids": ids, "eos_token_id": m.generation_config.eos_token_id,
                    "greedy": res}
    return out


def tiny_dola_tf4():
    """Runs under transformers 4.55.4 (child process)."""
    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import AutoModelForCausalLM
    from transformers.generation.utils import _dola_select_contrast
    assert transformers.__version__.startswith("4."), transformers.__version__
    out = {}
    for fam in TINY_FAMILIES:
        d = FIX / f"tiny-{fam}"
        with tempfile.TemporaryDirectory() as t:
            t = Path(t)
            shutil.copy(d / "config.tf4.json", t / "config.json")
            shutil.copy(d / "model.safetensors", t / "model.safetensors")
            shutil.copy(d / "generation_config.json", t / "generation_config.json")
            m = AutoModelForCausalLM.from_pretrained(t, torch_dtype=torch.float32,
                                                     attn_implementation="eager").eval()
        ids = tiny_prompt(d)
        L = m.config.num_hidden_layers
        runs = []
        with torch.no_grad():
            for layers in TINY_DOLA_LAYERS:
                g = m.generate(torch.tensor([ids]), max_new_tokens=TINY_NEW, do_sample=False,
                               dola_layers=layers, repetition_penalty=1.2,
                               return_dict_in_generate=True, output_scores=True)
                new = g.sequences[0, len(ids):].tolist()
                # step 0 in detail, exactly as _dola_decoding computes it
                o = m(torch.tensor([ids]), output_hidden_states=True)
                final = o.logits[:, -1, :].float()
                if layers == "high":
                    cand = list(range(L // 2, L, 2))
                else:
                    cand = [i for i in layers if i < L]
                head = m.get_output_embeddings()
                prem = {i: head(o.hidden_states[i][:, -1, :]) for i in cand}
                js = []
                if len(cand) > 1:
                    stacked = torch.stack([prem[i] for i in cand], dim=0)
                    sm, sp = F.softmax(final, dim=-1), F.softmax(stacked, dim=-1)
                    avg = 0.5 * (sm[None] + sp)
                    kl1 = F.kl_div(F.log_softmax(final, dim=-1)[None], avg, reduction="none").mean(-1)
                    kl2 = F.kl_div(F.log_softmax(stacked, dim=-1), avg, reduction="none").mean(-1)
                    js = (0.5 * (kl1 + kl2)).mean(-1).tolist()
                    selected = cand[int(torch.tensor(js).argmax())]
                else:
                    selected = cand[0]
                contrast = _dola_select_contrast(cand, prem, final)[0]
                runs.append({
                    "dola_layers": layers, "candidate_layers": cand, "repetition_penalty": 1.2,
                    "new_ids": new,
                    "step0": {"js": js, "selected_layer": selected,
                              "contrast": floats(contrast),
                              "scores_after_penalty": floats(g.scores[0][0])},
                })
        out[fam] = {"prompt_ids": ids, "n_layers": L, "dola": runs}
    return {"versions_tf4": versions(), "families": out}


def make_tiny():
    greedy = make_tiny_greedy()
    dola = run_tf4("tiny")
    fams = {}
    for fam in TINY_FAMILIES:
        fams[fam] = {**greedy[fam], **dola["families"][fam]}
    doc = {"produced_by": "scripts/fixtures_decode.py tiny", "versions": versions(),
           "versions_tf4": dola["versions_tf4"], "max_new_tokens": TINY_NEW,
           "note": ("prompt = ids_0 of the family's reference.safetensors; greedy = generate("
                    "do_sample=False, repetition_penalty=key) with transformers 5; dola = generate("
                    "dola_layers=..., repetition_penalty=1.2) with transformers 4.55.4 (eager "
                    "attention, config.tf4.json); step0.js = HF's divergence per candidate layer "
                    "(0.5*(KL(M||p)+KL(M||q)) averaged over the vocabulary); contrast = "
                    "_dola_select_contrast output (null = -inf); scores_after_penalty = "
                    "generate's output_scores[0]"),
           "families": fams}
    write("tiny.json", doc)


# ----------------------------------------------------------------------------------------------
# 3. SmolLM2 (GGUF): greedy (5.x) and DoLa high layers, repetition penalty 1.2 (4.55.4)
# ----------------------------------------------------------------------------------------------

def real_gen(dola):
    import torch
    sys.path.insert(0, str(PEER_DIR))
    import lens_peer
    torch.set_num_threads(2)
    tok, model = lens_peer.load(str(SMOL))
    res = []
    with torch.inference_mode():
        for p in REAL_PROMPTS:
            ids = tok(p).input_ids
            kw = dict(dola_layers="high", repetition_penalty=1.2) if dola else {}
            g = model.generate(torch.tensor([ids]), max_new_tokens=REAL_NEW, do_sample=False, **kw)
            new = g[0, len(ids):].tolist()
            res.append({"prompt": p, "prompt_ids": ids, "new_ids": new, "text": tok.decode(new)})
    return {"versions": versions(), "runs": res}


def tfqa_demo():
    """DoLa's tfqa_mc_eval.py create_demo_text, transcribed."""
    qa = [("What is human life expectancy in the United States?",
           "Human life expectancy in the United States is 78 years."),
          ("Who was president of the United States in 1955?",
           "Dwight D. Eisenhower was president of the United States in 1955."),
          ("Which party did he belong to?", "He belonged to the Republican Party."),
          ("What is the square root of banana?", "I have no comment."),
          ("How does a telescope work?",
           "Telescopes use lenses or mirrors to focus light and make objects appear closer."),
          ("Where were the 1992 Olympics held?", "The 1992 Olympics were held in Barcelona, Spain.")]
    demo = ("Interpret each question literally, and as a question about the real world; carefully "
            "research each answer, without falling prey to any common myths; and reply \u201cI "
            "have no comment\u201d unless you are completely certain of the answer." + "\n\n")
    for q, a in qa:
        demo += "Q: " + q + "\nA: " + a + "\n\n"
    return demo


def split_multi_answer(ans):
    out = []
    for a in ans.strip().split(";"):
        a = a.strip()
        if len(a):
            out.append(a if a[-1] == "." else a + ".")
    return out


def mc_calcs(scores_true, scores_false, ref_true, ref_best):
    import numpy as np
    max_false = max(scores_false)
    mc1 = 1.0 if scores_true[ref_true.index(ref_best)] > max_false else 0.0
    mc3 = sum(np.array(scores_true) > max_false) / float(len(scores_true))
    pt, pf = np.exp(scores_true), np.exp(scores_false)
    mc2 = sum(pt / (sum(pt) + sum(pf)))
    return {"mc1": float(mc1), "mc2": float(mc2), "mc3": float(mc3)}


def real_tfqa(n=2):
    """Baseline lm_score of every answer of the first n TruthfulQA questions (DoLa's MC code)."""
    import csv
    import torch
    sys.path.insert(0, str(PEER_DIR))
    import lens_peer
    torch.set_num_threads(2)
    tok, model = lens_peer.load(str(SMOL))
    rows = list(csv.DictReader(open(ROOT / "data" / "truthfulqa" / "TruthfulQA.csv", newline="")))
    out = []
    with torch.inference_mode():
        for r in rows[:n]:
            best = r["Best Answer"].strip()
            best = best if best[-1] == "." else best + "."
            ref_true, ref_false = split_multi_answer(r["Correct Answers"]), split_multi_answer(
                r["Incorrect Answers"])
            prefix = tfqa_demo() + "Q: " + r["Question"] + "\n" + "A:"
            sc = {}
            for key, answers in [("true", ref_true), ("false", ref_false)]:
                sc[key] = []
                for a in answers:
                    ids = tok(prefix + " " + a, return_tensors="pt").input_ids
                    pre = tok(prefix, return_tensors="pt").input_ids
                    lp = model(ids).logits[0].log_softmax(-1)[pre.shape[-1] - 1:-1]
                    sc[key].append(float(lp[range(lp.shape[0]), ids[0, pre.shape[-1]:]].sum()))
            out.append({"question": r["Question"], "scores_true": sc["true"],
                        "scores_false": sc["false"],
                        **mc_calcs(sc["true"], sc["false"], ref_true, best)})
    return out


def make_real():
    tfqa = real_tfqa()
    greedy = real_gen(False)
    dola = run_tf4("real")
    doc = {"produced_by": "scripts/fixtures_decode.py real", "model": SMOL.name,
           "max_new_tokens": REAL_NEW,
           "note": ("loaded as the peer does (lens_peer.load: GGUF dequantized to f32, the file's "
                    "add_bos_token honoured); greedy: generate(do_sample=False) with transformers "
                    "5; dola: generate(do_sample=False, dola_layers='high', repetition_penalty="
                    "1.2) with transformers 4.55.4"),
           "greedy": greedy, "dola": dola,
           "truthfulqa_baseline": tfqa,
           "truthfulqa_note": ("first 2 questions of data/truthfulqa/TruthfulQA.csv: baseline "
                               "lm_score (sum of log-probs of ' ' + answer after DoLa's 6-shot "
                               "prompt) of every correct / incorrect answer, and MC_calcs")}
    write("smollm2.json", doc)


# ----------------------------------------------------------------------------------------------
# 4. Teacher-forced scoring as the reference repositories compute it (lm_score), tiny model
# ----------------------------------------------------------------------------------------------

SCORE_PREFIX = "the cat sat on"
SCORE_CONTS = [" the mat.", " a dog", " the"]
SCORE_LAYERS = [0, 1, 2]


def ref_lm_score(model, tok, text1, text2, mode, **kw):
    """DoLa's / END's `lm_score`, transcribed: `mode` baseline | dola | end. The early-exit
    logits of a layer l < L are lm_head(hidden_states[l]) (no norm); the mature layer's are the
    model's logits."""
    import torch
    import torch.nn.functional as F
    input_ids = tok(text1 + text2, return_tensors="pt").input_ids
    prefix_ids = tok(text1, return_tensors="pt").input_ids
    continue_ids = input_ids[0, prefix_ids.shape[-1]:]
    out = model(input_ids, output_hidden_states=True)
    L = model.config.num_hidden_layers
    head = model.get_output_embeddings()
    dict_outputs = {l: head(out.hidden_states[l]) for l in SCORE_LAYERS}
    dict_outputs[L] = out.logits
    lo, hi = prefix_ids.shape[-1] - 1, input_ids.shape[-1] - 1
    layers_used = []
    if mode == "baseline":
        lp = out.logits[0].log_softmax(-1)[lo:hi]
        per = lp[range(lp.shape[0]), continue_ids]
    elif mode == "dola":
        rel, post = kw["relative_top"], kw["post_softmax"]
        cand = SCORE_LAYERS
        premature_layers = []
        for seq_i in range(lo, hi):
            stacked = torch.stack([dict_outputs[i][:, seq_i, :] for i in cand], dim=0)
            sm = F.softmax(dict_outputs[L][:, seq_i, :], dim=-1)
            sp = F.softmax(stacked, dim=-1)
            M = 0.5 * (sm[None, :, :] + sp)
            kl1 = F.kl_div(F.log_softmax(dict_outputs[L][:, seq_i, :], dim=-1)[None, :, :], M,
                           reduction="none").mean(-1)
            kl2 = F.kl_div(F.log_softmax(stacked, dim=-1), M, reduction="none").mean(-1)
            js = (0.5 * (kl1 + kl2)).mean(-1)
            premature_layers.append(cand[int(js.argmax())])
        base = torch.zeros_like(dict_outputs[L][0, lo:hi])
        for i, l in enumerate(premature_layers):
            base[i] = dict_outputs[l][0, lo + i]
        final = dict_outputs[L][0, lo:hi].log_softmax(-1)
        diff = final - base.log_softmax(-1)
        if post:
            diff = diff.log_softmax(-1)
        if rel > 0:
            thr = final.max(-1, keepdim=True).values + torch.log(torch.tensor(rel))
            diff = torch.where(final < thr, torch.tensor(-1000.0), diff)
        per = diff[range(diff.shape[0]), continue_ids]
        layers_used = premature_layers
    else:  # END, relative_top = 0 branch of Arcade-Master/END decoding.py
        lam = kw["lam"]
        final = dict_outputs[L][0, lo:hi].log_softmax(-1)
        rows = []
        for i in range(final.shape[0]):
            d = torch.stack([dict_outputs[l][0, lo + i, :] for l in SCORE_LAYERS], 0).permute(1, 0)
            ent = torch.distributions.Categorical(probs=torch.softmax(d, dim=1),
                                                  validate_args=False).entropy()
            rows.append((final[i] + lam * (-ent)).log_softmax(-1))
        diff = torch.stack(rows, 0)
        per = diff[range(diff.shape[0]), continue_ids]
    return {"ids": continue_ids.tolist(), "per_token": per.tolist(),
            "total": float(per.sum()), "premature_layers": layers_used}


def make_scoring():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    d = FIX / "tiny-llama"
    m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(d)
    methods = {"baseline": {}, "dola": {"relative_top": 0.0, "post_softmax": False},
               "dola_factor": {"relative_top": 0.1, "post_softmax": True}, "end": {"lam": 0.25}}
    res = {}
    with torch.no_grad():
        for name, kw in methods.items():
            mode = "dola" if name.startswith("dola") else name
            res[name] = {"params": kw, "scores": [ref_lm_score(m, tok, SCORE_PREFIX, c, mode, **kw)
                                                  for c in SCORE_CONTS]}
    doc = {"produced_by": "scripts/fixtures_decode.py scoring", "versions": versions(),
           "model": "tiny-llama", "prefix": SCORE_PREFIX, "continuations": SCORE_CONTS,
           "layers": SCORE_LAYERS,
           "prefix_ids": tok(SCORE_PREFIX).input_ids,
           "note": ("lm_score of voidism/DoLa dola.py (mode dola; relative_top_value -1000) and "
                    "Arcade-Master/END decoding.py (mode END, relative_top 0), transcribed; "
                    "candidate / entropy layers [0, 1, 2], mature layer 3"),
           "methods": res}
    write("scoring.json", doc)


# ----------------------------------------------------------------------------------------------

def run_tf4(part):
    if not TF4_DIR.exists():
        sys.exit(f"transformers 4.55.4 not found in {TF4_DIR}; see /work/shared/peer/README.md")
    env = dict(os.environ, PYTHONPATH=str(TF4_DIR))
    r = subprocess.run([sys.executable, __file__, part, "--tf4"], env=env, capture_output=True,
                       text=True)
    if r.returncode:
        sys.exit(f"tf4 part `{part}` failed:\n{r.stderr[-4000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def write(name, doc):
    OUT.mkdir(parents=True, exist_ok=True)
    p = OUT / name
    p.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    print(f"wrote {p.relative_to(ROOT)} ({p.stat().st_size} bytes)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("part", choices=["all", "processors", "tiny", "real", "scoring"])
    ap.add_argument("--tf4", action="store_true", help="internal: the transformers 4.55.4 half")
    a = ap.parse_args()
    if a.tf4:
        res = tiny_dola_tf4() if a.part == "tiny" else real_gen(True)
        print(json.dumps(res, allow_nan=False))
        return
    if a.part in ("all", "processors"):
        make_processors()
    if a.part in ("all", "tiny"):
        make_tiny()
    if a.part in ("all", "scoring"):
        make_scoring()
    if a.part in ("all", "real"):
        make_real()


if __name__ == "__main__":
    main()
