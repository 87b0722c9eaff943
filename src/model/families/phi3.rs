//! Phi-3: Llama with one `qkv_proj` and one `gate_up_proj`, rotary embeddings over a fraction
//! of each head where the config says so, and a sliding window on every layer when set.

use serde_json::Value as Json;

use super::{hf, Family, FamilyDef};
use crate::model::arch::{ArchSpec, Mlp};
use crate::Result;

pub(super) static DEF: FamilyDef = FamilyDef {
    name: "phi3",
    summary: "fused qkv and gate_up projections, partial rotary embeddings",
    aliases: &["phi3"],
    from_hf,
    from_gguf: None,
    load: None,
    gguf_permuted_qk: false,
};

fn from_hf(j: &Json) -> Result<ArchSpec> {
    let mut s = hf::base(
        j,
        Family(&DEF),
        &hf::Defaults {
            norm_eps: 1e-5,
            tie_word_embeddings: false,
            ..hf::LLAMA_DEFAULTS
        },
    )?;
    s.fused_qkv = true;
    s.mlp = Mlp::Gated {
        act: s.mlp.act(),
        fused: true,
    };
    if hf::layer_types(j).is_none() {
        s.sliding_layers = vec![s.sliding_window.is_some(); s.num_hidden_layers];
    }
    Ok(s)
}
