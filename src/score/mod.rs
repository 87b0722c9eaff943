//! Scoring continuations under a decoding method, and the multiple-choice benchmarks built on it
//! (TruthfulQA MC1/MC2/MC3, FACTOR news / expert).
//!
//! The log-likelihood of a continuation is computed **teacher-forced**, as the DoLa and END
//! reference code do (`lm_score`): tokenize `prefix` and `prefix + continuation` (with the model's
//! BOS), run the full sequence, and sum, over the positions `P−1 … T−2` (`P` = prefix length), the
//! method's log-score of the next token:
//!
//! | method | per-position score of token `t` |
//! |---|---|
//! | baseline | `log p_N(t)` |
//! | END (α = 0) | `log_softmax_v(log p_N(v) − λ·H(v))[t]`, `H(v)` the cross-layer entropy of every token |
//! | END (α > 0) | the same with only the candidates `V_head` adjusted (the others keep `log p_N`) |
//! | DoLa | `log p_N(t) − log p_M(t)`, `M` selected per position; optionally log-softmaxed (`post_softmax`), then tokens outside the relative top set to `relative_top_value` |
//!
//! The prefix's KV cache is computed once and shared by all the continuations of a question
//! (when the joint tokenization starts with the prefix's ids; otherwise the full sequence is run
//! again, exactly as the reference does).
//!
//! ```no_run
//! use entroscope::prelude::*;
//! use entroscope::score::{run_bench, Bench, BenchOptions, ScoreMethod};
//! # fn main() -> entroscope::Result<()> {
//! let lm = Lm::load(&entroscope::model::default_model_path())?;
//! let opts = BenchOptions { limit: Some(20), progress: true };
//! let report = run_bench(&lm, Bench::TruthfulQaMc, &ScoreMethod::end(), &opts)?;
//! println!("{}", report.summary());
//! let df = report.to_frame()?; // one row per question
//! # Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;

use candle_core::Tensor;

use crate::data::{self, FactorItem, FactorSplit, TruthfulQaItem};
use crate::decode::{
    cross_layer_entropy, log_softmax, normed_logits, raw_logits, DolaParams, EndParams, Layers,
    RowCapture,
};
use crate::entropy::target_stats;
use crate::frame::{self, ColumnData, DataFrame, ToFrame};
use crate::model::{KvCache, Lm};
use crate::{Error, Result};
use std::cell::RefCell;

// ---------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------

/// DoLa's scoring options on top of [`DolaParams`] (`relative_top` there is the α of the mask).
#[derive(Debug, Clone, PartialEq)]
pub struct DolaScoring {
    /// Layers, relative top α, divergence.
    pub params: DolaParams,
    /// Log-softmax the contrast before reading the target's score.
    pub post_softmax: bool,
    /// Score given to tokens outside the relative top (the reference uses −1000).
    pub relative_top_value: f32,
}

impl DolaScoring {
    /// DoLa's `tfqa_mc_eval.py`: high layers, no relative-top filter, no post-softmax.
    pub fn truthfulqa() -> Self {
        Self {
            params: DolaParams {
                relative_top: 0.0,
                ..DolaParams::default()
            },
            post_softmax: false,
            relative_top_value: -1000.0,
        }
    }

    /// DoLa's `factor_eval.py`: high layers, relative top 0.1 (value −1000), post-softmax.
    pub fn factor() -> Self {
        Self {
            params: DolaParams::default(),
            post_softmax: true,
            relative_top_value: -1000.0,
        }
    }
}

/// How continuations are scored.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreMethod {
    /// The model's own log-probabilities.
    Baseline,
    /// END's adjusted log-probabilities.
    End(EndParams),
    /// DoLa's contrast.
    Dola(DolaScoring),
}

impl ScoreMethod {
    /// END with the reference MC settings (λ = 0.25, α = 0, high layers).
    pub fn end() -> Self {
        ScoreMethod::End(EndParams::scoring())
    }

    /// DoLa with `tfqa_mc_eval.py`'s settings.
    pub fn dola() -> Self {
        ScoreMethod::Dola(DolaScoring::truthfulqa())
    }

    /// `greedy` (baseline), `end` or `dola` with the reference settings for `bench`.
    pub fn for_bench(name: &str, bench: Bench) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "greedy" | "baseline" => Ok(ScoreMethod::Baseline),
            "end" => Ok(ScoreMethod::end()),
            "dola" => Ok(ScoreMethod::Dola(match bench {
                Bench::TruthfulQaMc => DolaScoring::truthfulqa(),
                Bench::FactorNews | Bench::FactorExpert => DolaScoring::factor(),
            })),
            other => Err(Error::invalid("method", other, "`greedy`, `end` or `dola`")),
        }
    }

    /// Short name: `greedy`, `end`, `dola`.
    pub fn name(&self) -> &'static str {
        match self {
            ScoreMethod::Baseline => "greedy",
            ScoreMethod::End(_) => "end",
            ScoreMethod::Dola(_) => "dola",
        }
    }

    fn validate(&self) -> Result<()> {
        match self {
            ScoreMethod::Baseline => Ok(()),
            ScoreMethod::End(p) => p.validate(),
            ScoreMethod::Dola(d) => {
                d.params.validate()?;
                if d.relative_top_value.is_nan() {
                    return Err(Error::invalid(
                        "relative_top_value",
                        d.relative_top_value,
                        "a number (the reference uses −1000)",
                    ));
                }
                Ok(())
            }
        }
    }

    fn layers(&self) -> Option<&Layers> {
        match self {
            ScoreMethod::Baseline => None,
            ScoreMethod::End(p) => Some(&p.layers),
            ScoreMethod::Dola(d) => Some(&d.params.layers),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Continuation scores
// ---------------------------------------------------------------------------------------------

/// The score of one continuation.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuationScore {
    /// The continuation's token ids (the joint tokenization's ids after the prefix length).
    pub ids: Vec<u32>,
    /// The method's log-score of each continuation token (nats for baseline / END).
    pub log_probs: Vec<f32>,
    /// Their sum (f64).
    pub total: f64,
    /// DoLa: the premature layer selected at each position (empty otherwise).
    pub premature_layers: Vec<usize>,
}

/// Scores continuations of prefixes under one [`ScoreMethod`] with one model.
///
/// Consecutive prefixes that start with the same tokens (the few-shot demonstrations of every
/// TruthfulQA prompt) reuse the keys and values of that common part: only the rest is run.
#[derive(Debug)]
pub struct Scorer<'a> {
    method: ScoreMethod,
    runs: TeacherForcing<'a>,
}

/// Teacher-forced runs of continuations after a prefix: the last block's rows predicting each
/// continuation token and the early-exit rows of `layers` at the same positions. The prefix is run
/// once for all its continuations, and its start is reused from the previous prefix when they
/// share one (exact: attention is causal). Shared by [`Scorer`] and END's λ × layer-set sweep.
#[derive(Debug)]
pub(crate) struct TeacherForcing<'a> {
    pub(crate) lm: &'a Lm,
    pub(crate) layers: Vec<usize>,
    /// The previous prefix's ids and cache.
    last: RefCell<Option<(Vec<u32>, KvCache)>>,
}

/// One continuation run after its prefix, waiting for the unembedding.
pub(crate) struct Continuation {
    /// The continuation's token ids.
    pub(crate) targets: Vec<u32>,
    /// Last block's rows predicting each target, `[n, d]`.
    pub(crate) h: Tensor,
    /// Early-exit rows of each of the runner's layers, `[n, d]` each.
    pub(crate) rows: Vec<Tensor>,
}

/// Most logits (rows × vocabulary × (1 + early layers)) unembedded in one group: 64 Mi floats =
/// 256 MiB.
pub const UNEMBED_BATCH_FLOATS: usize = 64 << 20;

/// Shorter common prefixes are run again rather than copied out of the cache.
const MIN_SHARED_TOKENS: usize = 8;

/// The prefix's state shared by its continuations.
pub(crate) struct Prefix {
    ids: Vec<u32>,
    cache: KvCache,
    /// Last block output at the prefix's last position `[1, d]`.
    last_h: Tensor,
    /// Early-exit rows at the prefix's last position, `[1, d]` per layer.
    last_rows: Vec<Tensor>,
}

impl<'a> TeacherForcing<'a> {
    /// Runs with the early-exit rows of `layers` (each in `0..L`; may be empty).
    pub(crate) fn new(lm: &'a Lm, layers: Vec<usize>) -> Self {
        Self {
            lm,
            layers,
            last: RefCell::new(None),
        }
    }

    /// Runs `prefix`, reusing the start it shares with the previous prefix.
    pub(crate) fn prefix(&self, prefix: &str) -> Result<Prefix> {
        let lm = self.lm;
        let ids = lm.encode(prefix)?;
        // Reuse the common start with the previous prefix (at least one new token must run, to
        // get the last position's rows).
        let (mut cache, start) = match self.last.borrow_mut().take() {
            Some((prev, mut cache)) => {
                let shared = prev
                    .iter()
                    .zip(&ids)
                    .take_while(|(a, b)| a == b)
                    .count()
                    .min(ids.len() - 1);
                if shared >= MIN_SHARED_TOKENS {
                    cache.truncate(shared)?;
                    (cache, shared)
                } else {
                    (lm.new_cache(), 0)
                }
            }
            None => (lm.new_cache(), 0),
        };
        let rest = &ids[start..];
        let mut cap = RowCapture::new(&self.layers, lm.n_layers())?;
        cap.reset(rest.len() - 1);
        let h = lm.forward(rest, &mut cache, &mut cap)?;
        let last_h = h.narrow(0, rest.len() - 1, 1)?;
        let last_rows = cap.take()?;
        *self.last.borrow_mut() = Some((ids.clone(), cache.clone()));
        Ok(Prefix {
            ids,
            cache,
            last_h,
            last_rows,
        })
    }

    /// Runs one continuation after the prefix: its targets and the rows that predict them.
    pub(crate) fn continuation(
        &self,
        p: &Prefix,
        prefix: &str,
        continuation: &str,
    ) -> Result<Continuation> {
        let lm = self.lm;
        let full = lm.encode(&format!("{prefix}{continuation}"))?;
        let np = p.ids.len();
        if full.len() <= np {
            return Err(Error::invalid(
                "continuation",
                format!("{continuation:?}"),
                "text that adds at least one token after the prefix",
            ));
        }
        let targets = full[np..].to_vec();
        let n = targets.len();
        let (h, rows) = if full[..np] == p.ids[..] {
            // positions np-1 (from the prefix pass) and np .. full-2 (a continuation pass)
            if n == 1 {
                (p.last_h.clone(), p.last_rows.clone())
            } else {
                let mut cache = p.cache.clone();
                let mut cap = RowCapture::new(&self.layers, lm.n_layers())?;
                cap.reset(0);
                let h = lm.forward(&full[np..full.len() - 1], &mut cache, &mut cap)?;
                let rows = cap.take()?;
                let h = Tensor::cat(&[&p.last_h, &h], 0)?;
                let rows = p
                    .last_rows
                    .iter()
                    .zip(&rows)
                    .map(|(a, b)| Ok(Tensor::cat(&[a, b], 0)?))
                    .collect::<Result<Vec<_>>>()?;
                (h, rows)
            }
        } else {
            // the joint tokenization changed the prefix's tokens: run it all, as the reference
            let mut cache = lm.new_cache();
            let mut cap = RowCapture::new(&self.layers, lm.n_layers())?;
            cap.reset(np - 1);
            let h = lm.forward(&full[..full.len() - 1], &mut cache, &mut cap)?;
            (h.narrow(0, np - 1, n)?, cap.take()?)
        };
        if let Some(&id) = targets.iter().find(|&&t| t as usize >= lm.vocab_size()) {
            return Err(Error::TokenOutOfVocab {
                id,
                vocab: lm.vocab_size(),
            });
        }
        Ok(Continuation { targets, h, rows })
    }
}

impl<'a> Scorer<'a> {
    /// A scorer; validates the method and resolves its layers against `lm`.
    pub fn new(lm: &'a Lm, method: ScoreMethod) -> Result<Self> {
        method.validate()?;
        let layers = match method.layers() {
            Some(l) => l.resolve(lm)?,
            None => Vec::new(),
        };
        Ok(Self {
            method,
            runs: TeacherForcing::new(lm, layers),
        })
    }

    /// The method.
    pub fn method(&self) -> &ScoreMethod {
        &self.method
    }

    /// The resolved early-exit layers (empty for the baseline).
    pub fn layers(&self) -> &[usize] {
        &self.runs.layers
    }

    /// Score one continuation of `prefix`.
    pub fn score(&self, prefix: &str, continuation: &str) -> Result<ContinuationScore> {
        let mut v = self.score_many(prefix, &[continuation])?;
        v.pop()
            .ok_or_else(|| Error::NotEnoughData("no continuation was scored".into()))
    }

    /// Score several continuations of the same prefix (the prefix is run once).
    ///
    /// The continuations' rows go through the unembedding together, in groups of at most
    /// [`UNEMBED_BATCH_FLOATS`] logits: one large matmul instead of one per continuation and
    /// layer, which on CPU is several times faster (the weight matrix is read once per group).
    ///
    /// Errors: an empty prefix ([`Error::EmptyPrompt`]), a continuation that adds no token,
    /// a sequence longer than the context window.
    pub fn score_many<S: AsRef<str>>(
        &self,
        prefix: &str,
        continuations: &[S],
    ) -> Result<Vec<ContinuationScore>> {
        let p = self.runs.prefix(prefix)?;
        let runs = continuations
            .iter()
            .map(|c| self.runs.continuation(&p, prefix, c.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let per_row = self.runs.lm.vocab_size() * (1 + self.runs.layers.len());
        let mut out = Vec::with_capacity(runs.len());
        let mut start = 0;
        while start < runs.len() {
            // a group: at least one continuation, then as many as fit the budget
            let mut end = start + 1;
            let mut rows = runs[start].targets.len();
            while end < runs.len()
                && (rows + runs[end].targets.len()) * per_row <= UNEMBED_BATCH_FLOATS
            {
                rows += runs[end].targets.len();
                end += 1;
            }
            out.extend(self.score_group(&runs[start..end])?);
            start = end;
        }
        Ok(out)
    }

    /// Scores a group of continuations with one unembedding matmul for the final rows and one
    /// for the early-exit rows of every layer.
    fn score_group(&self, runs: &[Continuation]) -> Result<Vec<ContinuationScore>> {
        let lm = self.runs.lm;
        let v = lm.vocab_size();
        let n: usize = runs.iter().map(|r| r.targets.len()).sum();
        let hs: Vec<&Tensor> = runs.iter().map(|r| &r.h).collect();
        let fin = lm
            .logits(&Tensor::cat(&hs, 0)?)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let k = self.runs.layers.len();
        let early = if k == 0 {
            Vec::new()
        } else {
            // [layer-major: layer 0's rows of every continuation, then layer 1's, ...]
            let mut rows = Vec::with_capacity(k * runs.len());
            for l in 0..k {
                rows.extend(runs.iter().map(|r| &r.rows[l]));
            }
            let rows = Tensor::cat(&rows, 0)?;
            let normed = matches!(&self.method, ScoreMethod::End(p) if p.normed);
            let z = if normed {
                normed_logits(lm, &rows)?
            } else {
                raw_logits(lm, &rows)?
            };
            z.flatten_all()?.to_vec1::<f32>()?
        };
        let mut out = Vec::with_capacity(runs.len());
        let mut off = 0;
        for r in runs {
            let m = r.targets.len();
            let fin_r = &fin[off * v..(off + m) * v];
            let early_r: Vec<&[f32]> = (0..k)
                .map(|l| &early[(l * n + off) * v..(l * n + off + m) * v])
                .collect();
            let (log_probs, premature_layers) =
                self.position_scores(fin_r, &early_r, &r.targets)?;
            out.push(ContinuationScore {
                ids: r.targets.clone(),
                total: log_probs.iter().map(|&x| f64::from(x)).sum(),
                log_probs,
                premature_layers,
            });
            off += m;
        }
        Ok(out)
    }

    /// Per-position scores from the final logits `fin` (`[n · vocab]`), the early-exit logits of
    /// every layer (`[n · vocab]` each, raw or normed as the method says) and the targets.
    fn position_scores(
        &self,
        fin: &[f32],
        early: &[&[f32]],
        targets: &[u32],
    ) -> Result<(Vec<f32>, Vec<usize>)> {
        let v = self.runs.lm.vocab_size();
        let n = targets.len();
        let row = |i: usize| &fin[i * v..(i + 1) * v];
        match &self.method {
            ScoreMethod::Baseline => {
                let s = (0..n)
                    .map(|i| Ok(target_stats(row(i), targets[i])?.log_prob))
                    .collect::<Result<Vec<f32>>>()?;
                Ok((s, Vec::new()))
            }
            ScoreMethod::End(p) => {
                let k = early.len();
                let mut out = Vec::with_capacity(n);
                let mut zl = vec![0f32; k * v];
                for (i, &t) in targets.iter().enumerate() {
                    let lp = log_softmax(row(i));
                    for (l, e) in early.iter().enumerate() {
                        zl[l * v..(l + 1) * v].copy_from_slice(&e[i * v..(i + 1) * v]);
                    }
                    let mut s = lp.clone();
                    if p.alpha <= 0.0 {
                        let hv = cross_layer_entropy(&zl, k, v)?;
                        for (x, hv) in s.iter_mut().zip(&hv) {
                            *x -= p.lambda * hv;
                        }
                    } else {
                        let cands = crate::decode::end_candidates(row(i), p.alpha);
                        let mut zc = Vec::with_capacity(k * cands.len());
                        for l in 0..k {
                            zc.extend(cands.iter().map(|&c| zl[l * v + c as usize]));
                        }
                        let hv = cross_layer_entropy(&zc, k, cands.len())?;
                        for (&c, hv) in cands.iter().zip(&hv) {
                            s[c as usize] -= p.lambda * hv;
                        }
                    }
                    out.push(log_softmax(&s)[t as usize]);
                }
                Ok((out, Vec::new()))
            }
            ScoreMethod::Dola(d) => {
                let k = early.len();
                let mut out = Vec::with_capacity(n);
                let mut layers = Vec::with_capacity(n);
                let mut prem = vec![0f32; k * v];
                for (i, &t) in targets.iter().enumerate() {
                    for (l, e) in early.iter().enumerate() {
                        prem[l * v..(l + 1) * v].copy_from_slice(&e[i * v..(i + 1) * v]);
                    }
                    let c = crate::decode::dola_select(row(i), &prem, d.params.divergence)?;
                    let mut diff: Vec<f32> = c
                        .final_lp
                        .iter()
                        .zip(&c.premature_lp)
                        .map(|(a, b)| a - b)
                        .collect();
                    if d.post_softmax {
                        diff = log_softmax(&diff);
                    }
                    let ti = t as usize;
                    let mask = crate::decode::dola_mask(&c.final_lp, d.params.relative_top);
                    out.push(if mask[ti] {
                        d.relative_top_value
                    } else {
                        diff[ti]
                    });
                    layers.extend(self.runs.layers.get(c.selected).copied());
                }
                Ok((out, layers))
            }
        }
    }
}

/// The baseline log-likelihood of `continuation` after `prefix` (sum over its tokens, nats).
pub fn log_likelihood(lm: &Lm, prefix: &str, continuation: &str) -> Result<f64> {
    Ok(Scorer::new(lm, ScoreMethod::Baseline)?
        .score(prefix, continuation)?
        .total)
}

// ---------------------------------------------------------------------------------------------
// Multiple-choice metrics
// ---------------------------------------------------------------------------------------------

/// TruthfulQA's MC scores of one question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McScores {
    /// 1 if the best correct answer scores strictly above every incorrect one, else 0.
    pub mc1: f64,
    /// Probability mass of the correct answers: `Σ_true e^s / (Σ_true e^s + Σ_false e^s)`
    /// (log-sum-exp, so very negative scores do not underflow).
    pub mc2: f64,
    /// Fraction of correct answers scoring strictly above every incorrect one.
    pub mc3: f64,
}

/// MC1 / MC2 / MC3 from the scores of the correct and incorrect answers (TruthfulQA's
/// `MC_calcs`, strict `>`); `best` indexes the best answer in `scores_true`.
///
/// ```
/// use entroscope::score::mc_scores;
/// // true: ln 0.5, ln 0.1; false: ln 0.2, ln 0.2; best = 0
/// let s = mc_scores(&[0.5f64.ln(), 0.1f64.ln()], &[0.2f64.ln(), 0.2f64.ln()], 0)?;
/// assert_eq!((s.mc1, s.mc3), (1.0, 0.5));
/// assert!((s.mc2 - 0.6).abs() < 1e-12); // 0.6 / (0.6 + 0.4)
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn mc_scores(scores_true: &[f64], scores_false: &[f64], best: usize) -> Result<McScores> {
    if scores_true.is_empty() || scores_false.is_empty() {
        return Err(Error::invalid(
            "scores",
            format!("{} true, {} false", scores_true.len(), scores_false.len()),
            "at least one correct and one incorrect answer",
        ));
    }
    let Some(&best_score) = scores_true.get(best) else {
        return Err(Error::invalid(
            "best",
            best,
            format!("an index into the {} correct answers", scores_true.len()),
        ));
    };
    if scores_true.iter().chain(scores_false).any(|x| x.is_nan()) {
        return Err(Error::NonFinite {
            what: "answer scores".into(),
        });
    }
    let max_false = scores_false
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let mc1 = if best_score > max_false { 1.0 } else { 0.0 };
    let above = scores_true.iter().filter(|&&s| s > max_false).count();
    let mc3 = above as f64 / scores_true.len() as f64;
    let lse = |v: &[f64]| {
        let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            m
        } else {
            m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
        }
    };
    let (lt, lf) = (lse(scores_true), lse(scores_false));
    // p_true = 1 / (1 + e^(lf − lt))
    let mc2 = if lt == f64::NEG_INFINITY && lf == f64::NEG_INFINITY {
        0.0
    } else {
        1.0 / (1.0 + (lf - lt).exp())
    };
    Ok(McScores { mc1, mc2, mc3 })
}

// ---------------------------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------------------------

/// The multiple-choice benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bench {
    /// TruthfulQA MC1/MC2/MC3 (817 questions).
    TruthfulQaMc,
    /// FACTOR news (1036 items).
    FactorNews,
    /// FACTOR expert (236 items).
    FactorExpert,
}

impl fmt::Display for Bench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bench::TruthfulQaMc => "truthfulqa-mc",
            Bench::FactorNews => "factor-news",
            Bench::FactorExpert => "factor-expert",
        })
    }
}

impl FromStr for Bench {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "truthfulqa-mc" | "truthfulqa" | "tfqa" => Ok(Bench::TruthfulQaMc),
            "factor-news" | "news" => Ok(Bench::FactorNews),
            "factor-expert" | "expert" => Ok(Bench::FactorExpert),
            _ => Err(Error::invalid(
                "bench",
                s,
                "`truthfulqa-mc`, `factor-news` or `factor-expert`",
            )),
        }
    }
}

/// Options of the benchmark runners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BenchOptions {
    /// Score only the first `n` items (`--quick`).
    pub limit: Option<usize>,
    /// Show a progress bar (stderr).
    pub progress: bool,
}

/// One scored TruthfulQA question.
#[derive(Debug, Clone, PartialEq)]
pub struct McItem {
    /// Row index in the CSV.
    pub index: usize,
    /// The question.
    pub question: String,
    /// Scores of the correct answers (in the file's order).
    pub scores_true: Vec<f64>,
    /// Scores of the incorrect answers.
    pub scores_false: Vec<f64>,
    /// Index of the best answer among the correct ones.
    pub best_index: usize,
    /// MC1 / MC2 / MC3.
    pub mc: McScores,
}

/// TruthfulQA MC results: per question and the means.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthfulQaReport {
    /// Model name.
    pub model: String,
    /// Method name.
    pub method: String,
    /// Per question.
    pub items: Vec<McItem>,
    /// Means over the questions.
    pub mean: McScores,
}

/// Score TruthfulQA questions: each answer `a` as the continuation `" " + a` of
/// [`truthfulqa_prompt`](crate::data::truthfulqa_prompt)`(question)`.
pub fn score_truthfulqa(
    lm: &Lm,
    items: &[TruthfulQaItem],
    method: &ScoreMethod,
    opts: &BenchOptions,
) -> Result<TruthfulQaReport> {
    let scorer = Scorer::new(lm, method.clone())?;
    let items = data::take_first(items, opts.limit);
    if items.is_empty() {
        return Err(Error::NotEnoughData(
            "no TruthfulQA question to score".into(),
        ));
    }
    let bar = crate::progress::progress_bar(
        opts.progress,
        items.len(),
        format!("truthfulqa-mc ({})", method.name()),
    );
    let mut out = Vec::with_capacity(items.len());
    let mut sums = [0f64; 3];
    for it in &items {
        let prefix = data::truthfulqa_prompt(&it.question);
        let conts: Vec<String> = it
            .correct_answers
            .iter()
            .chain(&it.incorrect_answers)
            .map(|a| format!(" {a}"))
            .collect();
        let s = scorer.score_many(&prefix, &conts)?;
        let nt = it.correct_answers.len();
        let scores: Vec<f64> = s.iter().map(|c| c.total).collect();
        let (st, sf) = scores.split_at(nt);
        let mc = mc_scores(st, sf, it.best_index)?;
        sums[0] += mc.mc1;
        sums[1] += mc.mc2;
        sums[2] += mc.mc3;
        out.push(McItem {
            index: it.index,
            question: it.question.clone(),
            scores_true: st.to_vec(),
            scores_false: sf.to_vec(),
            best_index: it.best_index,
            mc,
        });
        let k = out.len() as f64;
        bar.set_message(format!(
            "MC1 {:.3} MC2 {:.3} MC3 {:.3}",
            sums[0] / k,
            sums[1] / k,
            sums[2] / k
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let k = out.len() as f64;
    Ok(TruthfulQaReport {
        model: lm.name().to_string(),
        method: method.name().to_string(),
        items: out,
        mean: McScores {
            mc1: sums[0] / k,
            mc2: sums[1] / k,
            mc3: sums[2] / k,
        },
    })
}

/// One scored FACTOR item.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorResult {
    /// Row index in the CSV.
    pub index: usize,
    /// Score of the true completion.
    pub score_true: f64,
    /// Scores of the three contradictions.
    pub scores_false: [f64; 3],
    /// The true completion scores at least as high as every contradiction (the reference counts a
    /// tie as correct).
    pub correct: bool,
}

/// FACTOR results.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorReport {
    /// Model name.
    pub model: String,
    /// Method name.
    pub method: String,
    /// Which split.
    pub split: FactorSplit,
    /// Per item.
    pub items: Vec<FactorResult>,
    /// Fraction correct.
    pub accuracy: f64,
}

/// Score FACTOR items: the completion and the three contradictions as continuations `" " + text`
/// of the prefix; correct iff no contradiction scores strictly higher.
pub fn score_factor(
    lm: &Lm,
    items: &[FactorItem],
    split: FactorSplit,
    method: &ScoreMethod,
    opts: &BenchOptions,
) -> Result<FactorReport> {
    let scorer = Scorer::new(lm, method.clone())?;
    let items = data::take_first(items, opts.limit);
    if items.is_empty() {
        return Err(Error::NotEnoughData("no FACTOR item to score".into()));
    }
    let bar = crate::progress::progress_bar(
        opts.progress,
        items.len(),
        format!("factor-{split} ({})", method.name()),
    );
    let mut out = Vec::with_capacity(items.len());
    let mut right = 0usize;
    for it in &items {
        let conts = [
            format!(" {}", it.completion),
            format!(" {}", it.contradictions[0]),
            format!(" {}", it.contradictions[1]),
            format!(" {}", it.contradictions[2]),
        ];
        let s = scorer.score_many(&it.prefix, &conts)?;
        let t = s[0].total;
        let f = [s[1].total, s[2].total, s[3].total];
        let correct = f
            .iter()
            .all(|x| x.partial_cmp(&t) != Some(std::cmp::Ordering::Greater));
        right += usize::from(correct);
        out.push(FactorResult {
            index: it.index,
            score_true: t,
            scores_false: f,
            correct,
        });
        bar.set_message(format!("acc {:.3}", right as f64 / out.len() as f64));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let accuracy = right as f64 / out.len() as f64;
    Ok(FactorReport {
        model: lm.name().to_string(),
        method: method.name().to_string(),
        split,
        items: out,
        accuracy,
    })
}

/// A benchmark's report.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchReport {
    /// TruthfulQA MC.
    TruthfulQa(TruthfulQaReport),
    /// FACTOR.
    Factor(FactorReport),
}

impl BenchReport {
    /// One line: model, bench, method, number of items and the metrics.
    pub fn summary(&self) -> String {
        match self {
            BenchReport::TruthfulQa(r) => format!(
                "{} truthfulqa-mc {} (n={}): MC1 {:.4} MC2 {:.4} MC3 {:.4}",
                r.model,
                r.method,
                r.items.len(),
                r.mean.mc1,
                r.mean.mc2,
                r.mean.mc3
            ),
            BenchReport::Factor(r) => format!(
                "{} factor-{} {} (n={}): accuracy {:.4}",
                r.model,
                r.split,
                r.method,
                r.items.len(),
                r.accuracy
            ),
        }
    }

    /// One row: `model, bench, method, n, mc1, mc2, mc3, accuracy, seconds` (MC columns are NaN
    /// for FACTOR, accuracy is NaN for TruthfulQA; `seconds` = the run's wall time, as given).
    pub fn summary_frame(&self, seconds: f64) -> Result<DataFrame> {
        let (model, bench, method, n, mc, acc) = match self {
            BenchReport::TruthfulQa(r) => (
                &r.model,
                Bench::TruthfulQaMc.to_string(),
                &r.method,
                r.items.len(),
                Some(r.mean),
                None,
            ),
            BenchReport::Factor(r) => (
                &r.model,
                format!("factor-{}", r.split),
                &r.method,
                r.items.len(),
                None,
                Some(r.accuracy),
            ),
        };
        let opt = |x: Option<f64>| ColumnData::F64(vec![x.unwrap_or(f64::NAN)]);
        frame::frame_from_columns(vec![
            (frame::MODEL, ColumnData::Str(vec![model.clone()])),
            ("bench", ColumnData::Str(vec![bench])),
            ("method", ColumnData::Str(vec![method.clone()])),
            ("n", ColumnData::I64(vec![n as i64])),
            ("mc1", opt(mc.map(|m| m.mc1))),
            ("mc2", opt(mc.map(|m| m.mc2))),
            ("mc3", opt(mc.map(|m| m.mc3))),
            ("accuracy", opt(acc)),
            ("seconds", ColumnData::F64(vec![seconds])),
        ])
    }
}

/// Load the benchmark's data from [`data::data_dir`] and score it.
pub fn run_bench(
    lm: &Lm,
    bench: Bench,
    method: &ScoreMethod,
    opts: &BenchOptions,
) -> Result<BenchReport> {
    match bench {
        Bench::TruthfulQaMc => Ok(BenchReport::TruthfulQa(score_truthfulqa(
            lm,
            &data::truthfulqa()?,
            method,
            opts,
        )?)),
        Bench::FactorNews | Bench::FactorExpert => {
            let split = if bench == Bench::FactorNews {
                FactorSplit::News
            } else {
                FactorSplit::Expert
            };
            Ok(BenchReport::Factor(score_factor(
                lm,
                &data::factor(split)?,
                split,
                method,
                opts,
            )?))
        }
    }
}

/// Per question: `model, method, index, question, mc1, mc2, mc3, n_true, n_false, best_score,
/// max_false`.
impl ToFrame for TruthfulQaReport {
    fn to_frame(&self) -> Result<DataFrame> {
        let n = self.items.len();
        let f = |g: &dyn Fn(&McItem) -> f64| ColumnData::F64(self.items.iter().map(g).collect());
        let i = |g: &dyn Fn(&McItem) -> i64| ColumnData::I64(self.items.iter().map(g).collect());
        frame::frame_from_columns(vec![
            (frame::MODEL, ColumnData::Str(vec![self.model.clone(); n])),
            ("method", ColumnData::Str(vec![self.method.clone(); n])),
            ("index", i(&|m| m.index as i64)),
            (
                "question",
                ColumnData::Str(self.items.iter().map(|m| m.question.clone()).collect()),
            ),
            ("mc1", f(&|m| m.mc.mc1)),
            ("mc2", f(&|m| m.mc.mc2)),
            ("mc3", f(&|m| m.mc.mc3)),
            ("n_true", i(&|m| m.scores_true.len() as i64)),
            ("n_false", i(&|m| m.scores_false.len() as i64)),
            (
                "best_score",
                f(&|m| m.scores_true.get(m.best_index).copied().unwrap_or(f64::NAN)),
            ),
            (
                "max_false",
                f(&|m| {
                    m.scores_false
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max)
                }),
            ),
        ])
    }
}

/// Per item: `model, method, split, index, score_true, score_false_0..2, correct`.
impl ToFrame for FactorReport {
    fn to_frame(&self) -> Result<DataFrame> {
        let n = self.items.len();
        let f =
            |g: &dyn Fn(&FactorResult) -> f64| ColumnData::F64(self.items.iter().map(g).collect());
        frame::frame_from_columns(vec![
            (frame::MODEL, ColumnData::Str(vec![self.model.clone(); n])),
            ("method", ColumnData::Str(vec![self.method.clone(); n])),
            ("split", ColumnData::Str(vec![self.split.to_string(); n])),
            (
                "index",
                ColumnData::I64(self.items.iter().map(|r| r.index as i64).collect()),
            ),
            ("score_true", f(&|r| r.score_true)),
            ("score_false_0", f(&|r| r.scores_false[0])),
            ("score_false_1", f(&|r| r.scores_false[1])),
            ("score_false_2", f(&|r| r.scores_false[2])),
            (
                "correct",
                ColumnData::Bool(self.items.iter().map(|r| r.correct).collect()),
            ),
        ])
    }
}

impl ToFrame for BenchReport {
    fn to_frame(&self) -> Result<DataFrame> {
        match self {
            BenchReport::TruthfulQa(r) => r.to_frame(),
            BenchReport::Factor(r) => r.to_frame(),
        }
    }
}
