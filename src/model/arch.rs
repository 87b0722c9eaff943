//! [`ArchSpec`]: one canonical description of a decoder-only transformer. Every family file
//! (`model/families/`) maps its Hugging Face config or GGUF metadata onto it, and the forward
//! pass reads nothing else, so a structural choice is a field here rather than a branch on a
//! family name.

use super::families::Family;
use crate::{Error, Result};

/// Hyper-parameters and structural choices of a model. Size names follow Hugging Face.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArchSpec {
    /// The family the spec was read as.
    pub family: Family,
    /// Vocabulary size (rows of the unembedding).
    pub vocab_size: usize,
    /// Residual width `d`.
    pub hidden_size: usize,
    /// Blocks `L`.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than the query heads).
    pub num_key_value_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Hidden width of the MLP.
    pub intermediate_size: usize,
    /// Context window (`max_position_embeddings`).
    pub max_position_embeddings: usize,
    /// The normalisation layers' kind.
    pub norm: NormKind,
    /// RMSNorm / LayerNorm epsilon.
    pub norm_eps: f64,
    /// Where the norms sit around the two sub-blocks.
    pub norm_placement: NormPlacement,
    /// Norms on the queries and keys, and over what.
    pub qk_norm: QkNorm,
    /// Biases on the q, k and v projections (Qwen2, GPT-2).
    pub qkv_bias: bool,
    /// A bias on the attention output projection (GPT-2).
    pub o_bias: bool,
    /// q, k and v come from one projection, in that order (GPT-2, Phi-3).
    pub fused_qkv: bool,
    /// The MLP's shape and non-linearity.
    pub mlp: Mlp,
    /// How positions enter: learned embeddings or rotary embeddings.
    pub positions: Positions,
    /// The embedding output is multiplied by this (Gemma: `√d`, rounded to the activations'
    /// dtype as Hugging Face does).
    pub embed_scale: Option<f64>,
    /// Attention scores are scaled by `query_pre_attn_scalar^-1/2` when set, else `head_dim^-1/2`.
    pub query_pre_attn_scalar: Option<f64>,
    /// `c` of the attention scores' soft-cap `c·tanh(s/c)`, when the model has one.
    pub attn_logit_softcapping: Option<f64>,
    /// `c` of the final logits' soft-cap, when the model has one.
    pub final_logit_softcapping: Option<f64>,
    /// Sliding-window size of the layers marked sliding in `sliding_layers`.
    pub sliding_window: Option<usize>,
    /// Per block (0-based): does it use sliding-window attention?
    pub sliding_layers: Vec<bool>,
    /// Whether the unembedding is the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token, prepended to prompts when set.
    pub bos_token_id: Option<u32>,
    /// Tokens that end a generation.
    pub eos_token_ids: Vec<u32>,
}

/// The normalisation layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum NormKind {
    /// RMSNorm with weight `w`.
    Rms,
    /// RMSNorm that scales by `1 + w` (Gemma), computed in f32.
    RmsOffset,
    /// LayerNorm with weight and bias (GPT-2).
    Layer,
}

/// Where a block's norms sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum NormPlacement {
    /// Before attention and before the MLP (GPT-2, Llama, Qwen, Phi-3).
    Pre,
    /// Before and after each sub-block, the output norms applied before the residual addition
    /// (Gemma 2 and 3).
    Sandwich,
    /// Only after each sub-block, before the residual addition (OLMo-2).
    Post,
}

impl NormPlacement {
    /// Norms on the sub-blocks' inputs?
    pub fn has_pre(self) -> bool {
        matches!(self, NormPlacement::Pre | NormPlacement::Sandwich)
    }

    /// Norms on the sub-blocks' outputs?
    pub fn has_post(self) -> bool {
        matches!(self, NormPlacement::Sandwich | NormPlacement::Post)
    }
}

/// Norms on queries and keys before the rotary embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum QkNorm {
    /// None (most families).
    None,
    /// Over each head's `head_dim` values (Qwen3, Gemma 3).
    PerHead,
    /// Over the whole projection, all heads at once (OLMo-2).
    Whole,
}

/// The MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Mlp {
    /// `down(act(gate(x)) · up(x))`; `fused`: gate and up are one projection, gate first
    /// (Phi-3's `gate_up_proj`).
    Gated {
        /// The non-linearity.
        act: Activation,
        /// Gate and up in one projection.
        fused: bool,
    },
    /// `proj(act(fc(x)))` (GPT-2).
    Plain {
        /// The non-linearity.
        act: Activation,
    },
}

impl Mlp {
    /// The MLP's non-linearity.
    pub fn act(self) -> Activation {
        match self {
            Mlp::Gated { act, .. } | Mlp::Plain { act } => act,
        }
    }
}

/// How positions enter the model.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Positions {
    /// A learned position embedding added to the token embedding (GPT-2).
    Learned,
    /// Rotary embeddings (rotate-half layout) on queries and keys.
    Rotary(Rotary),
}

/// Rotary embedding parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rotary {
    /// Base of the global (full-attention) layers.
    pub theta: f64,
    /// Base of the sliding-window layers, where it differs (Gemma 3).
    pub local_theta: Option<f64>,
    /// Linear position scaling of the global layers (1 = none).
    pub scaling_factor: f64,
    /// Fraction of each head's dimensions that rotate (Phi-3's `partial_rotary_factor`); the
    /// rest pass through.
    pub fraction: f64,
}

/// Non-linearity of the MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Activation {
    /// SiLU (`silu`).
    Silu,
    /// GELU with the tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    /// Exact GELU (erf).
    Gelu,
}

impl Activation {
    /// From a Hugging Face `hidden_act` / `activation_function` value.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "silu" | "swish" => Activation::Silu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "gelu" => Activation::Gelu,
            _ => {
                return Err(Error::Config {
                    key: "hidden_act".into(),
                    detail: format!(
                        "unsupported activation `{s}` (silu, gelu, gelu_new, gelu_pytorch_tanh)"
                    ),
                })
            }
        })
    }
}

/// The sizes every family's config states, each in its own words.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
}

impl ArchSpec {
    /// The Llama layout at these sizes (pre-norm RMSNorm with ε = 1e-6, full rotary at base
    /// 10000, a SiLU-gated MLP, no biases, caps or windows, a tied head); family files change
    /// what differs.
    pub(crate) fn llama_like(family: Family, s: Sizes) -> Self {
        ArchSpec {
            family,
            vocab_size: s.vocab_size,
            hidden_size: s.hidden_size,
            num_hidden_layers: s.num_hidden_layers,
            num_attention_heads: s.num_attention_heads,
            num_key_value_heads: s.num_key_value_heads,
            head_dim: s.head_dim,
            intermediate_size: s.intermediate_size,
            max_position_embeddings: s.max_position_embeddings,
            norm: NormKind::Rms,
            norm_eps: 1e-6,
            norm_placement: NormPlacement::Pre,
            qk_norm: QkNorm::None,
            qkv_bias: false,
            o_bias: false,
            fused_qkv: false,
            mlp: Mlp::Gated {
                act: Activation::Silu,
                fused: false,
            },
            positions: Positions::Rotary(Rotary {
                theta: 10000.0,
                local_theta: None,
                scaling_factor: 1.0,
                fraction: 1.0,
            }),
            embed_scale: None,
            query_pre_attn_scalar: None,
            attn_logit_softcapping: None,
            final_logit_softcapping: None,
            sliding_window: None,
            sliding_layers: vec![false; s.num_hidden_layers],
            tie_word_embeddings: true,
            bos_token_id: None,
            eos_token_ids: vec![],
        }
    }

    /// Attention score scale.
    pub fn attn_scale(&self) -> f64 {
        match self.query_pre_attn_scalar {
            Some(s) => 1.0 / s.sqrt(),
            None => 1.0 / (self.head_dim as f64).sqrt(),
        }
    }

    /// The rotary parameters, when positions are rotary.
    pub fn rotary(&self) -> Option<&Rotary> {
        match &self.positions {
            Positions::Rotary(r) => Some(r),
            Positions::Learned => None,
        }
    }

    /// Dimensions of each head that rotate (even; `head_dim` unless the rotation is partial).
    pub fn rotary_dim(&self) -> usize {
        match self.rotary() {
            Some(r) => ((self.head_dim as f64 * r.fraction) as usize) & !1,
            None => 0,
        }
    }

    /// Read a Hugging Face `config.json` (already parsed) through the family its `model_type`
    /// names.
    pub fn from_hf_json(j: &serde_json::Value) -> Result<Self> {
        // Multimodal Gemma 3 configs nest the text model.
        let j = j.get("text_config").unwrap_or(j);
        let model_type = super::families::hf::str_key(j, "model_type")?;
        let family = Family::parse(model_type)?;
        let spec = (family.def().from_hf)(j)?;
        spec.check()?;
        Ok(spec)
    }

    /// Read GGUF metadata through the family its `general.architecture` names. `vocab_size`
    /// comes from the tokenizer (or the embedding's shape).
    pub fn from_gguf(
        md: &std::collections::HashMap<String, candle_core::quantized::gguf_file::Value>,
        vocab_size: usize,
    ) -> Result<Self> {
        let gguf = super::families::gguf::Metadata::new(md)?;
        let family = Family::parse(gguf.arch())?;
        let from = family.def().from_gguf.ok_or_else(|| Error::Config {
            key: "general.architecture".into(),
            detail: format!(
                "`{}` is supported from Hugging Face safetensors only (no GGUF mapping yet); \
                 load the model's HF directory or hub id",
                family.name()
            ),
        })?;
        let spec = from(&gguf, vocab_size)?;
        spec.check()?;
        Ok(spec)
    }

    /// Sizes that would make the forward pass divide by zero or index out of range.
    fn check(&self) -> Result<()> {
        let bad = |key: &str, detail: String| {
            Err(Error::Config {
                key: key.into(),
                detail,
            })
        };
        // Far above any released model: a larger value is a corrupt file, which would otherwise
        // allocate per-layer state by the gigabyte before a tensor is found missing (fuzzing).
        plausible_depth(self.num_hidden_layers)?;
        for (key, value, max) in [
            ("hidden_size", self.hidden_size, 1 << 18),
            ("intermediate_size", self.intermediate_size, 1 << 20),
            ("num_attention_heads", self.num_attention_heads, 1 << 12),
            ("vocab_size", self.vocab_size, 1 << 24),
        ] {
            if value > max {
                return bad(
                    key,
                    format!(
                        "{value} is not a plausible model (at most {max}); the file is corrupt"
                    ),
                );
            }
        }
        let (h, kvh) = (self.num_attention_heads, self.num_key_value_heads);
        if h == 0 || kvh == 0 || h % kvh != 0 {
            return bad(
                "num_key_value_heads",
                format!("{kvh} key/value heads for {h} query heads; expected a divisor of {h}"),
            );
        }
        if self.head_dim == 0 || self.hidden_size == 0 || self.vocab_size == 0 {
            return bad(
                "hidden_size",
                "zero-sized model (hidden_size, head_dim or vocab_size is 0)".into(),
            );
        }
        if let Some(r) = self.rotary() {
            if !(r.fraction > 0.0 && r.fraction <= 1.0) || self.rotary_dim() == 0 {
                return bad(
                    "partial_rotary_factor",
                    format!("{} leaves no rotating dimension", r.fraction),
                );
            }
        }
        Ok(())
    }
}

/// A depth a real model can have: at least one block, at most 1024 (far above any released
/// model). Checked as soon as a config or GGUF names it, before anything is allocated per layer:
/// a corrupt count (fuzzing found 3.9 billion) would otherwise cost gigabytes first.
pub(crate) fn plausible_depth(layers: usize) -> Result<usize> {
    if (1..=1 << 10).contains(&layers) {
        return Ok(layers);
    }
    Err(Error::Config {
        key: "num_hidden_layers".into(),
        detail: format!(
            "{layers} blocks is not a plausible model (1 to 1024); the file is corrupt"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::gguf_file::Value;
    use serde_json::json;
    use serde_json::Value as Json;
    use std::collections::HashMap;

    fn gemma2_json(extra: Json) -> Json {
        let mut j = json!({
            "model_type": "gemma2", "vocab_size": 288, "hidden_size": 32,
            "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 4,
            "head_dim": 16, "intermediate_size": 64,
        });
        if let (Json::Object(a), Json::Object(b)) = (&mut j, extra) {
            a.extend(b);
        }
        j
    }

    /// Absent Gemma 2 keys take the class defaults; an explicit `null` turns the feature off.
    #[test]
    fn gemma2_defaults_and_nulls() -> crate::Result<()> {
        let c = ArchSpec::from_hf_json(&gemma2_json(json!({})))?;
        assert_eq!(c.family.name(), "gemma2");
        assert_eq!(c.attn_logit_softcapping, Some(50.0));
        assert_eq!(c.final_logit_softcapping, Some(30.0));
        assert_eq!(c.sliding_window, Some(4096));
        assert_eq!(c.sliding_layers, vec![true, false, true, false]);
        assert_eq!(c.query_pre_attn_scalar, Some(256.0));
        assert_eq!(
            c.rotary().map(|r| (r.theta, r.local_theta)),
            Some((10000.0, None))
        );
        assert_eq!(c.mlp.act(), Activation::GeluTanh);
        let c = ArchSpec::from_hf_json(&gemma2_json(json!({
            "attn_logit_softcapping": null, "final_logit_softcapping": null,
            "sliding_window": null,
        })))?;
        assert_eq!(c.attn_logit_softcapping, None);
        assert_eq!(c.final_logit_softcapping, None);
        assert_eq!(c.sliding_window, None);
        Ok(())
    }

    /// Mistral: the window applies to every layer, and `null` (v0.2 and later) means none.
    #[test]
    fn mistral_window() -> crate::Result<()> {
        let base = json!({
            "model_type": "mistral", "vocab_size": 288, "hidden_size": 32,
            "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 3,
            "intermediate_size": 64, "sliding_window": 4,
        });
        let c = ArchSpec::from_hf_json(&base)?;
        assert_eq!(c.family.name(), "mistral");
        assert_eq!(
            (c.sliding_window, c.sliding_layers),
            (Some(4), vec![true; 3])
        );
        let mut none = base.clone();
        none["sliding_window"] = Json::Null;
        let c = ArchSpec::from_hf_json(&none)?;
        assert_eq!((c.sliding_window, c.sliding_layers), (None, vec![false; 3]));
        Ok(())
    }

    fn gemma2_gguf(extra: &[(&str, Value)]) -> HashMap<String, Value> {
        let mut md: HashMap<String, Value> = [
            ("general.architecture", Value::String("gemma2".into())),
            ("gemma2.block_count", Value::U32(26)),
            ("gemma2.embedding_length", Value::U32(2304)),
            ("gemma2.feed_forward_length", Value::U32(9216)),
            ("gemma2.attention.head_count", Value::U32(8)),
            ("gemma2.attention.head_count_kv", Value::U32(4)),
            ("gemma2.attention.key_length", Value::U32(256)),
            ("gemma2.attention.sliding_window", Value::U32(4096)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        md.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        md
    }

    /// Gemma 2 GGUF metadata (gemma-2-2b's keys): caps read from the file (llama.cpp's defaults
    /// when absent), window on the even layers, no local RoPE base.
    #[test]
    fn gemma2_from_gguf() -> crate::Result<()> {
        let c = ArchSpec::from_gguf(
            &gemma2_gguf(&[
                ("gemma2.attn_logit_softcapping", Value::F32(40.0)),
                ("gemma2.final_logit_softcapping", Value::F32(20.0)),
            ]),
            256000,
        )?;
        assert_eq!(c.family.name(), "gemma2");
        assert_eq!(c.attn_logit_softcapping, Some(40.0));
        assert_eq!(c.final_logit_softcapping, Some(20.0));
        assert_eq!(c.sliding_window, Some(4096));
        assert_eq!(&c.sliding_layers[..4], &[true, false, true, false]);
        assert_eq!(c.query_pre_attn_scalar, Some(256.0));
        assert_eq!(c.rotary().and_then(|r| r.local_theta), None);
        let c = ArchSpec::from_gguf(&gemma2_gguf(&[]), 256000)?;
        assert_eq!(c.attn_logit_softcapping, Some(50.0));
        assert_eq!(c.final_logit_softcapping, Some(30.0));
        // the 27B model (46 blocks, head_dim 128, d / heads = 144) scales by 144^-1/2
        let c = ArchSpec::from_gguf(
            &gemma2_gguf(&[
                ("gemma2.block_count", Value::U32(46)),
                ("gemma2.embedding_length", Value::U32(4608)),
                ("gemma2.attention.head_count", Value::U32(32)),
                ("gemma2.attention.key_length", Value::U32(128)),
            ]),
            256000,
        )?;
        assert_eq!(c.query_pre_attn_scalar, Some(144.0));
        Ok(())
    }
}
