"""Cells of notebooks/entropy_lens.ipynb (see scripts/make_notebooks.py)."""

CELLS = [
("markdown", """
# Entropy-Lens: decision strategies through the entropy of layer-by-layer predictions

*Ali, Caso, Irwin & Liò, arXiv 2502.16570.* Read every layer of a decoder-only LM through the
logit lens (final norm + unembedding), take the **entropy** of each layer's next-token
distribution at every generated token, and average: the *entropy profile*, one number per
layer. The paper claims:

1. profiles are **family-specific** and survive **depth rescaling** (models of different depth
   on one relative-depth grid);
2. profiles tell apart the **task** a prompt asks for (kNN ROC AUC 94.8–98.4 %) and the
   **output format** being written (96.6–98.7 %);
3. skipping the layers that **expand** the distribution (largest entropy increase) hurts
   differently from skipping the ones that **prune** it, expansion generally being more critical.

We reproduce each experiment with `entroscope::papers::entropy_lens` on SmolLM2-135M-Instruct and
Gemma-3-270M (the paper's GPT-2 / Gemma-2 / Llama-3.2 / Qwen3 are not reachable here), with
sample counts scaled down to a 2-core CPU (the README lists every reduction). Each section runs
one experiment (`Options::experiments`) and merges its `Report` into `all`, whose `write` puts
every figure and table under `figures/entropy_lens/` at the end.
`ENTROSCOPE_SIZE` picks the preset: `quick` runs `Options::quick()` (≈ 2–3 minutes), `default` (the default) `Options::standard()`, `full` `Options::full()`
(≈ 40 minutes). The CLI `entroscope entropy-lens all` writes the same figures and tables.
`ENTROSCOPE_MODEL=qwen2.5-coder-1.5b-instruct` (any model, or several separated by commas) runs
it at paper scale, on a model large enough to show the papers' effects ([docs/paper_scale.md](../docs/paper_scale.md)).
"""),
("code", """
:dep entroscope = { path = "..", features = ["evcxr"] }
"""),
("code", """
use entroscope::notebook::*; // the prelude, Report, run sizes, bundled models, show()
use entroscope::papers::entropy_lens::{self, Experiment, Options, ProfileLines};

let size = size()?; // ENTROSCOPE_SIZE (or ENTROSCOPE_QUICK=1)
let mut opts = size.pick::<Options>();
opts.models = models_or(opts.models); // ENTROSCOPE_MODEL=qwen2.5-coder-1.5b-instruct: paper scale
let out = std::path::PathBuf::from("../figures/entropy_lens");
std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
println!("models: {:?}", opts.models.iter().map(|m| entroscope::model::short_name(m)).collect::<Vec<_>>());
"""),
("markdown", """
## One generation, every layer
`generation_profiles` samples tokens with the KV cache and keeps the last position's residual
row at every layer at every step; the rows of many steps are unembedded together (the lens is
one big matmul) and reduced to Shannon and Rényi (α = 0.5, 5) entropies in nats. Here: 16 tokens
from the BOS token alone, the family experiment's prompt.
"""),
("code", """
use entroscope::papers::entropy_lens::profiles::{generation_profiles, GenOptions};
let lm = Lm::load(&default_model_path())?;
let g = generation_profiles(&lm, &[entropy_lens::prompts::bos_prompt(&lm)?],
    &GenOptions { max_new_tokens: 16, ..Default::default() }, None)?;
println!("{:?}\\n{}", g[0].text, g[0].profiles[0]);
let heat = entroscope::plot::heatmap(&g[0].profiles[0])?.title("Shannon entropy, layer × generated token");
heat.save(out.join("generation_heatmap.png"))?;
heat.show();
"""),
("markdown", """
## 1. Families and depth rescaling
Samples from BOS at T = 0.7 per model; profile = mean over the steps of each block's entropy
(embeddings excluded). The paper's figure: entropy against relative depth l/L per model, and a
low-dimensional scatter of the profiles coloured by family with marker size by parameter count.
The class is the model's family (its architecture): with one model per family, as with the default models, that is
the model itself, so perfect separation says little. kNN runs on the profiles put on one length
by linear interpolation onto 32 depths, and by the reference code's zero-padding. Add two sizes of
one family to `opts.models` (`qwen2.5-coder-0.5b-instruct` and `qwen2.5-coder-1.5b-instruct`)
and the report also holds each out and classifies it by a kNN trained on the other models: the
paper's claim that profiles are family-specific across sizes (docs/paper_scale.md records such a
run). What to look for: whether the held-out model lands in its own family more often than the
table's chance column; the families kNN AUC against the paper's > 90 % is in the finding under
the AUC chart at the end.
"""),
("code", """
let mut all = entropy_lens::run(&Options { experiments: vec![Experiment::Families], ..opts.clone() })?;
all.profile_chart(Experiment::Families, ProfileLines::Model)?.show();
"""),
("code", """
Markdown(all.markdown()).show();
"""),
("markdown", """
The profiles in two dimensions (PCA of the profiles on the common 32-point depth grid); marker
size = parameter count.
"""),
("code", """
all.family_scatter(32)?.show();
"""),
("markdown", """
## 2. Task classification
The reference's protocol over FACTOR news openings (standing in for TinyStories): three tasks
(continue the story, count its words, say what it is about), two wordings of each question,
four layouts (`"{text}\n\n{question}\n\n"`, question first, and both with the text's words
scrambled) — 24 prompts per text. 8 sampled tokens (T = 1); profile = mean over steps. kNN
(k = 29 as the reference, and 3, 5, 7, 11), stratified CV, one-vs-rest macro ROC AUC and
accuracy; the stratified dummy beside it, and the **step-0** AUC: the same kNN on the first
step's profile alone, which sees only the prompt. Paper: 94.8–98.4 %. What to look for: the
kNN AUC against the dummy's and against step 0's. If step 0 is as high, the tasks differ in
their prompts and the run cannot tell what the generated tokens add. The finding under the AUC
chart at the end gives the verdict.
"""),
("code", """
let tasks = entropy_lens::run(&Options { experiments: vec![Experiment::Tasks], ..opts.clone() })?;
tasks.profile_chart(Experiment::Tasks, ProfileLines::ModelAndClass)?.show();
"""),
("code", """
Markdown(tasks.markdown()).show();
all.merge(tasks);
"""),
("markdown", """
## 3. Output-format classification
The reference's wordings, "Simulate a chat log about {topic}", "Write a poem about {topic}",
"Write a scientific piece about {topic}", over topics spread across the 180 of
`data/entropy_lens/topics.txt`, decoded **greedily** (the reference's `sample=False`; 256 tokens
at `Options::paper()`). Features: the generation split into 8 windows of steps, each window's
per-block mean, concatenated (the reference's layout). The reference reports accuracy at k = 5;
we show it beside the AUC. Paper: 96.6–98.7 %. What to look for: the kNN AUC against the
dummy's and step 0's, as for tasks; the verdict is in the finding under the AUC chart at the end.
"""),
("code", """
let formats = entropy_lens::run(&Options { experiments: vec![Experiment::Formats], ..opts.clone() })?;
formats.profile_chart(Experiment::Formats, ProfileLines::ModelAndClass)?.show();
"""),
("code", """
Markdown(formats.markdown()).show();
all.merge(formats);
"""),
("markdown", """
## 4. Layer-skip interventions
The mean Shannon profile of the question prompts picks the blocks with the largest entropy
increase (*expansion*) and decrease (*pruning*), block 1 excluded by default (with tied
embeddings the embedding layer's entropy is ≈ 0, so the embeddings → block 1 step would always
rank first; `skip_first_block: true` allows it); `LayerSkip` zeroes their attention and MLP
contributions; k random blocks (seeded draws) are the control. Accuracy on TruthfulQA MC1 in a
lettered A–D format (the best answer and three incorrect ones, shuffled), answered by the letter
with the largest next-token logit after "Answer:". Chance is 25 %, and a small model may sit
near it, so the chart plots the probability of the correct letter with its standard error over
the questions, the finer measure (accuracy is in the tables). What to look for: whether, at the
largest k, the expansion curve falls below the pruning curve by more than their error bars (the
paper: expansion is the more critical). The finding below the chart says whether this run shows it.
"""),
("code", """
let iv = entropy_lens::run(&Options { experiments: vec![Experiment::Interventions], ..opts.clone() })?;
iv.intervention_charts()?.show();
"""),
("code", """
iv.findings_of("interventions").show();
"""),
("code", """
Markdown(iv.markdown()).show();
all.merge(iv);
"""),
("code", """
all.interventions.to_frame()?.show();
"""),
("markdown", """
## Everything together
AUC against the Rényi order per experiment (± std over folds; chance 0.5 drawn), the full
results table (the README's, with each experiment's wall time, after the findings), and every
figure and table written under `figures/entropy_lens/` by `Report::write` (the same files as
`entroscope entropy-lens all`). What to look for: each curve's height above chance and the
dummy; the findings below the chart compare the Shannon kNN AUC at the headline k with the
paper's range, one per experiment and model.
"""),
("code", """
all.auc_chart()?.show();
let files = all.write(&out)?;
"""),
("code", """
all.findings_of("auc_vs_alpha").show();
"""),
("code", """
Markdown(all.markdown()).show();
println!("wrote {} files under {}", files.len(), out.display());
"""),
]
