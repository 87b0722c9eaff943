"""Cells of notebooks/uncertainty.ipynb (see scripts/make_notebooks.py)."""

CELLS = [
("markdown", """
# Uncovering uncertainty in transformer inference

*Brothers et al., arXiv 2412.05768.* The paper asks GPT-2 XL to complete English idioms (the EPIE
lists), reads every layer through the logit lens, and follows the **cross-entropy to the token
the model generates** from layer to layer. Its claims:

1. correct and incorrect completions follow different cross-entropy trajectories in the upper layers;
2. the **final-layer cross-entropy to the sampled token** separates correct from incorrect
   completions with **ROC AUC 0.92**, an uncertainty score available at inference time.

No code was published, so the protocol is our reconstruction (every choice is listed in the docs
of `entroscope::papers::uncertainty`): prompt = an instruction line + the idiom without its last word;
ground truth = the first token of `" " + last word`; one greedy token and several samples at T = 1
per idiom. We run it on SmolLM2-135M-Instruct and Gemma-3-270M (GPT-2 XL is not fetchable here).
With `ENTROSCOPE_QUICK=1` the notebook runs the default model on the first idioms only. The run
returns a `Report`; its `write` puts every figure and table under `figures/uncertainty/` with the
file names of `entroscope uncertainty`.
`ENTROSCOPE_MODEL=qwen2.5-coder-1.5b-instruct` (any model, or several separated by commas) runs
it at paper scale, on a model large enough to show the papers' effects ([docs/paper_scale.md](../docs/paper_scale.md)).
"""),
("code", """
:dep entroscope = { path = "..", features = ["evcxr"] }
"""),
("code", """
use entroscope::notebook::*; // the prelude, Report, run sizes, bundled models, show()
use entroscope::papers::uncertainty::{self, Options};

let size = size()?; // ENTROSCOPE_SIZE (or ENTROSCOPE_QUICK=1)
let quick = size == Preset::Quick;
"""),
("markdown", """
## One idiom, layer by layer
The static idiom list, cleaned: placeholders filled in, trailing punctuation dropped, empty and
one-word lines skipped *and counted*. For one idiom we trace the prompt and read, at every layer,
the entropy, the cross-entropy (nats) to the greedy token and to the ground truth, and their ranks
(`run_idiom` with no samples: the greedy token only; `to_frame` gives one row per layer).
"""),
("code", """
let lm = Lm::load(&default_model_path())?;
let set = entroscope::data::load_idioms(entroscope::data::path("epie/Static_idioms.txt"))?;
println!("{}: {} idioms, {} lines skipped", set.name, set.idioms.len(), set.skipped.len());
let idiom = set.idioms.iter().find(|i| i.text == "rule of thumb").unwrap_or(&set.idioms[0]).clone();
let case = uncertainty::make_case(&lm, &idiom)?;
println!("prompt: {:?}", uncertainty::prompt_text(&idiom.prefix));
println!("ground truth: {:?} (id {})", lm.token_strings(&[case.target])[0], case.target);
"""),
("code", """
let greedy = uncertainty::run_idiom(&lm, &set.name, 0, &idiom, 0, 0)?;
println!("greedy token: {:?} (correct: {})", greedy[0].generated_str, greedy[0].correct);
greedy.to_frame()?.select(["layer", "entropy", "ce_generated", "rank_generated", "ce_truth", "rank_truth"])?.show();
"""),
("markdown", """
## The reproduction
Every idiom of both lists (static and the harder formal list), greedy and sampled generations,
per-layer statistics, and the AUCs: final CE to the generated token (the paper's score), final
entropy (a baseline), final CE to the ground truth (an oracle, not available at inference time),
and the AUC of every layer's CE.
"""),
("code", """
let mut opts = if quick {
    Options { models: vec![default_model_path()], limit: Some(40), n_samples: 2,
              ..Options::quick() }
} else {
    size.pick::<Options>()
};
opts.models = models_or(opts.models); // ENTROSCOPE_MODEL=qwen2.5-coder-1.5b-instruct: paper scale
let report = uncertainty::run(&opts)?;
println!("{} generations", report.records.len());
Markdown(report.markdown()).show();
"""),
("code", """
report.summaries.to_frame()?.show();
"""),
("markdown", """
## Cross-entropy by layer, correct vs incorrect
The median CE to the sampled token per layer, its quartiles shaded. The paper's Figure 2: both
groups start high, and the incorrect completions stay higher in the last layers. The cell under
the chart compares the run with that claim for every model × idiom list, with n and standard
errors; with few idioms (`ENTROSCOPE_QUICK=1`) a group may hold a handful of completions.
"""),
("code", """
let s0 = report.sampled_summaries()[0].clone(); // owned: evcxr keeps no borrows between cells
uncertainty::ce_layers_chart(&report, &s0)?
"""),
("code", """
report.findings_of("ce_layers").show();
"""),
("markdown", """
## The final cross-entropy as an uncertainty score
Histograms of the final-layer CE for both groups, then the ROC curve of "incorrect" against it
(and against the plain final entropy).
"""),
("code", """
uncertainty::final_ce_histogram(&report, &s0)?
"""),
("code", """
uncertainty::roc_chart(&report, &s0)?
"""),
("code", """
report.findings_of("roc").show();
"""),
("markdown", """
## Which layer separates best?
The AUC of every layer's CE against relative depth, one line per model × idiom list, chance
dashed. Read as the paper does, the separation should build up with depth.
"""),
("code", """
uncertainty::auc_vs_layer_chart(&report)?
"""),
("code", """
report.findings_of("auc_vs_layer").show();
"""),
("markdown", """
## Every figure and table
`write` saves the charts of every model × idiom list, `summary.csv`, `records.parquet` (every
generation at every layer) and `results.md`.
"""),
("code", """
let files = report.write("../figures/uncertainty".as_ref())?;
println!("{} files written under ../figures/uncertainty", files.len());
"""),
]
