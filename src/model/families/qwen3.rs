//! Qwen3: Llama with an RMSNorm on each head's queries and keys.

use serde_json::Value as Json;

use super::{gguf, hf, Family, FamilyDef};
use crate::model::arch::{ArchSpec, QkNorm};
use crate::Result;

pub(super) static DEF: FamilyDef = FamilyDef {
    name: "qwen3",
    summary: "Llama with per-head RMSNorm on q and k",
    aliases: &["qwen3"],
    from_hf,
    from_gguf: Some(from_gguf),
    load: None,
    gguf_permuted_qk: false,
};

fn from_hf(j: &Json) -> Result<ArchSpec> {
    let mut s = hf::base(j, Family(&DEF), &hf::LLAMA_DEFAULTS)?;
    s.qk_norm = QkNorm::PerHead;
    let bias = hf::opt_bool(j, "attention_bias").unwrap_or(false);
    (s.qkv_bias, s.o_bias) = (bias, bias);
    super::qwen2::qwen_sliding(&mut s, j);
    Ok(s)
}

fn from_gguf(md: &gguf::Metadata, vocab: usize) -> Result<ArchSpec> {
    let mut s = gguf::base(md, Family(&DEF), vocab)?;
    s.qk_norm = QkNorm::PerHead;
    Ok(s)
}
