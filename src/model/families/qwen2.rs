//! Qwen2 and Qwen2.5: Llama with biases on q, k and v.

use serde_json::Value as Json;

use super::{gguf, hf, Family, FamilyDef};
use crate::model::arch::ArchSpec;
use crate::Result;

pub(super) static DEF: FamilyDef = FamilyDef {
    name: "qwen2",
    summary: "Llama with biases on q, k, v (Qwen2, Qwen2.5)",
    aliases: &["qwen2"],
    from_hf,
    from_gguf: Some(from_gguf),
    load: None,
    gguf_permuted_qk: false,
};

fn from_hf(j: &Json) -> Result<ArchSpec> {
    let mut s = hf::base(j, Family(&DEF), &hf::LLAMA_DEFAULTS)?;
    s.qkv_bias = true;
    qwen_sliding(&mut s, j);
    Ok(s)
}

/// Qwen's window (when `use_sliding_window`) applies to the layers from `max_window_layers` on.
pub(super) fn qwen_sliding(s: &mut ArchSpec, j: &Json) {
    if hf::layer_types(j).is_some() {
        return;
    }
    let layers = s.num_hidden_layers;
    let on = hf::opt_bool(j, "use_sliding_window").unwrap_or(false) && s.sliding_window.is_some();
    let from = hf::opt_usize(j, "max_window_layers").unwrap_or(layers);
    s.sliding_layers = (0..layers).map(|i| on && i >= from).collect();
}

fn from_gguf(md: &gguf::Metadata, vocab: usize) -> Result<ArchSpec> {
    let mut s = gguf::base(md, Family(&DEF), vocab)?;
    s.qkv_bias = true;
    Ok(s)
}
