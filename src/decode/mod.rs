//! Decoding with the logit lens: KV-cached generation, greedy / sampling, EDT, END and DoLa.
//!
//! [`generate`] runs a model one token at a time with its KV cache. At every step it hands a
//! [`Decoder`] the final logits of the last position and — only if the decoder asked for them —
//! the last position's residual-stream rows at some early layers (`[k, d]`), from which the
//! decoder builds its own early-exit logits (DoLa: the whole vocabulary; END: only its candidate
//! columns of the unembedding). The decoder returns a [`Choice`]; the loop records a
//! [`StepRecord`] and stops on EOS, a stop string or the token budget.
//!
//! | decoder | per-step rule | paper / reference |
//! |---|---|---|
//! | [`Baseline`] | (repetition penalty →) argmax, or temperature → top-k → top-p → draw | HF `generate` |
//! | [`Edt`] | sample at `T = T0 · N^(θ/H)`, `H` = entropy of the step's distribution | EDT (2403.14541) |
//! | [`End`] | `z_N(v) − λ·H_cross(v)` on the candidates `V_head` | END (2502.03199) |
//! | [`Dola`] | `log p_N − log p_M` on `V_head`, `M` = premature layer of max divergence | DoLa / HF 4.55 |
//!
//! Layer convention as everywhere in the crate: 0 = embeddings, `l` = after block `l`, `L` = the
//! last block (its final logits are `lm.logits(h_L)`, final norm included). Early-exit logits of
//! END and DoLa are **raw**: `lm_head(h_l)` without the final norm and without a soft-cap, as the
//! reference implementations compute them (`lm_head(hidden_states[l])`).
//!
//! ```no_run
//! use entroscope::prelude::*;
//! use entroscope::decode::{generate, Dola, GenerateOptions};
//! # fn main() -> entroscope::Result<()> {
//! let lm = Lm::load(&entroscope::model::default_model_path())?;
//! let mut dola = Dola::new(); // high layers, relative top 0.1, repetition penalty 1.2
//! let g = generate(&lm, "The capital of France is", &mut dola, &GenerateOptions::new(16))?;
//! println!("{} (premature layers {:?})", g.text, g.steps.iter().map(|s| s.premature_layer).collect::<Vec<_>>());
//! let df = g.to_frame()?; // one row per step
//! # Ok(()) }
//! ```

mod baseline;
mod dola;
mod edt;
mod end;
mod generate;
mod sampling;

pub use baseline::Baseline;
pub use dola::{dola_divergence, relative_top_mask, Divergence, Dola, DolaParams};
pub use edt::{edt_temperature, Edt, EdtLevel, EdtParams, MIN_TEMPERATURE};
pub use end::{cross_layer_entropy, End, EndParams};
pub use generate::{
    generate, generate_batch, generate_ids, GenerateOptions, Generation, StepRecord, StopReason,
};
pub use sampling::{
    apply_temperature, argmax, log_softmax, repetition_penalty, softmax, top_k_filter,
    top_p_filter, LogitsProcessor, Sampling,
};

pub(crate) use dola::{mask_from_log_probs as dola_mask, select as dola_select};
pub(crate) use end::candidates as end_candidates;
pub(crate) use generate::RowCapture;

use candle_core::Tensor;

use crate::model::Lm;
use crate::{Error, Result};

/// What a [`Decoder`] sees at one step.
#[derive(Debug, Clone, Copy)]
pub struct StepInput<'a> {
    /// The model (for the unembedding, final norm, vocabulary size).
    pub lm: &'a Lm,
    /// Step index, 0 for the first new token.
    pub step: usize,
    /// Prompt ids followed by the tokens generated so far (what HF's processors call `input_ids`).
    pub context: &'a [u32],
    /// Final logits of the last position, `[vocab]` (final norm, unembedding, soft-cap).
    pub logits: &'a [f32],
    /// Residual stream of the last position at the decoder's
    /// [`early_exit_layers`](Decoder::early_exit_layers), in that order, `[k, d]` (no norm
    /// applied). `None` when the decoder asked for no layer.
    pub hidden: Option<&'a Tensor>,
    /// Tokens the decoder must not choose at this step (the EOS ids while fewer than
    /// [`GenerateOptions::min_new_tokens`] were generated; HF's `MinNewTokensLengthLogitsProcessor`).
    pub suppress: &'a [u32],
}

/// One candidate of an END step: its final logit, cross-layer entropy and adjusted score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidateEntropy {
    /// Token id.
    pub id: u32,
    /// Final-layer logit `z_N(v)`.
    pub final_logit: f32,
    /// Cross-layer entropy `H(v)` in nats, ∈ `[0, ln |C|]`.
    pub entropy: f32,
    /// Adjusted score `z_N(v) − λ·H(v)`.
    pub score: f32,
}

/// A decoder's answer for one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The chosen token.
    pub token: u32,
    /// Its probability under the distribution the decoder chose from (softmax of its processed
    /// scores, after temperature and filters).
    pub decoder_prob: f32,
    /// Temperature used to sample (`None` = greedy).
    pub temperature: Option<f32>,
    /// DoLa: the premature layer contrasted at this step.
    pub premature_layer: Option<usize>,
    /// END: the candidates with their cross-layer entropies (at most
    /// [`MAX_RECORDED_CANDIDATES`], the most likely first).
    pub candidates: Vec<CandidateEntropy>,
}

impl Choice {
    /// A choice with nothing but the token and its probability.
    pub fn token(token: u32, decoder_prob: f32) -> Self {
        Self {
            token,
            decoder_prob,
            temperature: None,
            premature_layer: None,
            candidates: Vec::new(),
        }
    }
}

/// END records at most this many candidates per step (α = 0 makes every token a candidate).
pub const MAX_RECORDED_CANDIDATES: usize = 64;

/// A decoding rule: per step, turn the final logits (and optionally early-exit rows) into a token.
///
/// The generate loop calls [`begin`](Decoder::begin) once per sequence (validate against the
/// model, resolve layers, reseed the random stream with `seed + sequence`), then
/// [`step`](Decoder::step) once per new token.
pub trait Decoder {
    /// Short name for tables (`greedy`, `sample`, `edt`, `end`, `dola`).
    fn name(&self) -> String;

    /// Prepare for a new sequence of `lm` after `prompt`; `sequence` is the index of the prompt
    /// in a batch (0 for a single prompt).
    fn begin(&mut self, lm: &Lm, prompt: &[u32], sequence: usize) -> Result<()>;

    /// Layers (`0..L`) whose last-position residual row the decoder needs at every step, after
    /// [`begin`](Decoder::begin). Empty (the default) for decoders of the final layer only.
    fn early_exit_layers(&self) -> &[usize] {
        &[]
    }

    /// Choose the next token.
    fn step(&mut self, input: &StepInput<'_>) -> Result<Choice>;
}

impl<D: Decoder + ?Sized> Decoder for &mut D {
    fn name(&self) -> String {
        (**self).name()
    }
    fn begin(&mut self, lm: &Lm, prompt: &[u32], sequence: usize) -> Result<()> {
        (**self).begin(lm, prompt, sequence)
    }
    fn early_exit_layers(&self) -> &[usize] {
        (**self).early_exit_layers()
    }
    fn step(&mut self, input: &StepInput<'_>) -> Result<Choice> {
        (**self).step(input)
    }
}

impl<D: Decoder + ?Sized> Decoder for Box<D> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn begin(&mut self, lm: &Lm, prompt: &[u32], sequence: usize) -> Result<()> {
        (**self).begin(lm, prompt, sequence)
    }
    fn early_exit_layers(&self) -> &[usize] {
        (**self).early_exit_layers()
    }
    fn step(&mut self, input: &StepInput<'_>) -> Result<Choice> {
        (**self).step(input)
    }
}

/// A set of early-exit layers, resolved against a model by [`Layers::resolve`].
///
/// `Low` / `High` are Hugging Face's DoLa buckets (`transformers` 4.55 `_dola_decoding`): for a
/// model of `N ≤ 40` blocks, `range(start, N/2, 2)` and `range(N/2, N, 2)`; for `N > 40`,
/// `range(start, 20, 2)` and `range(N − 20, N, 2)`; `start` = 2 for tied embeddings with N > 2
/// (the embedding layer's early exit would be the identity), else 0. `High` is also END's default
/// (the reference scripts use 16, 18, …, 30 for the 32 blocks of Llama-2-7B).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Layers {
    /// DoLa's lower bucket.
    Low,
    /// Every other layer of the upper half, the last block excluded (DoLa's higher bucket).
    #[default]
    High,
    /// These layers (each in `0..L`; duplicates are dropped, order kept).
    List(Vec<usize>),
}

impl Layers {
    /// The layer indices for `lm` (each in `0..L`). Errors: an empty set
    /// ([`Error::InvalidParameter`]), a layer beyond the model ([`Error::LayerOutOfRange`]) or
    /// the final layer `L` itself (it is always the mature layer).
    pub fn resolve(&self, lm: &Lm) -> Result<Vec<usize>> {
        self.resolve_for(lm.n_layers(), lm.config().tie_word_embeddings)
    }

    /// The layer indices for a model of `n_layers` blocks, with or without tied embeddings
    /// (tied: the embedding-like layers 0 and 1 are left out of the buckets, as in HF).
    pub fn resolve_for(&self, n_layers: usize, tied_embeddings: bool) -> Result<Vec<usize>> {
        resolve_layers(self, n_layers, tied_embeddings)
    }
}

pub(crate) fn resolve_layers(layers: &Layers, n: usize, tied: bool) -> Result<Vec<usize>> {
    let start = if !tied {
        0
    } else if n > 2 {
        2
    } else if n == 2 {
        1
    } else {
        0
    };
    let v: Vec<usize> = match layers {
        Layers::Low => {
            if start == n / 2 {
                vec![start]
            } else if n <= 40 {
                (start..n / 2).step_by(2).collect()
            } else {
                (start..20).step_by(2).collect()
            }
        }
        Layers::High => {
            if n <= 40 {
                (n / 2..n).step_by(2).collect()
            } else {
                (n - 20..n).step_by(2).collect()
            }
        }
        Layers::List(list) => {
            let mut out = Vec::with_capacity(list.len());
            for &l in list {
                if l > n {
                    return Err(Error::LayerOutOfRange { layer: l, max: n });
                }
                if l == n {
                    return Err(Error::invalid(
                        "layers",
                        l,
                        format!(
                            "early-exit layers in 0..{n}; layer {n} is the final layer, which is always the mature one"
                        ),
                    ));
                }
                if !out.contains(&l) {
                    out.push(l);
                }
            }
            out
        }
    };
    if v.is_empty() {
        return Err(Error::invalid(
            "layers",
            format!("{layers:?} (empty for a model of {n} blocks)"),
            "at least one early-exit layer in 0..L; pass Layers::List(..) for shallow models",
        ));
    }
    Ok(v)
}

/// Check a relative-top / candidate threshold α ∈ [0, 1).
pub(crate) fn check_alpha(name: &'static str, alpha: f32) -> Result<()> {
    if (0.0..1.0).contains(&alpha) {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            alpha,
            "a number in [0, 1): tokens with p ≥ α·max p are kept; 0 keeps every token",
        ))
    }
}

/// Rows `[k, vocab]` of a 2-D f32 tensor as one flat vector, row-major.
pub(crate) fn rows_f32(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_buckets() {
        // SmolLM2: 30 blocks, tied → high 15..29 step 2, low 2..14 step 2
        assert_eq!(
            resolve_layers(&Layers::High, 30, true).unwrap(), // ok: test-only
            vec![15, 17, 19, 21, 23, 25, 27, 29]
        );
        assert_eq!(
            resolve_layers(&Layers::Low, 30, true).unwrap(), // ok: test-only
            vec![2, 4, 6, 8, 10, 12, 14]
        );
        // Gemma-3-270M: 18 blocks
        assert_eq!(
            resolve_layers(&Layers::High, 18, true).unwrap(), // ok: test-only
            vec![9, 11, 13, 15, 17]
        );
        // Llama-2-70B: 80 blocks → high 60..78, low (untied) 0..18
        assert_eq!(resolve_layers(&Layers::High, 80, false).unwrap()[0], 60); // ok: test-only
        assert_eq!(resolve_layers(&Layers::Low, 80, false).unwrap().len(), 10); // ok: test-only
                                                                                // tiny: 3 blocks, tied → high [1], low empty → error
        assert_eq!(resolve_layers(&Layers::High, 3, true).unwrap(), vec![1]); // ok: test-only
        assert!(resolve_layers(&Layers::Low, 3, true).is_err());
        // 2 blocks tied: start 1 == 2/2 → [1]
        assert_eq!(resolve_layers(&Layers::Low, 2, true).unwrap(), vec![1]); // ok: test-only
    }

    #[test]
    fn list_checks() {
        assert_eq!(
            resolve_layers(&Layers::List(vec![2, 0, 2]), 3, true).unwrap(), // ok: test-only
            vec![2, 0]
        );
        assert!(matches!(
            resolve_layers(&Layers::List(vec![4]), 3, true),
            Err(Error::LayerOutOfRange { layer: 4, max: 3 })
        ));
        assert!(matches!(
            resolve_layers(&Layers::List(vec![3]), 3, true),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            resolve_layers(&Layers::List(vec![]), 3, true),
            Err(Error::InvalidParameter { .. })
        ));
    }
}
