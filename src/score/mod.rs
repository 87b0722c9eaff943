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
//! let opts = BenchOptions { limit: Some(20), ..Default::default() };
//! let report = run_bench(&lm, Bench::TruthfulQaMc, &ScoreMethod::end(), &opts)?;
//! println!("{}", report.summary());
//! let df = report.to_frame()?; // one row per question
//! # Ok(()) }
//! ```

use candle_core::Tensor;

use crate::decode::{cross_layer_entropy, log_softmax, DolaParams, EndParams, Layers, RowCapture};
use crate::entropy::target_stats;
use crate::lens::LensKind;
use crate::model::{KvCache, Lm};
use crate::{Error, Result};
use std::cell::RefCell;

mod bench;
pub use bench::*;

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

    /// DoLa's FACTOR settings (`factor_eval.py` with the repository's FACTOR command line):
    /// the **low** layer bucket, relative top 0.1 (value −1000), post-softmax.
    pub fn factor() -> Self {
        Self {
            params: DolaParams {
                layers: Layers::Low,
                ..DolaParams::default()
            },
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

/// END's reference multiple-choice settings for a benchmark.
fn end_for(bench: Bench) -> EndParams {
    match bench {
        Bench::TruthfulQaMc => EndParams::scoring(),
        Bench::FactorNews | Bench::FactorExpert => EndParams::factor(),
    }
}

impl ScoreMethod {
    /// END with the reference TruthfulQA MC settings (λ = 0.25, α = 0, high layers + final).
    pub fn end() -> Self {
        ScoreMethod::End(EndParams::scoring())
    }

    /// DoLa with `tfqa_mc_eval.py`'s settings.
    pub fn dola() -> Self {
        ScoreMethod::Dola(DolaScoring::truthfulqa())
    }

    /// `greedy` (baseline), `end` or `dola` with the reference settings for `bench`, or
    /// `end-normed` (END's settings with early exits through the final norm, an ablation).
    pub fn for_bench(name: &str, bench: Bench) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "greedy" | "baseline" => Ok(ScoreMethod::Baseline),
            "end" => Ok(ScoreMethod::End(end_for(bench))),
            // the labelled ablation: early exits through the final norm
            "end-normed" => Ok(ScoreMethod::End(EndParams {
                lens: LensKind::Normed,
                ..end_for(bench)
            })),
            "dola" => Ok(ScoreMethod::Dola(match bench {
                Bench::TruthfulQaMc => DolaScoring::truthfulqa(),
                Bench::FactorNews | Bench::FactorExpert => DolaScoring::factor(),
            })),
            other => Err(Error::invalid(
                "method",
                other,
                "`greedy`, `end`, `end-normed` or `dola`",
            )),
        }
    }

    /// Short name: `greedy`, `end`, `end-normed`, `dola`.
    pub fn name(&self) -> &'static str {
        match self {
            ScoreMethod::Baseline => "greedy",
            ScoreMethod::End(p) if p.lens == LensKind::Normed => "end-normed",
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
    /// Each method with its resolved layers and their slots in `runs.layers`.
    methods: Vec<Scoring>,
    /// How the early exits become logits (raw, or normed for END's `end-normed` ablation).
    lens: LensKind,
    runs: TeacherForcing<'a>,
}

/// One method of a [`Scorer`]: its resolved early-exit layers, and where each sits among the
/// layers the runs capture for all the scorer's methods.
#[derive(Debug)]
struct Scoring {
    method: ScoreMethod,
    layers: Vec<usize>,
    slots: Vec<usize>,
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
pub(crate) const UNEMBED_BATCH_FLOATS: usize = 64 << 20;

/// Most continuations of one prefix run through the model in one batch.
const CONTINUATION_BATCH: usize = 16;

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

    /// Runs continuations after the prefix: their targets and the rows that predict them. Those
    /// that add two or more tokens to the prefix's own run through the model together, padded
    /// with its last input to the longest (padding after a sequence's inputs cannot change its
    /// rows: attention is causal), so the weights are read once per batch instead of once per
    /// continuation — what short continuations are bound by.
    pub(crate) fn continuations<S: AsRef<str>>(
        &self,
        p: &Prefix,
        prefix: &str,
        continuations: &[S],
    ) -> Result<Vec<Continuation>> {
        let lm = self.lm;
        let np = p.ids.len();
        let mut out: Vec<Option<Continuation>> = continuations.iter().map(|_| None).collect();
        let mut batch = Vec::new(); // (index, joint ids)
        for (i, c) in continuations.iter().enumerate() {
            let full = lm.encode(&format!("{prefix}{}", c.as_ref()))?;
            if full.len() <= np {
                return Err(Error::invalid(
                    "continuation",
                    format!("{:?}", c.as_ref()),
                    "text that adds at least one token after the prefix",
                ));
            }
            if full.len() > np + 1 && full[..np] == p.ids[..] {
                batch.push((i, full));
            } else {
                out[i] = Some(self.unbatched(p, full)?);
            }
        }
        for group in batch.chunks(CONTINUATION_BATCH) {
            let len = |full: &[u32]| full.len() - 1 - np; // inputs after the prefix
            let t = group.iter().map(|(_, f)| len(f)).max().unwrap_or(0);
            let inputs: Vec<Vec<u32>> = group
                .iter()
                .map(|(_, f)| {
                    let mut x = f[np..f.len() - 1].to_vec();
                    x.resize(t, f[f.len() - 2]);
                    x
                })
                .collect();
            let inputs: Vec<&[u32]> = inputs.iter().map(Vec::as_slice).collect();
            let mut cache = p.cache.repeat(group.len())?;
            let mut cap = RowCapture::new(&self.layers, lm.n_layers())?;
            cap.reset(0);
            let h = lm.forward_batch(&inputs, &mut cache, &mut cap)?; // [b, t, d]
            let rows = cap.take()?; // [b, t, d] each, [t, d] when b = 1
            for (j, (i, full)) in group.iter().enumerate() {
                let m = len(full);
                let row_of = |x: &Tensor, batched: bool| -> Result<Tensor> {
                    let x = if batched { x.get(j)? } else { x.clone() };
                    Ok(x.narrow(0, 0, m)?)
                };
                let h = Tensor::cat(&[&p.last_h, &row_of(&h, true)?], 0)?;
                let rows = p
                    .last_rows
                    .iter()
                    .zip(&rows)
                    .map(|(a, b)| Ok(Tensor::cat(&[a, &row_of(b, group.len() > 1)?], 0)?))
                    .collect::<Result<Vec<_>>>()?;
                out[*i] = Some(Continuation {
                    targets: full[np..].to_vec(),
                    h,
                    rows,
                });
            }
        }
        out.into_iter()
            .map(|c| c.ok_or_else(|| Error::NotEnoughData("a continuation was not run".into())))
            .collect()
    }

    /// A continuation the batch does not take, from its joint ids `full`: one token after the
    /// prefix (its row is the prefix's last), or a joint tokenization that changed the prefix's
    /// tokens (run whole, as the reference does).
    fn unbatched(&self, p: &Prefix, full: Vec<u32>) -> Result<Continuation> {
        let lm = self.lm;
        let np = p.ids.len();
        let targets = full[np..].to_vec();
        let n = targets.len();
        let (h, rows) = if n == 1 && full[..np] == p.ids[..] {
            (p.last_h.clone(), p.last_rows.clone())
        } else {
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
        Self::with_methods(lm, vec![method])
    }

    /// A scorer of several methods from the same runs: each continuation goes through the
    /// model once and its early exits through the unembedding once, for every method
    /// ([`Scorer::score_many_each`]). The methods must agree on raw or normed early exits.
    pub fn with_methods(lm: &'a Lm, methods: Vec<ScoreMethod>) -> Result<Self> {
        if methods.is_empty() {
            return Err(Error::invalid(
                "methods",
                "[]",
                "at least one scoring method",
            ));
        }
        let lens_of = |m: &ScoreMethod| match m {
            ScoreMethod::End(p) => p.lens,
            _ => LensKind::Raw,
        };
        let lens = lens_of(&methods[0]);
        if methods
            .iter()
            .any(|m| m.layers().is_some() && lens_of(m) != lens)
        {
            return Err(Error::invalid(
                "methods",
                "raw and normed early exits",
                "methods that share one kind of early exit (score `end-normed` on its own)",
            ));
        }
        let mut scorings = Vec::with_capacity(methods.len());
        for method in methods {
            method.validate()?;
            let layers = match method.layers() {
                Some(l) => l.resolve(lm)?,
                None => Vec::new(),
            };
            scorings.push(Scoring {
                method,
                layers,
                slots: Vec::new(),
            });
        }
        let mut union: Vec<usize> = scorings.iter().flat_map(|s| s.layers.clone()).collect();
        union.sort_unstable();
        union.dedup();
        for s in &mut scorings {
            s.slots = s
                .layers
                .iter()
                .map(|l| union.partition_point(|u| u < l))
                .collect();
        }
        Ok(Self {
            methods: scorings,
            lens,
            runs: TeacherForcing::new(lm, union),
        })
    }

    /// The (first) method.
    pub fn method(&self) -> &ScoreMethod {
        &self.methods[0].method // ok: `with_methods` refuses an empty list
    }

    /// The (first) method's resolved early-exit layers (empty for the baseline).
    pub fn layers(&self) -> &[usize] {
        &self.methods[0].layers
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
        Ok(self.score_many_each(prefix, continuations)?.swap_remove(0))
    }

    /// [`Scorer::score_many`] under every method of the scorer: one list per method, in the
    /// order of [`Scorer::with_methods`].
    pub fn score_many_each<S: AsRef<str>>(
        &self,
        prefix: &str,
        continuations: &[S],
    ) -> Result<Vec<Vec<ContinuationScore>>> {
        let p = self.runs.prefix(prefix)?;
        let runs = self.runs.continuations(&p, prefix, continuations)?;
        let per_row = self.runs.lm.vocab_size() * (1 + self.runs.layers.len());
        let mut out: Vec<Vec<ContinuationScore>> = self
            .methods
            .iter()
            .map(|_| Vec::with_capacity(runs.len()))
            .collect();
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
            for (o, g) in out.iter_mut().zip(self.score_group(&runs[start..end])?) {
                o.extend(g);
            }
            start = end;
        }
        Ok(out)
    }

    /// Scores a group of continuations under every method, with one unembedding matmul for the
    /// final rows and one for the early-exit rows of every layer.
    fn score_group(&self, runs: &[Continuation]) -> Result<Vec<Vec<ContinuationScore>>> {
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
            let z = self.lens.lens().early_exit(lm.head(), &rows)?;
            z.flatten_all()?.to_vec1::<f32>()?
        };
        let mut out: Vec<Vec<ContinuationScore>> = self
            .methods
            .iter()
            .map(|_| Vec::with_capacity(runs.len()))
            .collect();
        let mut off = 0;
        for r in runs {
            let m = r.targets.len();
            let fin_r = &fin[off * v..(off + m) * v];
            for (sc, o) in self.methods.iter().zip(&mut out) {
                let early_r: Vec<&[f32]> = sc
                    .slots
                    .iter()
                    .map(|&l| &early[(l * n + off) * v..(l * n + off + m) * v])
                    .collect();
                let (log_probs, premature_layers) =
                    position_scores(sc, v, fin_r, &early_r, &r.targets)?;
                o.push(ContinuationScore {
                    ids: r.targets.clone(),
                    total: log_probs.iter().map(|&x| f64::from(x)).sum(),
                    log_probs,
                    premature_layers,
                });
            }
            off += m;
        }
        Ok(out)
    }
}

/// Per-position scores under one method from the final logits `fin` (`[n · vocab]`), the
/// early-exit logits of each of its layers (`[n · vocab]` each, raw or normed as the scorer says)
/// and the targets.
fn position_scores(
    sc: &Scoring,
    v: usize,
    fin: &[f32],
    early: &[&[f32]],
    targets: &[u32],
) -> Result<(Vec<f32>, Vec<usize>)> {
    let n = targets.len();
    let row = |i: usize| &fin[i * v..(i + 1) * v];
    match &sc.method {
        ScoreMethod::Baseline => {
            let s = (0..n)
                .map(|i| Ok(target_stats(row(i), targets[i])?.log_prob))
                .collect::<Result<Vec<f32>>>()?;
            Ok((s, Vec::new()))
        }
        ScoreMethod::End(p) => {
            // the final layer, when in C, is the last row: the model's own logits
            let k = early.len() + usize::from(p.with_final);
            let mut out = Vec::with_capacity(n);
            let mut zl = vec![0f32; k * v];
            let mut s = Vec::with_capacity(v);
            for (i, &t) in targets.iter().enumerate() {
                let lp = log_softmax(row(i));
                for (l, e) in early.iter().enumerate() {
                    zl[l * v..(l + 1) * v].copy_from_slice(&e[i * v..(i + 1) * v]);
                }
                if p.with_final {
                    zl[(k - 1) * v..].copy_from_slice(row(i));
                }
                if p.alpha <= 0.0 {
                    let hv = cross_layer_entropy(&zl, k, v)?;
                    out.push(end_log_score(&lp, None, &hv, p.lambda, t, &mut s));
                } else {
                    let cands = crate::decode::end_candidates(row(i), p.alpha);
                    let mut zc = Vec::with_capacity(k * cands.len());
                    for l in 0..k {
                        zc.extend(cands.iter().map(|&c| zl[l * v + c as usize]));
                    }
                    let hv = cross_layer_entropy(&zc, k, cands.len())?;
                    out.push(end_log_score(&lp, Some(&cands), &hv, p.lambda, t, &mut s));
                }
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
                layers.extend(sc.layers.get(c.selected).copied());
            }
            Ok((out, layers))
        }
    }
}

/// END's log-score of target `t` at one position, `log_softmax(lp − λ·H)[t]`: `lp` are the
/// final log-probabilities and `h[j]` the cross-layer entropy of candidate `cands[j]` (of token
/// `j` when `cands` is `None`, every token a candidate). The scorer and END's λ sweep both score
/// here, so they cannot disagree. `s` is scratch space; NaN for a target outside `lp`.
pub(crate) fn end_log_score(
    lp: &[f32],
    cands: Option<&[u32]>,
    h: &[f32],
    lambda: f32,
    t: u32,
    s: &mut Vec<f32>,
) -> f32 {
    s.clear();
    s.extend_from_slice(lp);
    match cands {
        None => s.iter_mut().zip(h).for_each(|(x, hv)| *x -= lambda * hv),
        Some(c) => {
            for (&c, hv) in c.iter().zip(h) {
                if let Some(x) = s.get_mut(c as usize) {
                    *x -= lambda * hv;
                }
            }
        }
    }
    let Some(&st) = s.get(t as usize) else {
        return f32::NAN;
    };
    // log-sum-exp with an f64 sum, as `log_softmax`, without materialising the vector
    let m = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = s.iter().map(|&x| f64::from((x - m).exp())).sum();
    st - (m + sum.ln() as f32)
}

/// The baseline log-likelihood of `continuation` after `prefix` (sum over its tokens, nats).
pub fn log_likelihood(lm: &Lm, prefix: &str, continuation: &str) -> Result<f64> {
    Ok(Scorer::new(lm, ScoreMethod::Baseline)?
        .score(prefix, continuation)?
        .total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_log_score_by_hand() {
        // λ·H shifts token 0 by −ln 3: s = (0, ln 3) → softmax (1/4, 3/4)
        let lp = [3f32.ln(), 3f32.ln()];
        let mut s = Vec::new();
        let got = end_log_score(&lp, None, &[1.0, 0.0], 3f32.ln(), 1, &mut s);
        assert!((got - 0.75f32.ln()).abs() < 1e-6);
        let got = end_log_score(&lp, Some(&[0]), &[1.0], 3f32.ln(), 1, &mut s);
        assert!((got - 0.75f32.ln()).abs() < 1e-6);
        assert!(end_log_score(&lp, None, &[0.0, 0.0], 1.0, 2, &mut s).is_nan());
    }
}
