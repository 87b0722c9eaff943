//! Gemma 2: sandwich norms scaling by `1 + w`, the embedding scaled by `√d`, soft-capped
//! attention scores and logits, sliding-window and full layers alternating.

use serde_json::Value as Json;

use super::{gguf, hf, Family, FamilyDef};
use crate::model::arch::{Activation, ArchSpec, Mlp, NormKind, NormPlacement};
use crate::Result;

pub(super) static DEF: FamilyDef = FamilyDef {
    name: "gemma2",
    summary: "sandwich (1 + w) norms, soft-capped scores and logits, alternating sliding layers",
    aliases: &["gemma2"],
    from_hf,
    from_gguf: Some(from_gguf),
    load: None,
    gguf_permuted_qk: false,
};

pub(super) const GEMMA_DEFAULTS: hf::Defaults = hf::Defaults {
    act: "gelu_pytorch_tanh",
    norm_eps: 1e-6,
    rope_theta: 10000.0,
    tie_word_embeddings: true,
};

/// What Gemma 2 and 3 share: `(1 + w)` RMSNorms around both sub-blocks, the embedding scaled by
/// `√d`, tanh-GELU.
pub(super) fn gemma_structure(s: &mut ArchSpec) {
    s.norm = NormKind::RmsOffset;
    s.norm_placement = NormPlacement::Sandwich;
    s.embed_scale = Some((s.hidden_size as f64).sqrt());
}

/// Gemma's sliding layers when the config has no `layer_types`: all but every `pattern`-th.
pub(super) fn pattern_sliding(s: &mut ArchSpec, j: &Json, default_pattern: usize) {
    if hf::layer_types(j).is_some() {
        return;
    }
    let pattern = hf::opt_usize(j, "sliding_window_pattern")
        .or_else(|| hf::opt_usize(j, "_sliding_window_pattern"))
        .unwrap_or(default_pattern)
        .max(1);
    s.sliding_layers = (0..s.num_hidden_layers)
        .map(|i| (i + 1) % pattern != 0)
        .collect();
}

fn from_hf(j: &Json) -> Result<ArchSpec> {
    let mut s = hf::base(j, Family(&DEF), &GEMMA_DEFAULTS)?;
    gemma_structure(&mut s);
    // Gemma2Config's class defaults: an absent key means the default, `null` none.
    s.sliding_window = hf::defaulted(j, "sliding_window", 4096.0).map(|w| w as usize);
    s.attn_logit_softcapping = hf::defaulted(j, "attn_logit_softcapping", 50.0);
    s.final_logit_softcapping = hf::defaulted(j, "final_logit_softcapping", 30.0);
    s.query_pre_attn_scalar = s.query_pre_attn_scalar.or(Some(256.0));
    pattern_sliding(&mut s, j, 2);
    Ok(s)
}

/// Caps from the file (llama.cpp's defaults 50 / 30 when absent), the window on the even
/// layers, the query scale as llama.cpp computes it: `head_dim^-1/2`, except the 27B model
/// (46 blocks), whose `query_pre_attn_scalar` is `d / heads`.
fn from_gguf(md: &gguf::Metadata, vocab: usize) -> Result<ArchSpec> {
    let mut s = gguf::base(md, Family(&DEF), vocab)?;
    gemma_structure(&mut s);
    s.mlp = Mlp::Gated {
        act: Activation::GeluTanh,
        fused: false,
    };
    s.attn_logit_softcapping = md.opt_f64("attn_logit_softcapping").or(Some(50.0));
    s.final_logit_softcapping = md.opt_f64("final_logit_softcapping").or(Some(30.0));
    s.query_pre_attn_scalar = Some(if s.num_hidden_layers == 46 {
        (s.hidden_size / s.num_attention_heads.max(1)) as f64
    } else {
        s.head_dim as f64
    });
    gguf::set_sliding(&mut s, md, |i| i % 2 == 0);
    Ok(s)
}
