//! Key/value cache for incremental decoding.

use candle_core::Tensor;

use crate::Result;

/// Keys and values of every block for the positions processed so far.
///
/// Create one with [`crate::Lm::new_cache`]; pass it to [`crate::Lm::forward`] repeatedly to
/// decode one token at a time. Shapes per block: `[1, kv_heads, len, head_dim]`.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    /// An empty cache for a model with `n_blocks` blocks.
    pub fn new(n_blocks: usize) -> Self {
        Self {
            layers: vec![None; n_blocks],
            len: 0,
        }
    }

    /// Number of positions already processed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first forward.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forget everything (reuse the allocation for a new prompt).
    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(|l| *l = None);
        self.len = 0;
    }

    /// Keep only the first `len` positions (a shared prompt prefix that later text continues
    /// differently). Exact because attention is causal: the kept keys and values do not depend on
    /// what came after them. `len ≥ self.len()` changes nothing.
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.len {
            return Ok(());
        }
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.narrow(2, 0, len)?;
            *v = v.narrow(2, 0, len)?;
        }
        self.len = len;
        Ok(())
    }

    /// The cache of one sequence repeated for a batch of `b` sequences that continue it
    /// ([`crate::Lm::forward_batch`] after a shared prefix). Copies the keys and values.
    pub(crate) fn repeat(&self, b: usize) -> Result<KvCache> {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                l.as_ref()
                    .map(|(k, v)| Ok((k.repeat((b, 1, 1, 1))?, v.repeat((b, 1, 1, 1))?)))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        Ok(KvCache {
            layers,
            len: self.len,
        })
    }

    pub(crate) fn layer(&mut self, i: usize) -> &mut Option<(Tensor, Tensor)> {
        &mut self.layers[i] // ok: i < n_blocks, the cache is built per model
    }

    pub(crate) fn advance(&mut self, t: usize) {
        self.len += t;
    }

    pub(crate) fn n_blocks(&self) -> usize {
        self.layers.len()
    }
}
