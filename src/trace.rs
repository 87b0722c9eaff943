//! What a forward pass leaves behind: the residual stream of every layer at chosen positions.

use std::fmt;

use candle_core::Tensor;

use crate::hook::{Hook, Site};
use crate::{Error, Result};

/// Which token positions to keep.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Positions {
    /// Every position of the prompt.
    #[default]
    All,
    /// Only the last position (what predicts the next token).
    Last,
    /// These positions (0-based, increasing or not; duplicates allowed).
    List(Vec<usize>),
}

impl Positions {
    /// Resolve against a sequence length, checking bounds.
    pub fn resolve(&self, len: usize) -> Result<Vec<usize>> {
        match self {
            Positions::All => Ok((0..len).collect()),
            Positions::Last => Ok(vec![len.saturating_sub(1)]),
            Positions::List(v) => {
                if let Some(&p) = v.iter().find(|&&p| p >= len) {
                    return Err(Error::invalid(
                        "position",
                        p,
                        format!("a position below the prompt length {len}"),
                    ));
                }
                Ok(v.clone())
            }
        }
    }
}

/// What [`crate::Lm::trace`] keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSpec {
    /// Positions whose activations are kept.
    pub positions: Positions,
    /// Also keep each block's attention and MLP contributions (`[L, P, d]` each).
    pub sub_blocks: bool,
    /// Keep the final logits at the kept positions (`[P, vocab]`; large: vocab × 4 bytes per
    /// position). When false, only the last position's logits are kept.
    pub all_logits: bool,
}

impl Default for CaptureSpec {
    /// Residual stream at every position, last-position logits.
    fn default() -> Self {
        Self {
            positions: Positions::All,
            sub_blocks: false,
            all_logits: false,
        }
    }
}

impl CaptureSpec {
    /// Keep only the last position (cheapest; what decoding and idiom completion need).
    pub fn last() -> Self {
        Self {
            positions: Positions::Last,
            ..Self::default()
        }
    }
}

/// An owned record of one forward pass (`'static`: it outlives the call and a notebook cell).
///
/// ```no_run
/// use entroscope::prelude::*;
/// # fn main() -> entroscope::Result<()> {
/// let lm = Lm::load(&entroscope::model::default_model_path())?;
/// let trace = lm.trace_text("The capital of France is", &CaptureSpec::default())?;
/// println!("{trace}"); // resid [L+1, seq, d]
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Trace {
    /// Model name.
    pub model: String,
    /// Token ids of the whole input.
    pub ids: Vec<u32>,
    /// The text of each input token ([`Lm::token_texts`](crate::Lm::token_texts)).
    pub tokens: Vec<String>,
    /// The kept positions (indices into `ids`).
    pub positions: Vec<usize>,
    /// Residual stream `[L+1, P, d]`: layer 0 = embeddings, layer `l` = after block `l`
    /// (layer L is *before* the final norm).
    pub resid: Tensor,
    /// Attention contributions `[L, P, d]` when [`CaptureSpec::sub_blocks`].
    pub attn_out: Option<Tensor>,
    /// MLP contributions `[L, P, d]` when [`CaptureSpec::sub_blocks`].
    pub mlp_out: Option<Tensor>,
    /// The residual stream between each block's attention and MLP, `[L, P, d]`, when
    /// [`CaptureSpec::sub_blocks`] (TransformerLens's `hook_resid_mid`).
    pub resid_mid: Option<Tensor>,
    /// Final logits (after norm, unembedding and any soft-cap): `[P, vocab]` at the kept
    /// positions with [`CaptureSpec::all_logits`], else `[1, vocab]` at the last position.
    pub logits: Tensor,
}

impl Trace {
    /// Number of blocks L (the residual stream has L+1 layers).
    pub fn n_layers(&self) -> usize {
        self.resid
            .dims()
            .first()
            .map(|n| n.saturating_sub(1))
            .unwrap_or(0)
    }

    /// Residual stream of one layer at the kept positions, `[P, d]`.
    pub fn layer(&self, l: usize) -> Result<Tensor> {
        let max = self.n_layers();
        if l > max {
            return Err(Error::LayerOutOfRange { layer: l, max });
        }
        Ok(self.resid.get(l)?)
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Trace of {}: {} tokens, resid {:?} (layers × positions × d), logits {:?}",
            self.model,
            self.ids.len(),
            self.resid.dims(),
            self.logits.dims()
        )
    }
}

/// Hook that keeps the rows of chosen positions at every layer.
pub(crate) struct Recorder {
    index: Tensor,
    sub_blocks: bool,
    pub resid: Vec<Tensor>,
    pub attn: Vec<Tensor>,
    pub mid: Vec<Tensor>,
    pub mlp: Vec<Tensor>,
}

impl Recorder {
    pub fn new(
        positions: &[usize],
        sub_blocks: bool,
        device: &candle_core::Device,
    ) -> Result<Self> {
        let idx: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
        Ok(Self {
            index: Tensor::new(idx.as_slice(), device)?,
            sub_blocks,
            resid: vec![],
            attn: vec![],
            mid: vec![],
            mlp: vec![],
        })
    }

    fn pick(&self, x: &Tensor) -> Result<Tensor> {
        // x: [b, t, d] → [b, P, d], in f32 whatever the model's dtype
        Ok(x.index_select(&self.index, 1)?
            .to_dtype(candle_core::DType::F32)?)
    }
}

impl Hook for Recorder {
    fn visit(&mut self, site: Site, x: &Tensor) -> Result<Option<Tensor>> {
        match site {
            Site::Embed => self.resid.push(self.pick(x)?),
            Site::BlockOut(l) => {
                let row = self.pick(x)?;
                // A skipped block has no sub-block outputs: record zeros (and its unchanged input
                // as the mid stream) so shapes stay [L, P, d].
                while self.sub_blocks && self.attn.len() < l {
                    self.attn.push(row.zeros_like()?);
                    self.mid.push(row.clone());
                    self.mlp.push(row.zeros_like()?);
                }
                self.resid.push(row);
            }
            Site::AttnOut(_) if self.sub_blocks => self.attn.push(self.pick(x)?),
            Site::ResidMid(_) if self.sub_blocks => self.mid.push(self.pick(x)?),
            Site::MlpOut(_) if self.sub_blocks => self.mlp.push(self.pick(x)?),
            _ => {}
        }
        Ok(None)
    }
}
