//! Logits processors and seeded sampling, with Hugging Face `transformers` semantics.
//!
//! Every decoder ends the same way: it turns its per-token scores (the model's logits, or a
//! contrast such as DoLa's) into one token. That last mile is shared: an optional
//! [repetition penalty](repetition_penalty), then a [`LogitsProcessor`] that either takes the argmax
//! or samples after temperature → top-k → top-p (HF's warper order), from a seeded [`StdRng`] so
//! that the same seed gives the same tokens. The filters write `-inf` into removed entries, as HF's
//! warpers do, so a processed row stays a row of logits.
//!
//! ```
//! use entroscope::decode::{LogitsProcessor, Sampling};
//! let mut p = LogitsProcessor::from_sampling(42, Sampling::TopP { p: 0.9, temperature: 0.7 })?;
//! let (token, prob) = p.sample(&[0.0, 3.0, 1.0])?;
//! assert!(token < 3 && prob > 0.0);
//! # Ok::<(), entroscope::Error>(())
//! ```

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{Error, Result};

/// How a [`LogitsProcessor`] turns scores into a token. Temperatures divide the logits
/// (HF's `TemperatureLogitsWarper`); `k` and `p` are HF's top-k / nucleus filters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Sampling {
    /// Greedy: the highest score (lowest id on ties, like `torch.argmax`).
    #[default]
    ArgMax,
    /// Sample from the whole distribution at this temperature.
    All {
        /// Softmax temperature (1 = the model's distribution).
        temperature: f64,
    },
    /// Keep tokens whose score is at least the k-th largest, then sample.
    TopK {
        /// How many tokens to keep.
        k: usize,
        /// Softmax temperature (1 = the model's distribution).
        temperature: f64,
    },
    /// Nucleus: keep the smallest set of most likely tokens with mass ≥ p, then sample.
    TopP {
        /// The probability mass to keep, in (0, 1].
        p: f64,
        /// Softmax temperature (1 = the model's distribution).
        temperature: f64,
    },
    /// Top-k, then top-p on what is left (HF's order).
    TopKThenTopP {
        /// How many tokens top-k keeps.
        k: usize,
        /// The mass top-p then keeps, in (0, 1].
        p: f64,
        /// Softmax temperature (1 = the model's distribution).
        temperature: f64,
    },
}

impl Sampling {
    /// Check the parameters: temperature finite and > 0, `k ≥ 1`, `p ∈ (0, 1]`.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Sampling::ArgMax => Ok(()),
            Sampling::All { temperature } => check_temperature(temperature),
            Sampling::TopK { k, temperature } => {
                check_k(k)?;
                check_temperature(temperature)
            }
            Sampling::TopP { p, temperature } => {
                check_p(p)?;
                check_temperature(temperature)
            }
            Sampling::TopKThenTopP { k, p, temperature } => {
                check_k(k)?;
                check_p(p)?;
                check_temperature(temperature)
            }
        }
    }

    /// The temperature this sampling uses (`None` for greedy).
    pub fn temperature(&self) -> Option<f64> {
        match *self {
            Sampling::ArgMax => None,
            Sampling::All { temperature }
            | Sampling::TopK { temperature, .. }
            | Sampling::TopP { temperature, .. }
            | Sampling::TopKThenTopP { temperature, .. } => Some(temperature),
        }
    }

    fn top_k(&self) -> Option<usize> {
        match *self {
            Sampling::TopK { k, .. } | Sampling::TopKThenTopP { k, .. } => Some(k),
            _ => None,
        }
    }

    fn top_p(&self) -> Option<f64> {
        match *self {
            Sampling::TopP { p, .. } | Sampling::TopKThenTopP { p, .. } => Some(p),
            _ => None,
        }
    }
}

pub(crate) fn check_temperature(t: f64) -> Result<()> {
    if t.is_finite() && t > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "temperature",
            t,
            "a finite number > 0 (use Sampling::ArgMax for greedy decoding)",
        ))
    }
}

fn check_k(k: usize) -> Result<()> {
    if k == 0 {
        return Err(Error::invalid(
            "top_k",
            k,
            "at least 1 (leave top-k out to disable it)",
        ));
    }
    Ok(())
}

fn check_p(p: f64) -> Result<()> {
    if p > 0.0 && p <= 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "top_p",
            p,
            "a probability in (0, 1] (1 disables the filter)",
        ))
    }
}

/// Seeded token chooser in the style of candle's `LogitsProcessor`: greedy, or temperature →
/// top-k → top-p → multinomial draw from a [`StdRng`] seeded with `seed`.
///
/// Reproducible: two processors built with the same seed and sampling draw the same tokens from
/// the same rows. [`LogitsProcessor::reseed`] restarts the stream (the generate loop reseeds at
/// the start of every sequence, so `generate` is a pure function of its inputs).
#[derive(Debug, Clone)]
pub struct LogitsProcessor {
    sampling: Sampling,
    seed: u64,
    rng: StdRng,
}

impl LogitsProcessor {
    /// A processor for `sampling`, its random stream seeded with `seed`. Errors on invalid
    /// sampling parameters (see [`Sampling::validate`]).
    pub fn from_sampling(seed: u64, sampling: Sampling) -> Result<Self> {
        sampling.validate()?;
        Ok(Self {
            sampling,
            seed,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    /// candle's constructor: no temperature → greedy; a temperature and optionally top-p.
    pub fn new(seed: u64, temperature: Option<f64>, top_p: Option<f64>) -> Result<Self> {
        let sampling = match (temperature, top_p) {
            (None, _) => Sampling::ArgMax,
            (Some(temperature), None) => Sampling::All { temperature },
            (Some(temperature), Some(p)) => Sampling::TopP { p, temperature },
        };
        Self::from_sampling(seed, sampling)
    }

    /// Greedy processor (never draws a random number).
    pub fn greedy() -> Self {
        Self {
            sampling: Sampling::ArgMax,
            seed: 0,
            rng: StdRng::seed_from_u64(0),
        }
    }

    /// The sampling rule.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// The seed the stream started from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Restart the random stream from `seed`.
    pub fn reseed(&mut self, seed: u64) {
        self.seed = seed;
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// Choose a token from a row of scores (`[vocab]`, logits or any log-scale scores; `-inf` =
    /// excluded). Returns the token and its probability under the distribution it was drawn from
    /// (after temperature and filters; for greedy, the softmax of the scores).
    pub fn sample(&mut self, scores: &[f32]) -> Result<(u32, f32)> {
        let t = self.sampling.temperature();
        self.sample_at(scores, t)
    }

    /// Like [`LogitsProcessor::sample`], but at `temperature` instead of the configured one
    /// (EDT's per-step temperature). `Some(0.0)` or `None` means greedy; top-k / top-p of the
    /// configured sampling still apply when sampling.
    pub fn sample_with_temperature(
        &mut self,
        scores: &[f32],
        temperature: Option<f64>,
    ) -> Result<(u32, f32)> {
        if let Some(t) = temperature {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::invalid("temperature", t, "a finite number ≥ 0"));
            }
        }
        let t = match (self.sampling, temperature) {
            (_, Some(t)) if t > 0.0 => Some(t),
            _ => None,
        };
        self.sample_at(scores, t)
    }

    fn sample_at(&mut self, scores: &[f32], temperature: Option<f64>) -> Result<(u32, f32)> {
        check_row(scores)?;
        let Some(t) = temperature else {
            let tok = argmax(scores)?;
            let p = softmax(scores)[tok as usize];
            return Ok((tok, p));
        };
        let mut z = scores.to_vec();
        apply_temperature(&mut z, t)?;
        if let Some(k) = self.sampling.top_k() {
            top_k_filter(&mut z, k)?;
        }
        if let Some(p) = self.sampling.top_p() {
            top_p_filter(&mut z, p)?;
        }
        let probs = softmax(&z);
        let tok = draw(&probs, &mut self.rng)?;
        Ok((tok, probs[tok as usize]))
    }
}

fn check_row(scores: &[f32]) -> Result<()> {
    if scores.is_empty() {
        return Err(Error::invalid(
            "scores",
            "[]",
            "a row of at least one score",
        ));
    }
    if scores.iter().any(|x| x.is_nan() || *x == f32::INFINITY) {
        return Err(Error::NonFinite {
            what: "decoder scores".into(),
        });
    }
    if scores.iter().all(|x| *x == f32::NEG_INFINITY) {
        return Err(Error::NonFinite {
            what: "decoder scores (every token masked)".into(),
        });
    }
    Ok(())
}

/// Inverse-CDF draw from probabilities that sum to ~1 (f64 accumulation).
fn draw(probs: &[f32], rng: &mut StdRng) -> Result<u32> {
    let total: f64 = probs.iter().map(|&p| f64::from(p)).sum();
    if !(total.is_finite() && total > 0.0) {
        return Err(Error::NonFinite {
            what: "sampling distribution".into(),
        });
    }
    let u = rng.random::<f64>() * total;
    let mut acc = 0.0f64;
    let mut last = 0u32;
    for (i, &p) in probs.iter().enumerate() {
        if p > 0.0 {
            acc += f64::from(p);
            last = i as u32;
            if u < acc {
                return Ok(i as u32);
            }
        }
    }
    Ok(last) // rounding: u landed past the last positive mass
}

/// Index of the largest score (first one on ties, as `torch.argmax`). Errors on an empty row or
/// NaN.
pub fn argmax(scores: &[f32]) -> Result<u32> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &x) in scores.iter().enumerate() {
        if x.is_nan() {
            return Err(Error::NonFinite {
                what: "scores (NaN)".into(),
            });
        }
        if best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i as u32)
        .ok_or_else(|| Error::invalid("scores", "[]", "a row of at least one score"))
}

/// Softmax of a row with log-sum-exp (`-inf` → 0). An all-`-inf` row gives all zeros.
pub fn softmax(scores: &[f32]) -> Vec<f32> {
    let m = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY {
        return vec![0.0; scores.len()];
    }
    let e: Vec<f32> = scores.iter().map(|&x| (x - m).exp()).collect();
    let s: f64 = e.iter().map(|&x| f64::from(x)).sum();
    let inv = (1.0 / s) as f32;
    e.into_iter().map(|x| x * inv).collect()
}

/// Log-softmax of a row with log-sum-exp (`-inf` stays `-inf`).
pub fn log_softmax(scores: &[f32]) -> Vec<f32> {
    let m = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY {
        return scores.to_vec();
    }
    let s: f64 = scores.iter().map(|&x| f64::from((x - m).exp())).sum();
    let lse = m + s.ln() as f32;
    scores.iter().map(|&x| x - lse).collect()
}

/// HF's `RepetitionPenaltyLogitsProcessor`: for every distinct id in `context` (prompt and
/// generated tokens), a positive score is divided by `penalty` and a negative one multiplied by
/// it. `penalty = 1` is the identity; it must be finite and > 0.
///
/// ```
/// use entroscope::decode::repetition_penalty;
/// let mut z = [2.0f32, -1.0, 0.5];
/// repetition_penalty(&mut z, &[0, 1, 1], 2.0)?;
/// assert_eq!(z, [1.0, -2.0, 0.5]);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn repetition_penalty(scores: &mut [f32], context: &[u32], penalty: f32) -> Result<()> {
    check_penalty(penalty)?;
    if penalty == 1.0 {
        return Ok(());
    }
    let mut seen = vec![false; scores.len()];
    for &id in context {
        let i = id as usize;
        let Some(s) = scores.get_mut(i) else {
            return Err(Error::TokenOutOfVocab {
                id,
                vocab: seen.len(),
            });
        };
        if !seen[i] {
            seen[i] = true;
            *s = if *s < 0.0 { *s * penalty } else { *s / penalty };
        }
    }
    Ok(())
}

pub(crate) fn check_penalty(penalty: f32) -> Result<()> {
    if penalty.is_finite() && penalty > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "repetition_penalty",
            penalty,
            "a finite number > 0 (1 = no penalty; HF and DoLa use 1.2)",
        ))
    }
}

/// Divide every score by `temperature` (finite, > 0), as HF's `TemperatureLogitsWarper`.
pub fn apply_temperature(scores: &mut [f32], temperature: f64) -> Result<()> {
    check_temperature(temperature)?;
    if temperature != 1.0 {
        let t = temperature as f32;
        scores.iter_mut().for_each(|x| *x /= t);
    }
    Ok(())
}

/// HF's `TopKLogitsWarper`: set to `-inf` every score strictly below the k-th largest (ties with
/// it are kept). `k ≥ 1`; `k ≥ vocab` keeps everything.
pub fn top_k_filter(scores: &mut [f32], k: usize) -> Result<()> {
    check_k(k)?;
    if k >= scores.len() {
        return Ok(());
    }
    let mut v = scores.to_vec();
    let (_, kth, _) = v.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let kth = *kth;
    scores
        .iter_mut()
        .filter(|x| **x < kth)
        .for_each(|x| *x = f32::NEG_INFINITY);
    Ok(())
}

/// HF's `TopPLogitsWarper`: sort ascending, accumulate the softmax, remove the tokens whose
/// cumulative mass is ≤ 1 − p (the least likely ones), always keep the most likely token.
/// `p ∈ (0, 1]`; `p = 1` keeps everything.
pub fn top_p_filter(scores: &mut [f32], p: f64) -> Result<()> {
    check_p(p)?;
    if p >= 1.0 {
        return Ok(());
    }
    let probs = softmax(scores);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let limit = 1.0 - p;
    let mut cum = 0.0f64;
    let n = order.len();
    for (rank, &i) in order.iter().enumerate() {
        cum += f64::from(probs[i]);
        if rank + 1 < n && cum <= limit {
            scores[i] = f32::NEG_INFINITY;
        }
    }
    Ok(())
}

/// The last mile every decoder shares: repetition penalty on its scores, then a
/// [`LogitsProcessor`]. Keeps the user's seed so that sequence `i` of a batch is always drawn
/// from the stream `seed + i`.
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    pub(crate) penalty: f32,
    pub(crate) processor: LogitsProcessor,
    pub(crate) seed: u64,
}

impl Tail {
    pub(crate) fn greedy(penalty: f32) -> Self {
        Self {
            penalty,
            processor: LogitsProcessor::greedy(),
            seed: 0,
        }
    }

    pub(crate) fn set_sampling(&mut self, seed: u64, sampling: Sampling) -> Result<()> {
        self.processor = LogitsProcessor::from_sampling(seed, sampling)?;
        self.seed = seed;
        Ok(())
    }

    pub(crate) fn set_penalty(&mut self, penalty: f32) -> Result<()> {
        check_penalty(penalty)?;
        self.penalty = penalty;
        Ok(())
    }

    /// Reseed for sequence `i` of a batch.
    pub(crate) fn begin(&mut self, sequence: usize) {
        self.processor
            .reseed(self.seed.wrapping_add(sequence as u64));
    }

    /// Penalise `scores` in place (repetition penalty over `context`, `-inf` for the `suppress`ed
    /// ids), then choose. `temperature`: `None` = the configured sampling; `Some(t)` = EDT's
    /// override (`Some(0.0)` = greedy). Returns the token, its probability under the processed
    /// distribution and the temperature actually used.
    pub(crate) fn choose(
        &mut self,
        scores: &mut [f32],
        context: &[u32],
        suppress: &[u32],
        temperature: Option<f64>,
    ) -> Result<(u32, f32, Option<f32>)> {
        repetition_penalty(scores, context, self.penalty)?;
        for &id in suppress {
            if let Some(s) = scores.get_mut(id as usize) {
                *s = f32::NEG_INFINITY;
            }
        }
        match temperature {
            None => {
                let (tok, p) = self.processor.sample(scores)?;
                let t = self.processor.sampling().temperature().map(|t| t as f32);
                Ok((tok, p, t))
            }
            Some(t) => {
                let (tok, p) = self.processor.sample_with_temperature(scores, Some(t))?;
                Ok((tok, p, Some(t as f32)))
            }
        }
    }
}
