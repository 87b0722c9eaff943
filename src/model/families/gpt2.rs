//! GPT-2: learned positions, pre-norm LayerNorm, a fused `c_attn`, a plain GELU MLP, and
//! `Conv1D` weights stored `[in, out]`.

use serde_json::Value as Json;

use super::{hf, Family, FamilyDef};
use crate::model::arch::{Activation, ArchSpec, Mlp, NormKind, Positions, Sizes};
use crate::model::transformer::{Attention, Block, Embedding, Loader, MlpWeights, Parts, Qkv};
use crate::Result;

pub(super) static DEF: FamilyDef = FamilyDef {
    name: "gpt2",
    summary: "learned positions, LayerNorm, fused c_attn, plain GELU MLP",
    aliases: &["gpt2"],
    from_hf,
    from_gguf: None,
    load: Some(load),
    gguf_permuted_qk: false,
};

fn from_hf(j: &Json) -> Result<ArchSpec> {
    let d = hf::usize_key(j, "n_embd")?;
    let heads = hf::usize_key(j, "n_head")?;
    let layers = crate::model::arch::plausible_depth(hf::usize_key(j, "n_layer")?)?;
    let act = j
        .get("activation_function")
        .and_then(Json::as_str)
        .unwrap_or("gelu_new");
    let mut spec = ArchSpec::llama_like(
        Family(&DEF),
        Sizes {
            vocab_size: hf::usize_key(j, "vocab_size")?,
            hidden_size: d,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            num_key_value_heads: heads,
            head_dim: d / heads.max(1),
            intermediate_size: hf::opt_usize(j, "n_inner").unwrap_or(4 * d),
            max_position_embeddings: hf::usize_key(j, "n_positions")?,
        },
    );
    spec.norm = NormKind::Layer;
    spec.norm_eps = hf::opt_f64(j, "layer_norm_epsilon").unwrap_or(1e-5);
    (spec.qkv_bias, spec.o_bias, spec.fused_qkv) = (true, true, true);
    spec.mlp = Mlp::Plain {
        act: Activation::parse(act)?,
    };
    spec.positions = Positions::Learned;
    spec.bos_token_id = hf::opt_usize(j, "bos_token_id").map(|v| v as u32);
    spec.eos_token_ids = hf::eos_ids(j);
    Ok(spec)
}

fn load(s: &ArchSpec, l: &mut Loader) -> Result<Parts> {
    let (d, v, ff) = (s.hidden_size, s.vocab_size, s.intermediate_size);
    // Checkpoints saved from GPT2LMHeadModel prefix names with `transformer.`; the hub's `gpt2`
    // repo does not.
    let pre = if l.w.contains("transformer.wte.weight") {
        "transformer."
    } else {
        ""
    };
    let embed = l.t(&format!("{pre}wte.weight"), &[v, d])?;
    let pos = l.t(&format!("{pre}wpe.weight"), &[s.max_position_embeddings, d])?;
    let mut blocks = Vec::with_capacity(s.num_hidden_layers);
    for i in 0..s.num_hidden_layers {
        let p = format!("{pre}h.{i}");
        blocks.push(Block {
            attn_norm: Some(l.norm(&format!("{p}.ln_1"), d)?),
            attn: Attention {
                qkv: Qkv::Fused(l.conv1d(&format!("{p}.attn.c_attn"), d, 3 * d)?),
                o: l.conv1d(&format!("{p}.attn.c_proj"), d, d)?,
                q_norm: None,
                k_norm: None,
            },
            post_attn_norm: None,
            mlp_norm: Some(l.norm(&format!("{p}.ln_2"), d)?),
            mlp: MlpWeights::Plain {
                fc: l.conv1d(&format!("{p}.mlp.c_fc"), d, ff)?,
                proj: l.conv1d(&format!("{p}.mlp.c_proj"), ff, d)?,
            },
            post_mlp_norm: None,
            sliding: false,
        });
    }
    Ok(Parts {
        embed: Embedding::Dense(embed),
        pos_embed: Some(pos),
        blocks,
        final_norm: l.norm(&format!("{pre}ln_f"), d)?,
        lm_head: None,
    })
}
