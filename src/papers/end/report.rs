//! What a run measured: the rows of the three parts ([`CandidateTrace`], [`MethodRow`],
//! [`SweepPoint`], [`OpenAnswer`]), their frames ([`ToFrame`]), the summaries behind the Markdown,
//! and the [`papers::Report`] implementation that names every file a run writes.

use crate::frame::{self, DataFrame, ToFrame};
use crate::papers::{self, output::model_file_stem};
use crate::plot::Chart;
use crate::score::{Bench, McScores};
use crate::stats::summary::mean_std;
use crate::Result;

use super::experiment::{DEFAULT_LAMBDA, DEFAULT_LAYER_SET};

/// One token of one prompt, layer by layer (part 1).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CandidateTrace {
    /// Model name.
    pub model: String,
    /// Index of the prompt.
    pub prompt_id: usize,
    /// The prompt's label.
    pub label: String,
    /// `"ours"` or `"truthfulqa"`.
    pub source: String,
    /// Token id.
    pub token_id: u32,
    /// Its spelling.
    pub token: String,
    /// Is it the first token of the reference answer?
    pub correct: bool,
    /// 0-based rank in the final distribution.
    pub final_rank: usize,
    /// Probability under the normed logit lens at layers `0..=L` (`L` = the model's final
    /// distribution).
    pub layer_probs: Vec<f32>,
    /// Cross-layer entropy (nats) over END's layer set (raw early-exit logits).
    pub cross_layer_entropy: f32,
}

/// TruthfulQA MC scores of END at one (λ, layer set) (part 2).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// Model name.
    pub model: String,
    /// λ (0 = greedy baseline).
    pub lambda: f32,
    /// The layer set's name (one of [`LAYER_SETS`](super::LAYER_SETS) in a run).
    pub layer_set: String,
    /// Its resolved layers.
    pub layers: Vec<usize>,
    /// Questions scored.
    pub n: usize,
    /// Mean MC1 / MC2 / MC3.
    pub mean: McScores,
    /// Their standard errors over the questions.
    pub se: McScores,
}

impl SweepPoint {
    /// The reference setting (λ = 0.25, every other upper layer)?
    pub fn is_default(&self) -> bool {
        self.layer_set == DEFAULT_LAYER_SET && (self.lambda - DEFAULT_LAMBDA).abs() < 1e-6
    }
}

/// One row of the method table (part 2).
#[derive(Debug, Clone, PartialEq)]
pub struct MethodRow {
    /// Model name.
    pub model: String,
    /// The benchmark.
    pub bench: Bench,
    /// `greedy`, `dola`, `end`.
    pub method: String,
    /// Items scored.
    pub n: usize,
    /// MC1 (TruthfulQA) or accuracy (FACTOR).
    pub mc1_or_acc: f64,
    /// MC2 (NaN for FACTOR).
    pub mc2: f64,
    /// MC3 (NaN for FACTOR).
    pub mc3: f64,
    /// Standard errors of the three over the items (`mc1` = the accuracy's for FACTOR, the
    /// others NaN).
    pub se: McScores,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// One generated answer and its overlap scores (part 3).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OpenAnswer {
    /// Model name.
    pub model: String,
    /// `greedy`, `dola`, `end`.
    pub method: String,
    /// Question row index.
    pub index: usize,
    /// The question.
    pub question: String,
    /// The generated answer (cut before `"Q:"`, trimmed).
    pub answer: String,
    /// Max ROUGE-L F1 against the correct references.
    pub rouge_correct: f64,
    /// Max ROUGE-L F1 against the incorrect references.
    pub rouge_incorrect: f64,
    /// New tokens generated.
    pub n_tokens: usize,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl OpenAnswer {
    /// `rouge_correct − rouge_incorrect`.
    pub fn diff(&self) -> f64 {
        self.rouge_correct - self.rouge_incorrect
    }

    /// Strictly closer to a correct reference than to any incorrect one.
    pub fn closer_to_correct(&self) -> bool {
        self.rouge_correct > self.rouge_incorrect
    }
}

/// Per model × method: mean ROUGE-L diff, share closer to a correct reference, mean max
/// ROUGE-L to correct and to incorrect, tokens per second.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenSummary {
    /// Model name.
    pub model: String,
    /// Method.
    pub method: String,
    /// Questions.
    pub n: usize,
    /// Mean `max ROUGE-L(correct) − max ROUGE-L(incorrect)`.
    pub mean_diff: f64,
    /// Share of answers strictly closer to a correct reference.
    pub share_closer: f64,
    /// Mean max ROUGE-L to the correct references.
    pub mean_rouge_correct: f64,
    /// Mean max ROUGE-L to the incorrect references.
    pub mean_rouge_incorrect: f64,
    /// Generated tokens per second.
    pub tokens_per_second: f64,
}

/// Summaries of [`open_ended`](super::open_ended)'s answers, in first-seen (model, method)
/// order.
pub fn summarize_open(answers: &[OpenAnswer]) -> Vec<OpenSummary> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for a in answers {
        let k = (a.model.clone(), a.method.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|(model, method)| {
            let g: Vec<&OpenAnswer> = answers
                .iter()
                .filter(|a| a.model == model && a.method == method)
                .collect();
            let mean = |f: &dyn Fn(&OpenAnswer) -> f64| mean_std(g.iter().map(|a| f(a))).0;
            let secs: f64 = g.iter().map(|a| a.seconds).sum();
            let toks: usize = g.iter().map(|a| a.n_tokens).sum();
            OpenSummary {
                n: g.len(),
                mean_diff: mean(&|a| a.diff()),
                share_closer: mean(&|a| f64::from(u8::from(a.closer_to_correct()))),
                mean_rouge_correct: mean(&|a| a.rouge_correct),
                mean_rouge_incorrect: mean(&|a| a.rouge_incorrect),
                tokens_per_second: if secs > 0.0 { toks as f64 / secs } else { 0.0 },
                model,
                method,
            }
        })
        .collect()
}

/// Everything the END reproduction measured. Its tables, charts and summary come from
/// [`papers::Report`] (`frames`, `charts`, `markdown`, `write`), and runs of single parts
/// combine with [`papers::Report::merge`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Part 1: one entry per (model, prompt, token).
    pub candidates: Vec<CandidateTrace>,
    /// Part 2: greedy / DoLa / END on TruthfulQA MC and FACTOR.
    pub methods: Vec<MethodRow>,
    /// Part 2: the λ × layer-set sweep on TruthfulQA MC.
    pub sweep: Vec<SweepPoint>,
    /// Part 3: generated answers.
    pub open: Vec<OpenAnswer>,
    /// `(model, part, seconds)`.
    pub timings: Vec<(String, String, f64)>,
}

/// The mean of a sample; NaN when empty.
fn mean(v: &[f64]) -> f64 {
    mean_std(v.iter().copied()).0
}

impl Report {
    /// The models of part 1, in first-seen order.
    pub(crate) fn candidate_models(&self) -> Vec<String> {
        let mut models: Vec<String> = Vec::new();
        for c in &self.candidates {
            if !models.contains(&c.model) {
                models.push(c.model.clone());
            }
        }
        models
    }

    /// Mean cross-layer entropy of correct and of distractor tokens per model:
    /// `(model, mean H correct, mean H distractors, share of prompts whose correct token has
    /// lower H than the mean of its distractors)`. A mean of no tokens is NaN.
    pub fn entropy_summary(&self) -> Vec<(String, f64, f64, f64)> {
        self.candidate_models()
            .into_iter()
            .map(|m| {
                let g: Vec<&CandidateTrace> =
                    self.candidates.iter().filter(|c| c.model == m).collect();
                let h = |keep: &dyn Fn(&CandidateTrace) -> bool| -> Vec<f64> {
                    g.iter()
                        .filter(|c| keep(c))
                        .map(|c| f64::from(c.cross_layer_entropy))
                        .collect()
                };
                let hc = h(&|c| c.correct);
                let hd = h(&|c| !c.correct);
                let mut ids: Vec<usize> = g.iter().map(|c| c.prompt_id).collect();
                ids.dedup();
                let mut wins = 0usize;
                let mut total = 0usize;
                for id in ids {
                    let c = h(&|x| x.prompt_id == id && x.correct);
                    let d = h(&|x| x.prompt_id == id && !x.correct);
                    if let (Some(&hc), false) = (c.first(), d.is_empty()) {
                        total += 1;
                        wins += usize::from(hc < mean(&d));
                    }
                }
                (m, mean(&hc), mean(&hd), wins as f64 / total.max(1) as f64)
            })
            .collect()
    }
}

/// Part 1 as a long frame: `model, prompt_id, label, source, token_id, token, correct,
/// final_rank, cross_layer_entropy, layer, depth, prob`, one row per (token, layer); `depth` =
/// layer / L. No rows give an empty frame.
impl ToFrame for [CandidateTrace] {
    fn to_frame(&self) -> Result<DataFrame> {
        let rows = self.iter().flat_map(|c| {
            c.layer_probs
                .iter()
                .enumerate()
                .map(move |(l, &p)| (c, l, p))
        });
        frame::from_rows(rows, |(c, l, p), row| {
            let l_max = c.layer_probs.len().saturating_sub(1).max(1) as f64;
            row.str("model", &c.model)
                .usize("prompt_id", c.prompt_id)
                .str("label", &c.label)
                .str("source", &c.source)
                .i64("token_id", c.token_id)
                .str("token", &c.token)
                .bool("correct", c.correct)
                .usize("final_rank", c.final_rank)
                .f64("cross_layer_entropy", c.cross_layer_entropy)
                .usize("layer", l)
                .f64("depth", l as f64 / l_max)
                .f64("prob", p);
        })
    }
}

/// The method table: `model, bench, method, n, mc1_or_accuracy, mc2, mc3, seconds`. No rows give
/// an empty frame.
impl ToFrame for [MethodRow] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |r, row| {
            row.str("model", &r.model)
                .str("bench", r.bench.to_string())
                .str("method", &r.method)
                .usize("n", r.n)
                .f64("mc1_or_accuracy", r.mc1_or_acc)
                .f64("mc2", r.mc2)
                .f64("mc3", r.mc3)
                .f64("mc1_or_accuracy_se", r.se.mc1)
                .f64("mc2_se", r.se.mc2)
                .f64("mc3_se", r.se.mc3)
                .f64("seconds", r.seconds);
        })
    }
}

/// The sweep: `model, layer_set, layers, lambda, n, mc1, mc2, mc3, default` (`layers` as
/// `[a, b, …]`). No rows give an empty frame.
impl ToFrame for [SweepPoint] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |p, row| {
            row.str("model", &p.model)
                .str("layer_set", &p.layer_set)
                .str("layers", format!("{:?}", p.layers))
                .f64("lambda", p.lambda)
                .usize("n", p.n)
                .f64("mc1", p.mean.mc1)
                .f64("mc2", p.mean.mc2)
                .f64("mc3", p.mean.mc3)
                .f64("mc1_se", p.se.mc1)
                .f64("mc2_se", p.se.mc2)
                .f64("mc3_se", p.se.mc3)
                .bool("default", p.is_default());
        })
    }
}

/// Open-ended answers: `model, method, index, question, answer, rouge_correct, rouge_incorrect,
/// diff, closer_to_correct, n_tokens, seconds`. No rows give an empty frame.
impl ToFrame for [OpenAnswer] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |o, row| {
            row.str("model", &o.model)
                .str("method", &o.method)
                .usize("index", o.index)
                .str("question", &o.question)
                .str("answer", &o.answer)
                .f64("rouge_correct", o.rouge_correct)
                .f64("rouge_incorrect", o.rouge_incorrect)
                .f64("diff", o.diff())
                .bool("closer_to_correct", o.closer_to_correct())
                .usize("n_tokens", o.n_tokens)
                .f64("seconds", o.seconds);
        })
    }
}

/// Three decimals, `–` for NaN.
fn f3(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "–".into()
    }
}

/// `mean ± se` to three decimals (the mean alone when the error is not a number).
fn pm(mean: f64, se: f64) -> String {
    if se.is_finite() && mean.is_finite() {
        format!("{mean:.3} ± {se:.3}")
    } else {
        f3(mean)
    }
}

impl papers::Report for Report {
    /// Per model and bench: MC1 / accuracy of greedy, DoLa and END.
    fn headline(&self) -> String {
        let mut groups: Vec<(&str, Bench)> = Vec::new();
        for r in &self.methods {
            if !groups.contains(&(r.model.as_str(), r.bench)) {
                groups.push((r.model.as_str(), r.bench));
            }
        }
        groups
            .iter()
            .map(|&(m, b)| {
                let cells: Vec<String> = self
                    .methods
                    .iter()
                    .filter(|r| r.model == m && r.bench == b)
                    .map(|r| format!("{} {:.3}", r.method, r.mc1_or_acc))
                    .collect();
                format!(
                    "{} {b} (MC1 / accuracy): {}",
                    crate::model::short_name(m),
                    cells.join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `candidates.parquet`, `methods.parquet`, `sweep.parquet`, `open_ended.parquet`: those the
    /// report has rows for.
    fn frames(&self) -> Result<Vec<(String, DataFrame)>> {
        let mut out = Vec::new();
        if !self.candidates.is_empty() {
            out.push(("candidates.parquet".into(), self.candidates.to_frame()?));
        }
        if !self.methods.is_empty() {
            out.push(("methods.parquet".into(), self.methods.to_frame()?));
        }
        if !self.sweep.is_empty() {
            out.push(("sweep.parquet".into(), self.sweep.to_frame()?));
        }
        if !self.open.is_empty() {
            out.push(("open_ended.parquet".into(), self.open.to_frame()?));
        }
        Ok(out)
    }

    /// Per model of part 1 `<model>-capital_of_france.png` (the first prompt) and
    /// `<model>-cross_layer_entropy.png` (`<model>` = the [`model_file_stem`] of its label), then
    /// `probability_growth.png`; `sweep_mc2.png` with a sweep.
    fn charts(&self) -> Result<Vec<(String, Chart)>> {
        let mut out = Vec::new();
        if !self.candidates.is_empty() {
            for m in &self.candidate_models() {
                let s = model_file_stem(m);
                out.push((
                    format!("{s}-capital_of_france.png"),
                    self.prompt_chart(m, 0)?,
                ));
                out.push((
                    format!("{s}-cross_layer_entropy.png"),
                    self.entropy_chart(m)?,
                ));
            }
            out.push(("probability_growth.png".into(), self.growth_chart()?));
        }
        if !self.sweep.is_empty() {
            out.push(("sweep_mc2.png".into(), self.sweep_chart()?));
        }
        Ok(out)
    }

    /// All results as Markdown tables: cross-layer entropy of correct vs distractor tokens,
    /// the method table, the sweep with the default marked, open-ended overlap, timings.
    fn markdown(&self) -> String {
        let mut s = String::new();
        if !self.candidates.is_empty() {
            s.push_str("### Cross-layer entropy of correct vs distractor tokens (END's layer set)\n\n| model | mean H correct (nats) | mean H distractors | prompts with H(correct) < mean H(distractors) |\n|---|---|---|---|\n");
            for (m, hc, hd, w) in self.entropy_summary() {
                s.push_str(&format!("| {m} | {} | {} | {} |\n", f3(hc), f3(hd), f3(w)));
            }
            s.push('\n');
        }
        if !self.methods.is_empty() {
            s.push_str("### Multiple choice: greedy vs DoLa vs END (mean ± standard error over the items)\n\n| model | bench | method | n | MC1 / acc | MC2 | MC3 | seconds |\n|---|---|---|---|---|---|---|---|\n");
            for r in &self.methods {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {:.0} |\n",
                    r.model,
                    r.bench,
                    r.method,
                    r.n,
                    pm(r.mc1_or_acc, r.se.mc1),
                    pm(r.mc2, r.se.mc2),
                    pm(r.mc3, r.se.mc3),
                    r.seconds
                ));
            }
            s.push('\n');
        }
        if !self.sweep.is_empty() {
            s.push_str("### TruthfulQA MC sweep of λ and the layer set (α = 0; λ = 0 is greedy; **bold** = default; mean ± standard error)\n\n| model | layer set | layers | λ | n | MC1 | MC2 | MC3 |\n|---|---|---|---|---|---|---|---|\n");
            for p in &self.sweep {
                let b = if p.is_default() { "**" } else { "" };
                s.push_str(&format!(
                    "| {} | {b}{}{b} | {:?} | {b}{}{b} | {} | {b}{}{b} | {b}{}{b} | {b}{}{b} |\n",
                    p.model,
                    p.layer_set,
                    p.layers,
                    p.lambda,
                    p.n,
                    pm(p.mean.mc1, p.se.mc1),
                    pm(p.mean.mc2, p.se.mc2),
                    pm(p.mean.mc3, p.se.mc3)
                ));
            }
            s.push('\n');
        }
        if !self.open.is_empty() {
            s.push_str("### Open-ended TruthfulQA (50 tokens, stop at \"Q:\"), ROUGE-L overlap instead of GPT judges\n\n| model | method | n | mean max-ROUGE-L(correct) − max-ROUGE-L(incorrect) | share closer to correct | ROUGE-L correct | ROUGE-L incorrect | tokens/s |\n|---|---|---|---|---|---|---|---|\n");
            for o in summarize_open(&self.open) {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {:.1} |\n",
                    o.model,
                    o.method,
                    o.n,
                    f3(o.mean_diff),
                    f3(o.share_closer),
                    f3(o.mean_rouge_correct),
                    f3(o.mean_rouge_incorrect),
                    o.tokens_per_second
                ));
            }
            s.push('\n');
        }
        if !self.timings.is_empty() {
            s.push_str("### Runtime\n\n| model | part | seconds |\n|---|---|---|\n");
            for (m, p, t) in &self.timings {
                s.push_str(&format!("| {m} | {p} | {t:.1} |\n"));
            }
        }
        s
    }

    fn markdown_name(&self) -> &'static str {
        "summary.md"
    }

    /// Appends every field of `other` (the notebook runs the three parts separately).
    fn merge(&mut self, other: Self) {
        self.candidates.extend(other.candidates);
        self.methods.extend(other.methods);
        self.sweep.extend(other.sweep);
        self.open.extend(other.open);
        self.timings.extend(other.timings);
    }
}
