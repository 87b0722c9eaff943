//! Llama and its kin (SmolLM2): pre-norm RMSNorm, rotary embeddings, SwiGLU.

use serde_json::Value as Json;

use super::{gguf, hf, Family, FamilyDef};
use crate::model::arch::ArchSpec;
use crate::Result;

pub(super) static DEF: FamilyDef = FamilyDef {
    name: "llama",
    summary: "pre-norm RMSNorm, rotary embeddings, SwiGLU (Llama, SmolLM2)",
    aliases: &["llama"],
    from_hf,
    from_gguf: Some(from_gguf),
    load: None,
    gguf_permuted_qk: true,
};

fn from_hf(j: &Json) -> Result<ArchSpec> {
    let mut s = hf::base(j, Family(&DEF), &hf::LLAMA_DEFAULTS)?;
    let bias = hf::opt_bool(j, "attention_bias").unwrap_or(false);
    (s.qkv_bias, s.o_bias) = (bias, bias);
    Ok(s)
}

fn from_gguf(md: &gguf::Metadata, vocab: usize) -> Result<ArchSpec> {
    gguf::base(md, Family(&DEF), vocab)
}
