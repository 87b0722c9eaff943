//! DoLa: decoding by contrasting layers (Chuang et al., 2023), as Hugging Face `transformers`
//! 4.55 implements it (`_dola_decoding`, `_dola_select_contrast`, `_relative_top_filter`).
//!
//! At every step, among a bucket of candidate premature layers (raw early exit:
//! `lm_head(h_l)`, no final norm), DoLa picks the layer `M` whose distribution is farthest from
//! the final one, then scores `log p_N(v) − log p_M(v)` on the tokens that pass the relative-top
//! filter (`log p_N(v) ≥ max log p_N + ln α`, α = 0.1) and `−inf` elsewhere. HF's `generate`
//! then applies its logits processors to that contrast — DoLa recommends a repetition penalty of
//! 1.2, which is this decoder's default.
//!
//! The "Jensen–Shannon divergence" of the reference code is `½[KL(M‖p) + KL(M‖q)]` with
//! `M = (p+q)/2`, averaged over the vocabulary (`F.kl_div(log p, M).mean(-1)`) — the KLs the other
//! way round from the textbook JS. [`Divergence::Hf`] (the default) computes exactly that, so that
//! the selected layers match HF's; [`Divergence::JensenShannon`] uses the textbook
//! [`js_div`](crate::entropy::js_div) instead.

use rayon::prelude::*;

use super::sampling::{log_softmax, Sampling, Tail};
use super::{check_alpha, rows_f32, Choice, Decoder, Layers, StepInput};
use crate::entropy::{fast_exp, fast_ln, js_div, reduce_row, Request};
use crate::lens::LogitLens;
use crate::model::Lm;
use crate::{Error, Result};

/// How DoLa measures the distance between the final and a premature distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Divergence {
    /// HF / the DoLa repository: `½[KL(M‖p) + KL(M‖q)] / V` (see the module docs).
    #[default]
    Hf,
    /// Textbook Jensen–Shannon `½[KL(p‖M) + KL(q‖M)]`, nats.
    JensenShannon,
}

/// DoLa hyper-parameters (HF defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct DolaParams {
    /// Candidate premature layers (HF's `dola_layers`; default `High`).
    pub layers: Layers,
    /// Relative-top α ∈ [0, 1) (HF: 0.1; 0 disables the filter).
    pub relative_top: f32,
    /// Layer-selection divergence.
    pub divergence: Divergence,
}

impl Default for DolaParams {
    fn default() -> Self {
        Self {
            layers: Layers::High,
            relative_top: 0.1,
            divergence: Divergence::Hf,
        }
    }
}

impl DolaParams {
    /// Check α ∈ [0, 1).
    pub fn validate(&self) -> Result<()> {
        check_alpha("relative_top", self.relative_top)
    }
}

/// HF's DoLa divergence between the final distribution (log-probs `lp`, probs `p`) and a
/// premature one given by its logits `zq` and log-partition `log_zq` (`ln q = zq − log_zq`):
/// `½ Σ M(2 ln M − ln p − ln q) / V`, `M = (p + q)/2`. Branch-free f32 lanes, added into f64
/// per block of 1024 (like the entropy kernels), so the loop vectorises.
fn hf_divergence(lp: &[f32], p: &[f32], zq: &[f32], log_zq: f32) -> f32 {
    const LANES: usize = 16;
    let mut total = 0f64;
    for ((a, pa), b) in lp.chunks(1024).zip(p.chunks(1024)).zip(zq.chunks(1024)) {
        let mut acc = [0f32; LANES];
        let n = a.len() / LANES * LANES;
        for i in (0..n).step_by(LANES) {
            for j in 0..LANES {
                let lq = b[i + j] - log_zq;
                let m = 0.5 * (pa[i + j] + fast_exp(lq));
                // fast_ln(0) is finite, so m = 0 contributes 0 without a branch
                acc[j] += m * (2.0 * fast_ln(m) - a[i + j] - lq);
            }
        }
        let mut tail = 0f32;
        for i in n..a.len() {
            let lq = b[i] - log_zq;
            let m = 0.5 * (pa[i] + fast_exp(lq));
            tail += m * (2.0 * fast_ln(m) - a[i] - lq);
        }
        total += f64::from(acc.iter().sum::<f32>() + tail);
    }
    (0.5 * total / lp.len().max(1) as f64) as f32
}

/// `ln Σ e^z` of a row (the entropy module's vectorised reduction).
fn log_partition(z: &[f32]) -> Result<f32> {
    Ok(reduce_row(z, &Request::new(), None)?.log_z() as f32)
}

/// DoLa's divergence between two rows of logits (final, premature), as HF computes it (see the
/// module docs): `½[KL(M‖p) + KL(M‖q)]` averaged over the vocabulary.
///
/// ```
/// use entroscope::decode::dola_divergence;
/// // identical rows: 0
/// assert!(dola_divergence(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0])?.abs() < 1e-7);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn dola_divergence(final_logits: &[f32], premature_logits: &[f32]) -> Result<f32> {
    check_rows(final_logits, premature_logits)?;
    let lp = log_softmax(final_logits);
    let p: Vec<f32> = lp.iter().map(|&x| x.exp()).collect();
    Ok(hf_divergence(
        &lp,
        &p,
        premature_logits,
        log_partition(premature_logits)?,
    ))
}

fn check_rows(a: &[f32], b: &[f32]) -> Result<()> {
    if a.is_empty() || a.len() != b.len() {
        return Err(Error::invalid(
            "premature_logits",
            format!("{} logits", b.len()),
            format!("as many as the final logits ({}), at least one", a.len()),
        ));
    }
    if a.iter().chain(b).any(|x| !x.is_finite()) {
        return Err(Error::NonFinite {
            what: "DoLa logits".into(),
        });
    }
    Ok(())
}

/// HF's `_relative_top_filter` mask on a row of final logits: `true` where the token is removed
/// (`log p < max log p + ln α`). α = 0 removes nothing.
pub fn relative_top_mask(final_logits: &[f32], alpha: f32) -> Result<Vec<bool>> {
    check_alpha("relative_top", alpha)?;
    let lp = log_softmax(final_logits);
    Ok(mask_from_log_probs(&lp, alpha))
}

pub(crate) fn mask_from_log_probs(lp: &[f32], alpha: f32) -> Vec<bool> {
    if alpha <= 0.0 {
        return vec![false; lp.len()];
    }
    let m = lp.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let thr = m + alpha.ln();
    lp.iter().map(|&x| x < thr).collect()
}

/// The outcome of DoLa's layer selection at one position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Contrast {
    /// Index into the candidate layer list of the selected premature layer.
    pub(crate) selected: usize,
    /// Divergence of each candidate layer (empty when there is only one candidate).
    pub(crate) divergences: Vec<f32>,
    /// Final log-probs `[V]`.
    pub(crate) final_lp: Vec<f32>,
    /// Premature log-probs of the selected layer `[V]`.
    pub(crate) premature_lp: Vec<f32>,
}

/// Select the premature layer for one position: `z` the final logits `[V]`, `prem` the candidate
/// layers' raw logits `[k, V]` row-major.
pub(crate) fn select(z: &[f32], prem: &[f32], divergence: Divergence) -> Result<Contrast> {
    let v = z.len();
    if v == 0 || prem.is_empty() || prem.len() % v != 0 {
        return Err(Error::invalid(
            "premature_logits",
            format!("{} values", prem.len()),
            format!("k × {v} values (k ≥ 1 candidate layers)"),
        ));
    }
    if z.iter().chain(prem).any(|x| !x.is_finite()) {
        return Err(Error::NonFinite {
            what: "DoLa logits (final or premature)".into(),
        });
    }
    let k = prem.len() / v;
    let final_lp = log_softmax(z);
    let (selected, divergences) = if k == 1 {
        (0, Vec::new())
    } else {
        let divs: Vec<f32> = match divergence {
            Divergence::Hf => {
                let p: Vec<f32> = final_lp.iter().map(|&x| fast_exp(x)).collect();
                prem.par_chunks_exact(v)
                    .map(|row| Ok(hf_divergence(&final_lp, &p, row, log_partition(row)?)))
                    .collect::<Result<Vec<f32>>>()?
            }
            Divergence::JensenShannon => prem
                .par_chunks_exact(v)
                .map(|row| js_div(z, row))
                .collect::<Result<Vec<f32>>>()?,
        };
        // first maximum, as torch.argmax
        let mut best = 0;
        for (i, &d) in divs.iter().enumerate() {
            if d > divs[best] {
                best = i;
            }
        }
        (best, divs)
    };
    let premature_lp = log_softmax(&prem[selected * v..(selected + 1) * v]);
    Ok(Contrast {
        selected,
        divergences,
        final_lp,
        premature_lp,
    })
}

impl Contrast {
    /// `log p_N − log p_M` where the relative-top filter keeps the token, `−inf` elsewhere
    /// (HF's `_dola_select_contrast` output).
    pub(crate) fn scores(&self, alpha: f32) -> Vec<f32> {
        let mask = mask_from_log_probs(&self.final_lp, alpha);
        self.final_lp
            .iter()
            .zip(&self.premature_lp)
            .zip(&mask)
            .map(|((&a, &b), &out)| if out { f32::NEG_INFINITY } else { a - b })
            .collect()
    }
}

/// The DoLa decoder: HF semantics, greedy by default, repetition penalty 1.2.
///
/// ```
/// use entroscope::decode::{Dola, DolaParams, Layers};
/// let dola = Dola::with_params(DolaParams { layers: Layers::Low, ..DolaParams::default() })?
///     .repetition_penalty(1.0)?; // no penalty
/// # let _ = dola;
/// # Ok::<(), entroscope::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dola {
    params: DolaParams,
    layers: Vec<usize>,
    tail: Tail,
    /// The divergences of the last step (for tests and inspection).
    last_divergences: Vec<f32>,
    last_scores: Vec<f32>,
    keep_scores: bool,
}

impl Default for Dola {
    fn default() -> Self {
        Self::new()
    }
}

impl Dola {
    /// HF's defaults: high layers, relative top 0.1, HF divergence, repetition penalty 1.2,
    /// greedy.
    pub fn new() -> Self {
        Self {
            params: DolaParams::default(),
            layers: Vec::new(),
            tail: Tail::greedy(1.2),
            last_divergences: Vec::new(),
            last_scores: Vec::new(),
            keep_scores: false,
        }
    }

    /// DoLa with these parameters (validated), repetition penalty 1.2, greedy.
    pub fn with_params(params: DolaParams) -> Result<Self> {
        params.validate()?;
        if let Layers::List(l) = &params.layers {
            if l.is_empty() {
                return Err(Error::invalid(
                    "layers",
                    "[]",
                    "at least one premature layer",
                ));
            }
        }
        Ok(Self {
            params,
            ..Self::new()
        })
    }

    /// HF repetition penalty applied to the contrast scores (finite, > 0; 1 = none).
    pub fn repetition_penalty(mut self, theta: f32) -> Result<Self> {
        self.tail.set_penalty(theta)?;
        Ok(self)
    }

    /// Sample the contrast scores instead of taking the argmax.
    pub fn sampling(mut self, seed: u64, sampling: Sampling) -> Result<Self> {
        self.tail.set_sampling(seed, sampling)?;
        Ok(self)
    }

    /// Keep the last step's processed scores (`[vocab]`, after the repetition penalty) for
    /// [`Dola::last_scores`].
    pub fn keep_scores(mut self, keep: bool) -> Self {
        self.keep_scores = keep;
        self
    }

    /// The parameters.
    pub fn params(&self) -> &DolaParams {
        &self.params
    }

    /// The candidate premature layers resolved for the current model (after generation began).
    pub fn layers(&self) -> &[usize] {
        &self.layers
    }

    /// Divergence of each candidate layer at the last step (empty with one candidate).
    pub fn last_divergences(&self) -> &[f32] {
        &self.last_divergences
    }

    /// The last step's scores after the repetition penalty, if [`Dola::keep_scores`] is on.
    pub fn last_scores(&self) -> &[f32] {
        &self.last_scores
    }
}

impl Decoder for Dola {
    fn name(&self) -> String {
        "dola".into()
    }

    fn begin(&mut self, lm: &Lm, _prompt: &[u32], sequence: usize) -> Result<()> {
        self.layers = self.params.layers.resolve(lm)?;
        self.tail.begin(sequence);
        Ok(())
    }

    fn early_exit_layers(&self) -> &[usize] {
        &self.layers
    }

    fn step(&mut self, input: &StepInput<'_>) -> Result<Choice> {
        let rows = input.hidden.ok_or_else(|| {
            Error::NotEnoughData("DoLa needs the early-exit rows of its layers".into())
        })?;
        let prem = rows_f32(&LogitLens::raw().early_exit(input.lm, rows)?)?;
        let c = select(input.logits, &prem, self.params.divergence)?;
        let mut scores = c.scores(self.params.relative_top);
        let (token, p, t) = self
            .tail
            .choose(&mut scores, input.context, input.suppress, None)?;
        self.last_divergences = c.divergences;
        if self.keep_scores {
            self.last_scores = scores;
        }
        Ok(Choice {
            token,
            decoder_prob: p,
            temperature: t,
            premature_layer: self.layers.get(c.selected).copied(),
            candidates: Vec::new(),
        })
    }
}
