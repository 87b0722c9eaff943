//! Hooks: how a caller sees (and may change) activations inside one forward pass.
//!
//! A hook is passed as an argument to a single call ([`crate::Lm::trace`],
//! [`crate::Lm::forward`]); there is no global hook state to forget to clear.

/// The tensor a hook receives and returns (candle's), re-exported so a hook needs no candle dependency.
pub use candle_core::Tensor;

use crate::Result;

/// A place in the forward pass where the residual stream or a sub-block output is visible.
///
/// Layer indices are 1-based for block outputs, to match the layer convention of the crate:
/// `BlockOut(l)` is the residual stream after block `l` (1..=L), i.e. layer `l` of a profile;
/// `Embed` is layer 0. `AttnOut(l)` / `MlpOut(l)` are the contributions of block `l` that are added
/// to the residual stream (after Gemma's and OLMo-2's post-norms); `ResidMid(l)` is the stream
/// between them; `Pattern(l)` is block `l`'s attention probabilities, shown only to a hook whose
/// [`Hook::wants_pattern`] asks for them.
///
/// In TransformerLens's names (its blocks are 0-based, so block `l` here is `blocks.{l-1}`):
///
/// | site | TransformerLens hook |
/// |---|---|
/// | `Embed` | `blocks.0.hook_resid_pre` (= `hook_embed` + `hook_pos_embed` on GPT-2) |
/// | `Pattern(l)` | `blocks.{l-1}.attn.hook_pattern` |
/// | `AttnOut(l)` | `blocks.{l-1}.hook_attn_out` |
/// | `ResidMid(l)` | `blocks.{l-1}.hook_resid_mid` |
/// | `MlpOut(l)` | `blocks.{l-1}.hook_mlp_out` |
/// | `BlockOut(l)` | `blocks.{l-1}.hook_resid_post` (= `blocks.{l}.hook_resid_pre`) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Site {
    /// Embedding output, as it enters block 1 (Gemma: already scaled by √d). Shape `[b, t, d]`.
    /// TransformerLens: `blocks.0.hook_resid_pre`.
    Embed,
    /// Attention probabilities of block `l` (1-based), `[b, heads, t, keys]` in f32 (`keys` =
    /// cached plus new positions), after the causal and sliding-window masks; rows sum to 1.
    /// Visited only when [`Hook::wants_pattern`] says so. TransformerLens:
    /// `blocks.{l-1}.attn.hook_pattern`.
    Pattern(usize),
    /// Attention contribution of block `l` (1-based), `[b, t, d]`. TransformerLens:
    /// `blocks.{l-1}.hook_attn_out`.
    AttnOut(usize),
    /// Residual stream of block `l` (1-based) between attention and MLP, `[b, t, d]`.
    /// TransformerLens: `blocks.{l-1}.hook_resid_mid`.
    ResidMid(usize),
    /// MLP contribution of block `l` (1-based), `[b, t, d]`. TransformerLens:
    /// `blocks.{l-1}.hook_mlp_out`.
    MlpOut(usize),
    /// Residual stream after block `l` (1-based), `[b, t, d]`. TransformerLens:
    /// `blocks.{l-1}.hook_resid_post`.
    BlockOut(usize),
}

impl Site {
    /// The layer index of this site in the `0..=L` convention (`Embed` → 0).
    pub fn layer(self) -> usize {
        match self {
            Site::Embed => 0,
            Site::Pattern(l)
            | Site::AttnOut(l)
            | Site::ResidMid(l)
            | Site::MlpOut(l)
            | Site::BlockOut(l) => l,
        }
    }

    /// The TransformerLens hook name of this site, so activations can be matched one to one.
    ///
    /// ```
    /// use entroscope::Site;
    /// assert_eq!(Site::BlockOut(1).transformer_lens_name(), "blocks.0.hook_resid_post");
    /// assert_eq!(Site::Embed.transformer_lens_name(), "blocks.0.hook_resid_pre");
    /// ```
    pub fn transformer_lens_name(self) -> String {
        match self {
            Site::Embed => "blocks.0.hook_resid_pre".into(),
            Site::Pattern(l) => format!("blocks.{}.attn.hook_pattern", l.saturating_sub(1)),
            Site::AttnOut(l) => format!("blocks.{}.hook_attn_out", l.saturating_sub(1)),
            Site::ResidMid(l) => format!("blocks.{}.hook_resid_mid", l.saturating_sub(1)),
            Site::MlpOut(l) => format!("blocks.{}.hook_mlp_out", l.saturating_sub(1)),
            Site::BlockOut(l) => format!("blocks.{}.hook_resid_post", l.saturating_sub(1)),
        }
    }
}

/// Sees every [`Site`] of a forward pass in order; may replace an activation or skip a block.
///
/// ```
/// use entroscope::{Hook, Site, Result};
/// use entroscope::hook::Tensor;
/// /// Counts the blocks it has seen.
/// struct Count(usize);
/// impl Hook for Count {
///     fn visit(&mut self, site: Site, _x: &Tensor) -> Result<Option<Tensor>> {
///         if let Site::BlockOut(_) = site { self.0 += 1 }
///         Ok(None)
///     }
/// }
/// ```
pub trait Hook {
    /// Called with the activation at `site`, `[b, t, d]` (`b = 1` except under
    /// [`crate::Lm::forward_batch`]). Return `Some(t)` to replace it (same shape), `None` to
    /// leave it as it is.
    fn visit(&mut self, site: Site, x: &Tensor) -> Result<Option<Tensor>>;

    /// Return `true` to skip block `l` (1-based) entirely: its attention and MLP contributions
    /// are zero and its output equals its input. Its KV cache entry is left empty.
    fn skip_block(&self, _layer: usize) -> bool {
        false
    }

    /// Return `true` to be shown [`Site::Pattern`] of block `l` (1-based). Off by default, so
    /// hooks that keep every site they see do not keep `[b, heads, t, t]` per block.
    fn wants_pattern(&self, _layer: usize) -> bool {
        false
    }
}

/// The hook that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHook;

impl Hook for NoHook {
    fn visit(&mut self, _site: Site, _x: &Tensor) -> Result<Option<Tensor>> {
        Ok(None)
    }
}

impl<H: Hook + ?Sized> Hook for &mut H {
    fn visit(&mut self, site: Site, x: &Tensor) -> Result<Option<Tensor>> {
        (**self).visit(site, x)
    }
    fn skip_block(&self, layer: usize) -> bool {
        (**self).skip_block(layer)
    }
    fn wants_pattern(&self, layer: usize) -> bool {
        (**self).wants_pattern(layer)
    }
}

/// Two hooks in sequence: the first sees the activation first; a replacement it makes is what the
/// second sees. A block is skipped if either asks.
impl<A: Hook, B: Hook> Hook for (A, B) {
    fn visit(&mut self, site: Site, x: &Tensor) -> Result<Option<Tensor>> {
        match self.0.visit(site, x)? {
            Some(y) => Ok(Some(self.1.visit(site, &y)?.unwrap_or(y))),
            None => self.1.visit(site, x),
        }
    }
    fn skip_block(&self, layer: usize) -> bool {
        self.0.skip_block(layer) || self.1.skip_block(layer)
    }
    fn wants_pattern(&self, layer: usize) -> bool {
        self.0.wants_pattern(layer) || self.1.wants_pattern(layer)
    }
}
