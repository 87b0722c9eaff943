//! Gemma 3: Gemma 2's sandwich norms and `√d` embedding, with q/k norms, five sliding-window
//! layers in six (their own RoPE base) and no attention soft-cap.

use serde_json::Value as Json;

use super::gemma2::{gemma_structure, pattern_sliding, GEMMA_DEFAULTS};
use super::{gguf, hf, Family, FamilyDef};
use crate::model::arch::{Activation, ArchSpec, Mlp, Positions, QkNorm};
use crate::Result;

pub(super) static DEF: FamilyDef = FamilyDef {
    name: "gemma3",
    summary: "Gemma 2's layout with q/k norms and a local RoPE base on sliding layers",
    aliases: &["gemma3", "gemma3_text"],
    from_hf,
    from_gguf: Some(from_gguf),
    load: None,
    gguf_permuted_qk: false,
};

const GLOBAL_THETA: f64 = 1_000_000.0;
const LOCAL_THETA: f64 = 10000.0;

fn from_hf(j: &Json) -> Result<ArchSpec> {
    let mut s = hf::base(
        j,
        Family(&DEF),
        &hf::Defaults {
            rope_theta: GLOBAL_THETA,
            ..GEMMA_DEFAULTS
        },
    )?;
    gemma_structure(&mut s);
    s.qk_norm = QkNorm::PerHead;
    s.query_pre_attn_scalar = s.query_pre_attn_scalar.or(Some(256.0));
    if let Positions::Rotary(r) = &mut s.positions {
        r.local_theta = r.local_theta.or(Some(LOCAL_THETA));
    }
    pattern_sliding(&mut s, j, 6);
    Ok(s)
}

/// GGUF does not carry the local RoPE base, the sliding pattern or the query scale: they take
/// the Hugging Face defaults, as `transformers` does when it loads the same file.
fn from_gguf(md: &gguf::Metadata, vocab: usize) -> Result<ArchSpec> {
    let mut s = gguf::base(md, Family(&DEF), vocab)?;
    gemma_structure(&mut s);
    s.qk_norm = QkNorm::PerHead;
    s.mlp = Mlp::Gated {
        act: Activation::GeluTanh,
        fused: false,
    };
    s.query_pre_attn_scalar = Some(256.0);
    s.final_logit_softcapping = md.opt_f64("final_logit_softcapping");
    s.attn_logit_softcapping = md.opt_f64("attn_logit_softcapping");
    if let Positions::Rotary(r) = &mut s.positions {
        r.local_theta = Some(LOCAL_THETA);
    }
    gguf::set_sliding(&mut s, md, |i| (i + 1) % 6 != 0);
    Ok(s)
}
