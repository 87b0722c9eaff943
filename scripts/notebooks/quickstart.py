"""Cells of notebooks/quickstart.ipynb (see scripts/make_notebooks.py)."""

CELLS = [
("markdown", """
# entroscope quick start

A researcher's first ten minutes: load the default model (SmolLM2-135M-Instruct, GGUF, fetched by
`make models`), run a prompt with every layer visible, read each layer as a next-token distribution
(the *logit lens*), and look at its entropy. Every analysis returns a polars `DataFrame` and a chart.
"""),
("code", """
:dep entroscope = { path = "..", features = ["evcxr"] }
"""),
("code", """
use entroscope::notebook::*; // the prelude, Report, run sizes, bundled models, show()
use entroscope::plot::{self, Band};

let quick = std::env::var("ENTROSCOPE_QUICK").map(|v| v == "1").unwrap_or(false);
let lm = Lm::load(&default_model_path())?;
println!("{lm}");
"""),
("markdown", """
## One forward pass, every layer kept
`trace` keeps the residual stream after every block: `[L+1, tokens, d]`, layer 0 = embeddings,
layer L = the last block *before* the final norm.
"""),
("code", """
let trace = lm.trace_text("The capital of France is", &CaptureSpec::default())?;
println!("{trace}");
"""),
("markdown", """
## What each layer predicts
The normed logit lens applies the model's final norm and unembedding to every layer. The top token
of the last position, layer by layer, as a DataFrame: the answer " Paris" appears only in the last layers.
"""),
("code", """
let last = lm.trace_text("The capital of France is", &CaptureSpec::last())?;
let top = LogitLens::normed().top_k(&lm, &last, 1)?.to_frame()?;
top.show();
"""),
("markdown", """
## Entropy, layer × token
Shannon entropy (nats) of every layer's distribution at every position, with the layer's top
token written in each cell (tuned-lens's picture). Dark = confident; the colour scale spans the
2nd–98th percentile of the cells, so the embeddings row does not wash out the rest.
"""),
("code", """
let lens = LogitLens::normed();
let metrics = [Metric::Shannon, Metric::renyi(0.5)?, Metric::renyi(2.0)?, Metric::renyi(f32::INFINITY)?];
let profiles = lens.profile(&lm, &trace, &metrics, &Targets::None)?;
std::fs::create_dir_all("../figures/quickstart").ok();
let tops = lens.top_k(&lm, &trace, 1)?;
let heat = plot::heatmap(&profiles[0])?.cell_labels(tops.grid())?.title("Shannon entropy and top token, layer × token");
heat.save("../figures/quickstart/heatmap.png")?;
heat
"""),
("markdown", """
## Entropy against relative depth
Several prompts, one line each, mean ± std across them. Depth = layer / L, so models of different
depth share the x axis.
"""),
("code", """
let prompts = if quick { vec!["The capital of France is", "Once upon a time"] } else { vec![
    "The capital of France is", "Once upon a time, there was a", "def add(a, b):\\n    return",
    "Water boils at a temperature of", "1, 2, 3, 4, 5,", "To be or not to be, that is the"] };
let shannon = lens.profile_texts(&lm, &prompts, &[Metric::Shannon])?;
let chart = plot::profiles_vs_depth(&shannon, None, Band::Std)?.title("Shannon entropy by depth");
chart.save("../figures/quickstart/entropy_vs_depth.png")?;
chart
"""),
("markdown", """
## Rényi entropies
Order α weighs the distribution's head (large α) or tail (small α); α → 1 is Shannon, α = ∞ is
−ln max p. Non-increasing in α at every layer.
"""),
("code", """
let series: Vec<plot::Curve> = profiles.iter()
    .map(|p| Ok(plot::Curve::from_profile(p, None)?.named(p.metric.to_string())))
    .collect::<Result<_>>()?;
let renyi = plot::entropy_vs_depth(&series, Band::None)?.title("Rényi entropies (mean over tokens)");
renyi.save("../figures/quickstart/renyi.png")?;
renyi
"""),
("markdown", """
## Decoding with entropy: greedy, EDT and END
EDT samples at a temperature `T = T0 · N^(θ/H)` that follows the entropy `H` of each step's
distribution; END re-scores the head candidates by their cross-layer entropy (how sharply a token's
probability grows in the upper layers). Each generation records its steps as a DataFrame.
"""),
("code", """
use entroscope::decode::{generate, Baseline, Edt, EdtParams, End, EndParams, GenerateOptions};
let opts = GenerateOptions::new(if quick { 8 } else { 24 });
let prompt = "The capital of France is";
let greedy = generate(&lm, prompt, &mut Baseline::default(), &opts)?;
let edt = generate(&lm, prompt, &mut Edt::new(EdtParams::default())?, &opts)?;
let end = generate(&lm, prompt, &mut End::new(EndParams::default())?, &opts)?;
for (name, g) in [("greedy", &greedy), ("EDT", &edt), ("END", &end)] {
    println!("{name:>6}: {:?}", g.text);
}
edt.to_frame()?.head(Some(6)).show();
"""),
("markdown", """
## The tidy table
Every profile becomes a long frame: `model, prompt_id, position, token, layer, depth, metric, units, value`
— ready for polars, Parquet or CSV.
"""),
("code", """
let table = profiles.to_frame()?;
println!("{:?} (rows, columns)", table.shape());
table.head(Some(8)).show();
"""),
]
