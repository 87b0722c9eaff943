//! `LayerProfile`: one statistic over layers × positions of one prompt.

use crate::entropy::{Metric, Units};

/// One metric of one prompt over layers × positions.
///
/// `values` is row-major `[n_layers + 1, positions.len()]`: row `l` is layer `l`
/// (0 = embeddings, `n_layers` = last block before the final norm).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerProfile {
    /// Model name (e.g. file stem or hub id).
    pub model: String,
    /// Index of the prompt in its batch / file (0-based).
    pub prompt_id: usize,
    pub metric: Metric,
    pub units: Units,
    /// Number of blocks L; there are L+1 rows.
    pub n_layers: usize,
    /// Token positions (indices into the prompt) of the columns.
    pub positions: Vec<usize>,
    /// Token strings at those positions, as the tokenizer gives them.
    pub tokens: Vec<String>,
    /// `[n_layers + 1, positions.len()]`, row-major.
    pub values: Vec<f32>,
}
