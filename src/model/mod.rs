//! `Lm`: weights, tokenizer and [`ArchSpec`], loaded from a bundled model, a GGUF file, a Hugging
//! Face directory or the hub ([`ModelSource`]), and run by our own forward pass so every block is
//! visible.

pub mod arch;
mod bundled;
mod chat;
mod device;
pub mod families;
mod gguf_tokenizer;
mod kv_cache;
mod memory;
mod sgemm;
mod source;
mod transformer;
mod weights;

use std::fmt;

use candle_core::{DType, Device, Tensor};
use tokenizers::Tokenizer;

pub use arch::{Activation, ArchSpec};
pub use bundled::{bundled_models, default_model_path, models_dir, short_name, Bundled};
pub use chat::{ChatTemplate, Message};
pub use device::{device_name, parse_device, LoadOptions, WeightDtype};
pub use families::Family;
pub use gguf_tokenizer::tokenizer_from_gguf;
pub use kv_cache::KvCache;
pub(crate) use memory::MemoryEstimate;
pub use memory::{available_memory, MemoryCheck};
pub use sgemm::{bf16_hardware, has_bf16_product, BACKEND as MATMUL_BACKEND};

/// The matrix products behind the lens, for `examples/bench_matmul.rs`; not part of the API.
#[doc(hidden)]
pub mod kernels {
    pub use super::sgemm::{gemm_nt, matmul_nt, matmul_nt_bf16};
}
pub use source::{LmBuilder, ModelSource};

use crate::hook::{Hook, NoHook};
use crate::trace::{CaptureSpec, Recorder, Trace};
use crate::{Error, Result};
use transformer::Transformer;
pub use transformer::DEQUANTIZE_FROM_ROWS;

/// A decoder-only language model with its tokenizer.
///
/// ```no_run
/// use entroscope::prelude::*;
/// # fn main() -> entroscope::Result<()> {
/// let lm = Lm::load(&entroscope::model::default_model_path())?;
/// let ids = lm.encode("The capital of France is")?;
/// let trace = lm.trace(&ids, &CaptureSpec::default(), &mut NoHook)?;
/// assert_eq!(trace.resid.dims(), &[lm.n_layers() + 1, ids.len(), lm.config().hidden_size]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Lm {
    name: String,
    model: Transformer,
    tokenizer: Tokenizer,
    chat_template: Option<ChatTemplate>,
    /// The unembedding in bf16 for the bf16 lens, converted on first use (half the f32 head's
    /// memory), so a model that never runs it pays nothing.
    head_bf16: std::sync::OnceLock<Vec<half::bf16>>,
}

impl fmt::Debug for Lm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lm")
            .field("name", &self.name)
            .field("config", &self.model.cfg)
            .finish()
    }
}

impl fmt::Display for Lm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.model.cfg;
        write!(
            f,
            "{} ({}): {} layers, d={}, heads {}/{} (q/kv), vocab {}, context {}",
            self.name,
            c.family,
            c.num_hidden_layers,
            c.hidden_size,
            c.num_attention_heads,
            c.num_key_value_heads,
            c.vocab_size,
            c.max_position_embeddings
        )
    }
}

impl Lm {
    /// Model name (file stem, directory name or repo id).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A short label for tables and charts: [`short_name`] of [`Lm::name`].
    pub fn short_name(&self) -> String {
        short_name(&self.name)
    }

    /// The device weights live on and work runs on; every tensor the library makes for this
    /// model goes there.
    pub fn device(&self) -> &Device {
        &self.model.device
    }

    /// How the weights are stored (statistics are f32 whatever it is).
    pub fn dtype(&self) -> WeightDtype {
        self.model.dtype
    }

    /// Hyper-parameters.
    pub fn config(&self) -> &ArchSpec {
        &self.model.cfg
    }

    /// Number of blocks L; profiles have L+1 layers.
    pub fn n_layers(&self) -> usize {
        self.model.n_blocks()
    }

    /// Vocabulary size of the unembedding.
    pub fn vocab_size(&self) -> usize {
        self.model.cfg.vocab_size
    }

    /// The tokenizer (Hugging Face `tokenizers`).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Token ids of `text` as Hugging Face's tokenizer gives them by default (BOS added when the
    /// model's tokenizer adds one). Errors on an empty result.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let ids = self.tokenizer.encode(text, true)?.get_ids().to_vec();
        if text.is_empty() || ids.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        Ok(ids)
    }

    /// Token ids of `text` without special tokens (for continuations).
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.tokenizer.encode(text, false)?.get_ids().to_vec())
    }

    /// The model's chat template, if it ships one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.chat_template.as_ref()
    }

    /// This model with `template` as its chat template (e.g. an instruct sibling's template on
    /// a base model, or a template of your own).
    pub fn with_chat_template(mut self, template: ChatTemplate) -> Self {
        self.chat_template = Some(template);
        self
    }

    /// The conversation rendered by the model's own chat template, ending with the assistant's
    /// header (`add_generation_prompt`), as `transformers`' `apply_chat_template` renders it.
    /// Errors: [`Error::NoChatTemplate`] when the model has none, [`Error::ChatTemplate`] when it
    /// fails to render.
    pub fn chat_prompt(&self, messages: &[Message]) -> Result<String> {
        let t = self
            .chat_template
            .as_ref()
            .ok_or_else(|| Error::NoChatTemplate {
                model: self.name.clone(),
            })?;
        t.render(messages, true)
    }

    /// Token ids of [`Lm::chat_prompt`]: the rendered text tokenized without adding special
    /// tokens (the template writes them itself), as `apply_chat_template(tokenize=True)` does.
    pub fn encode_chat(&self, messages: &[Message]) -> Result<Vec<u32>> {
        let ids = self.encode_plain(&self.chat_prompt(messages)?)?;
        if ids.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        Ok(ids)
    }

    /// Token ids of a request: [`Lm::encode`] of `text`, or with `chat` the text as one user
    /// turn of the model's chat template ([`Lm::encode_chat`]). What `--chat` and the papers'
    /// `chat_template` option switch.
    pub fn encode_request(&self, text: &str, chat: bool) -> Result<Vec<u32>> {
        if !chat {
            return self.encode(text);
        }
        if text.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        self.encode_chat(&[Message::user(text)])
    }

    /// Text of token ids (special tokens skipped).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        Ok(self.tokenizer.decode(ids, true)?)
    }

    /// The text of each id decoded alone (`" Paris"`, `"\n"`; special tokens by their
    /// spelling, `"<|im_start|>"`): what frames and charts show for a token (the crate's token
    /// convention; charts make whitespace visible with [`token_label`](crate::plot::token_label)).
    /// A byte-level piece of a multi-byte character decodes to `"�"`.
    pub fn token_texts(&self, ids: &[u32]) -> Vec<String> {
        ids.iter().map(|&i| self.token_text(i)).collect()
    }

    /// The text of one id decoded alone, as [`Lm::token_texts`] gives it.
    pub fn token_text(&self, id: u32) -> String {
        token_text(&self.tokenizer, id)
    }

    /// Vocabulary spelling of each id (as HF `convert_ids_to_tokens`: `"ĠParis"`, `"▁Paris"`),
    /// `"<unk:id>"` if unknown; [`Lm::token_texts`] gives the text instead.
    pub fn token_strings(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&i| {
                self.tokenizer
                    .id_to_token(i)
                    .unwrap_or_else(|| format!("<unk:{i}>"))
            })
            .collect()
    }

    /// Beginning-of-sequence token id, if the model has one.
    pub fn bos_token_id(&self) -> Option<u32> {
        self.model.cfg.bos_token_id
    }

    /// End-of-sequence token ids.
    pub fn eos_token_ids(&self) -> &[u32] {
        &self.model.cfg.eos_token_ids
    }

    /// A fresh KV cache for [`Lm::forward`].
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.n_layers())
    }

    /// Check ids before a forward: non-empty, inside the vocabulary and the context window.
    pub fn check_ids(&self, ids: &[u32], already: usize) -> Result<()> {
        if ids.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let max = self.model.cfg.max_position_embeddings;
        if already + ids.len() > max {
            return Err(Error::PromptTooLong {
                len: already + ids.len(),
                max,
            });
        }
        let vocab = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&i| i as usize >= vocab) {
            return Err(Error::TokenOutOfVocab { id, vocab });
        }
        Ok(())
    }

    /// Run `ids` through the model, continuing from `cache` (extended in place), with `hook`
    /// seeing every site. Returns the last block's output (before the final norm), `[t, d]`.
    pub fn forward(&self, ids: &[u32], cache: &mut KvCache, hook: &mut dyn Hook) -> Result<Tensor> {
        Ok(self.forward_batch(&[ids], cache, hook)?.squeeze(0)?)
    }

    /// [`Lm::forward`] of several sequences of one length at once (one cache holds them all;
    /// hooks see `[b, t, d]`). Returns `[b, t, d]`. Decoding many prompts together reads the
    /// weights once per step for all of them, which is what makes batched generation fast.
    ///
    /// Errors: no sequences, sequences of different lengths, or any [`Lm::check_ids`] error.
    pub fn forward_batch(
        &self,
        batch: &[&[u32]],
        cache: &mut KvCache,
        hook: &mut dyn Hook,
    ) -> Result<Tensor> {
        one_length(batch)?;
        for ids in batch {
            self.check_ids(ids, cache.len())?;
        }
        if batch.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        if cache.n_blocks() != self.n_layers() {
            return Err(Error::invalid(
                "cache",
                cache.n_blocks(),
                format!(
                    "a cache made by this model's new_cache() ({} blocks)",
                    self.n_layers()
                ),
            ));
        }
        let ids: Vec<u32> = batch.concat();
        Ok(self
            .model
            .forward(&ids, batch.len(), cache, hook)?
            .to_dtype(DType::F32)?)
    }

    /// The model's head: how a residual row becomes logits (final norm, unembedding, soft-cap).
    /// The lens, the decoders and the scorer all project through it.
    pub fn head(&self) -> Head<'_> {
        Head {
            model: &self.model,
            bf16: &self.head_bf16,
        }
    }

    /// Final logits of pre-norm hidden states `[.., d]` → `[.., vocab]`: [`Head::logits`].
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.head().logits(hidden)
    }

    /// The model's final norm of hidden states `[.., d]`: [`Head::norm`].
    pub fn final_norm(&self, hidden: &Tensor) -> Result<Tensor> {
        self.head().norm(hidden)
    }
}

/// The model's head, borrowed from an [`Lm`] ([`Lm::head`]): the one type that says how a
/// residual row `h` becomes logits, `softcap(W_U · norm_f(h))`, and offers each part on its own
/// (the raw lens and END need the bare `W_U · h`). Every product returns f32.
#[derive(Clone, Copy)]
pub struct Head<'a> {
    model: &'a Transformer,
    /// The unembedding in bf16 for [`Precision::Bf16`](crate::lens::Precision), converted on
    /// first use and kept by the [`Lm`].
    bf16: &'a std::sync::OnceLock<Vec<half::bf16>>,
}

impl fmt::Debug for Head<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Head")
            .field("unembedding", &self.model.lm_head.shape())
            .field("softcap", &self.model.cfg.final_logit_softcapping)
            .finish()
    }
}

impl Head<'_> {
    /// Final logits of pre-norm hidden states `[.., d]` → `[.., vocab]`: final norm,
    /// unembedding, soft-cap; f32 on the model's device.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.model.logits(hidden)
    }

    /// The final norm of hidden states `[.., d]`, f32.
    pub fn norm(&self, hidden: &Tensor) -> Result<Tensor> {
        let h = self.model.to_compute(hidden)?;
        Ok(self.model.final_norm.forward(&h)?.to_dtype(DType::F32)?)
    }

    /// The bare unembedding `W_U · h` of hidden states `[.., d]` → `[.., vocab]`: no norm and no
    /// soft-cap, as Hugging Face's `lm_head(hidden_states[l])` (the DoLa/END early exit).
    pub fn unembed(&self, hidden: &Tensor) -> Result<Tensor> {
        self.model.unembed_raw(hidden)
    }

    /// [`Head::unembed`] restricted to some vocabulary entries: `[.., d]` → `[.., ids.len()]`
    /// (END needs only its candidates' columns).
    pub fn unembed_ids(&self, hidden: &Tensor, ids: &[u32]) -> Result<Tensor> {
        let w = &self.model.lm_head;
        let vocab = w.dim(0)?;
        if let Some(&id) = ids.iter().find(|&&i| i as usize >= vocab) {
            return Err(Error::TokenOutOfVocab { id, vocab });
        }
        let idx = Tensor::new(ids, w.device())?;
        let rows = w.index_select(&idx, 0)?;
        let h = self.model.to_compute(hidden)?;
        Ok(h.broadcast_matmul(&rows.t()?)?.to_dtype(DType::F32)?)
    }

    /// The final logit soft-cap `c·tanh(z/c)` (identity when the model has none).
    pub fn softcap(&self, logits: Tensor) -> Result<Tensor> {
        self.model.softcap(logits)
    }

    /// [`Head::softcap`] on logits in a buffer, in place.
    pub fn softcap_in_place(&self, logits: &mut [f32]) {
        if let Some(c) = self.model.cfg.final_logit_softcapping.map(|c| c as f32) {
            for z in logits {
                *z = c * (*z / c).tanh();
            }
        }
    }

    /// The unembedding matrix `[vocab, d]`, in the model's compute dtype on its device.
    pub fn weight(&self) -> &Tensor {
        &self.model.lm_head
    }

    /// Whether the `_into` products run: an f32, contiguous unembedding on the CPU.
    pub fn fills_buffers(&self) -> bool {
        let w = &self.model.lm_head;
        w.device().is_cpu() && w.dtype() == DType::F32 && w.is_contiguous()
    }

    /// [`Head::logits`] of `rows` hidden states written into `out` (`[rows, vocab]`,
    /// row-major); see [`Head::unembed_into`].
    pub fn logits_into(
        &self,
        hidden: &Tensor,
        precision: crate::lens::Precision,
        out: &mut [f32],
    ) -> Result<()> {
        self.unembed_into(&self.norm(hidden)?, precision, out)?;
        self.softcap_in_place(out);
        Ok(())
    }

    /// [`Head::unembed`] of `rows` hidden states written into `out` (`[rows, vocab]`, row-major)
    /// by one direct matrix product: the CPU lens's hot path, with no logits tensor to copy out.
    /// [`Precision::Bf16`](crate::lens::Precision) rounds rows and unembedding to bf16 and
    /// accumulates in f32 where [`sgemm::has_bf16_product`] holds, else runs in f32. Errors off
    /// the CPU or (f32) where [`Head::fills_buffers`] is false.
    pub fn unembed_into(
        &self,
        hidden: &Tensor,
        precision: crate::lens::Precision,
        out: &mut [f32],
    ) -> Result<()> {
        let w = &self.model.lm_head;
        let (vocab, d) = w.dims2()?;
        if !w.device().is_cpu() {
            return Err(Error::invalid(
                "Head::unembed_into",
                device_name(w.device()),
                "a model on the CPU (use Head::unembed elsewhere)",
            ));
        }
        if precision.effective() == crate::lens::Precision::Bf16 {
            let head = match self.bf16.get() {
                Some(h) => h,
                None => {
                    let h = w
                        .to_dtype(DType::BF16)?
                        .flatten_all()?
                        .to_vec1::<half::bf16>()?;
                    self.bf16.get_or_init(|| h)
                }
            };
            let h = hidden
                .to_dtype(DType::BF16)?
                .flatten_all()?
                .to_vec1::<half::bf16>()?;
            return sgemm::matmul_nt_bf16(&h, head, h.len() / d.max(1), vocab, d, out);
        }
        let h = hidden
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        with_cpu_f32(w, "Head::unembed_into (use Head::unembed elsewhere)", |w| {
            sgemm::matmul_nt(&h, w, h.len() / d.max(1), vocab, d, out)
        })
    }
}

impl Lm {
    /// Full-sequence forward that keeps the residual stream of every layer at the positions of
    /// `spec` (and the final logits), with `hook` able to change the run.
    pub fn trace(&self, ids: &[u32], spec: &CaptureSpec, hook: &mut dyn Hook) -> Result<Trace> {
        let mut traces = self.trace_batch(&[ids], spec, hook)?;
        traces.pop().ok_or(Error::EmptyPrompt)
    }

    /// [`Lm::trace`] of several sequences of one length in one forward pass (hooks see
    /// `[b, t, d]`), one [`Trace`] per sequence. Every product then has `b × t` rows, so the
    /// weights are read (and quantized blocks dequantized) once for the batch instead of once
    /// per sequence: on a CPU, 8 rows of 128 tokens run faster than 8 traces of one.
    ///
    /// Errors: no sequences, sequences of different lengths (group prompts by length), or any
    /// [`Lm::check_ids`] error.
    pub fn trace_batch(
        &self,
        batch: &[&[u32]],
        spec: &CaptureSpec,
        hook: &mut dyn Hook,
    ) -> Result<Vec<Trace>> {
        if batch.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let t = one_length(batch)?;
        for ids in batch {
            self.check_ids(ids, 0)?;
        }
        let positions = spec.positions.resolve(t)?;
        let mut rec = Recorder::new(&positions, spec.sub_blocks, self.device())?;
        let mut cache = self.new_cache();
        let last = {
            let mut both = (&mut rec, hook);
            self.forward_batch(batch, &mut cache, &mut both)?
        };
        // the final logits of every sequence: [b, P, vocab], or [b, 1, vocab] at the last position
        let logits = if spec.all_logits {
            let idx: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
            let idx = Tensor::new(idx.as_slice(), self.device())?;
            self.logits(&last.index_select(&idx, 1)?)?
        } else {
            self.logits(&last.narrow(1, t - 1, 1)?)?
        };
        // [L+1, b, P, d] → sequence i's [L+1, P, d]
        let stack = |v: Vec<Tensor>| -> Result<Option<Tensor>> {
            if v.is_empty() {
                Ok(None)
            } else {
                Ok(Some(Tensor::stack(&v, 0)?))
            }
        };
        let resid = Tensor::stack(&rec.resid, 0)?;
        let attn_out = stack(std::mem::take(&mut rec.attn))?;
        let mlp_out = stack(std::mem::take(&mut rec.mlp))?;
        let resid_mid = stack(std::mem::take(&mut rec.mid))?;
        let row = |x: &Tensor, dim: usize, i: usize| -> Result<Tensor> {
            Ok(x.narrow(dim, i, 1)?.squeeze(dim)?.contiguous()?)
        };
        let row_of = |x: &Option<Tensor>, i: usize| x.as_ref().map(|x| row(x, 1, i)).transpose();
        batch
            .iter()
            .enumerate()
            .map(|(i, ids)| {
                Ok(Trace {
                    model: self.name.clone(),
                    ids: ids.to_vec(),
                    tokens: self.token_texts(ids),
                    positions: positions.clone(),
                    resid: row(&resid, 1, i)?,
                    attn_out: row_of(&attn_out, i)?,
                    mlp_out: row_of(&mlp_out, i)?,
                    resid_mid: row_of(&resid_mid, i)?,
                    logits: row(&logits, 0, i)?,
                })
            })
            .collect()
    }

    /// [`Lm::trace`] of a text, tokenized with [`Lm::encode`], without a hook.
    pub fn trace_text(&self, text: &str, spec: &CaptureSpec) -> Result<Trace> {
        let ids = self.encode(text)?;
        self.trace(&ids, spec, &mut NoHook)
    }

    /// Final-layer logits at the last position of `ids` (full forward, no cache), `[vocab]`.
    pub fn next_token_logits(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let mut cache = self.new_cache();
        let h = self.forward(ids, &mut cache, &mut NoHook)?;
        let last = h.narrow(0, ids.len() - 1, 1)?;
        Ok(self.logits(&last)?.flatten_all()?.to_vec1::<f32>()?)
    }
}

/// The common length of a batch's sequences (0 for no sequences); an error when they differ,
/// since sequences are not padded.
fn one_length(batch: &[&[u32]]) -> Result<usize> {
    let t = batch.first().map_or(0, |s| s.len());
    if batch.iter().any(|s| s.len() != t) {
        let lens: Vec<usize> = batch.iter().map(|s| s.len()).collect();
        return Err(Error::invalid(
            "batch",
            format!("{lens:?} tokens"),
            "sequences of one length (group prompts by length)",
        ));
    }
    Ok(t)
}

/// `f` on the data of `t`, a contiguous f32 tensor on the CPU, borrowed as one row-major slice:
/// how the CPU kernels read a tensor without copying it out. `what` names it in the error.
pub(crate) fn with_cpu_f32<R>(
    t: &Tensor,
    what: &'static str,
    f: impl FnOnce(&[f32]) -> Result<R>,
) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let (candle_core::Storage::Cpu(cpu), true) = (&*storage, layout.is_contiguous()) else {
        return Err(Error::invalid(
            what,
            format!("a {:?} tensor on {:?}", t.dtype(), t.device().location()),
            "a contiguous f32 tensor on the CPU",
        ));
    };
    f(&cpu.as_slice::<f32>()?[layout.start_offset()..][..t.elem_count()])
}

/// The text of one token decoded alone ([`Lm::token_texts`]). SentencePiece decoders strip the
/// leading space of a sequence, which a lone token always is: its `▁` is a space all the same.
pub(crate) fn token_text(tokenizer: &Tokenizer, id: u32) -> String {
    let text = tokenizer
        .decode(&[id], false)
        .unwrap_or_else(|_| format!("<unk:{id}>"));
    let spaced = tokenizer
        .id_to_token(id)
        .is_some_and(|t| t.starts_with('▁'));
    if spaced && !text.starts_with(' ') {
        format!(" {text}")
    } else {
        text
    }
}
