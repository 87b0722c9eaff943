//! The logit lens: read every layer's residual stream as a next-token distribution, and reduce
//! it to statistics one layer and one chunk of positions at a time.
//!
//! Layer `l` of a [`Trace`] (`0` = embeddings … `L` = last block, before the final norm) is
//! projected as `softcap(W_U · norm_f(h_l))` with [`LensKind::Normed`] (the Entropy-Lens
//! convention: the model's *own* final norm recomputed on each layer's state, never a cached
//! scale — TransformerLens bug #1076), or `W_U · h_l` with [`LensKind::Raw`] (Hugging Face's
//! `lm_head(hidden_states[l])`, the DoLa/END early exit: neither norm nor soft-cap).
//! A [`Lens`] says how a layer's rows become logits through the model's [`Head`]; the two kinds
//! ([`LensKind::lens`]) are [`NormedLens`] and [`RawLens`], and every early exit (the profile's
//! CPU fast path, [`LogitLens::early_exit`], DoLa, END, the scorer) goes through one of them.
//! Layer `L` is always the model's own final logits. Relative to Hugging Face's
//! `hidden_states`: ours `[0..L-1]` = HF `[0..L-1]`; HF's last entry is already normed.
//!
//! Memory: a `[layers × tokens × vocab]` block is never built; at most two `[chunk × vocab]`
//! blocks of logits exist at once (the layer and, for KL, the final layer).

use std::fmt;

use candle_core::{Tensor, D};

use crate::entropy::{self, Metric, Request, Units};
use crate::model::Head;
use crate::profile::LayerProfile;
use crate::trace::{CaptureSpec, Trace};
use crate::{Error, Lm, Result};

/// How a layer's residual stream becomes logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum LensKind {
    /// Final norm, then the unembedding (default).
    #[default]
    Normed,
    /// The unembedding alone, without norm or soft-cap (the DoLa/END early exit, as Hugging
    /// Face's DoLa computes it); layer L is the model's own output.
    Raw,
}

impl LensKind {
    /// The lens of this kind.
    pub fn lens(self) -> &'static dyn Lens {
        match self {
            LensKind::Normed => &NormedLens,
            LensKind::Raw => &RawLens,
        }
    }
}

/// How rows of the residual stream taken below the last block become logits through the model's
/// [`Head`]. One trait so that no two users project a layer differently, and so that a learned
/// lens (a tuned lens) can be added beside the two logit lenses. Layer `L` is never projected
/// by a lens: it is the model's own output, [`Head::logits`].
pub trait Lens: fmt::Debug + Send + Sync {
    /// Early-exit logits of rows `[rows, d]` → `[rows, vocab]`, f32. The rows may come from
    /// several layers at once (DoLa and END stack their layers into one product).
    fn early_exit(&self, head: Head<'_>, h: &Tensor) -> Result<Tensor>;

    /// [`Lens::early_exit`] written into `out` (`[rows, vocab]`, row-major) by one direct product
    /// on the CPU ([`Head::unembed_into`]): the profile's fast path.
    fn early_exit_into(
        &self,
        head: Head<'_>,
        h: &Tensor,
        precision: Precision,
        out: &mut [f32],
    ) -> Result<()>;

    /// [`Lens::early_exit`] of some vocabulary entries only: `[rows, d]` → `[rows, ids.len()]`
    /// (END reads only its candidates).
    fn early_exit_ids(&self, head: Head<'_>, h: &Tensor, ids: &[u32]) -> Result<Tensor>;

    /// Whether the early exit is the model's own head, so layer L needs no product of its own.
    fn is_head(&self) -> bool {
        false
    }
}

/// The normed logit lens: the model's own head (final norm, unembedding, soft-cap) at every
/// layer, the final norm recomputed on each layer's state (the Entropy-Lens convention).
#[derive(Debug, Clone, Copy, Default)]
pub struct NormedLens;

impl Lens for NormedLens {
    fn early_exit(&self, head: Head<'_>, h: &Tensor) -> Result<Tensor> {
        head.logits(h)
    }

    fn early_exit_into(
        &self,
        head: Head<'_>,
        h: &Tensor,
        precision: Precision,
        out: &mut [f32],
    ) -> Result<()> {
        head.logits_into(h, precision, out)
    }

    fn early_exit_ids(&self, head: Head<'_>, h: &Tensor, ids: &[u32]) -> Result<Tensor> {
        head.softcap(head.unembed_ids(&head.norm(h)?, ids)?)
    }

    fn is_head(&self) -> bool {
        true
    }
}

/// The raw logit lens: the bare unembedding `W_U · h`, without norm or soft-cap (Hugging Face's
/// `lm_head(hidden_states[l])`, the DoLa/END early exit).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawLens;

impl Lens for RawLens {
    fn early_exit(&self, head: Head<'_>, h: &Tensor) -> Result<Tensor> {
        head.unembed(h)
    }

    fn early_exit_into(
        &self,
        head: Head<'_>,
        h: &Tensor,
        precision: Precision,
        out: &mut [f32],
    ) -> Result<()> {
        head.unembed_into(h, precision, out)
    }

    fn early_exit_ids(&self, head: Head<'_>, h: &Tensor, ids: &[u32]) -> Result<Tensor> {
        head.unembed_ids(h, ids)
    }
}

impl std::str::FromStr for LensKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "normed" => Ok(LensKind::Normed),
            "raw" => Ok(LensKind::Raw),
            _ => Err(Error::invalid("lens", s, "`normed` or `raw`")),
        }
    }
}

impl fmt::Display for LensKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LensKind::Normed => "normed",
            LensKind::Raw => "raw",
        })
    }
}

/// The precision of the CPU lens's unembedding product; the residual stream, the final norm and
/// every reduction stay f32 either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    /// f32 inputs and accumulation (default; what the papers' runs use).
    #[default]
    F32,
    /// Rows and unembedding rounded to bf16, products accumulated in f32 (AMX or AVX512-BF16
    /// through MKL: a build with `--features mkl`). Faster where the CPU has those
    /// instructions; against `transformers`' f32, per-layer mean entropies move by up to 3e-3
    /// nats with the normed lens and 8e-3 with the raw one (single cells by up to 0.08 and 0.7).
    /// Elsewhere the lens runs in f32 ([`Precision::effective`] says which runs).
    Bf16,
}

impl Precision {
    /// What runs here: `Bf16` only where [`sgemm::has_bf16_product`](crate::model::has_bf16_product)
    /// holds (an `mkl` build on a CPU with AMX-BF16 or AVX512-BF16), else `F32`.
    pub fn effective(self) -> Self {
        match self {
            Precision::Bf16 if crate::model::has_bf16_product() => Precision::Bf16,
            _ => Precision::F32,
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(Error::invalid("lens precision", s, "`f32` or `bf16`")),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

/// Who reduces a chunk of logits to statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reducer {
    /// The fused CPU kernels when the model is on the CPU, tensor ops on its device otherwise.
    #[default]
    Auto,
    /// Always tensor ops on the model's device (on a GPU, only the statistics are copied back).
    TensorOps,
}

/// Which token each position's target-based metrics (cross-entropy, rank, probability) use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Targets {
    /// No targets (asking for a target metric is then an error).
    #[default]
    None,
    /// The next token of the input (ground truth); the last position has none and gets NaN.
    NextToken,
    /// One id per kept position of the trace (e.g. a sampled or expected token).
    Ids(Vec<u32>),
}

impl Targets {
    /// The next token when any of `metrics` needs a target, else none: what a prompt's own
    /// profile uses.
    pub fn for_metrics(metrics: &[crate::entropy::Metric]) -> Self {
        if metrics.iter().any(|m| m.needs_target()) {
            Targets::NextToken
        } else {
            Targets::None
        }
    }
}

/// Bytes of logits the lens unembeds at once by default (64 MiB), the bound on its memory.
pub const DEFAULT_CHUNK_BYTES: usize = 64 << 20;

/// The CPU path unembeds at least this many rows per product, even past
/// [`LogitLens::chunk_bytes`]: each product reads the whole `[vocab × d]` unembedding from
/// memory, and at Qwen2.5's 151,936-token vocabulary 64 MiB is only 110 rows, which left the
/// 1.5B's lens ~15 % slower (one buffer of 384 rows: 0.23 GB there, 0.4 GB at Gemma-3's 262k).
pub const MIN_PRODUCT_ROWS: usize = 384;

/// The logit lens. Cheap to build; holds only options.
///
/// ```no_run
/// use entroscope::prelude::*;
/// # fn main() -> entroscope::Result<()> {
/// let lm = Lm::load(&entroscope::model::default_model_path())?;
/// let trace = lm.trace_text("The capital of France is", &CaptureSpec::default())?;
/// let profiles = LogitLens::normed().profile(&lm, &trace, &[Metric::Shannon], &Targets::None)?;
/// println!("{}", profiles[0]); // Shannon entropy, nats, [L+1, positions]
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogitLens {
    /// Normed (default) or raw.
    pub kind: LensKind,
    /// Units of information metrics (nats by default).
    pub units: Units,
    /// Bytes of logits per chunk (one layer × some positions); bounds memory, except that the
    /// CPU path takes at least [`MIN_PRODUCT_ROWS`] rows per product. Default
    /// [`DEFAULT_CHUNK_BYTES`].
    pub chunk_bytes: usize,
    /// Fused CPU kernels or tensor ops ([`Reducer::Auto`] picks by the model's device).
    pub reducer: Reducer,
    /// Precision of the CPU unembedding product (f32 by default; [`Precision::Bf16`] on AMX).
    pub precision: Precision,
}

/// Where a block of reduced rows goes: flat row `i` is layer `i / P`, kept position `i % P`
/// (the layout of [`LayerProfile::values`]), for every requested metric.
struct BlockWriter<'a> {
    metrics: &'a [Metric],
    renyi_slot: &'a [usize],
    units: Units,
    targets: Option<&'a [Option<u32>]>,
    n_pos: usize,
    values: &'a mut [Vec<f32>],
}

impl BlockWriter<'_> {
    /// The targets of flat rows `start..start + rows` (id 0 where a position has none; those
    /// rows get NaN from [`BlockWriter::write`]).
    fn targets_of(&self, start: usize, rows: usize) -> Option<Vec<u32>> {
        self.targets.map(|t| {
            (start..start + rows)
                .map(|i| t[i % self.n_pos].unwrap_or(0))
                .collect()
        })
    }

    fn write(&mut self, start: usize, stats: &[entropy::RowStats], kl: Option<&[f32]>) {
        for (mi, m) in self.metrics.iter().enumerate() {
            let out = &mut self.values[mi][start..start + stats.len()];
            for (r, (o, st)) in out.iter_mut().zip(stats).enumerate() {
                // a position without a target was reduced against id 0: no value
                let no_target = m.needs_target()
                    && self
                        .targets
                        .is_none_or(|t| t[(start + r) % self.n_pos].is_none());
                let nats = if no_target {
                    f32::NAN
                } else {
                    m.value(st, self.renyi_slot[mi], kl.map(|k| k[r]))
                };
                *o = m.convert(nats, self.units);
            }
        }
    }
}

impl Default for LogitLens {
    fn default() -> Self {
        Self {
            kind: LensKind::Normed,
            units: Units::Nats,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            reducer: Reducer::Auto,
            precision: Precision::F32,
        }
    }
}

impl LogitLens {
    /// Final norm at every layer (the Entropy-Lens convention).
    pub fn normed() -> Self {
        Self::default()
    }

    /// No final norm below the last layer (the DoLa/END convention).
    pub fn raw() -> Self {
        Self {
            kind: LensKind::Raw,
            ..Self::default()
        }
    }

    /// Same lens, values in `units`.
    pub fn units(mut self, units: Units) -> Self {
        self.units = units;
        self
    }

    /// Same lens, unembedding product in `precision` where the machine runs it
    /// ([`Precision::effective`]).
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Same lens, chunks reduced by `reducer`.
    pub fn reducer(mut self, reducer: Reducer) -> Self {
        self.reducer = reducer;
        self
    }

    fn on_device(&self, lm: &Lm) -> bool {
        self.reducer == Reducer::TensorOps || !lm.device().is_cpu()
    }

    /// Statistics of every row of `z` (`[rows, vocab]`, f32) by the chosen reducer.
    fn reduce(
        &self,
        lm: &Lm,
        z: &Tensor,
        req: &Request,
        targets: Option<&[u32]>,
    ) -> Result<Vec<entropy::RowStats>> {
        if self.on_device(lm) {
            return entropy::reduce_rows_tensor(z, req, targets);
        }
        let vocab = z.dim(1)?;
        entropy::reduce_rows(&z.flatten_all()?.to_vec1::<f32>()?, vocab, req, targets)
    }

    /// Logits of one layer for hidden states `h` (`[rows, d]`) → `[rows, vocab]`.
    pub fn project(&self, lm: &Lm, h: &Tensor, layer: usize) -> Result<Tensor> {
        if layer == lm.n_layers() {
            return lm.logits(h);
        }
        self.early_exit(lm, h)
    }

    /// Early-exit logits of rows taken below the last block, `[rows, d]` → `[rows, vocab]`:
    /// [`Lens::early_exit`] of this lens's kind.
    pub fn early_exit(&self, lm: &Lm, h: &Tensor) -> Result<Tensor> {
        self.kind.lens().early_exit(lm.head(), h)
    }

    /// Logits of layer `l` at the trace's kept positions, `[P, vocab]`. Materialises one
    /// layer only; for statistics over all layers use [`LogitLens::profile`].
    pub fn layer_logits(&self, lm: &Lm, trace: &Trace, layer: usize) -> Result<Tensor> {
        self.project(lm, &trace.layer(layer)?, layer)
    }

    /// Log-probabilities of layer `l` at the kept positions, `[P, vocab]`.
    pub fn layer_log_probs(&self, lm: &Lm, trace: &Trace, layer: usize) -> Result<Tensor> {
        let z = self.layer_logits(lm, trace, layer)?;
        Ok(candle_nn::ops::log_softmax(&z, D::Minus1)?)
    }

    fn rows_per_chunk(&self, vocab: usize, positions: usize) -> usize {
        (self.chunk_bytes / (vocab * 4).max(1)).clamp(1, positions.max(1))
    }

    /// Every metric at every layer and kept position: one [`LayerProfile`] per metric, in the
    /// order given, values `[L+1, P]`.
    ///
    /// Work is streamed: for each chunk of positions and each layer, the logits `[chunk, vocab]`
    /// are computed, reduced in one fused pass per row (in parallel), and dropped.
    pub fn profile(
        &self,
        lm: &Lm,
        trace: &Trace,
        metrics: &[Metric],
        targets: &Targets,
    ) -> Result<Vec<LayerProfile>> {
        if metrics.is_empty() {
            return Err(Error::invalid("metrics", "[]", "at least one metric"));
        }
        let n_pos = trace.positions.len();
        let n_layers = trace.n_layers();
        let vocab = lm.vocab_size();
        let targets = self.resolve_targets(trace, targets, vocab)?;
        if targets.is_none() {
            if let Some(m) = metrics.iter().find(|m| m.needs_target()) {
                return Err(Error::invalid(
                    "targets",
                    "none",
                    format!("{m} needs targets: pass Targets::NextToken or Targets::Ids"),
                ));
            }
        }
        // One fused request for all entropies.
        let (req, renyi_slot) = Request::for_metrics(metrics);
        let want_kl = metrics.iter().any(|m| m.needs_reference());
        let mut values = vec![vec![f32::NAN; (n_layers + 1) * n_pos]; metrics.len()];
        let mut out = BlockWriter {
            metrics,
            renyi_slot: &renyi_slot,
            units: self.units,
            targets: targets.as_deref(),
            n_pos,
            values: &mut values,
        };
        if !want_kl && !self.on_device(lm) && lm.head().fills_buffers() {
            self.profile_stacked(lm, trace, &req, &mut out)?;
        } else {
            self.profile_by_layer(lm, trace, &req, want_kl, &mut out)?;
        }
        let tokens: Vec<String> = trace
            .positions
            .iter()
            .map(|&p| trace.tokens.get(p).cloned().unwrap_or_default())
            .collect();
        Ok(metrics
            .iter()
            .zip(values)
            .map(|(m, v)| LayerProfile {
                model: trace.model.clone(),
                prompt_id: 0,
                metric: *m,
                units: if m.is_information() {
                    self.units
                } else {
                    Units::Nats
                },
                n_layers,
                positions: trace.positions.clone(),
                tokens: tokens.clone(),
                values: v,
            })
            .collect())
    }

    /// The CPU path: the rows of all layers stacked layer-major (the layout of the profile's
    /// values) and projected in blocks of [`LogitLens::chunk_bytes`] (at least
    /// [`MIN_PRODUCT_ROWS`] rows) straight into one reused
    /// buffer ([`Lens::early_exit_into`], and [`Head::logits_into`] for layer `L`), so each
    /// product gets as many rows as the memory bound allows whatever the prompt length, and no
    /// tensor is copied out.
    fn profile_stacked(
        &self,
        lm: &Lm,
        trace: &Trace,
        req: &Request,
        out: &mut BlockWriter<'_>,
    ) -> Result<()> {
        let (n_pos, n_layers, vocab) = (out.n_pos, trace.n_layers(), lm.vocab_size());
        let total = (n_layers + 1) * n_pos;
        let d = trace.resid.dim(2)?;
        let resid = trace.resid.reshape((total, d))?;
        // First row of layer L, the model's own logits (past the end when the lens is the head:
        // then every row goes through one product).
        let last = if self.kind.lens().is_head() {
            total
        } else {
            n_layers * n_pos
        };
        let block = self
            .rows_per_chunk(vocab, total)
            .max(MIN_PRODUCT_ROWS.min(total));
        let mut z = vec![0f32; block * vocab];
        let (head, lens) = (lm.head(), self.kind.lens());
        for s in (0..total).step_by(block) {
            let m = block.min(total - s);
            let h = resid.narrow(0, s, m)?;
            let z = &mut z[..m * vocab];
            // rows before `below` are early exits; the rest are layer L
            let below = last.saturating_sub(s).min(m);
            let (early, fin) = z.split_at_mut(below * vocab);
            if below > 0 {
                lens.early_exit_into(head, &h.narrow(0, 0, below)?, self.precision, early)?;
            }
            if below < m {
                head.logits_into(&h.narrow(0, below, m - below)?, self.precision, fin)?;
            }
            let targets = out.targets_of(s, m);
            let stats = entropy::reduce_rows(z, vocab, req, targets.as_deref())?;
            out.write(s, &stats, None);
        }
        Ok(())
    }

    /// The general path: one layer and one chunk of positions at a time, through
    /// [`LogitLens::project`], reduced by the chosen reducer (and KL to the final layer).
    fn profile_by_layer(
        &self,
        lm: &Lm,
        trace: &Trace,
        req: &Request,
        want_kl: bool,
        out: &mut BlockWriter<'_>,
    ) -> Result<()> {
        let (n_pos, n_layers, vocab) = (out.n_pos, trace.n_layers(), lm.vocab_size());
        let chunk = self.rows_per_chunk(vocab, n_pos);
        for start in (0..n_pos).step_by(chunk) {
            let rows = chunk.min(n_pos - start);
            let final_logits = if want_kl {
                let h = trace.resid.get(n_layers)?.narrow(0, start, rows)?;
                Some(lm.logits(&h)?.contiguous()?)
            } else {
                None
            };
            let final_slice = match &final_logits {
                Some(t) if !self.on_device(lm) => Some(t.flatten_all()?.to_vec1::<f32>()?),
                _ => None,
            };
            let targets = out.targets_of(start, rows);
            for layer in 0..=n_layers {
                let h = trace.resid.get(layer)?.narrow(0, start, rows)?;
                let z = self.project(lm, &h, layer)?.contiguous()?;
                let (stats, kl) = if self.on_device(lm) {
                    let stats = entropy::reduce_rows_tensor(&z, req, targets.as_deref())?;
                    let kl = match &final_logits {
                        Some(q) => Some(entropy::kl_rows_tensor(&z, q)?),
                        None => None,
                    };
                    (stats, kl)
                } else {
                    let z = z.flatten_all()?.to_vec1::<f32>()?;
                    let stats = entropy::reduce_rows(&z, vocab, req, targets.as_deref())?;
                    let kl = match &final_slice {
                        Some(q) => Some(entropy::kl_rows(&z, q, vocab)?),
                        None => None,
                    };
                    (stats, kl)
                };
                out.write(layer * n_pos + start, &stats, kl.as_deref());
            }
        }
        Ok(())
    }

    fn resolve_targets(
        &self,
        trace: &Trace,
        targets: &Targets,
        vocab: usize,
    ) -> Result<Option<Vec<Option<u32>>>> {
        let t: Vec<Option<u32>> = match targets {
            Targets::None => return Ok(None),
            Targets::NextToken => trace
                .positions
                .iter()
                .map(|&p| trace.ids.get(p + 1).copied())
                .collect(),
            Targets::Ids(ids) => {
                if ids.len() != trace.positions.len() {
                    return Err(Error::invalid(
                        "targets",
                        ids.len(),
                        format!(
                            "one target id per kept position ({})",
                            trace.positions.len()
                        ),
                    ));
                }
                ids.iter().map(|&i| Some(i)).collect()
            }
        };
        if let Some(id) = t.iter().flatten().find(|&&i| i as usize >= vocab) {
            return Err(Error::TokenOutOfVocab { id: *id, vocab });
        }
        Ok(Some(t))
    }

    /// Profiles of several texts, one forward pass each: for text `i` one [`LayerProfile`] per
    /// metric (in the order of `metrics`) with `prompt_id = i`, text after text. Target metrics
    /// (cross-entropy, rank, probability) use each text's next token. A progress bar is drawn
    /// for eight texts or more.
    ///
    /// ```no_run
    /// use entroscope::prelude::*;
    /// # fn main() -> entroscope::Result<()> {
    /// let lm = Lm::load(&entroscope::model::default_model_path())?;
    /// let texts = ["The capital of France is", "Once upon a time"];
    /// let profiles = LogitLens::normed().profile_texts(&lm, &texts, &[Metric::Shannon])?;
    /// assert_eq!(profiles[1].prompt_id, 1);
    /// # Ok(()) }
    /// ```
    pub fn profile_texts<S: AsRef<str>>(
        &self,
        lm: &Lm,
        texts: &[S],
        metrics: &[Metric],
    ) -> Result<Vec<LayerProfile>> {
        let targets = Targets::for_metrics(metrics);
        let bar = if texts.len() >= 8 {
            crate::progress::progress_bar(texts.len(), "profile")
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut out = Vec::with_capacity(texts.len() * metrics.len());
        for (i, text) in texts.iter().enumerate() {
            let trace = lm.trace_text(text.as_ref(), &CaptureSpec::default())?;
            for mut p in self.profile(lm, &trace, metrics, &targets)? {
                p.prompt_id = i;
                out.push(p);
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(out)
    }

    /// The `k` most likely tokens of every layer at every kept position.
    pub fn top_k(&self, lm: &Lm, trace: &Trace, k: usize) -> Result<TopTokens> {
        if k == 0 {
            return Err(Error::invalid("k", 0, "k ≥ 1"));
        }
        let vocab = lm.vocab_size();
        let k = k.min(vocab);
        let n_pos = trace.positions.len();
        let req = Request::new().top_k(k);
        let mut entries = Vec::with_capacity((trace.n_layers() + 1) * n_pos * k);
        for layer in 0..=trace.n_layers() {
            let chunk = self.rows_per_chunk(vocab, n_pos);
            for start in (0..n_pos).step_by(chunk) {
                let rows = chunk.min(n_pos - start);
                let h = trace.resid.get(layer)?.narrow(0, start, rows)?;
                let z = self.project(lm, &h, layer)?.contiguous()?;
                let stats = self.reduce(lm, &z, &req, None)?;
                for (r, st) in stats.iter().enumerate() {
                    for (rank, &(id, lp)) in st.top_k.iter().enumerate() {
                        entries.push(TopToken {
                            layer,
                            position: trace.positions[start + r],
                            rank,
                            id,
                            token: lm.token_text(id),
                            prob: lp.exp(),
                        });
                    }
                }
            }
        }
        Ok(TopTokens {
            model: trace.model.clone(),
            n_layers: trace.n_layers(),
            k,
            entries,
        })
    }
}

/// One entry of [`TopTokens`].
#[derive(Debug, Clone, PartialEq)]
pub struct TopToken {
    /// Layer, `0..=L`.
    pub layer: usize,
    /// Token position in the prompt.
    pub position: usize,
    /// 0 = most likely.
    pub rank: usize,
    /// Token id.
    pub id: u32,
    /// Decoded text of the token.
    pub token: String,
    /// Its probability under the lens at this layer.
    pub prob: f32,
}

/// Top-k tokens per layer and position (from [`LogitLens::top_k`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TopTokens {
    /// The model's short name.
    pub model: String,
    /// Blocks `L` (layers are `0..=L`).
    pub n_layers: usize,
    /// Tokens kept per layer and position.
    pub k: usize,
    /// Ordered by layer, then position, then rank.
    pub entries: Vec<TopToken>,
}

impl TopTokens {
    /// The top-1 token of every layer at every position, row-major `[L + 1, positions]` (row =
    /// layer, as [`crate::plot::heatmap`] draws a profile), for a heatmap's
    /// [`cell_labels`](crate::plot::Chart::cell_labels): tuned-lens's layer × position picture.
    pub fn grid(&self) -> Vec<String> {
        // columns in the order the trace kept its positions (all, the last, or a list)
        let mut columns: Vec<usize> = Vec::new();
        for e in self.entries.iter().filter(|e| e.layer == 0 && e.rank == 0) {
            if !columns.contains(&e.position) {
                columns.push(e.position);
            }
        }
        let n_pos = columns.len();
        let mut out = vec![String::new(); (self.n_layers + 1) * n_pos];
        for e in self.entries.iter().filter(|e| e.rank == 0) {
            let column = columns.iter().position(|&p| p == e.position);
            if let Some(cell) = column.and_then(|c| out.get_mut(e.layer * n_pos + c)) {
                cell.clone_from(&e.token);
            }
        }
        out
    }

    /// The top-1 entry of each layer at `position`, layer 0..=L.
    pub fn top1_at(&self, position: usize) -> Vec<&TopToken> {
        self.entries
            .iter()
            .filter(|e| e.position == position && e.rank == 0)
            .collect()
    }
}

impl fmt::Display for TopTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "top-{} tokens of {} by layer", self.k, self.model)?;
        let last = self.entries.iter().map(|e| e.position).max().unwrap_or(0);
        for e in self.top1_at(last) {
            writeln!(
                f,
                "layer {:>3}  {:<16} p={:.3}",
                e.layer,
                format!("{:?}", e.token),
                e.prob
            )?;
        }
        Ok(())
    }
}

impl crate::frame::ToFrame for TopTokens {
    /// Columns `model, layer, depth, position, rank, id, token, prob`.
    fn to_frame(&self) -> Result<polars::prelude::DataFrame> {
        use crate::frame::{frame_from_columns, ColumnData};
        let e = &self.entries;
        let n = self.n_layers.max(1) as f64;
        frame_from_columns(vec![
            ("model", ColumnData::Str(vec![self.model.clone(); e.len()])),
            (
                "layer",
                ColumnData::I64(e.iter().map(|x| x.layer as i64).collect()),
            ),
            (
                "depth",
                ColumnData::F64(e.iter().map(|x| x.layer as f64 / n).collect()),
            ),
            (
                "position",
                ColumnData::I64(e.iter().map(|x| x.position as i64).collect()),
            ),
            (
                "rank",
                ColumnData::I64(e.iter().map(|x| x.rank as i64).collect()),
            ),
            (
                "id",
                ColumnData::I64(e.iter().map(|x| x.id as i64).collect()),
            ),
            (
                "token",
                ColumnData::Str(e.iter().map(|x| x.token.clone()).collect()),
            ),
            (
                "prob",
                ColumnData::F64(e.iter().map(|x| x.prob as f64).collect()),
            ),
        ])
    }
}
