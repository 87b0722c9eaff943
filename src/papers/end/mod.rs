//! Reproduction of *Improve Decoding Factuality by Token-wise Cross Layer Entropy of Large
//! Language Models* (END, arXiv 2502.03199) on our small models, in three parts:
//!
//! 1. **Candidate dynamics** ([`candidate_dynamics`]): for factual prompts (a dozen of ours,
//!    [`FACT_PROMPTS`], plus TruthfulQA questions in the 6-shot QA prompt) the per-layer
//!    probability of the final layer's top candidates and of the reference answer's first token
//!    (normed logit lens: final norm + unembedding at every layer, softmax over the vocabulary),
//!    and each token's cross-layer entropy `H(v)` over END's layer set (raw early-exit logits,
//!    softmax across layers — exactly the quantity END subtracts). The paper's picture: the
//!    correct token's probability grows sharply in the upper layers (low `H`), distractors'
//!    grow flatly (high `H`).
//! 2. **Multiple choice**: TruthfulQA MC1/MC2/MC3 and FACTOR news / expert for greedy, DoLa and
//!    END ([`crate::score::run_bench`], reference settings), and a **sweep** of λ and of the layer
//!    set ([`LayerSet`]) on TruthfulQA ([`truthfulqa_sweep`]). The sweep runs each continuation
//!    once and scores every (λ, layer set) from the same early-exit logits; at λ = 0 it is the
//!    greedy baseline and at (λ, set) it equals [`crate::score::Scorer`] with
//!    `ScoreMethod::End(EndParams { lambda, alpha: 0, layers })` (tested).
//! 3. **Open-ended TruthfulQA** ([`open_ended`]): greedy, DoLa and END generate up to 50 tokens
//!    after the 6-shot prompt, stopping at `"Q:"`. The paper judges answers with fine-tuned GPT
//!    judges ("truth" and "info"), which are out of reach here; we score **overlap** instead:
//!    `max ROUGE-L(answer, correct refs) − max ROUGE-L(answer, incorrect refs)` and the share of
//!    answers strictly closer to a correct reference (TruthfulQA's own ROUGE "diff" and "acc"
//!    metrics, with `"I have no comment."` added to the correct references as TruthfulQA does).
//!
//! Every reduction of the paper's protocol (subsets of questions, our two small models) is a
//! field of [`EndStudyOptions`]; [`EndStudyOptions::full`] and [`EndStudyOptions::quick`] are
//! the documented presets. Measured on 2 CPU cores, both models: `full` 26 min wall (Gemma's
//! sweep 7 min is the largest part), `quick` 2–3 min; `paper` (all 817 questions) about a day.
//!
//! ```no_run
//! use entroscope::papers::end::{run_end_study, EndStudyOptions};
//! let report = run_end_study(&EndStudyOptions::quick())?;
//! println!("{}", report.markdown());
//! # Ok::<(), entroscope::Error>(())
//! ```

use crate::papers::output::OutputDir;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Tensor;

use crate::data::{self, TruthfulQaItem};
use crate::decode::{
    cross_layer_entropy, generate, log_softmax, normed_logits, raw_logits, softmax, Baseline,
    Decoder, Dola, End, GenerateOptions, Layers, RowCapture,
};
use crate::frame::{frame_from_columns, ColumnData, DataFrame};
use crate::model::Lm;
use crate::plot::{self, Curve};
use crate::score::{
    mc_scores, run_bench, Bench, BenchOptions, BenchReport, Continuation, McScores, ScoreMethod,
    TeacherForcing,
};
use crate::stats::text::max_rouge_l_text;
use crate::{Error, Result};

/// The reference MC setting of END's λ (`EndParams::scoring()`), marked as the default in the
/// sweep.
pub const DEFAULT_LAMBDA: f32 = 0.25;

/// Our factual prompts with their answers (the answer's first token is the "correct" token).
pub const FACT_PROMPTS: &[(&str, &str)] = &[
    ("The capital of France is", "Paris"),
    ("The capital of Japan is", "Tokyo"),
    ("The largest planet in the Solar System is", "Jupiter"),
    ("The chemical symbol for gold is", "Au"),
    ("Water is made of hydrogen and", "oxygen"),
    ("The author of Romeo and Juliet is William", "Shakespeare"),
    ("The first person to walk on the Moon was Neil", "Armstrong"),
    ("The currency of the United Kingdom is the", "pound"),
    ("The Great Pyramid of Giza is in", "Egypt"),
    (
        "The theory of relativity was developed by Albert",
        "Einstein",
    ),
    ("The tallest mountain on Earth is Mount", "Everest"),
    ("The longest river in South America is the", "Amazon"),
];

// ---------------------------------------------------------------------------------------------
// Layer sets
// ---------------------------------------------------------------------------------------------

/// The layer sets of the sweep (the paper's ablation compares few and many upper layers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerSet {
    /// The last two blocks before the final one: `{L−2, L−1}`.
    Last2,
    /// Every block of the upper half: `L/2 … L−1`.
    LastHalf,
    /// Every other block of the upper half, `L/2, L/2+2, …` (END's and DoLa's default,
    /// [`Layers::High`]).
    EveryOtherUpper,
}

impl LayerSet {
    /// All three, the default last.
    pub const ALL: [LayerSet; 3] = [
        LayerSet::Last2,
        LayerSet::LastHalf,
        LayerSet::EveryOtherUpper,
    ];

    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            LayerSet::Last2 => "last 2",
            LayerSet::LastHalf => "last half",
            LayerSet::EveryOtherUpper => "every other upper",
        }
    }

    /// Is this END's default set?
    pub fn is_default(self) -> bool {
        self == LayerSet::EveryOtherUpper
    }

    /// The set as [`Layers`] for a model of `n_layers` blocks (errors for fewer than 3 blocks).
    pub fn layers(self, n_layers: usize) -> Result<Layers> {
        if n_layers < 3 {
            return Err(Error::invalid(
                "n_layers",
                n_layers,
                "a model of at least 3 blocks for END's layer sets",
            ));
        }
        Ok(match self {
            LayerSet::Last2 => Layers::List(vec![n_layers - 2, n_layers - 1]),
            LayerSet::LastHalf => Layers::List((n_layers / 2..n_layers).collect()),
            LayerSet::EveryOtherUpper => Layers::High,
        })
    }
}

impl std::str::FromStr for LayerSet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], " ")
            .as_str()
        {
            "last 2" | "last2" => Ok(LayerSet::Last2),
            "last half" | "half" => Ok(LayerSet::LastHalf),
            "every other upper" | "high" | "default" => Ok(LayerSet::EveryOtherUpper),
            _ => Err(Error::invalid(
                "layer set",
                s,
                "`last-2`, `last-half` or `every-other-upper`",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Part 1: candidate dynamics
// ---------------------------------------------------------------------------------------------

/// A prompt whose answer is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactPrompt {
    /// `"ours"` or `"truthfulqa"`.
    pub source: String,
    /// Short label for charts (our prompt, or the TruthfulQA question).
    pub label: String,
    /// The text given to the model.
    pub prompt: String,
    /// The reference answer; its first token (after a space) is the correct token.
    pub answer: String,
}

/// [`FACT_PROMPTS`] followed by the first `n_truthfulqa` TruthfulQA questions (in the 6-shot QA
/// prompt, answer = the best answer).
pub fn fact_prompts(n_truthfulqa: usize) -> Result<Vec<FactPrompt>> {
    let mut v: Vec<FactPrompt> = FACT_PROMPTS
        .iter()
        .map(|(p, a)| FactPrompt {
            source: "ours".into(),
            label: (*p).into(),
            prompt: (*p).into(),
            answer: (*a).into(),
        })
        .collect();
    if n_truthfulqa > 0 {
        for it in data::truthfulqa()?.into_iter().take(n_truthfulqa) {
            v.push(FactPrompt {
                source: "truthfulqa".into(),
                label: it.question.clone(),
                prompt: data::truthfulqa_prompt(&it.question),
                answer: it.best_answer.clone(),
            });
        }
    }
    Ok(v)
}

/// One token of one prompt, layer by layer.
#[derive(Debug, Clone, PartialEq)]
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

/// The per-layer probabilities and cross-layer entropies of the final top-`k` tokens of
/// `prompt`, plus the correct token when it is not among them (every token but the correct one
/// is a *distractor*). `layers` is END's set `C`.
pub fn candidate_dynamics(
    lm: &Lm,
    prompt: &FactPrompt,
    prompt_id: usize,
    k: usize,
    layers: &Layers,
) -> Result<Vec<CandidateTrace>> {
    if k == 0 {
        return Err(Error::invalid("k", 0, "at least one candidate"));
    }
    let ids = lm.encode(&prompt.prompt)?;
    let answer = lm.encode_plain(&format!(" {}", prompt.answer.trim()))?;
    let correct = *answer
        .first()
        .ok_or_else(|| Error::invalid("answer", &prompt.answer, "a non-empty reference answer"))?;
    let n = lm.n_layers();
    let set = layers.resolve(lm)?;
    let all: Vec<usize> = (0..=n).collect();
    let mut cap = RowCapture::new(&all, n)?;
    cap.reset(ids.len() - 1);
    let mut cache = lm.new_cache();
    let h = lm.forward(&ids, &mut cache, &mut cap)?;
    let rows = cap.take()?; // L+1 rows [1, d]
    let final_logits = lm
        .logits(&h.narrow(0, ids.len() - 1, 1)?)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let fin_p = softmax(&final_logits);
    let mut order: Vec<usize> = (0..fin_p.len()).collect();
    order.sort_by(|&a, &b| fin_p[b].total_cmp(&fin_p[a]));
    let mut cands: Vec<u32> = order.iter().take(k).map(|&i| i as u32).collect();
    if !cands.contains(&correct) {
        cands.push(correct);
    }
    // normed lens probabilities of the candidates at layers 0..L-1, final distribution at L
    let stacked = Tensor::cat(&rows[..n], 0)?;
    let lens = normed_logits(lm, &stacked)?.to_vec2::<f32>()?;
    let mut probs = vec![Vec::with_capacity(n + 1); cands.len()];
    for row in &lens {
        let p = softmax(row);
        for (j, &c) in cands.iter().enumerate() {
            probs[j].push(p[c as usize]);
        }
    }
    for (j, &c) in cands.iter().enumerate() {
        probs[j].push(fin_p[c as usize]);
    }
    // cross-layer entropy over C (raw logits of the candidate columns)
    let c_rows: Vec<Tensor> = set.iter().map(|&l| rows[l].clone()).collect();
    let zc = lm
        .unembed_rows(&Tensor::cat(&c_rows, 0)?, &cands)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let hs = cross_layer_entropy(&zc, set.len(), cands.len())?;
    let names = lm.token_strings(&cands);
    let rank = |c: u32| {
        order
            .iter()
            .position(|&i| i == c as usize)
            .unwrap_or(usize::MAX)
    };
    Ok(cands
        .iter()
        .enumerate()
        .map(|(j, &c)| CandidateTrace {
            model: lm.name().to_string(),
            prompt_id,
            label: prompt.label.clone(),
            source: prompt.source.clone(),
            token_id: c,
            token: names.get(j).cloned().unwrap_or_default(),
            correct: c == correct,
            final_rank: rank(c),
            layer_probs: std::mem::take(&mut probs[j]),
            cross_layer_entropy: hs[j],
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Part 2: TruthfulQA sweep over λ and layer sets
// ---------------------------------------------------------------------------------------------

/// TruthfulQA MC scores of END at one (λ, layer set).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// Model name.
    pub model: String,
    /// λ (0 = greedy baseline).
    pub lambda: f32,
    /// The layer set.
    pub layer_set: LayerSet,
    /// Its resolved layers.
    pub layers: Vec<usize>,
    /// Questions scored.
    pub n: usize,
    /// Mean MC1 / MC2 / MC3.
    pub mean: McScores,
}

impl SweepPoint {
    /// The reference setting (λ = 0.25, every other upper layer)?
    pub fn is_default(&self) -> bool {
        self.layer_set.is_default() && (self.lambda - DEFAULT_LAMBDA).abs() < 1e-6
    }
}

/// Score TruthfulQA questions under END at every `(λ, layer set)` with α = 0 (the reference MC
/// setting), each continuation run once. Teacher-forced like [`crate::score::Scorer`]: the
/// per-position score of token `t` is `log_softmax_v(log p_N(v) − λ·H_C(v))[t]`.
pub fn truthfulqa_sweep(
    lm: &Lm,
    items: &[TruthfulQaItem],
    lambdas: &[f32],
    sets: &[LayerSet],
    progress: bool,
) -> Result<Vec<SweepPoint>> {
    if lambdas.is_empty() || sets.is_empty() || items.is_empty() {
        return Err(Error::NotEnoughData(
            "the sweep needs at least one λ, one layer set and one question".into(),
        ));
    }
    if let Some(l) = lambdas.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
        return Err(Error::invalid("lambda", l, "finite numbers ≥ 0"));
    }
    let n = lm.n_layers();
    let resolved: Vec<Vec<usize>> = sets
        .iter()
        .map(|s| s.layers(n)?.resolve(lm))
        .collect::<Result<_>>()?;
    let mut union: Vec<usize> = resolved.iter().flatten().copied().collect();
    union.sort_unstable();
    union.dedup();
    // index of each set's layers in the union
    let pos: Vec<Vec<usize>> = resolved
        .iter()
        .map(|ls| {
            ls.iter()
                .map(|l| union.iter().position(|u| u == l).unwrap_or(0))
                .collect()
        })
        .collect();
    let n_grid = sets.len() * lambdas.len();
    let mut sums = vec![[0f64; 3]; n_grid];
    let runs = TeacherForcing::new(lm, union);
    let bar =
        crate::progress::progress_bar(progress, items.len(), format!("END sweep {}", lm.name()));
    for it in items {
        let prefix = data::truthfulqa_prompt(&it.question);
        let p = runs.prefix(&prefix)?;
        let conts: Vec<String> = it
            .correct_answers
            .iter()
            .chain(&it.incorrect_answers)
            .map(|a| format!(" {a}"))
            .collect();
        // totals[c][g]
        let mut totals = Vec::with_capacity(conts.len());
        for c in &conts {
            let c = runs.continuation(&p, &prefix, c)?;
            totals.push(sweep_continuation(lm, &c, &pos, lambdas)?);
        }
        let nt = it.correct_answers.len();
        for g in 0..n_grid {
            let s: Vec<f64> = totals.iter().map(|t: &Vec<f64>| t[g]).collect();
            let mc = mc_scores(&s[..nt], &s[nt..], it.best_index)?;
            sums[g][0] += mc.mc1;
            sums[g][1] += mc.mc2;
            sums[g][2] += mc.mc3;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let k = items.len() as f64;
    let mut out = Vec::with_capacity(n_grid);
    for (si, s) in sets.iter().enumerate() {
        for (li, &lambda) in lambdas.iter().enumerate() {
            let g = si * lambdas.len() + li;
            out.push(SweepPoint {
                model: lm.name().to_string(),
                lambda,
                layer_set: *s,
                layers: resolved[si].clone(),
                n: items.len(),
                mean: McScores {
                    mc1: sums[g][0] / k,
                    mc2: sums[g][1] / k,
                    mc3: sums[g][2] / k,
                },
            });
        }
    }
    Ok(out)
}

/// Totals of one continuation at every grid point `(set, λ)`, set-major.
fn sweep_continuation(
    lm: &Lm,
    c: &Continuation,
    pos: &[Vec<usize>],
    lambdas: &[f32],
) -> Result<Vec<f64>> {
    let (targets, h, rows) = (&c.targets, &c.h, &c.rows);
    let v = lm.vocab_size();
    let fin = lm.logits(h)?.flatten_all()?.to_vec1::<f32>()?;
    // every layer's rows in one matmul, layer-major: layer u, position i at (u·n + i)·v
    let n = targets.len();
    let early = raw_logits(lm, &Tensor::cat(rows, 0)?)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let mut totals = vec![0f64; pos.len() * lambdas.len()];
    let mut zl = Vec::new();
    let mut s = vec![0f32; v];
    for (i, &t) in targets.iter().enumerate() {
        let lp = log_softmax(&fin[i * v..(i + 1) * v]);
        for (si, idx) in pos.iter().enumerate() {
            zl.clear();
            for &u in idx {
                zl.extend_from_slice(&early[(u * n + i) * v..(u * n + i + 1) * v]);
            }
            let hv = cross_layer_entropy(&zl, idx.len(), v)?;
            for (li, &lambda) in lambdas.iter().enumerate() {
                let score = if lambda == 0.0 {
                    lp[t as usize]
                } else {
                    for ((x, &a), &b) in s.iter_mut().zip(&lp).zip(&hv) {
                        *x = a - lambda * b;
                    }
                    log_softmax_at(&s, t as usize)
                };
                totals[si * lambdas.len() + li] += f64::from(score);
            }
        }
    }
    Ok(totals)
}

/// `log_softmax(s)[t]` without materialising the vector.
fn log_softmax_at(s: &[f32], t: usize) -> f32 {
    let m = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = s.iter().map(|&x| (x - m).exp()).sum();
    s[t] - m - sum.ln()
}

// ---------------------------------------------------------------------------------------------
// Part 2b: the method table (greedy / DoLa / END) via the score module
// ---------------------------------------------------------------------------------------------

/// One row of the method table.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodRow {
    /// Model name.
    pub model: String,
    /// `truthfulqa-mc`, `factor-news`, `factor-expert`.
    pub bench: String,
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
    /// Wall time, seconds.
    pub seconds: f64,
}

fn method_row(r: &BenchReport, seconds: f64) -> MethodRow {
    match r {
        BenchReport::TruthfulQa(t) => MethodRow {
            model: t.model.clone(),
            bench: Bench::TruthfulQaMc.to_string(),
            method: t.method.clone(),
            n: t.items.len(),
            mc1_or_acc: t.mean.mc1,
            mc2: t.mean.mc2,
            mc3: t.mean.mc3,
            seconds,
        },
        BenchReport::Factor(f) => MethodRow {
            model: f.model.clone(),
            bench: format!("factor-{}", f.split),
            method: f.method.clone(),
            n: f.items.len(),
            mc1_or_acc: f.accuracy,
            mc2: f64::NAN,
            mc3: f64::NAN,
            seconds,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Part 3: open-ended TruthfulQA
// ---------------------------------------------------------------------------------------------

/// TruthfulQA adds this to every question's correct references for the generation metrics.
pub const NO_COMMENT: &str = "I have no comment.";

/// One generated answer and its overlap scores.
#[derive(Debug, Clone, PartialEq)]
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

/// Score a generated answer against a question's references (see the module docs).
pub fn score_answer(item: &TruthfulQaItem, answer: &str) -> (f64, f64) {
    let mut correct: Vec<&str> = item.correct_answers.iter().map(String::as_str).collect();
    if !correct.contains(&NO_COMMENT) {
        correct.push(NO_COMMENT);
    }
    (
        max_rouge_l_text(answer, &correct),
        max_rouge_l_text(answer, &item.incorrect_answers),
    )
}

/// The generation methods of part 3: greedy, DoLa (high layers, relative top 0.1, repetition
/// penalty 1.2 — the DoLa reference's generation settings) and END (λ = 1, α = 0.01, upper
/// layers, greedy — the END reference's generation settings).
pub fn open_methods() -> Vec<(String, Box<dyn Decoder>)> {
    vec![
        ("greedy".into(), Box::new(Baseline::greedy())),
        ("dola".into(), Box::new(Dola::new())),
        ("end".into(), Box::new(End::generation())),
    ]
}

/// Generate answers to TruthfulQA questions with every method of [`open_methods`] (up to
/// `max_new_tokens`, stop at `"Q:"`) and score them.
pub fn open_ended(
    lm: &Lm,
    items: &[TruthfulQaItem],
    max_new_tokens: usize,
    progress: bool,
) -> Result<Vec<OpenAnswer>> {
    let opts = GenerateOptions::new(max_new_tokens).stop("Q:");
    let mut out = Vec::new();
    let mut methods = open_methods();
    let bar = crate::progress::progress_bar(
        progress,
        items.len() * methods.len(),
        format!("END open-ended {}", lm.name()),
    );
    for (name, dec) in methods.iter_mut() {
        for it in items {
            let t0 = Instant::now();
            let g = generate(
                lm,
                &data::truthfulqa_prompt(&it.question),
                dec.as_mut(),
                &opts,
            )?;
            let answer = g.text.trim().to_string();
            let (rc, ri) = score_answer(it, &answer);
            out.push(OpenAnswer {
                model: lm.name().to_string(),
                method: name.clone(),
                index: it.index,
                question: it.question.clone(),
                answer,
                rouge_correct: rc,
                rouge_incorrect: ri,
                n_tokens: g.ids.len(),
                seconds: t0.elapsed().as_secs_f64(),
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(out)
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

/// Summaries of [`open_ended`]'s answers, in first-seen (model, method) order.
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
            let n = g.len() as f64;
            let mean = |f: &dyn Fn(&OpenAnswer) -> f64| g.iter().map(|a| f(a)).sum::<f64>() / n;
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

// ---------------------------------------------------------------------------------------------
// The whole reproduction
// ---------------------------------------------------------------------------------------------

/// Which parts to run, and on how much data.
#[derive(Debug, Clone, PartialEq)]
pub struct EndStudyOptions {
    /// Models ([`Lm::load`] arguments). Default: SmolLM2-135M-Instruct and Gemma-3-270M GGUF.
    pub models: Vec<String>,
    /// Run part 1 (candidate dynamics).
    pub candidates: bool,
    /// TruthfulQA questions added to [`FACT_PROMPTS`] in part 1.
    pub n_fact_truthfulqa: usize,
    /// Top candidates per prompt in part 1.
    pub top_k: usize,
    /// First TruthfulQA questions for the method table and the sweep (0 = skip both).
    pub n_mc: usize,
    /// First FACTOR items of each split for the method table (0 = skip FACTOR).
    pub n_factor: usize,
    /// λ values of the sweep (0 = greedy).
    pub lambdas: Vec<f32>,
    /// Layer sets of the sweep.
    pub layer_sets: Vec<LayerSet>,
    /// First TruthfulQA questions for open-ended generation (0 = skip).
    pub n_open: usize,
    /// New tokens per open-ended answer (the issue: 50).
    pub max_new_tokens: usize,
    /// Where to write figures and tables (`None` = nothing written).
    pub out_dir: Option<PathBuf>,
    /// Progress bars on stderr.
    pub progress: bool,
}

impl Default for EndStudyOptions {
    fn default() -> Self {
        Self::full()
    }
}

impl EndStudyOptions {
    /// The full run we report (sized for two CPU cores, both models): 12 + 8 prompts × top 5
    /// in part 1; the first 40 TruthfulQA questions for the method table and the sweep
    /// (λ ∈ {0, 0.25, 1, 2} × 3 layer sets); the first 10 items of each FACTOR split; 12
    /// open-ended questions of up to 50 tokens.
    pub fn full() -> Self {
        Self {
            models: crate::model::bundled_models(),
            candidates: true,
            n_fact_truthfulqa: 8,
            top_k: 5,
            n_mc: 40,
            n_factor: 10,
            lambdas: vec![0.0, DEFAULT_LAMBDA, 1.0, 2.0],
            layer_sets: LayerSet::ALL.to_vec(),
            n_open: 12,
            max_new_tokens: 50,
            out_dir: None,
            progress: false,
        }
    }

    /// The paper's sizes: all 817 TruthfulQA questions (method table, sweep and open-ended)
    /// and every FACTOR item (a day or more on two CPU cores).
    pub fn paper() -> Self {
        Self {
            n_mc: usize::MAX,
            n_factor: usize::MAX,
            n_open: usize::MAX,
            ..Self::full()
        }
    }

    /// The quick pass (~2–3 min): the default model only; 12 + 2 prompts; 3 TruthfulQA
    /// questions, λ ∈ {0, 0.25, 1} × {last 2, every other upper}; no FACTOR; 3 open-ended
    /// questions.
    pub fn quick() -> Self {
        Self {
            models: vec![crate::model::default_model_path()],
            n_fact_truthfulqa: 2,
            n_mc: 3,
            n_factor: 0,
            lambdas: vec![0.0, DEFAULT_LAMBDA, 1.0],
            layer_sets: vec![LayerSet::Last2, LayerSet::EveryOtherUpper],
            n_open: 3,
            ..Self::full()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.models.is_empty() {
            return Err(Error::invalid("models", "[]", "at least one model"));
        }
        if self.top_k == 0 {
            return Err(Error::invalid("top_k", 0, "at least 1"));
        }
        if self.n_mc > 0 && (self.lambdas.is_empty() || self.layer_sets.is_empty()) {
            return Err(Error::invalid(
                "lambdas / layer_sets",
                "empty",
                "at least one λ and one layer set for the sweep",
            ));
        }
        if self.n_open > 0 && self.max_new_tokens == 0 {
            return Err(Error::invalid("max_new_tokens", 0, "at least 1"));
        }
        Ok(())
    }
}

/// Everything the END reproduction measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndReport {
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
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Run the reproduction: every part with non-zero size, for every model; with `out_dir`, write
/// the figures and tables ([`write_outputs`]).
pub fn run_end_study(opts: &EndStudyOptions) -> Result<EndReport> {
    opts.validate()?;
    let prompts = fact_prompts(opts.n_fact_truthfulqa)?;
    let tqa = if opts.n_mc > 0 || opts.n_open > 0 {
        data::truthfulqa()?
    } else {
        Vec::new()
    };
    let mut report = EndReport::default();
    for model in &opts.models {
        let lm = Lm::load(model)?;
        let name = lm.name().to_string();
        let t0 = Instant::now();
        for (i, p) in prompts.iter().enumerate() {
            report
                .candidates
                .extend(candidate_dynamics(&lm, p, i, opts.top_k, &Layers::High)?);
        }
        report.timings.push((
            name.clone(),
            "candidates".into(),
            t0.elapsed().as_secs_f64(),
        ));
        if opts.n_mc > 0 {
            let items = data::take_first(&tqa, Some(opts.n_mc));
            let t0 = Instant::now();
            report.sweep.extend(truthfulqa_sweep(
                &lm,
                &items,
                &opts.lambdas,
                &opts.layer_sets,
                opts.progress,
            )?);
            report
                .timings
                .push((name.clone(), "sweep".into(), t0.elapsed().as_secs_f64()));
            // greedy and END on TruthfulQA are sweep points (λ = 0; the default point): the sweep
            // scores them exactly as the score module does, so only DoLa is run separately.
            let secs = t0.elapsed().as_secs_f64();
            let pts: Vec<&SweepPoint> = report.sweep.iter().filter(|p| p.model == name).collect();
            let greedy = pts.iter().find(|p| p.lambda == 0.0);
            let end = pts.iter().find(|p| p.is_default());
            for (m, p) in [("greedy", greedy), ("end", end)] {
                if let Some(p) = p {
                    report.methods.push(MethodRow {
                        model: name.clone(),
                        bench: Bench::TruthfulQaMc.to_string(),
                        method: m.into(),
                        n: p.n,
                        mc1_or_acc: p.mean.mc1,
                        mc2: p.mean.mc2,
                        mc3: p.mean.mc3,
                        seconds: secs,
                    });
                }
            }
            let mut runs: Vec<(Bench, usize, &str)> =
                vec![(Bench::TruthfulQaMc, opts.n_mc, "dola")];
            if opts.n_factor > 0 {
                for b in [Bench::FactorNews, Bench::FactorExpert] {
                    for m in ["greedy", "dola", "end"] {
                        runs.push((b, opts.n_factor, m));
                    }
                }
            }
            for (bench, n, m) in runs {
                let t0 = Instant::now();
                let r = run_bench(
                    &lm,
                    bench,
                    &ScoreMethod::for_bench(m, bench)?,
                    &BenchOptions {
                        limit: Some(n),
                        progress: opts.progress,
                    },
                )?;
                let secs = t0.elapsed().as_secs_f64();
                report.methods.push(method_row(&r, secs));
                report
                    .timings
                    .push((name.clone(), format!("{bench} {m}"), secs));
            }
        }
        if opts.n_open > 0 {
            let items = data::take_first(&tqa, Some(opts.n_open));
            let t0 = Instant::now();
            report
                .open
                .extend(open_ended(&lm, &items, opts.max_new_tokens, opts.progress)?);
            report.timings.push((
                name.clone(),
                "open-ended".into(),
                t0.elapsed().as_secs_f64(),
            ));
        }
    }
    if let Some(dir) = &opts.out_dir {
        report.files = write_outputs(&report, dir)?;
    }
    Ok(report)
}

fn f3(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "–".into()
    }
}

impl EndReport {
    /// Mean cross-layer entropy of correct and of distractor tokens per model:
    /// `(model, mean H correct, mean H distractors, share of prompts whose correct token has
    /// lower H than the mean of its distractors)`.
    pub fn entropy_summary(&self) -> Vec<(String, f64, f64, f64)> {
        let mut models: Vec<String> = Vec::new();
        for c in &self.candidates {
            if !models.contains(&c.model) {
                models.push(c.model.clone());
            }
        }
        models
            .into_iter()
            .map(|m| {
                let g: Vec<&CandidateTrace> =
                    self.candidates.iter().filter(|c| c.model == m).collect();
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
                let hc: Vec<f64> = g
                    .iter()
                    .filter(|c| c.correct)
                    .map(|c| f64::from(c.cross_layer_entropy))
                    .collect();
                let hd: Vec<f64> = g
                    .iter()
                    .filter(|c| !c.correct)
                    .map(|c| f64::from(c.cross_layer_entropy))
                    .collect();
                let ids: Vec<usize> = {
                    let mut v: Vec<usize> = g.iter().map(|c| c.prompt_id).collect();
                    v.dedup();
                    v
                };
                let mut wins = 0usize;
                let mut total = 0usize;
                for id in ids {
                    let c: Vec<f64> = g
                        .iter()
                        .filter(|x| x.prompt_id == id && x.correct)
                        .map(|x| f64::from(x.cross_layer_entropy))
                        .collect();
                    let d: Vec<f64> = g
                        .iter()
                        .filter(|x| x.prompt_id == id && !x.correct)
                        .map(|x| f64::from(x.cross_layer_entropy))
                        .collect();
                    if let (Some(&hc), false) = (c.first(), d.is_empty()) {
                        total += 1;
                        wins += usize::from(hc < mean(&d));
                    }
                }
                (m, mean(&hc), mean(&hd), wins as f64 / total.max(1) as f64)
            })
            .collect()
    }

    /// All results as Markdown tables (method table, sweep with the default marked, open-ended
    /// overlap, cross-layer entropy of correct vs distractor tokens, timings).
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        if !self.candidates.is_empty() {
            s.push_str("### Cross-layer entropy of correct vs distractor tokens (END's layer set)\n\n| model | mean H correct (nats) | mean H distractors | prompts with H(correct) < mean H(distractors) |\n|---|---|---|---|\n");
            for (m, hc, hd, w) in self.entropy_summary() {
                s.push_str(&format!("| {m} | {} | {} | {} |\n", f3(hc), f3(hd), f3(w)));
            }
            s.push('\n');
        }
        if !self.methods.is_empty() {
            s.push_str("### Multiple choice: greedy vs DoLa vs END\n\n| model | bench | method | n | MC1 / acc | MC2 | MC3 | seconds |\n|---|---|---|---|---|---|---|---|\n");
            for r in &self.methods {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {:.0} |\n",
                    r.model,
                    r.bench,
                    r.method,
                    r.n,
                    f3(r.mc1_or_acc),
                    f3(r.mc2),
                    f3(r.mc3),
                    r.seconds
                ));
            }
            s.push('\n');
        }
        if !self.sweep.is_empty() {
            s.push_str("### TruthfulQA MC sweep of λ and the layer set (α = 0; λ = 0 is greedy; **bold** = default)\n\n| model | layer set | layers | λ | n | MC1 | MC2 | MC3 |\n|---|---|---|---|---|---|---|---|\n");
            for p in &self.sweep {
                let b = if p.is_default() { "**" } else { "" };
                s.push_str(&format!(
                    "| {} | {b}{}{b} | {:?} | {b}{}{b} | {} | {b}{}{b} | {b}{}{b} | {b}{}{b} |\n",
                    p.model,
                    p.layer_set.name(),
                    p.layers,
                    p.lambda,
                    p.n,
                    f3(p.mean.mc1),
                    f3(p.mean.mc2),
                    f3(p.mean.mc3)
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

    /// Part 1 as a long frame: `model, prompt_id, label, source, token_id, token, correct,
    /// final_rank, cross_layer_entropy, layer, depth, prob`, one row per (token, layer).
    pub fn candidates_frame(&self) -> Result<DataFrame> {
        let mut model = vec![];
        let mut pid = vec![];
        let mut label = vec![];
        let mut source = vec![];
        let mut tid = vec![];
        let mut tok = vec![];
        let mut correct = vec![];
        let mut rank = vec![];
        let mut h = vec![];
        let mut layer = vec![];
        let mut depth = vec![];
        let mut prob = vec![];
        for c in &self.candidates {
            let l_max = c.layer_probs.len().saturating_sub(1).max(1) as f64;
            for (l, &p) in c.layer_probs.iter().enumerate() {
                model.push(c.model.clone());
                pid.push(c.prompt_id as i64);
                label.push(c.label.clone());
                source.push(c.source.clone());
                tid.push(i64::from(c.token_id));
                tok.push(c.token.clone());
                correct.push(c.correct);
                rank.push(c.final_rank as i64);
                h.push(f64::from(c.cross_layer_entropy));
                layer.push(l as i64);
                depth.push(l as f64 / l_max);
                prob.push(f64::from(p));
            }
        }
        frame_from_columns(vec![
            ("model", ColumnData::Str(model)),
            ("prompt_id", ColumnData::I64(pid)),
            ("label", ColumnData::Str(label)),
            ("source", ColumnData::Str(source)),
            ("token_id", ColumnData::I64(tid)),
            ("token", ColumnData::Str(tok)),
            ("correct", ColumnData::Bool(correct)),
            ("final_rank", ColumnData::I64(rank)),
            ("cross_layer_entropy", ColumnData::F64(h)),
            ("layer", ColumnData::I64(layer)),
            ("depth", ColumnData::F64(depth)),
            ("prob", ColumnData::F64(prob)),
        ])
    }

    /// The method table: `model, bench, method, n, mc1_or_accuracy, mc2, mc3, seconds`.
    pub fn methods_frame(&self) -> Result<DataFrame> {
        let m = &self.methods;
        frame_from_columns(vec![
            (
                "model",
                ColumnData::Str(m.iter().map(|r| r.model.clone()).collect()),
            ),
            (
                "bench",
                ColumnData::Str(m.iter().map(|r| r.bench.clone()).collect()),
            ),
            (
                "method",
                ColumnData::Str(m.iter().map(|r| r.method.clone()).collect()),
            ),
            ("n", ColumnData::I64(m.iter().map(|r| r.n as i64).collect())),
            (
                "mc1_or_accuracy",
                ColumnData::F64(m.iter().map(|r| r.mc1_or_acc).collect()),
            ),
            ("mc2", ColumnData::F64(m.iter().map(|r| r.mc2).collect())),
            ("mc3", ColumnData::F64(m.iter().map(|r| r.mc3).collect())),
            (
                "seconds",
                ColumnData::F64(m.iter().map(|r| r.seconds).collect()),
            ),
        ])
    }

    /// The sweep: `model, layer_set, layers, lambda, n, mc1, mc2, mc3, default`.
    pub fn sweep_frame(&self) -> Result<DataFrame> {
        let p = &self.sweep;
        frame_from_columns(vec![
            (
                "model",
                ColumnData::Str(p.iter().map(|r| r.model.clone()).collect()),
            ),
            (
                "layer_set",
                ColumnData::Str(p.iter().map(|r| r.layer_set.name().to_string()).collect()),
            ),
            (
                "layers",
                ColumnData::Str(p.iter().map(|r| format!("{:?}", r.layers)).collect()),
            ),
            (
                "lambda",
                ColumnData::F64(p.iter().map(|r| f64::from(r.lambda)).collect()),
            ),
            ("n", ColumnData::I64(p.iter().map(|r| r.n as i64).collect())),
            (
                "mc1",
                ColumnData::F64(p.iter().map(|r| r.mean.mc1).collect()),
            ),
            (
                "mc2",
                ColumnData::F64(p.iter().map(|r| r.mean.mc2).collect()),
            ),
            (
                "mc3",
                ColumnData::F64(p.iter().map(|r| r.mean.mc3).collect()),
            ),
            (
                "default",
                ColumnData::Bool(p.iter().map(|r| r.is_default()).collect()),
            ),
        ])
    }

    /// Open-ended answers: `model, method, index, question, answer, rouge_correct,
    /// rouge_incorrect, diff, closer_to_correct, n_tokens, seconds`.
    pub fn open_frame(&self) -> Result<DataFrame> {
        let o = &self.open;
        frame_from_columns(vec![
            (
                "model",
                ColumnData::Str(o.iter().map(|r| r.model.clone()).collect()),
            ),
            (
                "method",
                ColumnData::Str(o.iter().map(|r| r.method.clone()).collect()),
            ),
            (
                "index",
                ColumnData::I64(o.iter().map(|r| r.index as i64).collect()),
            ),
            (
                "question",
                ColumnData::Str(o.iter().map(|r| r.question.clone()).collect()),
            ),
            (
                "answer",
                ColumnData::Str(o.iter().map(|r| r.answer.clone()).collect()),
            ),
            (
                "rouge_correct",
                ColumnData::F64(o.iter().map(|r| r.rouge_correct).collect()),
            ),
            (
                "rouge_incorrect",
                ColumnData::F64(o.iter().map(|r| r.rouge_incorrect).collect()),
            ),
            (
                "diff",
                ColumnData::F64(o.iter().map(|r| r.diff()).collect()),
            ),
            (
                "closer_to_correct",
                ColumnData::Bool(o.iter().map(|r| r.closer_to_correct()).collect()),
            ),
            (
                "n_tokens",
                ColumnData::I64(o.iter().map(|r| r.n_tokens as i64).collect()),
            ),
            (
                "seconds",
                ColumnData::F64(o.iter().map(|r| r.seconds).collect()),
            ),
        ])
    }

    /// Per-layer probability of the tokens of one prompt (`✓` = correct token, `✗` =
    /// distractor), x = layer.
    pub fn prompt_chart(&self, model: &str, prompt_id: usize) -> Result<plot::Chart> {
        let g: Vec<&CandidateTrace> = self
            .candidates
            .iter()
            .filter(|c| c.model == model && c.prompt_id == prompt_id)
            .collect();
        let first = g.first().ok_or_else(|| {
            Error::NotEnoughData(format!("no candidates for {model} prompt {prompt_id}"))
        })?;
        let series: Vec<Curve> = g
            .iter()
            .map(|c| {
                Curve::from_y(
                    format!(
                        "{} {} (H={:.2})",
                        if c.correct { "✓" } else { "✗" },
                        plot::token_label(&c.token, 12),
                        c.cross_layer_entropy
                    ),
                    c.layer_probs.iter().map(|&p| f64::from(p)).collect(),
                )
            })
            .collect();
        Ok(plot::lines(&series)?
            .markers(true)
            .x_label("layer (normed logit lens; last = final distribution)")
            .y_label("probability")
            .title(format!("{} — \"{}\"", short(model), clip(&first.label, 40))))
    }

    /// Mean per-layer probability of correct tokens vs distractors (x = relative depth), one
    /// pair of lines per model: the "sharp growth in the upper layers" picture.
    pub fn growth_chart(&self) -> Result<plot::Chart> {
        let mut series = Vec::new();
        let models: Vec<String> = self.entropy_summary().into_iter().map(|e| e.0).collect();
        for m in &models {
            for (correct, what) in [(true, "correct"), (false, "distractors")] {
                let g: Vec<&CandidateTrace> = self
                    .candidates
                    .iter()
                    .filter(|c| &c.model == m && c.correct == correct)
                    .collect();
                let Some(len) = g.first().map(|c| c.layer_probs.len()) else {
                    continue;
                };
                let y: Vec<f64> = (0..len)
                    .map(|l| {
                        g.iter().map(|c| f64::from(c.layer_probs[l])).sum::<f64>() / g.len() as f64
                    })
                    .collect();
                let d = (len - 1).max(1) as f64;
                let x = (0..len).map(|l| l as f64 / d).collect();
                series.push(Curve::new(format!("{} {what}", short(m)), x, y));
            }
        }
        Ok(plot::lines(&series)?
            .markers(true)
            .x_label("relative depth (layer / L)")
            .y_label("mean probability (normed logit lens)")
            .title("Probability growth of correct tokens vs distractors"))
    }

    /// Histogram of cross-layer entropies, correct tokens vs distractors, for one model.
    pub fn entropy_chart(&self, model: &str) -> Result<plot::Chart> {
        let hc: Vec<f64> = self
            .candidates
            .iter()
            .filter(|c| c.model == model && c.correct)
            .map(|c| f64::from(c.cross_layer_entropy))
            .collect();
        let hd: Vec<f64> = self
            .candidates
            .iter()
            .filter(|c| c.model == model && !c.correct)
            .map(|c| f64::from(c.cross_layer_entropy))
            .collect();
        Ok(
            plot::histogram(&[("correct", &hc[..]), ("distractors", &hd[..])], 12)?
                .x_label("cross-layer entropy H(v), nats (END's layer set)")
                .title(format!("Cross-layer entropy — {}", short(model))),
        )
    }

    /// MC2 against λ, one line per (model, layer set).
    pub fn sweep_chart(&self) -> Result<plot::Chart> {
        let mut keys: Vec<(String, LayerSet)> = Vec::new();
        for p in &self.sweep {
            let k = (p.model.clone(), p.layer_set);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let series: Vec<Curve> = keys
            .iter()
            .map(|(m, s)| {
                let mut pts: Vec<(f64, f64)> = self
                    .sweep
                    .iter()
                    .filter(|p| &p.model == m && p.layer_set == *s)
                    .map(|p| (f64::from(p.lambda), p.mean.mc2))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                Curve::new(
                    format!("{} {}", short(m), s.name()),
                    pts.iter().map(|p| p.0).collect(),
                    pts.iter().map(|p| p.1).collect(),
                )
            })
            .collect();
        Ok(plot::lines(&series)?
            .markers(true)
            .x_label("λ (0 = greedy; default 0.25)")
            .y_label("TruthfulQA MC2")
            .title("END: λ and layer-set sweep"))
    }
}

fn short(model: &str) -> String {
    model
        .split(['.', '-'])
        .take(2)
        .collect::<Vec<_>>()
        .join("-")
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// Write the figures (PNG) and tables (Parquet, plus `summary.md`) under `dir`; returns the paths.
pub fn write_outputs(report: &EndReport, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = OutputDir::create(dir)?;
    if !report.candidates.is_empty() {
        let models: Vec<String> = report.entropy_summary().into_iter().map(|e| e.0).collect();
        for m in &models {
            out.chart(
                &format!("{}-capital_of_france.png", slug(m)),
                &report.prompt_chart(m, 0)?,
            )?;
            out.chart(
                &format!("{}-cross_layer_entropy.png", slug(m)),
                &report.entropy_chart(m)?,
            )?;
        }
        out.chart("probability_growth.png", &report.growth_chart()?)?;
    }
    if !report.sweep.is_empty() {
        out.chart("sweep_mc2.png", &report.sweep_chart()?)?;
    }
    if !report.candidates.is_empty() {
        out.table("candidates.parquet", &report.candidates_frame()?)?;
    }
    if !report.methods.is_empty() {
        out.table("methods.parquet", &report.methods_frame()?)?;
    }
    if !report.sweep.is_empty() {
        out.table("sweep.parquet", &report.sweep_frame()?)?;
    }
    if !report.open.is_empty() {
        out.table("open_ended.parquet", &report.open_frame()?)?;
    }
    out.text("summary.md", &report.markdown())?;
    Ok(out.into_files())
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_sets_resolve() {
        assert_eq!(
            LayerSet::Last2.layers(30).unwrap(), // ok: test-only
            Layers::List(vec![28, 29])
        );
        assert_eq!(
            LayerSet::LastHalf.layers(18).unwrap(), // ok: test-only
            Layers::List((9..18).collect())
        );
        assert!(LayerSet::Last2.layers(2).is_err());
        assert_eq!("last-2".parse::<LayerSet>().unwrap(), LayerSet::Last2); // ok: test-only
        assert!("nope".parse::<LayerSet>().is_err());
    }

    #[test]
    fn log_softmax_at_matches_hand() {
        // s = (0, ln 3): softmax = (1/4, 3/4) → log = ln 3/4
        let s = [0.0f32, 3f32.ln()];
        assert!((log_softmax_at(&s, 1) - 0.75f32.ln()).abs() < 1e-6);
    }
}
