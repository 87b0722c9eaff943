//! OLMo-2: norms after attention and after the MLP (none before), and RMSNorms over the whole
//! query and key projections.

use serde_json::Value as Json;

use super::{hf, Family, FamilyDef};
use crate::model::arch::{ArchSpec, NormPlacement, QkNorm};
use crate::Result;

pub(super) static DEF: FamilyDef = FamilyDef {
    name: "olmo2",
    summary: "post-norms only, q/k RMSNorm over the whole projection",
    aliases: &["olmo2"],
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
    s.norm_placement = NormPlacement::Post;
    s.qk_norm = QkNorm::Whole;
    let bias = hf::opt_bool(j, "attention_bias").unwrap_or(false);
    (s.qkv_bias, s.o_bias) = (bias, bias);
    Ok(s)
}
