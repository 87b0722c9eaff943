"""Cells of notebooks/end_decoding.ipynb (see scripts/make_notebooks.py)."""

CELLS = [
("markdown", """
# END: cross-layer entropy enhanced decoding

Reproduces *Improve Decoding Factuality by Token-wise Cross Layer Entropy of Large Language Models*
(END, arXiv 2502.03199) on SmolLM2-135M-Instruct and Gemma-3-270M.

**The paper's claim.** For a candidate token `v`, take its raw early-exit logits `z_l(v)` over a set
of upper layers `C`, normalise them *across layers* (`q_l(v) = softmax_l z_l(v)`) and take the entropy
`H(v)`. Factual tokens get their probability in a sharp jump in the upper layers (low `H`); END
decodes with `z_N(v) − λ·H(v)` and reports gains over greedy (and DoLa) on TruthfulQA (up to +24.85 %
Truth×Info), FACTOR and QA benchmarks. Under each figure and table below, a **finding** cell sets
the paper's claim beside what this run measured (mean ± standard error, n) and says whether the
effect shows, is absent (within two standard errors) or is reversed; `summary.md` lists them all
under "Against the paper".

Everything below calls `entroscope::papers::end`: each section runs one part of the study and merges
its `Report` into `all`, whose `write` puts every figure and table under `figures/end/` at the end —
the same files as `entroscope end --out figures/end` without Jupyter. With `ENTROSCOPE_QUICK=1` the
notebook runs the quick preset (default model, a handful of questions) — see `Options::quick`; `ENTROSCOPE_SIZE=quick|default|full|paper` picks any preset.
`ENTROSCOPE_MODEL=qwen2.5-coder-1.5b-instruct` (any model, or several separated by commas) runs
it at paper scale, on a model large enough to show the papers' effects ([docs/paper_scale.md](../docs/paper_scale.md)).
"""),
("code", """
:dep entroscope = { path = "..", features = ["evcxr"] }
"""),
("code", """
use entroscope::notebook::*; // the prelude, Report, run sizes, bundled models, show()
use entroscope::papers::end::{self, Options};

let size = size()?; // ENTROSCOPE_SIZE (or ENTROSCOPE_QUICK=1)
let mut base = size.pick::<Options>();
base.models = models_or(base.models); // ENTROSCOPE_MODEL=qwen2.5-coder-1.5b-instruct: paper scale
println!("models: {:?}\\nTruthfulQA MC questions: {}, FACTOR items/split: {}, open-ended: {}",
    base.models, base.n_mc, base.n_factor, base.n_open);
"""),
("markdown", """
## 1. Probability growth of correct tokens vs distractors
For a dozen factual prompts of ours ("The capital of France is" → " Paris") and some TruthfulQA
questions, the final layer's top-5 tokens and the reference answer's first token, layer by layer
(normed logit lens; the last point is the model's own distribution). `H` in the legend is the
cross-layer entropy over END's default layer set (every other upper layer), the quantity END subtracts.

What to look for: in the paper's picture the correct token's probability jumps in the upper layers
while the distractors' rises flatly, so the correct token's `H` is the lower one. Whether this run
shows it, on these models, is in the finding cells under the growth chart and the entropy histogram.
"""),
("code", """
let mut all = end::run(&Options { n_mc: 0, n_factor: 0, n_open: 0, ..base.clone() })?;
let model = all.candidates[0].model.clone();
all.prompt_chart(&model, 0)?
"""),
("code", """
all.growth_chart()?
"""),
("code", """
all.findings_of("probability_growth").show();
"""),
("code", """
all.entropy_chart(&model)?
"""),
("code", """
all.findings_of("cross_layer_entropy").show();
"""),
("code", """
Markdown(all.markdown()).show();
"""),
("markdown", """
## 2. Multiple choice: greedy vs DoLa vs END, and the λ × layer-set sweep
TruthfulQA MC1/MC2/MC3 (6-shot QA prompt, answers scored teacher-forced) and FACTOR news/expert on the
first questions (sizes printed above). Greedy and END on TruthfulQA are points of the sweep
(λ = 0 and the default λ = 0.25 on every other upper layer — tested equal to the score module); the
sweep varies λ and the layer set (`end::LAYER_SETS`): last 2 blocks, every block of the upper half,
every other upper block.

What to look for: the paper has END above greedy (and above DoLa) on TruthfulQA MC and FACTOR, and
MC2 rising with λ; the differences are judged against the standard errors over these few
questions in the summary's first section ("Against the paper") and under the sweep.
"""),
("code", """
let part = end::run(&Options { candidates: false, n_open: 0, ..base.clone() })?;
Markdown(part.markdown()).show();
"""),
("code", """
let chart = part.sweep_chart()?;
all.merge(part);
chart
"""),
("code", """
all.findings_of("sweep_mc2").show();
"""),
("markdown", """
## 3. Open-ended TruthfulQA
Greedy, DoLa and END answer after the 6-shot prompt (≤ 50 tokens, stop at "Q:"). The paper's GPT judges
are out of reach, so answers are scored by overlap: max ROUGE-L to a correct reference minus max ROUGE-L
to an incorrect one, and the share of answers closer to a correct reference. The finding cell at the
end of this section compares END's mean overlap difference with greedy's — a proxy for the paper's
Truth×Info, not the same measure.
"""),
("code", """
let part = end::run(&Options { candidates: false, n_mc: 0, n_factor: 0, ..base.clone() })?;
Markdown(part.markdown()).show();
"""),
("code", """
part.open.to_frame()?.head(Some(9)).show();
all.merge(part);
"""),
("code", """
all.findings_of("open").show();
"""),
("markdown", """
## Save every figure and table
PNGs, Parquet tables and `summary.md` under `figures/end/` (the CLI writes the same files).
"""),
("code", """
let files = all.write("../figures/end".as_ref())?;
println!("{} files written", files.len());
"""),
]
