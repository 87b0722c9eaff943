//! Entropy profiles of generations: the normed logit lens at the last position of every
//! generation step, every layer, reduced to Shannon / Rényi entropies.
//!
//! Speed: prompts of one length decode together ([`Lm::forward_batch`], `batch_size` at a time),
//! so each step reads the weights once for all of them; the lens is matmul-bound
//! (`[rows, d] · [d, vocab]`), so the residual rows of many steps and prompts are queued and
//! unembedded together, `chunk_bytes` of logits at a time. The final layer's entropies come from
//! the logits the sampler already has (no second matmul).

use candle_core::Tensor;
use indicatif::ProgressBar;

use crate::data::Checkpoint;
use crate::decode::{LogitsProcessor, Sampling};
use crate::entropy::{self, Metric, Renyi, Request, Units};
use crate::hook::{Hook, Site};
use crate::lens::{LensKind, Precision};
use crate::profile::LayerProfile;
use crate::{Error, Lm, Result};

/// How the generations behind the profiles are made.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    /// New tokens per prompt (≥ 1); EOS is suppressed so every generation has exactly this many
    /// steps (the window features need a fixed length).
    pub max_new_tokens: usize,
    /// How each step's token is chosen: [`Sampling::ArgMax`] (greedy, the reference's formats
    /// run) or any sampling rule (tasks and families sample).
    pub sampling: Sampling,
    /// Seed; prompt `i` draws from `StdRng::seed_from_u64(seed + i)` (unused when greedy).
    pub seed: u64,
    /// Metrics (Shannon, Rényi of any order), nats.
    pub metrics: Vec<Metric>,
    /// Bytes of logits unembedded at once (default [`crate::lens::DEFAULT_CHUNK_BYTES`]).
    pub chunk_bytes: usize,
    /// Most prompts of one length decoded together (≥ 1; default 16). Results do not depend on
    /// it beyond float rounding.
    pub batch_size: usize,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self {
            max_new_tokens: 32,
            sampling: Sampling::All { temperature: 0.7 },
            seed: 0,
            metrics: default_metrics(),
            chunk_bytes: crate::lens::DEFAULT_CHUNK_BYTES,
            batch_size: 16,
        }
    }
}

/// The paper's orders: Shannon (α = 1) and Rényi α = 0.5 and 5.
pub fn default_metrics() -> Vec<Metric> {
    // `const` blocks: the orders are checked when compiling
    let (half, five) = const { (Renyi::checked(0.5).unwrap(), Renyi::checked(5.0).unwrap()) }; // ok: const, checked at compile time
    vec![Metric::Shannon, Metric::Renyi(half), Metric::Renyi(five)]
}

/// One generation and its entropy profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct GenProfile {
    /// Model name.
    pub model: String,
    /// Index of the prompt in its batch.
    pub prompt_id: usize,
    /// Prompt length in tokens.
    pub prompt_len: usize,
    /// Generated ids (exactly `max_new_tokens`).
    pub ids: Vec<u32>,
    /// Generated text.
    pub text: String,
    /// One profile per metric (in the order of [`GenOptions::metrics`]), `[L+1, steps]`:
    /// row `l` = layer `l` (0 = embeddings, L = final logits), column `s` = step `s`.
    pub profiles: Vec<LayerProfile>,
}

/// Keeps the last position's residual rows `[b, d]` at every layer (embeddings and each block).
struct LastRows {
    rows: Vec<Option<Tensor>>,
}

impl Hook for LastRows {
    fn visit(&mut self, site: Site, x: &Tensor) -> Result<Option<Tensor>> {
        let l = match site {
            Site::Embed => 0,
            Site::BlockOut(l) => l,
            _ => return Ok(None),
        };
        if let Some(slot) = self.rows.get_mut(l) {
            let t = x.dim(1)?;
            *slot = Some(x.narrow(1, t - 1, 1)?.squeeze(1)?);
        }
        Ok(None)
    }
}

fn request(metrics: &[Metric]) -> Result<(Request, Vec<usize>)> {
    if metrics.is_empty() {
        return Err(Error::invalid(
            "metrics",
            "[]",
            "at least one entropy metric",
        ));
    }
    if let Some(other) = metrics
        .iter()
        .find(|m| !matches!(m, Metric::Shannon | Metric::Renyi(_)))
    {
        return Err(Error::invalid(
            "metrics",
            other,
            "entropies only (shannon, renyi:<α>): a generation has no targets",
        ));
    }
    Ok(Request::for_metrics(metrics))
}

/// Rows waiting for the lens, tagged `(prompt, layer, step)`: blocks `[k, d]` with `k` tags each.
struct Queue<'a> {
    lm: &'a Lm,
    metrics: &'a [Metric],
    req: Request,
    slot: Vec<usize>,
    n_steps: usize,
    rows: Vec<Tensor>,
    tags: Vec<(usize, usize, usize)>,
    max_rows: usize,
    /// Logits buffer of the CPU f32 path, reused across flushes.
    z: Vec<f32>,
}

impl Queue<'_> {
    fn push(
        &mut self,
        out: &mut [Vec<Vec<f32>>],
        tags: impl IntoIterator<Item = (usize, usize, usize)>,
        rows: Tensor,
    ) -> Result<()> {
        let k = rows.dim(0)?;
        if self.tags.len() + k > self.max_rows {
            self.flush(out)?;
        }
        self.rows.push(rows);
        self.tags.extend(tags);
        if self.tags.len() >= self.max_rows {
            self.flush(out)?;
        }
        Ok(())
    }

    /// Project the queued rows (layers below `L`) through the normed lens in one matmul and
    /// write their entropies into `out` (`out[prompt][metric]` is `[L+1, steps]` row-major).
    fn flush(&mut self, out: &mut [Vec<Vec<f32>>]) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let h = Tensor::cat(&self.rows, 0)?;
        let vocab = self.lm.vocab_size();
        let (head, lens) = (self.lm.head(), LensKind::Normed.lens());
        let stats = if head.fills_buffers() {
            // The CPU f32 hot path: one direct product into a reused buffer.
            let z = &mut self.z;
            z.resize(self.tags.len() * vocab, 0.0);
            lens.early_exit_into(head, &h, Precision::F32, z)?;
            entropy::reduce_rows(z, vocab, &self.req, None)?
        } else {
            let z = lens.early_exit(head, &h)?.flatten_all()?.to_vec1::<f32>()?;
            entropy::reduce_rows(&z, vocab, &self.req, None)?
        };
        for (&(p, layer, step), st) in self.tags.iter().zip(&stats) {
            let at = layer * self.n_steps + step;
            write_stats(&mut out[p], at, st, self.metrics, &self.slot);
        }
        self.rows.clear();
        self.tags.clear();
        Ok(())
    }
}

/// Write one row's entropies at flat index `at` of every metric's buffer.
fn write_stats(
    out: &mut [Vec<f32>],
    at: usize,
    st: &entropy::RowStats,
    metrics: &[Metric],
    slot: &[usize],
) {
    for ((buf, m), &s) in out.iter_mut().zip(metrics).zip(slot) {
        if let Some(c) = buf.get_mut(at) {
            *c = m.value(st, s, None);
        }
    }
}

/// Indices of `prompts` grouped by length, at most `size` per group, in order of first appearance.
fn length_batches(prompts: &[Vec<u32>], size: usize) -> Result<Vec<Vec<usize>>> {
    if size == 0 {
        return Err(Error::invalid(
            "batch_size",
            0,
            "at least 1 prompt per batch",
        ));
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, p) in prompts.iter().enumerate() {
        match groups.iter_mut().find(|g| prompts[g[0]].len() == p.len()) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    Ok(groups
        .into_iter()
        .flat_map(|g| g.chunks(size).map(<[usize]>::to_vec).collect::<Vec<_>>())
        .collect())
}

/// Generate from every prompt (ids, e.g. [`Lm::encode`] of a text) and return the entropy
/// profile of each generation: the normed logit lens (final norm at every layer, as
/// [`crate::lens::LogitLens::normed`]) at the last position of every step, at every layer
/// `0..=L`, reduced to the metrics of `opts` in nats.
///
/// Errors: an empty prompt, a prompt beyond the context window, `max_new_tokens = 0`, bad
/// sampling parameters or a non-entropy metric.
///
/// ```no_run
/// use entroscope::papers::entropy_lens::profiles::{generation_profiles, GenOptions};
/// # fn main() -> entroscope::Result<()> {
/// let lm = entroscope::Lm::load(&entroscope::model::default_model_path())?;
/// let prompts = vec![lm.encode("Once upon a time")?];
/// let g = generation_profiles(&lm, &prompts, &GenOptions::default(), None)?;
/// println!("{}", g[0].profiles[0]); // Shannon, [L+1, 32 steps]
/// # Ok(()) }
/// ```
pub fn generation_profiles(
    lm: &Lm,
    prompts: &[Vec<u32>],
    opts: &GenOptions,
    progress: Option<&ProgressBar>,
) -> Result<Vec<GenProfile>> {
    generation_profiles_kept(lm, prompts, opts, progress, None)
}

/// [`generation_profiles`], each batch's tokens and entropies kept in (or read back from) a
/// checkpoint under `key` and the batch's first prompt.
pub(crate) fn generation_profiles_kept(
    lm: &Lm,
    prompts: &[Vec<u32>],
    opts: &GenOptions,
    progress: Option<&ProgressBar>,
    checkpoint: Option<(&Checkpoint, &str)>,
) -> Result<Vec<GenProfile>> {
    let (req, slot) = request(&opts.metrics)?;
    let n = opts.max_new_tokens;
    if n == 0 {
        return Err(Error::invalid("max_new_tokens", 0, "at least 1 new token"));
    }
    let sampling = opts.sampling;
    sampling.validate()?;
    let n_layers = lm.n_layers();
    let vocab = lm.vocab_size();
    let max_ctx = lm.config().max_position_embeddings;
    for p in prompts {
        lm.check_ids(p, 0)?;
        if p.len() + n > max_ctx {
            return Err(Error::PromptTooLong {
                len: p.len() + n,
                max: max_ctx,
            });
        }
    }
    let mut out: Vec<Vec<Vec<f32>>> =
        vec![vec![vec![f32::NAN; (n_layers + 1) * n]; opts.metrics.len()]; prompts.len()];
    let mut queue = Queue {
        lm,
        metrics: &opts.metrics,
        req: req.clone(),
        slot: slot.clone(),
        n_steps: n,
        rows: Vec::new(),
        tags: Vec::new(),
        max_rows: (opts.chunk_bytes / (vocab * 4).max(1)).max(1),
        z: Vec::new(),
    };
    let eos = lm.eos_token_ids().to_vec();
    let mut generated = vec![Vec::with_capacity(n); prompts.len()];
    for batch in length_batches(prompts, opts.batch_size)? {
        let (cp, key) = match checkpoint {
            Some((c, k)) => (
                Some(c),
                format!(
                    "{k} batch {} of {}",
                    batch.first().copied().unwrap_or(0),
                    batch.len()
                ),
            ),
            None => (None, String::new()),
        };
        // the batch's generated ids and per-metric values `[L+1 × n]`, one entry per prompt
        let kept: Vec<(Vec<u32>, Vec<Vec<f32>>)> = crate::papers::keep(cp, &key, || {
            let mut samplers = batch
                .iter()
                .map(|&pi| {
                    LogitsProcessor::from_sampling(opts.seed.wrapping_add(pi as u64), sampling)
                })
                .collect::<Result<Vec<_>>>()?;
            let mut cache = lm.new_cache();
            let mut hook = LastRows {
                rows: vec![None; n_layers + 1],
            };
            let mut inputs: Vec<Vec<u32>> = batch.iter().map(|&pi| prompts[pi].clone()).collect();
            for step in 0..n {
                hook.rows.iter_mut().for_each(|r| *r = None);
                let refs: Vec<&[u32]> = inputs.iter().map(Vec::as_slice).collect();
                let h = lm.forward_batch(&refs, &mut cache, &mut hook)?;
                let t = h.dim(1)?;
                let last = h.narrow(1, t - 1, 1)?.squeeze(1)?;
                let mut logits = lm.logits(&last)?.flatten_all()?.to_vec1::<f32>()?;
                for layer in 0..n_layers {
                    let rows = hook.rows[layer].take().ok_or_else(|| {
                        Error::NotEnoughData(format!(
                            "layer {layer} was not visited by the forward pass"
                        ))
                    })?;
                    queue.push(&mut out, batch.iter().map(|&pi| (pi, layer, step)), rows)?;
                }
                for (r, &pi) in batch.iter().enumerate() {
                    let row = &mut logits[r * vocab..(r + 1) * vocab];
                    // Layer L: the final logits themselves.
                    let st = entropy::reduce_row(row, &req, None)?;
                    write_stats(&mut out[pi], n_layers * n + step, &st, &opts.metrics, &slot);
                    for &e in &eos {
                        if let Some(z) = row.get_mut(e as usize) {
                            *z = f32::NEG_INFINITY;
                        }
                    }
                    let (tok, _) = samplers[r].sample(row)?;
                    generated[pi].push(tok);
                    inputs[r] = vec![tok];
                }
            }
            queue.flush(&mut out)?;
            Ok(batch
                .iter()
                .map(|&pi| (generated[pi].clone(), out[pi].clone()))
                .collect())
        })?;
        for (&pi, (ids, values)) in batch.iter().zip(kept) {
            generated[pi] = ids;
            out[pi] = values;
        }
        if let Some(b) = progress {
            b.inc(batch.len() as u64);
        }
    }
    let mut res = Vec::with_capacity(prompts.len());
    for (pi, (ids, values)) in generated.into_iter().zip(out).enumerate() {
        let tokens = lm.token_texts(&ids);
        let profiles = opts
            .metrics
            .iter()
            .zip(values)
            .map(|(m, v)| LayerProfile {
                model: lm.name().to_string(),
                prompt_id: pi,
                metric: *m,
                units: Units::Nats,
                n_layers,
                positions: (0..n).collect(),
                tokens: tokens.clone(),
                values: v,
            })
            .collect();
        res.push(GenProfile {
            model: lm.name().to_string(),
            prompt_id: pi,
            prompt_len: prompts[pi].len(),
            text: lm.decode(&ids)?,
            ids,
            profiles,
        });
    }
    Ok(res)
}
