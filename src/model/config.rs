//! Model hyper-parameters, read from a Hugging Face `config.json` or from GGUF metadata.
//! Field names follow Hugging Face.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use serde_json::Value as Json;

use crate::{Error, Result};

/// The decoder-only families entroscope runs with its own forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Family {
    /// GPT-2 (learned positions, LayerNorm, GELU).
    Gpt2,
    /// Llama and its kin (SmolLM2): RMSNorm, RoPE, SwiGLU.
    Llama,
    /// Qwen2: Llama with biases on q, k, v.
    Qwen2,
    /// Qwen3: Llama with RMSNorm on q and k.
    Qwen3,
    /// Gemma 2: sandwich norms, soft-capped attention scores and logits, alternating
    /// sliding-window and full layers (no q/k norms).
    Gemma2,
    /// Gemma 3: sandwich norms, q/k norms, sliding-window layers.
    Gemma3,
    /// Mistral: Llama with sliding-window attention on every layer (when the config sets a
    /// window).
    Mistral,
}

impl Family {
    /// From a GGUF `general.architecture` or an HF `model_type`.
    pub fn parse(arch: &str) -> Result<Self> {
        Ok(match arch {
            "gpt2" => Family::Gpt2,
            "llama" => Family::Llama,
            "mistral" => Family::Mistral,
            "qwen2" => Family::Qwen2,
            "qwen3" => Family::Qwen3,
            "gemma2" => Family::Gemma2,
            "gemma3" | "gemma3_text" => Family::Gemma3,
            _ => {
                return Err(Error::UnknownArchitecture {
                    arch: arch.to_string(),
                })
            }
        })
    }

    /// Gemma 2 and 3 share the block layout: `(1 + w)` RMSNorms around both sub-blocks, the
    /// embedding scaled by `sqrt(d)`, tanh-GELU.
    pub fn is_gemma(self) -> bool {
        matches!(self, Family::Gemma2 | Family::Gemma3)
    }
}

/// Non-linearity of the MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Activation {
    /// SiLU (`silu`), gated.
    Silu,
    /// GELU with the tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    /// Exact GELU (erf).
    Gelu,
}

impl Activation {
    fn parse(s: &str) -> Result<Self> {
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

/// Hyper-parameters of a model. Names as in Hugging Face configs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Config {
    /// The architecture.
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
    /// RMSNorm / LayerNorm epsilon.
    pub norm_eps: f64,
    /// RoPE base (of the global layers).
    pub rope_theta: f64,
    /// Gemma 3: RoPE base of the sliding-window layers.
    pub rope_local_base_freq: Option<f64>,
    /// Linear RoPE scaling factor of the global layers (1 = none).
    pub rope_scaling_factor: f64,
    /// Context window (`max_position_embeddings`).
    pub max_position_embeddings: usize,
    /// Sliding-window size of the layers marked sliding in `sliding_layers`.
    pub sliding_window: Option<usize>,
    /// Per block (0-based): does it use sliding-window attention?
    pub sliding_layers: Vec<bool>,
    /// Attention scale is `query_pre_attn_scalar^-1/2` when set, else `head_dim^-1/2`.
    pub query_pre_attn_scalar: Option<f64>,
    /// `c` of the final logits' soft-cap `c·tanh(z/c)`, when the model has one.
    pub final_logit_softcapping: Option<f64>,
    /// `c` of the attention scores' soft-cap, when the model has one.
    pub attn_logit_softcapping: Option<f64>,
    /// Whether the unembedding is the embedding matrix.
    pub tie_word_embeddings: bool,
    /// The MLP's non-linearity.
    pub hidden_act: Activation,
    /// Beginning-of-sequence token, prepended to prompts when set.
    pub bos_token_id: Option<u32>,
    /// Tokens that end a generation.
    pub eos_token_ids: Vec<u32>,
}

impl Config {
    /// Attention score scale.
    pub fn attn_scale(&self) -> f64 {
        match self.query_pre_attn_scalar {
            Some(s) => 1.0 / s.sqrt(),
            None => 1.0 / (self.head_dim as f64).sqrt(),
        }
    }

    /// Read a Hugging Face `config.json` (already parsed).
    pub fn from_hf_json(j: &Json) -> Result<Self> {
        // Multimodal Gemma 3 configs nest the text model.
        let j = j.get("text_config").unwrap_or(j);
        let model_type = str_key(j, "model_type")?;
        let family = Family::parse(model_type)?;
        if family == Family::Gpt2 {
            return Self::gpt2_from_hf_json(j);
        }
        let hidden_size = usize_key(j, "hidden_size")?;
        let heads = usize_key(j, "num_attention_heads")?;
        let layers = usize_key(j, "num_hidden_layers")?;
        let head_dim = opt_usize(j, "head_dim").unwrap_or(hidden_size / heads.max(1));
        let gemma = family.is_gemma();
        let gemma3 = family == Family::Gemma3;
        let gemma2 = family == Family::Gemma2;
        // Gemma 2 and Mistral take HF's class default (4096) when the key is absent; an explicit
        // `null` (Mistral v0.2 and later) means no window.
        let sliding_window = match family {
            Family::Gemma2 | Family::Mistral => defaulted(j, "sliding_window", 4096.0),
            _ => opt_f64(j, "sliding_window"),
        }
        .map(|w| w as usize);
        let use_sliding = j
            .get("use_sliding_window")
            .and_then(Json::as_bool)
            .unwrap_or(gemma);
        let sliding_layers = match j.get("layer_types").and_then(Json::as_array) {
            Some(types) => types
                .iter()
                .map(|t| t.as_str() == Some("sliding_attention"))
                .collect(),
            None if gemma => {
                // Gemma 2 alternates (layers 0, 2, 4, … sliding); Gemma 3 has one full layer in 6.
                let pattern = opt_usize(j, "sliding_window_pattern")
                    .or_else(|| opt_usize(j, "_sliding_window_pattern"))
                    .unwrap_or(if gemma2 { 2 } else { 6 })
                    .max(1);
                (0..layers).map(|i| (i + 1) % pattern != 0).collect()
            }
            // Mistral applies its window (when set) on every layer; `use_sliding_window` is Qwen's.
            None if family == Family::Mistral => vec![sliding_window.is_some(); layers],
            None => {
                // Qwen2/3: sliding window on layers >= max_window_layers when enabled.
                let max_window = opt_usize(j, "max_window_layers").unwrap_or(layers);
                (0..layers)
                    .map(|i| use_sliding && sliding_window.is_some() && i >= max_window)
                    .collect()
            }
        };
        // transformers 4.x: top-level `rope_theta` / `rope_local_base_freq` / `rope_scaling`;
        // 5.x: `rope_parameters`, nested per layer type for Gemma 3.
        let params = j.get("rope_parameters");
        let full = params.map(|p| p.get("full_attention").unwrap_or(p));
        let local = params.and_then(|p| p.get("sliding_attention"));
        let rope_theta = opt_f64(j, "rope_theta")
            .or_else(|| full.and_then(|r| opt_f64(r, "rope_theta")))
            .unwrap_or(if gemma3 { 1_000_000.0 } else { 10000.0 });
        let rope_local_base_freq = opt_f64(j, "rope_local_base_freq")
            .or_else(|| local.and_then(|r| opt_f64(r, "rope_theta")))
            .or(if gemma3 { Some(10000.0) } else { None });
        let linear = |r: &Json| {
            (r.get("rope_type").and_then(Json::as_str) == Some("linear"))
                .then(|| opt_f64(r, "factor"))
                .flatten()
        };
        let rope_scaling_factor = j
            .get("rope_scaling")
            .and_then(linear)
            .or_else(|| full.and_then(linear))
            .unwrap_or(1.0);
        let act = j
            .get("hidden_activation")
            .or_else(|| j.get("hidden_act"))
            .and_then(Json::as_str)
            .unwrap_or(if gemma { "gelu_pytorch_tanh" } else { "silu" });
        Ok(Config {
            family,
            vocab_size: usize_key(j, "vocab_size")?,
            hidden_size,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            num_key_value_heads: opt_usize(j, "num_key_value_heads").unwrap_or(heads),
            head_dim,
            intermediate_size: usize_key(j, "intermediate_size")?,
            norm_eps: opt_f64(j, "rms_norm_eps").unwrap_or(1e-6),
            rope_theta,
            rope_local_base_freq,
            rope_scaling_factor,
            max_position_embeddings: opt_usize(j, "max_position_embeddings").unwrap_or(2048),
            sliding_window,
            sliding_layers,
            query_pre_attn_scalar: opt_f64(j, "query_pre_attn_scalar").or(if gemma {
                Some(256.0)
            } else {
                None
            }),
            // Gemma 2's class defaults are 30 and 50: an absent key means the cap, `null` none.
            final_logit_softcapping: if gemma2 {
                defaulted(j, "final_logit_softcapping", 30.0)
            } else {
                opt_f64(j, "final_logit_softcapping")
            },
            attn_logit_softcapping: if gemma2 {
                defaulted(j, "attn_logit_softcapping", 50.0)
            } else {
                opt_f64(j, "attn_logit_softcapping")
            },
            tie_word_embeddings: j
                .get("tie_word_embeddings")
                .and_then(Json::as_bool)
                .unwrap_or(true),
            hidden_act: Activation::parse(act)?,
            bos_token_id: opt_usize(j, "bos_token_id").map(|v| v as u32),
            eos_token_ids: eos_ids(j),
        })
    }

    fn gpt2_from_hf_json(j: &Json) -> Result<Self> {
        let d = usize_key(j, "n_embd")?;
        let heads = usize_key(j, "n_head")?;
        let layers = usize_key(j, "n_layer")?;
        Ok(Config {
            family: Family::Gpt2,
            vocab_size: usize_key(j, "vocab_size")?,
            hidden_size: d,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            num_key_value_heads: heads,
            head_dim: d / heads.max(1),
            intermediate_size: opt_usize(j, "n_inner").unwrap_or(4 * d),
            norm_eps: opt_f64(j, "layer_norm_epsilon").unwrap_or(1e-5),
            rope_theta: 0.0,
            rope_local_base_freq: None,
            rope_scaling_factor: 1.0,
            max_position_embeddings: usize_key(j, "n_positions")?,
            sliding_window: None,
            sliding_layers: vec![false; layers],
            query_pre_attn_scalar: None,
            final_logit_softcapping: None,
            attn_logit_softcapping: None,
            tie_word_embeddings: true,
            hidden_act: Activation::parse(
                j.get("activation_function")
                    .and_then(Json::as_str)
                    .unwrap_or("gelu_new"),
            )?,
            bos_token_id: opt_usize(j, "bos_token_id").map(|v| v as u32),
            eos_token_ids: eos_ids(j),
        })
    }

    /// Read GGUF metadata (`{arch}.block_count`, …). Values GGUF does not carry (Gemma 3's local
    /// RoPE base, sliding pattern and query scale) take the Hugging Face defaults of the family,
    /// as `transformers` does when it loads the same file. Gemma 2 (`gemma2.*`): soft-caps from
    /// `attn_logit_softcapping` / `final_logit_softcapping` (llama.cpp's defaults 50 / 30 when
    /// absent), window from `attention.sliding_window` on the even layers, query scale as
    /// llama.cpp computes it. Mistral: llama.cpp converts Mistral checkpoints to arch `llama`,
    /// whose metadata has no sliding window, so such a file runs (as in llama.cpp) with full
    /// attention everywhere (transformers may give it MistralConfig's default window 4096: the
    /// two differ beyond 4096 tokens only); an arch `mistral` file with
    /// `attention.sliding_window` gets its window.
    pub fn from_gguf(md: &HashMap<String, Value>, vocab_size: usize) -> Result<Self> {
        let arch = md
            .get("general.architecture")
            .ok_or_else(|| missing("general.architecture"))?
            .to_string()
            .map_err(|e| bad("general.architecture", e))?
            .clone();
        let family = Family::parse(&arch)?;
        let k = |s: &str| format!("{arch}.{s}");
        let u = |s: &str| -> Result<usize> {
            let key = k(s);
            let v = md.get(&key).ok_or_else(|| missing(&key))?;
            gguf_usize(v).map_err(|e| bad(&key, e))
        };
        let ou = |s: &str| md.get(&k(s)).and_then(|v| gguf_usize(v).ok());
        let of = |s: &str| md.get(&k(s)).and_then(|v| gguf_f64(v).ok());
        let hidden_size = u("embedding_length")?;
        let heads = u("attention.head_count")?;
        let layers = u("block_count")?;
        let head_dim = ou("attention.key_length")
            .or_else(|| ou("rope.dimension_count"))
            .unwrap_or(hidden_size / heads.max(1));
        let gemma3 = family == Family::Gemma3;
        let gemma2 = family == Family::Gemma2;
        let tok_u32 = |key: &str| {
            md.get(key)
                .and_then(|v| gguf_usize(v).ok())
                .map(|v| v as u32)
        };
        let sliding_window = ou("attention.sliding_window");
        let sliding = |i: usize| match family {
            Family::Gemma3 => (i + 1) % 6 != 0,
            Family::Gemma2 => i % 2 == 0,
            Family::Mistral => true,
            _ => false,
        };
        let sliding_window = sliding_window.filter(|_| (0..layers).any(sliding));
        // llama.cpp: Gemma 2 scales scores by head_dim^-1/2, except the 27B model (46 blocks),
        // whose `query_pre_attn_scalar` is d / heads; Gemma 3: HF's default 256.
        let query_pre_attn_scalar = match family {
            Family::Gemma3 => Some(256.0),
            Family::Gemma2 if layers == 46 => Some((hidden_size / heads.max(1)) as f64),
            Family::Gemma2 => Some(head_dim as f64),
            _ => None,
        };
        let softcap = |s: &str, default: f64| of(s).or(if gemma2 { Some(default) } else { None });
        Ok(Config {
            family,
            vocab_size,
            hidden_size,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            num_key_value_heads: ou("attention.head_count_kv").unwrap_or(heads),
            head_dim,
            intermediate_size: u("feed_forward_length")?,
            norm_eps: of("attention.layer_norm_rms_epsilon")
                .or_else(|| of("attention.layer_norm_epsilon"))
                .unwrap_or(1e-6),
            rope_theta: of("rope.freq_base").unwrap_or(10000.0),
            rope_local_base_freq: if gemma3 { Some(10000.0) } else { None },
            rope_scaling_factor: of("rope.scaling.factor").unwrap_or(1.0),
            max_position_embeddings: ou("context_length").unwrap_or(2048),
            sliding_window,
            sliding_layers: (0..layers)
                .map(|i| sliding_window.is_some() && sliding(i))
                .collect(),
            query_pre_attn_scalar,
            final_logit_softcapping: softcap("final_logit_softcapping", 30.0),
            attn_logit_softcapping: softcap("attn_logit_softcapping", 50.0),
            tie_word_embeddings: true, // corrected by the loader when `output.weight` exists
            hidden_act: match family {
                Family::Gemma2 | Family::Gemma3 | Family::Gpt2 => Activation::GeluTanh,
                _ => Activation::Silu,
            },
            bos_token_id: tok_u32("tokenizer.ggml.bos_token_id"),
            eos_token_ids: tok_u32("tokenizer.ggml.eos_token_id").into_iter().collect(),
        })
    }
}

fn missing(key: &str) -> Error {
    Error::Config {
        key: key.into(),
        detail: "missing; the file or config is incomplete".into(),
    }
}

fn bad(key: &str, e: impl std::fmt::Display) -> Error {
    Error::Config {
        key: key.into(),
        detail: e.to_string(),
    }
}

fn gguf_usize(v: &Value) -> std::result::Result<usize, String> {
    match v {
        Value::U8(x) => Ok(*x as usize),
        Value::U16(x) => Ok(*x as usize),
        Value::U32(x) => Ok(*x as usize),
        Value::U64(x) => Ok(*x as usize),
        Value::I8(x) if *x >= 0 => Ok(*x as usize),
        Value::I16(x) if *x >= 0 => Ok(*x as usize),
        Value::I32(x) if *x >= 0 => Ok(*x as usize),
        Value::I64(x) if *x >= 0 => Ok(*x as usize),
        other => Err(format!("expected a non-negative integer, got {other:?}")),
    }
}

fn gguf_f64(v: &Value) -> std::result::Result<f64, String> {
    match v {
        Value::F32(x) => Ok(*x as f64),
        Value::F64(x) => Ok(*x),
        other => gguf_usize(other).map(|x| x as f64),
    }
}

fn str_key<'a>(j: &'a Json, key: &str) -> Result<&'a str> {
    j.get(key)
        .and_then(Json::as_str)
        .ok_or_else(|| missing(key))
}

fn usize_key(j: &Json, key: &str) -> Result<usize> {
    opt_usize(j, key).ok_or_else(|| missing(key))
}

fn opt_usize(j: &Json, key: &str) -> Option<usize> {
    j.get(key).and_then(Json::as_u64).map(|v| v as usize)
}

fn opt_f64(j: &Json, key: &str) -> Option<f64> {
    j.get(key).and_then(Json::as_f64)
}

/// `key` as a number; `default` when the key is absent, `None` when it is `null`.
fn defaulted(j: &Json, key: &str, default: f64) -> Option<f64> {
    match j.get(key) {
        None => Some(default),
        Some(v) => v.as_f64(),
    }
}

fn eos_ids(j: &Json) -> Vec<u32> {
    match j.get("eos_token_id") {
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(Json::as_u64)
            .map(|v| v as u32)
            .collect(),
        Some(v) => v.as_u64().map(|v| vec![v as u32]).unwrap_or_default(),
        None => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let c = Config::from_hf_json(&gemma2_json(json!({})))?;
        assert_eq!(c.family, Family::Gemma2);
        assert_eq!(c.attn_logit_softcapping, Some(50.0));
        assert_eq!(c.final_logit_softcapping, Some(30.0));
        assert_eq!(c.sliding_window, Some(4096));
        assert_eq!(c.sliding_layers, vec![true, false, true, false]);
        assert_eq!(c.query_pre_attn_scalar, Some(256.0));
        assert_eq!(c.rope_theta, 10000.0);
        assert_eq!(c.rope_local_base_freq, None);
        assert_eq!(c.hidden_act, Activation::GeluTanh);
        let c = Config::from_hf_json(&gemma2_json(json!({
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
        let c = Config::from_hf_json(&base)?;
        assert_eq!(c.family, Family::Mistral);
        assert_eq!(
            (c.sliding_window, c.sliding_layers),
            (Some(4), vec![true; 3])
        );
        let mut none = base.clone();
        none["sliding_window"] = Json::Null;
        let c = Config::from_hf_json(&none)?;
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
        let c = Config::from_gguf(
            &gemma2_gguf(&[
                ("gemma2.attn_logit_softcapping", Value::F32(40.0)),
                ("gemma2.final_logit_softcapping", Value::F32(20.0)),
            ]),
            256000,
        )?;
        assert_eq!(c.family, Family::Gemma2);
        assert_eq!(c.attn_logit_softcapping, Some(40.0));
        assert_eq!(c.final_logit_softcapping, Some(20.0));
        assert_eq!(c.sliding_window, Some(4096));
        assert_eq!(&c.sliding_layers[..4], &[true, false, true, false]);
        assert_eq!(c.query_pre_attn_scalar, Some(256.0));
        assert_eq!(c.rope_local_base_freq, None);
        let c = Config::from_gguf(&gemma2_gguf(&[]), 256000)?;
        assert_eq!(c.attn_logit_softcapping, Some(50.0));
        assert_eq!(c.final_logit_softcapping, Some(30.0));
        // the 27B model (46 blocks, head_dim 128, d / heads = 144) scales by 144^-1/2
        let c = Config::from_gguf(
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

    #[test]
    fn every_family_parses() -> crate::Result<()> {
        for (arch, f) in [
            ("gpt2", Family::Gpt2),
            ("llama", Family::Llama),
            ("mistral", Family::Mistral),
            ("qwen2", Family::Qwen2),
            ("qwen3", Family::Qwen3),
            ("gemma2", Family::Gemma2),
            ("gemma3_text", Family::Gemma3),
        ] {
            assert_eq!(Family::parse(arch)?, f);
        }
        let msg = Family::parse("rwkv").unwrap_err().to_string();
        for arch in [
            "gpt2", "llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3",
        ] {
            assert!(msg.contains(arch), "{msg}");
        }
        Ok(())
    }
}
