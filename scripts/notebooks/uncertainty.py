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
of `entroscope::uncertainty`): prompt = an instruction line + the idiom without its last word;
ground truth = the first token of `" " + last word`; one greedy token and several samples at T = 1
per idiom. We run it on SmolLM2-135M-Instruct and Gemma-3-270M (GPT-2 XL is not fetchable here).
With `ENTROSCOPE_QUICK=1` the notebook runs the default model on the first idioms only.
"""),
("code", """
:dep entroscope = { path = "..", features = ["evcxr"] }
"""),
("code", """
use entroscope::prelude::*;
use entroscope::uncertainty as unc;
use entroscope::uncertainty::ReproductionOptions;

let quick = std::env::var("ENTROSCOPE_QUICK").map(|v| v == "1").unwrap_or(false);
let out = std::path::PathBuf::from("../figures/uncertainty");
std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
entroscope::frame::set_display(20, 12);
"""),
("markdown", """
## One idiom, layer by layer
The static idiom list, cleaned: placeholders filled in, trailing punctuation dropped, empty and
one-word lines skipped *and counted*. For one idiom we trace the prompt and read, at every layer,
the entropy, the cross-entropy (nats) to the greedy token and to the ground truth, and their ranks.
"""),
("code", """
let lm = Lm::load(&entroscope::model::default_model_path())?;
let set = unc::load_idioms(entroscope::data::data_dir().join("epie/Static_idioms.txt"))?;
println!("{}: {} idioms, {} lines skipped", set.name, set.idioms.len(), set.skipped.len());
let idiom = set.idioms.iter().find(|i| i.text == "rule of thumb").unwrap_or(&set.idioms[0]).clone();
let case = unc::make_case(&lm, &idiom)?;
println!("prompt: {:?}", unc::prompt_text(&idiom.prefix));
println!("ground truth: {:?} (id {})", lm.token_strings(&[case.target])[0], case.target);
"""),
("code", """
let trace = lm.trace(&case.prompt_ids, &CaptureSpec::last(), &mut NoHook)?;
let logits = lm.next_token_logits(&case.prompt_ids)?;
let greedy = entroscope::decode::argmax(&logits)?;
let stats = unc::layer_stats(&lm, &trace, &[greedy, case.target])?;
// A block keeps the helper closures local: evcxr can only keep owned, nameable values between cells.
let df = {
    use entroscope::frame::{frame_from_columns, ColumnData};
    let f = |v: &[f32]| ColumnData::F64(v.iter().map(|&x| f64::from(x)).collect());
    let r = |v: &[u32]| ColumnData::I64(v.iter().map(|&x| i64::from(x)).collect());
    frame_from_columns(vec![
        ("layer", ColumnData::I64((0..stats.entropy.len() as i64).collect())),
        ("entropy", f(&stats.entropy)),
        ("ce_greedy", f(&stats.ce[0])), ("rank_greedy", r(&stats.rank[0])),
        ("ce_truth", f(&stats.ce[1])), ("rank_truth", r(&stats.rank[1])),
    ])?
};
println!("greedy token: {:?}", lm.token_strings(&[greedy])[0]);
df
"""),
("markdown", """
## The reproduction
Every idiom of both lists (static and the harder formal list), greedy and sampled generations,
per-layer statistics, and the AUCs: final CE to the generated token (the paper's score), final
entropy (a baseline), final CE to the ground truth (an oracle, not available at inference time),
and the AUC of every layer's CE.
"""),
("code", """
let opts = if quick {
    ReproductionOptions { models: vec![entroscope::model::default_model_path()], limit: Some(40),
                          n_samples: 2, progress: false, ..Default::default() }
} else {
    ReproductionOptions { progress: false, ..Default::default() }
};
let t0 = std::time::Instant::now();
let report = unc::run_reproduction(&opts)?;
println!("{} generations in {:.0} s", report.records.len(), t0.elapsed().as_secs_f64());
println!("{}", report.markdown());
"""),
("code", """
report.summary_frame()?
"""),
("markdown", """
## Cross-entropy by layer, correct vs incorrect
Median and quartiles of the CE to the sampled token per layer. The paper's picture: both groups
start high, and the incorrect completions stay higher in the last layers.
"""),
("code", """
let sums: Vec<unc::Summary> = report.sampled_summaries().into_iter().cloned().collect();
let s0 = sums[0].clone(); // owned: evcxr keeps no borrows between cells
let chart = unc::ce_layers_chart(&report, &s0)?;
for s in &sums {
    let tag = s.tag(); // the same file names as `entroscope uncertainty`
    unc::ce_layers_chart(&report, s)?.save(out.join(format!("ce_layers_{tag}.png")))?;
    unc::final_ce_histogram(&report, s)?.save(out.join(format!("hist_final_ce_{tag}.png")))?;
    if s.auc_final_ce.is_finite() {
        unc::roc_chart(&report, s)?.save(out.join(format!("roc_{tag}.png")))?;
    }
}
chart
"""),
("markdown", """
## The final cross-entropy as an uncertainty score
Histograms of the final-layer CE for both groups, then the ROC curve of "incorrect" against it
(and against the plain final entropy).
"""),
("code", """
unc::final_ce_histogram(&report, &s0)?
"""),
("code", """
unc::roc_chart(&report, &s0)?
"""),
("markdown", """
## Which layer separates best?
The AUC of every layer's CE against relative depth, one line per model × idiom list.
"""),
("code", """
let auc = unc::auc_vs_layer_chart(&report)?;
auc.save(out.join("auc_vs_layer.png"))?;
entroscope::frame::write_table(&report.summary_frame()?, out.join("summary.csv"))?;
auc
"""),
]
