"""Cells of notebooks/edt_sampling.ipynb (see scripts/make_notebooks.py)."""

CELLS = [
("markdown", """
# EDT: entropy-based dynamic temperature sampling

Reproduces the quality/diversity comparison of *EDT: Improving Large Language Models' Generation by
Entropy-based Dynamic Temperature Sampling* (arXiv 2403.14541) on SmolLM2-135M-Instruct and Gemma-3-270M.

**The paper's claim.** Sampling at `T = T0 · N^(θ/H)` (N = 0.8, `H` the entropy of the step's
distribution) gives better quality (ROUGE-L / BLEU against the reference) at equal diversity
(Self-BLEU between samples, lower = more diverse) than any fixed temperature; `T0 = 0.8`, `θ = 0.2` are
near-optimal.

Here: TruthfulQA (6-shot QA prompt → best answer) and FACTOR news (prefix → true completion), 5 samples
per prompt, fixed T ∈ {0.2 … 1.2} against EDT token level and instance level on a (T0, θ) grid; no
fine-tuning (the paper fine-tunes LLaMA2 on summarisation, QA and translation). With
`ENTROSCOPE_SIZE=quick` (or `ENTROSCOPE_QUICK=1`): default model, TruthfulQA, 2 prompts, 7 settings (`Options::quick`).
The run returns a `Report`; its `write` (as the CLI `entroscope edt --out figures/edt`) puts the
figures and tables under `figures/edt/`.
`ENTROSCOPE_MODEL=qwen2.5-coder-1.5b-instruct` (any model, or several separated by commas) runs
it at paper scale, on a model large enough to show the papers' effects ([docs/paper_scale.md](../docs/paper_scale.md)).
"""),
("code", """
:dep entroscope = { path = "..", features = ["evcxr"] }
"""),
("code", """
use entroscope::notebook::*; // the prelude, Report, run sizes, bundled models, show()
use entroscope::papers::edt::{self, Options};

let size = size()?; // ENTROSCOPE_SIZE (or ENTROSCOPE_QUICK=1)
let mut opts = size.pick::<Options>();
opts.models = models_or(opts.models); // ENTROSCOPE_MODEL=qwen2.5-coder-1.5b-instruct: paper scale
println!("models {:?}, tasks {:?}, {} prompts × {} samples, {} settings",
    opts.models, opts.tasks, opts.n_prompts, opts.n_samples, opts.settings.len());
"""),
("markdown", """
## Run the grid
Every prompt is run through the model once; its KV cache is shared by all samples of every setting.
"""),
("code", """
let report = edt::run(&opts)?;
Markdown(report.markdown()).show();
"""),
("markdown", """
## Quality vs diversity, Pareto front marked
One point per setting: x = Self-BLEU (left = more diverse), y = ROUGE-L (up = better). Fixed
temperatures usually form a curve from low T (top right) to high T (bottom left); the paper's claim
holds where EDT's points lie above that curve (better ROUGE-L at the same Self-BLEU). The Pareto front
joins the settings no other setting beats on both axes. The chart shows the first model and task; the
cell under it compares every model × task with the paper: how many EDT settings beat the fixed
temperature of closest Self-BLEU, as a sign count against its standard error (with 30 samples per
setting, differences of a few hundredths of ROUGE-L are within one prompt's spread).
"""),
("code", """
let (first_model, first_task) = report.groups()[0].clone(); // owned: evcxr keeps no borrows
report.pareto_chart(&first_model, first_task)?
"""),
("code", """
report.findings_of("pareto").show();
"""),
("markdown", """
## Temperature and entropy along one sample
One EDT token-level sample (T0 = 1.2, θ = 1). EDT's formula lowers the temperature at confident
(low-entropy) steps, towards 0 (greedy), and raises it towards T0 at uncertain ones: look for the
temperature line rising and falling with the entropy line. The cell under the chart reports, per
model, the ranges, their correlation and whether any pair of steps goes against the formula.
"""),
("code", """
let [entropy, temperature] = report.trace_charts(&first_model)?;
vec![("entropy".to_string(), entropy), ("temperature".to_string(), temperature)].show();
"""),
("code", """
report.findings_of("temperature_trace").show();
"""),
("markdown", """
## Samples and tables
"""),
("code", """
report.samples.to_frame()?.head(Some(10)).show();
let files = report.write("../figures/edt".as_ref())?;
println!("{} files written under ../figures/edt", files.len());
"""),
]
