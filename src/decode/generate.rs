//! The KV-cached generation loop and its result, [`Generation`].

use std::time::Instant;

use candle_core::Tensor;

use super::{CandidateEntropy, Decoder, StepInput};
use crate::entropy::{reduce_row, Request};
use crate::frame::{self, ColumnData, DataFrame, ToFrame};
use crate::hook::{Hook, Site};
use crate::model::Lm;
use crate::{Error, Result};

/// Keeps the residual-stream rows `[from, t)` of one forward pass at some layers (0 = embeddings,
/// `l` = after block `l`). Cheap: a narrow of the `[b, t, d]` activation per requested layer,
/// kept as `[t, d]` when `b = 1`.
#[derive(Debug)]
pub(crate) struct RowCapture {
    /// Slot of each layer `0..=L` in `rows`, if requested.
    slot: Vec<Option<usize>>,
    rows: Vec<Option<Tensor>>,
    from: usize,
}

impl RowCapture {
    /// Capture `layers` (each ≤ `n_layers`), in that order.
    pub(crate) fn new(layers: &[usize], n_layers: usize) -> Result<Self> {
        let mut slot = vec![None; n_layers + 1];
        for (i, &l) in layers.iter().enumerate() {
            let s = slot.get_mut(l).ok_or(Error::LayerOutOfRange {
                layer: l,
                max: n_layers,
            })?;
            *s = Some(i);
        }
        Ok(Self {
            slot,
            rows: vec![None; layers.len()],
            from: 0,
        })
    }

    /// Keep rows from position `from` (of the next forward's input) on.
    pub(crate) fn reset(&mut self, from: usize) {
        self.from = from;
        self.rows.iter_mut().for_each(|r| *r = None);
    }

    /// The captured rows of every requested layer, `[n, d]` each, in request order.
    pub(crate) fn take(&mut self) -> Result<Vec<Tensor>> {
        self.rows
            .iter_mut()
            .map(|r| {
                r.take().ok_or_else(|| Error::NotEnoughData(
                    "an early-exit layer was not visited by the forward pass (was its block skipped?)".into(),
                ))
            })
            .collect()
    }

    /// The last rows stacked, `[k, d]` (one row per layer), or `None` when no layer is captured.
    pub(crate) fn take_last_rows(&mut self) -> Result<Option<Tensor>> {
        if self.rows.is_empty() {
            return Ok(None);
        }
        let rows = self.take()?;
        Ok(Some(Tensor::cat(&rows, 0)?))
    }
}

impl Hook for RowCapture {
    fn visit(&mut self, site: Site, x: &Tensor) -> Result<Option<Tensor>> {
        let layer = match site {
            Site::Embed => 0,
            Site::BlockOut(l) => l,
            _ => return Ok(None),
        };
        if let Some(Some(i)) = self.slot.get(layer) {
            // one sequence: `[t, d]`; a batch keeps its rows apart, `[b, t, d]`
            let x = if x.dim(0)? == 1 {
                x.squeeze(0)?
            } else {
                x.clone()
            };
            let axis = x.rank() - 2;
            let t = x.dim(axis)?;
            self.rows[*i] = Some(x.narrow(axis, self.from, t - self.from)?);
        }
        Ok(None)
    }
}

/// Options of [`generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Most new tokens (≥ 1).
    pub max_new_tokens: usize,
    /// Forbid the EOS ids until this many tokens were generated (HF's `min_new_tokens`; 0 = off).
    pub min_new_tokens: usize,
    /// Stop when the generated text contains one of these; the text is cut before it (the ids
    /// keep the token that completed it).
    pub stop_strings: Vec<String>,
    /// Stop after an end-of-sequence token (kept in the ids, as HF does). Default true.
    pub stop_at_eos: bool,
    /// Text prompts as one user turn of the model's chat template ([`Lm::encode_request`]);
    /// off by default, as in the papers' protocols.
    pub chat: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_new_tokens: 64,
            min_new_tokens: 0,
            stop_strings: Vec::new(),
            stop_at_eos: true,
            chat: false,
        }
    }
}

impl GenerateOptions {
    /// Defaults with `max_new_tokens` new tokens.
    pub fn new(max_new_tokens: usize) -> Self {
        Self {
            max_new_tokens,
            ..Self::default()
        }
    }

    /// Add a stop string.
    pub fn stop(mut self, s: impl Into<String>) -> Self {
        self.stop_strings.push(s.into());
        self
    }

    /// Keep going after EOS (benchmarks that need exactly `max_new_tokens`).
    pub fn ignore_eos(mut self) -> Self {
        self.stop_at_eos = false;
        self
    }

    /// Exactly `n` new tokens the way HF's benchmarks get them: `min_new_tokens = max_new_tokens
    /// = n`, so EOS is never chosen.
    pub fn exactly(n: usize) -> Self {
        Self {
            max_new_tokens: n,
            min_new_tokens: n,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.max_new_tokens == 0 {
            return Err(Error::invalid("max_new_tokens", 0, "at least 1 new token"));
        }
        if self.stop_strings.iter().any(String::is_empty) {
            return Err(Error::invalid(
                "stop_strings",
                "\"\"",
                "non-empty stop strings",
            ));
        }
        Ok(())
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `max_new_tokens` reached.
    Length,
    /// An end-of-sequence token was generated.
    Eos,
    /// A stop string appeared in the text.
    StopString,
}

impl StopReason {
    fn as_str(self) -> &'static str {
        match self {
            StopReason::Length => "length",
            StopReason::Eos => "eos",
            StopReason::StopString => "stop_string",
        }
    }
}

/// What happened at one step of a [`Generation`].
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Step index (0 = first new token).
    pub step: usize,
    /// The chosen token.
    pub token: u32,
    /// Its probability under the model's own final distribution (softmax of the final logits at
    /// T = 1, before any processing) — comparable across decoders.
    pub prob: f32,
    /// Its probability under the decoder's processed distribution ([`super::Choice::decoder_prob`]).
    pub decoder_prob: f32,
    /// Shannon entropy of the final distribution at T = 1, nats.
    pub entropy: f32,
    /// Sampling temperature used (`None` = greedy).
    pub temperature: Option<f32>,
    /// DoLa's premature layer.
    pub premature_layer: Option<usize>,
    /// END's candidates with their cross-layer entropies.
    pub candidates: Vec<CandidateEntropy>,
}

/// The result of [`generate`]: new ids, text and one [`StepRecord`] per new token.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Model name.
    pub model: String,
    /// Decoder name.
    pub decoder: String,
    /// Index of the prompt in its batch (0 for a single prompt).
    pub sequence: usize,
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// The new token ids (an EOS that stopped generation included).
    pub ids: Vec<u32>,
    /// The text of each new id ([`Lm::token_texts`](crate::Lm::token_texts)).
    pub tokens: Vec<String>,
    /// Decoded new text (special tokens skipped; cut before a stop string).
    pub text: String,
    /// One record per new token.
    pub steps: Vec<StepRecord>,
    /// Why it stopped.
    pub stop: StopReason,
    /// Wall time of the whole loop (prefill included), seconds.
    pub seconds: f64,
    /// Wall time of the prompt's forward pass and first token, seconds.
    pub prefill_seconds: f64,
}

impl Generation {
    /// New tokens per second of wall time, prefill included (the peer's definition).
    pub fn tokens_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ids.len() as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// END's candidates as a long frame: `model, decoder, prompt_id, step, candidate,
    /// final_logit, cross_layer_entropy, score`, one row per (step, candidate).
    pub fn candidates_frame(&self) -> Result<DataFrame> {
        let mut step = Vec::new();
        let mut id = Vec::new();
        let mut logit = Vec::new();
        let mut ent = Vec::new();
        let mut score = Vec::new();
        for s in &self.steps {
            for c in &s.candidates {
                step.push(s.step as i64);
                id.push(i64::from(c.id));
                logit.push(f64::from(c.final_logit));
                ent.push(f64::from(c.entropy));
                score.push(f64::from(c.score));
            }
        }
        let n = step.len();
        frame::frame_from_columns(vec![
            (frame::MODEL, ColumnData::Str(vec![self.model.clone(); n])),
            ("decoder", ColumnData::Str(vec![self.decoder.clone(); n])),
            (
                frame::PROMPT_ID,
                ColumnData::I64(vec![self.sequence as i64; n]),
            ),
            ("step", ColumnData::I64(step)),
            ("candidate", ColumnData::I64(id)),
            ("final_logit", ColumnData::F64(logit)),
            ("cross_layer_entropy", ColumnData::F64(ent)),
            ("score", ColumnData::F64(score)),
        ])
    }
}

/// One row per step: `model, decoder, prompt_id, step, token_id, token, prob, decoder_prob,
/// entropy, temperature, premature_layer, n_candidates, stop`. `temperature` is NaN for greedy
/// steps and `premature_layer` −1 for decoders without one; `stop` repeats the stop reason.
impl ToFrame for Generation {
    fn to_frame(&self) -> Result<DataFrame> {
        let n = self.steps.len();
        let col_f = |f: &dyn Fn(&StepRecord) -> f64| -> ColumnData {
            ColumnData::F64(self.steps.iter().map(f).collect())
        };
        let col_i = |f: &dyn Fn(&StepRecord) -> i64| -> ColumnData {
            ColumnData::I64(self.steps.iter().map(f).collect())
        };
        let tokens = (0..n)
            .map(|i| self.tokens.get(i).cloned().unwrap_or_default())
            .collect();
        frame::frame_from_columns(vec![
            (frame::MODEL, ColumnData::Str(vec![self.model.clone(); n])),
            ("decoder", ColumnData::Str(vec![self.decoder.clone(); n])),
            (
                frame::PROMPT_ID,
                ColumnData::I64(vec![self.sequence as i64; n]),
            ),
            ("step", col_i(&|s| s.step as i64)),
            ("token_id", col_i(&|s| i64::from(s.token))),
            (frame::TOKEN, ColumnData::Str(tokens)),
            ("prob", col_f(&|s| f64::from(s.prob))),
            ("decoder_prob", col_f(&|s| f64::from(s.decoder_prob))),
            ("entropy", col_f(&|s| f64::from(s.entropy))),
            (
                "temperature",
                col_f(&|s| s.temperature.map_or(f64::NAN, f64::from)),
            ),
            (
                "premature_layer",
                col_i(&|s| s.premature_layer.map_or(-1, |l| l as i64)),
            ),
            ("n_candidates", col_i(&|s| s.candidates.len() as i64)),
            (
                "stop",
                ColumnData::Str(vec![self.stop.as_str().to_string(); n]),
            ),
        ])
    }
}

/// All generations of a batch, stacked (their `prompt_id` is their index in the batch).
impl ToFrame for [Generation] {
    fn to_frame(&self) -> Result<DataFrame> {
        let frames = self
            .iter()
            .map(|g| g.to_frame())
            .collect::<Result<Vec<_>>>()?;
        frame::concat(&frames)
    }
}

impl ToFrame for Vec<Generation> {
    fn to_frame(&self) -> Result<DataFrame> {
        self.as_slice().to_frame()
    }
}

/// Generate from a text prompt (tokenized with [`Lm::encode`]: the model's BOS when it adds one;
/// with [`GenerateOptions::chat`], as a user turn of the model's chat template).
///
/// Errors: an empty prompt ([`Error::EmptyPrompt`]), a prompt longer than the context window,
/// `max_new_tokens = 0`, and whatever the decoder rejects in [`Decoder::begin`].
pub fn generate(
    lm: &Lm,
    prompt: &str,
    decoder: &mut dyn Decoder,
    opts: &GenerateOptions,
) -> Result<Generation> {
    let ids = lm.encode_request(prompt, opts.chat)?;
    run(lm, &ids, decoder, opts, 0)
}

/// Generate from prompt token ids.
pub fn generate_ids(
    lm: &Lm,
    prompt: &[u32],
    decoder: &mut dyn Decoder,
    opts: &GenerateOptions,
) -> Result<Generation> {
    run(lm, prompt, decoder, opts, 0)
}

/// Generate from several prompts, one after the other with the same decoder (its random stream
/// is reseeded with `seed + i` for prompt `i`, so every result is reproducible on its own).
pub fn generate_batch(
    lm: &Lm,
    prompts: &[&str],
    decoder: &mut dyn Decoder,
    opts: &GenerateOptions,
) -> Result<Vec<Generation>> {
    opts.validate()?;
    let bar =
        crate::progress::progress_bar(prompts.len(), format!("generate ({})", decoder.name()));
    let mut out = Vec::with_capacity(prompts.len());
    for (i, p) in prompts.iter().enumerate() {
        let ids = lm.encode_request(p, opts.chat)?;
        out.push(run(lm, &ids, decoder, opts, i)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

fn run(
    lm: &Lm,
    prompt: &[u32],
    decoder: &mut dyn Decoder,
    opts: &GenerateOptions,
    sequence: usize,
) -> Result<Generation> {
    opts.validate()?;
    lm.check_ids(prompt, 0)?;
    // Refused up front, so the loop below never runs out of context.
    let max_ctx = lm.config().max_position_embeddings;
    if prompt.len().saturating_add(opts.max_new_tokens) > max_ctx {
        return Err(Error::GenerationTooLong {
            prompt: prompt.len(),
            new: opts.max_new_tokens,
            max: max_ctx,
        });
    }
    decoder.begin(lm, prompt, sequence)?;
    let layers = decoder.early_exit_layers().to_vec();
    let mut capture = RowCapture::new(&layers, lm.n_layers())?;
    let mut cache = lm.new_cache();
    let mut context = prompt.to_vec();
    let mut input = prompt.to_vec();
    let mut ids = Vec::new();
    let mut steps = Vec::new();
    let mut stop = StopReason::Length;
    let mut cut_text = None;
    let eos = lm.eos_token_ids();
    let t0 = Instant::now();
    let mut prefill_seconds = 0.0;
    let req = Request::new().shannon();
    for step in 0..opts.max_new_tokens {
        capture.reset(input.len() - 1);
        let h = lm.forward(&input, &mut cache, &mut capture)?;
        let last = h.narrow(0, input.len() - 1, 1)?;
        let logits = lm.logits(&last)?.flatten_all()?.to_vec1::<f32>()?;
        let hidden = capture.take_last_rows()?;
        let choice = decoder.step(&StepInput {
            lm,
            step,
            context: &context,
            logits: &logits,
            hidden: hidden.as_ref(),
            suppress: if step < opts.min_new_tokens { eos } else { &[] },
        })?;
        let stats = reduce_row(&logits, &req, Some(choice.token))?;
        let prob = stats.target.map_or(0.0, |t| t.prob());
        steps.push(StepRecord {
            step,
            token: choice.token,
            prob,
            decoder_prob: choice.decoder_prob,
            entropy: stats.shannon.unwrap_or(f32::NAN),
            temperature: choice.temperature,
            premature_layer: choice.premature_layer,
            candidates: choice.candidates,
        });
        if step == 0 {
            prefill_seconds = t0.elapsed().as_secs_f64();
        }
        ids.push(choice.token);
        context.push(choice.token);
        if opts.stop_at_eos && eos.contains(&choice.token) {
            stop = StopReason::Eos;
            break;
        }
        if !opts.stop_strings.is_empty() {
            let text = lm.decode(&ids)?;
            if let Some(pos) = opts
                .stop_strings
                .iter()
                .filter_map(|s| text.find(s.as_str()))
                .min()
            {
                cut_text = Some(text[..pos].to_string());
                stop = StopReason::StopString;
                break;
            }
        }
        input = vec![choice.token];
    }
    let seconds = t0.elapsed().as_secs_f64();
    let text = match cut_text {
        Some(t) => t,
        None => lm.decode(&ids)?,
    };
    Ok(Generation {
        model: lm.name().to_string(),
        decoder: decoder.name(),
        sequence,
        prompt_ids: prompt.to_vec(),
        tokens: lm.token_texts(&ids),
        ids,
        text,
        steps,
        stop,
        seconds,
        prefill_seconds,
    })
}
