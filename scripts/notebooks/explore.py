"""Cells of notebooks/explore.ipynb (see scripts/make_notebooks.py)."""

CELLS = [
("markdown", """
# Explore: your prompt, your model

A scratch pad. Set the model and the prompt in the settings cell (or `ENTROSCOPE_MODEL` /
`ENTROSCOPE_MODEL2` in the environment) and run everything: what each layer predicts, how sure
it is, a second model beside it, two interventions, END decoding, and the tables as Parquet.
"""),
("code", """
:dep entroscope = { path = "..", features = ["evcxr"] }
"""),
("markdown", """
## Settings
A model is a bundled name (`smollm2-135m-instruct`, `gemma-3-270m`, `qwen2.5-coder-0.5b-instruct`,
`qwen2.5-coder-1.5b-instruct`), a `.gguf` path, a Hugging Face directory or a hub id: `Lm::load`
accepts them all. `ENTROSCOPE_QUICK=1` shortens the loops.
"""),
("code", """
use entroscope::notebook::*; // the prelude, Report, run sizes, bundled models, show()
use entroscope::plot::{self, Band, Curve};
use entroscope::frame;

let model = std::env::var("ENTROSCOPE_MODEL").unwrap_or_else(|_| default_model_path());
let other = std::env::var("ENTROSCOPE_MODEL2").unwrap_or_else(|_| Bundled::Gemma3_270m.name().to_string());
let prompt = "The capital of France is";
let quick = std::env::var("ENTROSCOPE_QUICK").map(|v| v == "1").unwrap_or(false);
let out = "../figures/explore";
std::fs::create_dir_all(out).ok();
"""),
("markdown", """
## The model
Family, depth L (layers run 0 = embeddings … L), width and vocabulary.
"""),
("code", """
let lm = Lm::load(&model)?;
println!("{lm}");
"""),
("markdown", """
## Top token and entropy, layer × position
Every cell is one layer (rows, embeddings at the bottom) at one position (columns): its colour is
the Shannon entropy of the normed logit lens (dark = confident), its text the most likely next
token. Look for the layer where the final answer first shows up, and how late the entropy falls.
"""),
("code", """
let trace = lm.trace_text(prompt, &CaptureSpec::default())?;
let lens = LogitLens::normed();
let top = lens.top_k(&lm, &trace, 1)?;
let shannon = lens.profile(&lm, &trace, &[Metric::Shannon], &Targets::None)?;
let heat = plot::heatmap(&shannon[0])?
    .cell_labels(top.grid())?
    .title(format!("Shannon entropy and top token ({})", lm.short_name()));
heat.save(format!("{out}/heatmap.png"))?;
heat
"""),
("markdown", """
## Entropy by layer at the last token
The prediction of the token after the prompt: where does it drop, and by how much?
"""),
("code", """
let last = trace.positions.len() - 1;
let by_layer = shannon[0].column(last).unwrap_or_default();
println!("{}", by_layer.iter().map(|h| format!("{h:.2}")).collect::<Vec<_>>().join(" "));
let chart = plot::profiles_vs_depth(&shannon, Some(last), Band::None)?
    .title(format!("next-token entropy after {:?}", trace.tokens[last]));
chart.save(format!("{out}/last_token.png"))?;
chart
"""),
("markdown", """
## Two models on relative depth
The same last-token entropy for a second model; depth = layer / L puts models of different depth
on one axis. Do they commit at the same relative depth?
"""),
("code", """
let lm2 = Lm::load(&other)?;
println!("{lm2}");
let mut both = Vec::new();
for m in [&lm, &lm2] {
    let t = m.trace_text(prompt, &CaptureSpec::last())?;
    both.extend(lens.profile(m, &t, &[Metric::Shannon], &Targets::None)?);
}
let cmp = plot::profiles_vs_depth(&both, Some(0), Band::None)?.title("last-token entropy by depth");
cmp.save(format!("{out}/two_models.png"))?;
cmp
"""),
("markdown", """
## A hook: zero one block's attention
A `Hook` sees every site of the forward pass and may replace the activation. This one zeroes
`AttnOut(block)` (TransformerLens `blocks.{block-1}.hook_attn_out`); compare the final top token
and entropy with the clean run, and the entropy curve layer by layer. (`Hook::visit` takes a
candle `Tensor`, re-exported as `entroscope::hook::Tensor`.)
"""),
("code", """
use entroscope::hook::Tensor;
struct ZeroAttn(usize);
impl Hook for ZeroAttn {
    fn visit(&mut self, site: Site, x: &Tensor) -> Result<Option<Tensor>> {
        Ok(if site == Site::AttnOut(self.0) { Some(x.zeros_like()?) } else { None })
    }
}
/// Final-layer top token and its probability, and the Shannon profile, at a trace's last position.
fn last_token(lm: &Lm, t: &Trace) -> Result<(String, f32, LayerProfile)> {
    let lens = LogitLens::normed();
    let top = lens.top_k(lm, t, 1)?;
    let e = &top.entries[top.entries.len() - 1];
    let mut h = lens.profile(lm, t, &[Metric::Shannon], &Targets::None)?;
    Ok((e.token.clone(), e.prob, h.remove(0)))
}
let ids = lm.encode(prompt)?;
let block = lm.n_layers() / 2;
let clean = lm.trace(&ids, &CaptureSpec::last(), &mut NoHook)?;
let ablated = lm.trace(&ids, &CaptureSpec::last(), &mut ZeroAttn(block))?;
let (tok0, p0, h0) = last_token(&lm, &clean)?;
let (tok1, p1, h1) = last_token(&lm, &ablated)?;
let (e0, e1) = (h0.values[h0.values.len() - 1], h1.values[h1.values.len() - 1]);
println!("clean:                   top {tok0:?} p={p0:.3}  H={e0:.3}");
println!("attention of block {block} = 0: top {tok1:?} p={p1:.3}  H={e1:.3}");
let curves = [
    Curve::from_profile(&h0, Some(0))?.named("clean"),
    Curve::from_profile(&h1, Some(0))?.named(format!("AttnOut({block}) = 0")),
];
let abl = plot::entropy_vs_depth(&curves, Band::None)?.title("last-token entropy, clean vs ablated");
abl.save(format!("{out}/ablation.png"))?;
abl
"""),
("markdown", """
## LayerSkip: drop one block at a time
`LayerSkip::new([l])` makes block `l` pass its input through. One forward pass per skipped block;
the blocks whose removal changes the top token or the entropy most are the ones this prediction
needs.
"""),
("code", """
let mut rows = Vec::new();
for l in (1..=lm.n_layers()).step_by(if quick { 4 } else { 1 }) {
    let t = lm.trace(&ids, &CaptureSpec::last(), &mut LayerSkip::new([l]))?;
    let (tok, p, h) = last_token(&lm, &t)?;
    rows.push((l, tok, p, h.values[h.values.len() - 1]));
}
let skips = frame::from_rows(&rows, |r, row| {
    row.usize("skipped_block", r.0).str("top_token", &r.1).f64("p", r.2).f64("entropy", r.3);
})?;
println!("clean: top {tok0:?} p={p0:.3} H={e0:.3}");
skips.show();
"""),
("code", """
let x: Vec<f64> = rows.iter().map(|r| r.0 as f64).collect();
let skip_chart = plot::lines(&[
    Curve::new("block skipped", x.clone(), rows.iter().map(|r| f64::from(r.3)).collect()),
    Curve::new("clean", x.clone(), vec![f64::from(e0); x.len()]),
])?.x_label("skipped block").y_label("final entropy (nats)").title("LayerSkip, one block at a time");
skip_chart.save(format!("{out}/layer_skip.png"))?;
skip_chart
"""),
("markdown", """
## END decoding
END re-scores the head candidates by their cross-layer entropy (low = the token's probability
jumps sharply in the upper layers). The steps table, then each step's candidates.
"""),
("code", """
use entroscope::decode::{generate, End, EndParams, GenerateOptions};
let g = generate(&lm, prompt, &mut End::new(EndParams::default())?, &GenerateOptions::new(if quick { 8 } else { 24 }))?;
println!("END: {:?}", g.text);
g.to_frame()?.show();
"""),
("code", """
let cands = g.candidates_frame()?;
cands.head(Some(12)).show();
"""),
("markdown", """
## The first step's candidates, layer by layer
END records each candidate's cross-layer entropy, not its per-layer probabilities; the lens gives
those: `Metric::TargetProb` with the candidate as target, at the prompt's last position. A low-H
candidate rises late and steeply.
"""),
("code", """
let mut cand_curves = Vec::new();
for c in g.steps[0].candidates.iter().take(6) {
    let p = lens.profile(&lm, &clean, &[Metric::TargetProb], &Targets::Ids(vec![c.id]))?;
    let name = format!("{:?} H={:.2}", lm.decode(&[c.id])?, c.entropy);
    cand_curves.push(Curve::from_profile(&p[0], Some(0))?.named(name));
}
let dynamics = plot::entropy_vs_depth(&cand_curves, Band::None)?
    .y_label("p(candidate), normed lens").title("END candidates of step 0");
dynamics.save(format!("{out}/end_candidates.png"))?;
dynamics
"""),
("markdown", """
## Export
Every table as Parquet under `figures/explore/` (read back with `frame::read_table`).
"""),
("code", """
frame::write_table(&shannon.to_frame()?, format!("{out}/shannon.parquet"))?;
frame::write_table(&top.to_frame()?, format!("{out}/top_tokens.parquet"))?;
frame::write_table(&both.to_frame()?, format!("{out}/two_models.parquet"))?;
frame::write_table(&skips, format!("{out}/layer_skip.parquet"))?;
frame::write_table(&g.to_frame()?, format!("{out}/end_steps.parquet"))?;
frame::write_table(&cands, format!("{out}/end_candidates.parquet"))?;
frame::read_table(format!("{out}/shannon.parquet"))?.shape()
"""),
]
