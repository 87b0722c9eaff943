//! Interventions on the forward pass, expressed as [`Hook`]s so they compose with captures
//! (`(LayerSkip::new([3]), recorder)` is itself a hook).

use candle_core::Tensor;

use crate::hook::{Hook, Site};
use crate::Result;

/// Skips a set of blocks (1-based): the layer-skip intervention of Entropy-Lens.
#[derive(Debug, Clone, Default)]
pub struct LayerSkip {
    /// Blocks to skip, 1-based.
    pub layers: Vec<usize>,
}

impl LayerSkip {
    /// Skip these blocks (1-based layer indices).
    pub fn new(layers: impl Into<Vec<usize>>) -> Self {
        Self {
            layers: layers.into(),
        }
    }
}

impl Hook for LayerSkip {
    fn visit(&mut self, _site: Site, _x: &Tensor) -> Result<Option<Tensor>> {
        Ok(None)
    }
    fn skip_block(&self, layer: usize) -> bool {
        self.layers.contains(&layer)
    }
}
