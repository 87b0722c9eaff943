//! Mistral: Llama with sliding-window attention on every layer (when the config sets a window).

use serde_json::Value as Json;

use super::{gguf, hf, Family, FamilyDef};
use crate::model::arch::ArchSpec;
use crate::Result;

pub(super) static DEF: FamilyDef = FamilyDef {
    name: "mistral",
    summary: "Llama with a sliding window on every layer",
    aliases: &["mistral"],
    from_hf,
    from_gguf: Some(from_gguf),
    load: None,
    gguf_permuted_qk: true,
};

fn from_hf(j: &Json) -> Result<ArchSpec> {
    let mut s = hf::base(j, Family(&DEF), &hf::LLAMA_DEFAULTS)?;
    // MistralConfig's default window is 4096 when the key is absent; `null` (v0.2 and later)
    // means none.
    s.sliding_window = hf::defaulted(j, "sliding_window", 4096.0).map(|w| w as usize);
    if hf::layer_types(j).is_none() {
        s.sliding_layers = vec![s.sliding_window.is_some(); s.num_hidden_layers];
    }
    Ok(s)
}

/// llama.cpp converts Mistral checkpoints to arch `llama`, whose metadata has no window, so such
/// a file runs (as in llama.cpp) with full attention everywhere; an arch `mistral` file with
/// `attention.sliding_window` gets its window on every layer.
fn from_gguf(md: &gguf::Metadata, vocab: usize) -> Result<ArchSpec> {
    let mut s = gguf::base(md, Family(&DEF), vocab)?;
    gguf::set_sliding(&mut s, md, |_| true);
    Ok(s)
}
