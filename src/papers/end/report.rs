//! What a run measured: the rows of the three parts ([`CandidateTrace`], [`MethodRow`],
//! [`SweepPoint`], [`OpenAnswer`]), their frames ([`ToFrame`]), the summaries behind the Markdown,
//! and the [`papers::Report`] implementation that names every file a run writes.

use crate::frame::{self, DataFrame, ToFrame};
use crate::model::short_name;
use crate::papers::{self, output::model_file_stem, Finding, Verdict};
use crate::plot::Chart;
use crate::score::{Bench, McScores};
use crate::stats::summary::{mean_se, mean_std};
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

// ---------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------

/// `" (no correct tokens)"`-style notes for the groups of a comparison that have no members.
fn missing(groups: &[(&str, usize)]) -> String {
    let empty: Vec<&str> = groups
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(w, _)| *w)
        .collect();
    if empty.is_empty() {
        String::new()
    } else {
        format!("; no {} in this run", empty.join(", no "))
    }
}

/// The two part-1 findings of one model from its candidate tokens `g`: the probability growth
/// over the upper half of the layers (`probability_growth`) and the cross-layer entropy
/// (`cross_layer_entropy`), correct tokens against distractors.
fn candidate_findings(model: &str, g: &[&CandidateTrace], share_lower: f64) -> Vec<Finding> {
    let name = short_name(model);
    let pick = |correct: bool| -> Vec<&CandidateTrace> {
        g.iter().copied().filter(|c| c.correct == correct).collect()
    };
    let (right, wrong) = (pick(true), pick(false));
    // growth from the first layer of the upper half (L/2) to the final distribution (L)
    let last = g
        .first()
        .map_or(0, |c| c.layer_probs.len().saturating_sub(1));
    let mid = last / 2;
    let growth = |cs: &[&CandidateTrace]| {
        mean_se(cs.iter().filter_map(|c| {
            let l = c.layer_probs.len().checked_sub(1)?;
            Some(f64::from(c.layer_probs[l]) - f64::from(c.layer_probs[l / 2]))
        }))
    };
    let final_p = |cs: &[&CandidateTrace]| {
        mean_se(
            cs.iter()
                .filter_map(|c| c.layer_probs.last().map(|&p| f64::from(p))),
        )
    };
    let ((gr, ser), (gw, sew)) = (growth(&right), growth(&wrong));
    let ((fr, sefr), (fw, sefw)) = (final_p(&right), final_p(&wrong));
    let (nr, nw) = (right.len(), wrong.len());
    let gaps = missing(&[("correct tokens", nr), ("distractors", nw)]);
    // a group of one token has no spread to judge a difference against
    let judged = |se: f64| if nr < 2 || nw < 2 { f64::NAN } else { se };
    let grows = Finding {
        figure: "probability_growth",
        source: "the paper's motivation for END",
        claim: "the correct token's probability grows sharply in the upper layers, while \
                distractors' grows flatly."
            .into(),
        measured: format!(
            "{name}: from layer {mid} to the final distribution (layer {last}) the probability \
             of correct tokens grows by {} (final {}), that of distractors by {} (final {}) \
             (normed logit lens; mean ± standard error; n = {nr} correct / {nw} distractor \
             tokens{gaps})",
            pm(gr, ser),
            pm(fr, sefr),
            pm(gw, sew),
            pm(fw, sefw),
        ),
        verdict: Verdict::of_difference(gr - gw, judged(ser.hypot(sew))),
    };
    // without both groups no prompt compares its correct token with distractors
    let share_lower = if nr > 0 && nw > 0 {
        share_lower
    } else {
        f64::NAN
    };
    let entropy = |cs: &[&CandidateTrace]| mean_se(cs.iter().map(|c| c.cross_layer_entropy));
    let ((hr, sehr), (hw, sehw)) = (entropy(&right), entropy(&wrong));
    let lower = Finding {
        figure: "cross_layer_entropy",
        source: "the method's cross-layer entropy H(v)",
        claim: "factual (correct) tokens have a lower cross-layer entropy than distractors, \
                which is what END rewards."
            .into(),
        measured: format!(
            "{name}: H(v) {} nats for correct tokens vs {} for distractors (END's layer set, \
             raw early-exit logits; mean ± standard error; n = {nr} / {nw}{gaps}); share of prompts \
             whose correct token is below its distractors' mean: {}",
            pm(hr, sehr),
            pm(hw, sehw),
            f3(share_lower),
        ),
        verdict: Verdict::of_difference(hw - hr, judged(sehr.hypot(sehw))),
    };
    vec![grows, lower]
}

/// The headline metric of a method row and its standard error: MC2 on TruthfulQA, accuracy on
/// FACTOR.
fn headline_metric(r: &MethodRow) -> (f64, f64) {
    match r.bench {
        Bench::TruthfulQaMc => (r.mc2, r.se.mc2),
        Bench::FactorNews | Bench::FactorExpert => (r.mc1_or_acc, r.se.mc1),
    }
}

/// The multiple-choice findings (`mc`) of one model from its method rows: per benchmark run,
/// END against greedy, and END against DoLa where DoLa was run.
fn method_findings(model: &str, rows: &[&MethodRow]) -> Vec<Finding> {
    let name = short_name(model);
    let mut out = Vec::new();
    for bench in [Bench::TruthfulQaMc, Bench::FactorNews, Bench::FactorExpert] {
        let row = |m: &str| rows.iter().find(|r| r.bench == bench && r.method == m);
        let (greedy, dola, end) = (row("greedy"), row("dola"), row("end"));
        if greedy.is_none() && dola.is_none() && end.is_none() {
            continue;
        }
        let metric = match bench {
            Bench::TruthfulQaMc => "MC2",
            _ => "accuracy",
        };
        let compare = |base: Option<&&MethodRow>, base_name: &str| -> (String, Verdict) {
            let (Some(e), Some(b)) = (end, base) else {
                let absent = if end.is_none() { "END" } else { base_name };
                return (
                    format!("{name} {bench}: no {absent} row in this run"),
                    Verdict::NotMeasured,
                );
            };
            let ((me, see), (mb, seb)) = (headline_metric(e), headline_metric(b));
            let extra = if bench == Bench::TruthfulQaMc {
                format!(
                    "; MC1 {} vs {}, MC3 {} vs {}",
                    f3(e.mc1_or_acc),
                    f3(b.mc1_or_acc),
                    f3(e.mc3),
                    f3(b.mc3)
                )
            } else {
                String::new()
            };
            (
                format!(
                    "{name} {bench}: END {metric} {} vs {base_name} {} (mean ± standard error; \
                     n = {} / {} items{extra})",
                    pm(me, see),
                    pm(mb, seb),
                    e.n,
                    b.n
                ),
                Verdict::of_difference(me - mb, see.hypot(seb)),
            )
        };
        let (what, source) = match bench {
            Bench::TruthfulQaMc => ("TruthfulQA MC (MC1/MC2/MC3)", "the abstract; TruthfulQA MC"),
            _ => ("FACTOR", "the abstract; FACTOR"),
        };
        let (measured, verdict) = compare(greedy, "greedy");
        out.push(Finding {
            figure: "mc",
            source,
            claim: format!("END scores above greedy decoding on {what}."),
            measured,
            verdict,
        });
        if dola.is_some() {
            let (measured, verdict) = compare(dola, "DoLa");
            out.push(Finding {
                figure: "mc",
                source,
                claim: format!(
                    "END outperforms the contrastive baselines, DoLa among them, on {what}."
                ),
                measured,
                verdict,
            });
        }
    }
    out
}

/// The sweep's finding (`sweep_mc2`) of one model: MC2 at END's default λ (else the largest)
/// against λ = 0 (greedy) on END's default layer set (the first layer set swept when the
/// default was not); `None` without sweep points.
fn sweep_finding(model: &str, pts: &[&SweepPoint]) -> Option<Finding> {
    let first = pts.first()?;
    let set = if pts.iter().any(|p| p.layer_set == DEFAULT_LAYER_SET) {
        DEFAULT_LAYER_SET
    } else {
        first.layer_set.as_str()
    };
    let on_set: Vec<&&SweepPoint> = pts.iter().filter(|p| p.layer_set == set).collect();
    let zero = on_set.iter().find(|p| p.lambda == 0.0);
    // END's default λ when swept, else the largest
    let top = on_set
        .iter()
        .find(|p| p.lambda == DEFAULT_LAMBDA)
        .or_else(|| {
            on_set
                .iter()
                .filter(|p| p.lambda > 0.0)
                .max_by(|a, b| a.lambda.total_cmp(&b.lambda))
        });
    let name = short_name(model);
    let (measured, verdict) = match (zero, top) {
        (Some(z), Some(t)) => (
            format!(
                "{name}, layer set \"{set}\": MC2 {} at λ = {} vs {} at λ = 0 (mean ± standard \
                 error over n = {} questions)",
                pm(t.mean.mc2, t.se.mc2),
                t.lambda,
                pm(z.mean.mc2, z.se.mc2),
                t.n
            ),
            Verdict::of_difference(t.mean.mc2 - z.mean.mc2, t.se.mc2.hypot(z.se.mc2)),
        ),
        (None, _) => (
            format!("{name}, layer set \"{set}\": the sweep has no λ = 0 point"),
            Verdict::NotMeasured,
        ),
        (_, None) => (
            format!("{name}, layer set \"{set}\": the sweep has no λ > 0 point"),
            Verdict::NotMeasured,
        ),
    };
    Some(Finding {
        figure: "sweep_mc2",
        source: "the method: λ weighs the entropy penalty, λ = 0 is greedy",
        claim: "penalising the cross-layer entropy (λ > 0) raises TruthfulQA MC2 over λ = 0."
            .into(),
        measured,
        verdict,
    })
}

/// The open-ended finding (`open`) of one model: END's mean ROUGE-L diff (max to a correct
/// reference − max to an incorrect one) against greedy's; `None` when neither was run.
fn open_finding(model: &str, answers: &[&OpenAnswer]) -> Option<Finding> {
    let diffs = |m: &str| -> Vec<f64> {
        answers
            .iter()
            .filter(|a| a.method == m)
            .map(|a| a.diff())
            .collect()
    };
    let (end, greedy) = (diffs("end"), diffs("greedy"));
    if end.is_empty() && greedy.is_empty() {
        return None;
    }
    let ((me, see), (mg, seg)) = (
        mean_se(end.iter().copied()),
        mean_se(greedy.iter().copied()),
    );
    let gaps = missing(&[("END answers", end.len()), ("greedy answers", greedy.len())]);
    Some(Finding {
        figure: "open",
        source: "the abstract; open-ended TruthfulQA, up to +24.85 % Truth×Info by GPT judges",
        claim: "END's open-ended answers are more truthful than greedy decoding's.".into(),
        measured: format!(
            "{}: ROUGE-L diff (max to a correct reference − max to an incorrect one; a proxy for \
             the GPT judges) {} for END vs {} for greedy (mean ± standard error; n = {} / {}{gaps})",
            short_name(model),
            pm(me, see),
            pm(mg, seg),
            end.len(),
            greedy.len()
        ),
        verdict: Verdict::of_difference(me - mg, see.hypot(seg)),
    })
}

impl Report {
    /// Every model of the report, in first-seen order over the parts.
    fn all_models(&self) -> Vec<&str> {
        let mut models: Vec<&str> = Vec::new();
        let names = self
            .candidates
            .iter()
            .map(|c| c.model.as_str())
            .chain(self.methods.iter().map(|r| r.model.as_str()))
            .chain(self.sweep.iter().map(|p| p.model.as_str()))
            .chain(self.open.iter().map(|a| a.model.as_str()));
        for m in names {
            if !models.contains(&m) {
                models.push(m);
            }
        }
        models
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

    /// Per model, the paper's claims the run has data for, keyed by [`Finding::figure`]:
    /// - `probability_growth` (the chart `probability_growth.png`): growth of the probability
    ///   from layer L/2 to the final distribution, correct tokens − distractors;
    /// - `cross_layer_entropy` (`<model>-cross_layer_entropy.png`): mean H(v) of distractors −
    ///   of correct tokens;
    /// - `mc` (the multiple-choice table, no chart): per benchmark run, END − greedy and
    ///   END − DoLa on TruthfulQA MC2 or FACTOR accuracy;
    /// - `sweep_mc2` (`sweep_mc2.png`): MC2 at END's default λ − at λ = 0 on END's default layer
    ///   set;
    /// - `open` (the open-ended table, no chart): END's mean ROUGE-L diff − greedy's.
    ///
    /// Each difference is positive in the paper's direction and judged against the hypot of the
    /// two means' standard errors ([`Verdict::of_difference`]).
    fn findings(&self) -> Vec<Finding> {
        let entropy = self.entropy_summary();
        let mut out = Vec::new();
        for m in self.all_models() {
            let g: Vec<&CandidateTrace> = self.candidates.iter().filter(|c| c.model == m).collect();
            if !g.is_empty() {
                let share = entropy.iter().find(|e| e.0 == m).map_or(f64::NAN, |e| e.3);
                out.extend(candidate_findings(m, &g, share));
            }
            let rows: Vec<&MethodRow> = self.methods.iter().filter(|r| r.model == m).collect();
            out.extend(method_findings(m, &rows));
            let pts: Vec<&SweepPoint> = self.sweep.iter().filter(|p| p.model == m).collect();
            out.extend(sweep_finding(m, &pts));
            let answers: Vec<&OpenAnswer> = self.open.iter().filter(|a| a.model == m).collect();
            out.extend(open_finding(m, &answers));
        }
        out
    }

    /// The findings, then all results as Markdown tables: cross-layer entropy of correct vs
    /// distractor tokens, the method table, the sweep with the default marked, open-ended
    /// overlap, timings.
    fn markdown(&self) -> String {
        let mut s = papers::finding::section(&papers::Report::findings(self));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::papers::finding::figure_verdicts;
    use crate::papers::Report as _;

    const SMOL: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";

    fn token(prompt_id: usize, correct: bool, layer_probs: [f32; 5], h: f32) -> CandidateTrace {
        CandidateTrace {
            model: SMOL.into(),
            prompt_id,
            label: format!("prompt {prompt_id}"),
            source: "ours".into(),
            token_id: 0,
            token: if correct { " Paris" } else { " the" }.into(),
            correct,
            final_rank: 0,
            layer_probs: layer_probs.to_vec(),
            cross_layer_entropy: h,
        }
    }

    fn row(bench: Bench, method: &str, score: f64, se: f64) -> MethodRow {
        let tqa = bench == Bench::TruthfulQaMc;
        MethodRow {
            model: SMOL.into(),
            bench,
            method: method.into(),
            n: 40,
            mc1_or_acc: score,
            mc2: if tqa { score } else { f64::NAN },
            mc3: if tqa { score } else { f64::NAN },
            se: McScores {
                mc1: se,
                mc2: if tqa { se } else { f64::NAN },
                mc3: if tqa { se } else { f64::NAN },
            },
            seconds: 1.0,
        }
    }

    fn point(layer_set: &str, lambda: f32, mc2: f64) -> SweepPoint {
        let s = McScores {
            mc1: mc2,
            mc2,
            mc3: mc2,
        };
        SweepPoint {
            model: SMOL.into(),
            lambda,
            layer_set: layer_set.into(),
            layers: vec![2, 4],
            n: 40,
            mean: s,
            se: McScores {
                mc1: 0.02,
                mc2: 0.02,
                mc3: 0.02,
            },
        }
    }

    fn answer(method: &str, index: usize, rouge_correct: f64) -> OpenAnswer {
        OpenAnswer {
            model: SMOL.into(),
            method: method.into(),
            index,
            question: "Q".into(),
            answer: "A".into(),
            rouge_correct,
            rouge_incorrect: 0.2,
            n_tokens: 5,
            seconds: 1.0,
        }
    }

    /// Correct tokens grow by ≈ 0.7 over the upper half, distractors by ≈ 0 → shows; equal
    /// entropies → absent; END = greedy on MC2 → absent; DoLa 0.2 above END (se 0.028) →
    /// reversed; FACTOR expert without an END row → not measured; MC2 +0.1 at λ = 2 on the
    /// default set (se 0.028) → shows (the "last 2" set, which would be reversed, is not read);
    /// END's ROUGE-L diff 0.5 above greedy's → shows.
    fn report() -> Report {
        Report {
            candidates: vec![
                token(0, true, [0.0, 0.0, 0.01, 0.2, 0.8], 0.1),
                token(0, false, [0.05, 0.05, 0.05, 0.04, 0.06], 0.1),
                token(1, true, [0.0, 0.0, 0.02, 0.3, 0.7], 0.2),
                token(1, false, [0.03, 0.03, 0.05, 0.04, 0.03], 0.2),
            ],
            methods: vec![
                row(Bench::TruthfulQaMc, "greedy", 0.5, 0.02),
                row(Bench::TruthfulQaMc, "end", 0.5, 0.02),
                row(Bench::TruthfulQaMc, "dola", 0.7, 0.02),
                row(Bench::FactorExpert, "greedy", 0.3, 0.05),
            ],
            sweep: vec![
                point("last 2", 0.0, 0.5),
                point("last 2", 2.0, 0.3),
                point(DEFAULT_LAYER_SET, 0.0, 0.5),
                // END's default λ is compared, not the largest (which would be Absent)
                point(DEFAULT_LAYER_SET, 0.25, 0.6),
                point(DEFAULT_LAYER_SET, 2.0, 0.5),
            ],
            open: vec![
                answer("greedy", 0, 0.2),
                answer("greedy", 1, 0.3),
                answer("end", 0, 0.7),
                answer("end", 1, 0.8),
            ],
            timings: Vec::new(),
        }
    }

    #[test]
    fn findings_judge_each_claim_against_its_standard_error() {
        let r = report();
        let got = figure_verdicts(&r.findings());
        assert_eq!(
            got,
            [
                ("probability_growth", Verdict::Shows),
                ("cross_layer_entropy", Verdict::Absent),
                ("mc", Verdict::Absent),
                ("mc", Verdict::Reversed),
                ("mc", Verdict::NotMeasured),
                ("sweep_mc2", Verdict::Shows),
                ("open", Verdict::Shows),
            ]
        );
        let f = r.findings();
        assert!(f
            .iter()
            .all(|f| f.measured.starts_with("SmolLM2-135M-Instruct")));
        assert!(
            f[4].measured.contains("factor-expert: no END row"),
            "{}",
            f[4].measured
        );
        assert!(f[5].measured.contains("λ = 0.25 vs"), "{}", f[5].measured);
        assert!(
            f[0].measured.contains("n = 2 correct / 2 distractor"),
            "{}",
            f[0].measured
        );
        // the figure of every finding with a chart names a chart the report draws
        let stems: Vec<String> = r
            .charts()
            .unwrap() // ok: test-only
            .into_iter()
            .map(|(name, _)| {
                let stem = name.trim_end_matches(".png");
                stem.split_once('-').map_or(stem, |(_, s)| s).to_string()
            })
            .collect();
        for f in f.iter().filter(|f| !matches!(f.figure, "mc" | "open")) {
            assert!(
                stems.iter().any(|s| s == f.figure),
                "{} not in {stems:?}",
                f.figure
            );
        }
        assert!(r
            .markdown()
            .starts_with("## Against the paper\n\n- **The paper**"));
        assert_eq!(r.findings_of("mc").len(), 3);
    }

    #[test]
    fn findings_skip_parts_not_run_and_flag_missing_groups() {
        let mut r = report();
        r.methods.clear();
        r.sweep.clear();
        r.open.clear();
        r.candidates.retain(|c| c.correct);
        let f = r.findings();
        let figures: Vec<&str> = f.iter().map(|f| f.figure).collect();
        assert_eq!(figures, ["probability_growth", "cross_layer_entropy"]);
        assert!(f.iter().all(|f| f.verdict == Verdict::NotMeasured));
        assert!(
            f[0].measured.contains("no distractors"),
            "{}",
            f[0].measured
        );
        assert!(
            f[1].measured.ends_with("distractors' mean: –"),
            "{}",
            f[1].measured
        );
        assert!(papers::Report::findings(&Report::default()).is_empty());
        assert!(!Report::default().markdown().contains("Against the paper"));
    }
}
