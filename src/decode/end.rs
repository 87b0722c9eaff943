//! END: cross-layer entropy enhanced decoding (arXiv 2502.03199; reference code
//! `Arcade-Master/END`).
//!
//! For every candidate token `v` of the final distribution,
//! `V_head = {v : log p_N(v) ≥ max log p_N + ln α}` (α = 0: every token), END looks at how its
//! raw early-exit logit `z_l(v) = (lm_head · h_l)[v]` grows over a set of upper layers `C`
//! (default: every other layer of the upper half, the last block excluded), normalises those
//! logits **across layers**, `q_l(v) = softmax_{l ∈ C} z_l(v)`, and takes the entropy
//! `H(v) = −Σ_l q_l(v) ln q_l(v)` ∈ `[0, ln |C|]`. A token whose probability jumps sharply in a
//! few layers has low `H`; END favours it: `s(v) = z_N(v) − λ·H(v)` on `V_head`; the other
//! logits are left as they are (as the reference does; [`EndParams::mask_others`] sets them to
//! `−inf` instead, DoLa-style).
//!
//! Only the candidate columns of the unembedding are computed per layer (`|C| × |V_head| × d`
//! multiply-adds), so END costs almost nothing over greedy at the defaults (λ = 1, α = 0.01).
//!
//! Names: our `lambda` is the reference's `--alpha`, our `alpha` its `--relative_top`. The
//! reference settings per task: generation λ = 1, α = 0.01, `C` = the upper layers, repetition
//! penalty 1.2 after the adjustment ([`End::generation`]); TruthfulQA MC λ = 0.25, α = 0, `C` =
//! the upper layers plus the final normed layer ([`EndParams::scoring`], |C| = 9 on 32 layers);
//! FACTOR λ = 0.25, α = 0.1, no final layer ([`EndParams::factor`]).
//!
//! Where we keep to the paper's intent and not the released code: the reference scorer reads the
//! cross-layer entropy at the prompt's positions `0…n−1` instead of the positions that predict
//! the continuation; we use the latter, as the paper's equations do.

use candle_core::Tensor;

use super::sampling::{Sampling, Tail};
use super::{
    check_alpha, rows_f32, CandidateEntropy, Choice, Decoder, Layers, StepInput,
    MAX_RECORDED_CANDIDATES,
};
use crate::entropy::fast_exp;
use crate::lens::LensKind;
use crate::model::Lm;
use crate::{Error, Result};

/// The repetition penalty of the reference's generation script, applied after the adjustment.
pub const REFERENCE_REPETITION_PENALTY: f32 = 1.2;

/// END hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct EndParams {
    /// Strength `λ ≥ 0` of the entropy penalty (0 = plain decoding of the final layer).
    pub lambda: f32,
    /// Candidate threshold α ∈ [0, 1): keep tokens with `p ≥ α · max p`; 0 keeps every token.
    pub alpha: f32,
    /// The layer set `C` (default: [`Layers::High`]).
    pub layers: Layers,
    /// How the early exits of `C` become logits: [`LensKind::Raw`] as the reference does, or
    /// [`LensKind::Normed`] (through the model's head), an ablation: on models whose raw early
    /// exits are flat (Gemma-3) it makes `H` informative.
    pub lens: LensKind,
    /// Add the final layer (final norm + head, i.e. the model's own logits) to `C`, as the
    /// reference's TruthfulQA MC script does (its layer `-1`).
    pub with_final: bool,
    /// Set the non-candidates' scores to `−inf` (DoLa-style) instead of leaving their logits
    /// unchanged as the reference does. An ablation; under greedy decoding the two agree whenever
    /// `λ·ln|C| < −ln α`.
    pub mask_others: bool,
}

impl Default for EndParams {
    fn default() -> Self {
        Self::generation()
    }
}

impl EndParams {
    /// The reference generation settings (`tfqa_eval.py`): `λ = 1`, `α = 0.01`, upper layers,
    /// raw, non-candidates unchanged.
    pub fn generation() -> Self {
        Self {
            lambda: 1.0,
            alpha: 0.01,
            layers: Layers::High,
            lens: LensKind::Raw,
            with_final: false,
            mask_others: false,
        }
    }

    /// The reference TruthfulQA multiple-choice settings (`run_mc.sh`): `λ = 0.25`, `α = 0`
    /// (every token), the upper layers plus the final layer.
    pub fn scoring() -> Self {
        Self {
            lambda: 0.25,
            alpha: 0.0,
            layers: Layers::High,
            lens: LensKind::Raw,
            with_final: true,
            mask_others: false,
        }
    }

    /// The reference FACTOR settings (`factor_eval.py`): `λ = 0.25`, `α = 0.1`, the upper layers
    /// without the final one. (The reference sums probabilities over the continuation; we sum
    /// log-probabilities, as for every other method, which is the paper's stated score.)
    pub fn factor() -> Self {
        Self {
            alpha: 0.1,
            with_final: false,
            ..Self::scoring()
        }
    }

    /// Check `λ ≥ 0` (finite) and `α ∈ [0, 1)`.
    pub fn validate(&self) -> Result<()> {
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(Error::invalid(
                "lambda",
                self.lambda,
                "a finite number ≥ 0 (0 = no entropy penalty; the paper uses 1 for generation)",
            ));
        }
        check_alpha("alpha", self.alpha)
    }
}

/// Cross-layer entropies of `k` candidates from their early-exit logits, `z` row-major
/// `[n_layers, k]` (row `l` = the candidates' logits at layer `l`): for each column, the
/// Shannon entropy (nats) of the softmax over the `n_layers` values.
///
/// ```
/// use entroscope::decode::cross_layer_entropy;
/// // one candidate with logits 0 and ln 3 at two layers: q = (1/4, 3/4),
/// // H = −(¼ ln ¼ + ¾ ln ¾) = 0.562335
/// let h = cross_layer_entropy(&[0.0, 3f32.ln()], 2, 1)?;
/// assert!((h[0] - 0.562335).abs() < 1e-5);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn cross_layer_entropy(z: &[f32], n_layers: usize, k: usize) -> Result<Vec<f32>> {
    if n_layers == 0 || z.len() != n_layers * k {
        return Err(Error::invalid(
            "z",
            format!("{} values", z.len()),
            format!("n_layers × k = {n_layers} × {k} values, row-major, n_layers ≥ 1"),
        ));
    }
    if z.iter().any(|x| !x.is_finite()) {
        return Err(Error::NonFinite {
            what: "early-exit logits of END's candidates".into(),
        });
    }
    let mut m = z[..k].to_vec();
    for row in z.chunks_exact(k).skip(1) {
        for (mj, &x) in m.iter_mut().zip(row) {
            *mj = mj.max(x);
        }
    }
    let mut s0 = vec![0f32; k];
    let mut s1 = vec![0f32; k];
    for row in z.chunks_exact(k) {
        for j in 0..k {
            let d = row[j] - m[j];
            let e = fast_exp(d);
            s0[j] += e;
            s1[j] += e * d;
        }
    }
    // H = ln S0 − S1/S0 with S0 = Σ e^d, S1 = Σ e^d·d (d = z − max ≤ 0); S0 ≥ 1
    Ok(s0
        .iter()
        .zip(&s1)
        .map(|(&a, &b)| (a.ln() - b / a).max(0.0))
        .collect())
}

/// Indices of the candidates `V_head`: logits `z ≥ max z + ln α` (α = 0: all).
pub(crate) fn candidates(z: &[f32], alpha: f32) -> Vec<u32> {
    if alpha <= 0.0 {
        return (0..z.len() as u32).collect();
    }
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let thr = m + alpha.ln();
    z.iter()
        .enumerate()
        .filter(|(_, &x)| x >= thr)
        .map(|(i, _)| i as u32)
        .collect()
}

/// The early-exit logits under `lens` of `cands` at every row of `rows` (`[n, d]`),
/// `[n, |cands|]` row-major: only those columns of the unembedding when the set is small, the
/// full product otherwise.
pub(crate) fn candidate_logits(
    lm: &Lm,
    lens: LensKind,
    rows: &Tensor,
    cands: &[u32],
) -> Result<Vec<f32>> {
    let (lens, head) = (lens.lens(), lm.head());
    if cands.len() * 4 < lm.vocab_size() {
        rows_f32(&lens.early_exit_ids(head, rows, cands)?)
    } else {
        let full = rows_f32(&lens.early_exit(head, rows)?)?;
        let v = lm.vocab_size();
        let n = full.len() / v.max(1);
        let mut out = Vec::with_capacity(n * cands.len());
        for r in 0..n {
            let row = &full[r * v..(r + 1) * v];
            out.extend(cands.iter().map(|&c| row[c as usize]));
        }
        Ok(out)
    }
}

/// The END decoder (greedy by default; any [`Sampling`] after the adjustment).
///
/// ```no_run
/// use entroscope::decode::{generate, End, EndParams, GenerateOptions};
/// # fn demo(lm: &entroscope::Lm) -> entroscope::Result<()> {
/// let mut end = End::new(EndParams { lambda: 0.5, ..EndParams::generation() })?;
/// let g = generate(lm, "The capital of France is", &mut end, &GenerateOptions::new(8))?;
/// let cands = g.candidates_frame()?; // per-candidate cross-layer entropies
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct End {
    params: EndParams,
    layers: Vec<usize>,
    tail: Tail,
}

impl End {
    /// END with these parameters (validated now; layers are resolved against the model when
    /// generation begins). Greedy, no repetition penalty.
    pub fn new(params: EndParams) -> Result<Self> {
        params.validate()?;
        if let Layers::List(l) = &params.layers {
            if l.is_empty() {
                return Err(Error::invalid(
                    "layers",
                    "[]",
                    "at least one early-exit layer",
                ));
            }
        }
        Ok(Self {
            params,
            layers: Vec::new(),
            tail: Tail::greedy(1.0),
        })
    }

    /// The reference generation settings (λ = 1, α = 0.01, upper layers), greedy, with the
    /// reference's repetition penalty 1.2 applied after the entropy adjustment.
    pub fn generation() -> Self {
        Self {
            params: EndParams::generation(),
            layers: Vec::new(),
            tail: Tail::greedy(REFERENCE_REPETITION_PENALTY),
        }
    }

    /// Sample the adjusted scores instead of taking the argmax.
    pub fn sampling(mut self, seed: u64, sampling: Sampling) -> Result<Self> {
        self.tail.set_sampling(seed, sampling)?;
        Ok(self)
    }

    /// HF repetition penalty on the adjusted scores (finite, > 0; 1 = none).
    pub fn repetition_penalty(mut self, theta: f32) -> Result<Self> {
        self.tail.set_penalty(theta)?;
        Ok(self)
    }

    /// The parameters.
    pub fn params(&self) -> &EndParams {
        &self.params
    }
}

impl Decoder for End {
    fn name(&self) -> String {
        "end".into()
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
        let z = input.logits;
        let rows = input.hidden.ok_or_else(|| {
            Error::NotEnoughData("END needs the early-exit rows of its layers".into())
        })?;
        let cands = candidates(z, self.params.alpha);
        let mut zl = candidate_logits(input.lm, self.params.lens, rows, &cands)?;
        let mut n_layers = self.layers.len();
        if self.params.with_final {
            zl.extend(cands.iter().map(|&c| z[c as usize]));
            n_layers += 1;
        }
        let h = cross_layer_entropy(&zl, n_layers, cands.len())?;
        let mut scores = if self.params.mask_others {
            vec![f32::NEG_INFINITY; z.len()]
        } else {
            z.to_vec()
        };
        let lambda = self.params.lambda;
        let mut rec: Vec<CandidateEntropy> = cands
            .iter()
            .zip(&h)
            .map(|(&c, &hv)| {
                let s = z[c as usize] - lambda * hv;
                scores[c as usize] = s;
                CandidateEntropy {
                    id: c,
                    final_logit: z[c as usize],
                    entropy: hv,
                    score: s,
                }
            })
            .collect();
        let (token, p, t) = self
            .tail
            .choose(&mut scores, input.context, input.suppress, None)?;
        rec.sort_by(|a, b| b.final_logit.total_cmp(&a.final_logit));
        rec.truncate(MAX_RECORDED_CANDIDATES);
        Ok(Choice {
            token,
            decoder_prob: p,
            temperature: t,
            premature_layer: None,
            candidates: rec,
        })
    }
}
