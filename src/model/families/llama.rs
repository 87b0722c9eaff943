//! Llama and its kin (SmolLM2): pre-norm RMSNorm, rotary embeddings, SwiGLU.

use candle_core::Tensor;
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
    gguf_to_hf: unpermute_qk,
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

/// llama.cpp permutes Llama's q/k rows for interleaved RoPE: rows `[heads, 2, half, in]` of the
/// file are `[heads, half, 2, in]` of the Hugging Face tensor.
pub(super) fn unpermute_qk(t: Tensor, name: &str, spec: &ArchSpec) -> Result<Tensor> {
    let heads = if name.ends_with("q_proj.weight") {
        spec.num_attention_heads
    } else if name.ends_with("k_proj.weight") {
        spec.num_key_value_heads
    } else {
        return Ok(t);
    };
    let (out, inp) = t.dims2()?;
    let half = out / heads / 2;
    Ok(t.reshape((heads, half, 2, inp))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((out, inp))?)
}
