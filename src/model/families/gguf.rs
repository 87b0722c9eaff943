//! Reading GGUF metadata (`{arch}.block_count`, …) and llama.cpp's tensor names: what the
//! families with a GGUF mapping share.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;

use super::Family;
use crate::model::arch::{ArchSpec, Positions, Rotary, Sizes};
use crate::{Error, Result};

/// A GGUF file's metadata, with its architecture's key prefix.
pub(crate) struct Metadata<'a> {
    md: &'a HashMap<String, Value>,
    arch: String,
}

impl<'a> Metadata<'a> {
    pub fn new(md: &'a HashMap<String, Value>) -> Result<Self> {
        let arch = md
            .get("general.architecture")
            .ok_or_else(|| super::hf::missing("general.architecture"))?
            .to_string()
            .map_err(|e| bad("general.architecture", e))?
            .clone();
        Ok(Self { md, arch })
    }

    /// `general.architecture`.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    fn key(&self, s: &str) -> String {
        format!("{}.{s}", self.arch)
    }

    /// `{arch}.{s}` as a non-negative integer; an error when absent.
    pub fn usize(&self, s: &str) -> Result<usize> {
        let key = self.key(s);
        let v = self.md.get(&key).ok_or_else(|| super::hf::missing(&key))?;
        gguf_usize(v).map_err(|e| bad(&key, e))
    }

    /// `{arch}.{s}` as a non-negative integer, when present and valid.
    pub fn opt_usize(&self, s: &str) -> Option<usize> {
        self.md.get(&self.key(s)).and_then(|v| gguf_usize(v).ok())
    }

    /// `{arch}.{s}` as a number, when present and valid.
    pub fn opt_f64(&self, s: &str) -> Option<f64> {
        self.md.get(&self.key(s)).and_then(|v| gguf_f64(v).ok())
    }

    /// `{arch}.{s}` as a string, when present and a string.
    pub fn opt_str(&self, s: &str) -> Option<&str> {
        self.md
            .get(&self.key(s))
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
    }

    /// A token id under a full key (`tokenizer.ggml.bos_token_id`).
    fn token(&self, key: &str) -> Option<u32> {
        self.md
            .get(key)
            .and_then(|v| gguf_usize(v).ok())
            .map(|v| v as u32)
    }
}

/// The spec of a Llama-like GGUF model: the sizes from the metadata, the structure as
/// [`super::hf::base`] has it. `tie_word_embeddings` is corrected by the loader when the file
/// has an `output.weight`.
pub(crate) fn base(md: &Metadata, family: Family, vocab_size: usize) -> Result<ArchSpec> {
    // As on the Hugging Face side: a scaling other than linear would put positions wrong.
    if let Some(kind) = md.opt_str("rope.scaling.type") {
        if !matches!(kind, "none" | "linear") {
            return Err(Error::Config {
                key: format!("{}.rope.scaling.type", md.arch()),
                detail: format!(
                    "rope scaling `{kind}` is not supported (none and linear are); the positions \
                     would be wrong"
                ),
            });
        }
    }
    let hidden_size = md.usize("embedding_length")?;
    let heads = md.usize("attention.head_count")?;
    let layers = crate::model::arch::plausible_depth(md.usize("block_count")?)?;
    let head_dim = md
        .opt_usize("attention.key_length")
        .or_else(|| md.opt_usize("rope.dimension_count"))
        .unwrap_or(hidden_size / heads.max(1));
    let mut spec = ArchSpec::llama_like(
        family,
        Sizes {
            vocab_size,
            hidden_size,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            num_key_value_heads: md.opt_usize("attention.head_count_kv").unwrap_or(heads),
            head_dim,
            intermediate_size: md.usize("feed_forward_length")?,
            max_position_embeddings: md.opt_usize("context_length").unwrap_or(2048),
        },
    );
    spec.norm_eps = md
        .opt_f64("attention.layer_norm_rms_epsilon")
        .or_else(|| md.opt_f64("attention.layer_norm_epsilon"))
        .unwrap_or(1e-6);
    spec.positions = Positions::Rotary(Rotary {
        theta: md.opt_f64("rope.freq_base").unwrap_or(10000.0),
        local_theta: None,
        scaling_factor: md.opt_f64("rope.scaling.factor").unwrap_or(1.0),
        fraction: 1.0,
    });
    spec.bos_token_id = md.token("tokenizer.ggml.bos_token_id");
    spec.eos_token_ids = md
        .token("tokenizer.ggml.eos_token_id")
        .into_iter()
        .collect();
    Ok(spec)
}

/// Give the layers `sliding(i)` the file's `attention.sliding_window` (none without one).
pub(crate) fn set_sliding(spec: &mut ArchSpec, md: &Metadata, sliding: impl Fn(usize) -> bool) {
    let layers = spec.num_hidden_layers;
    spec.sliding_window = md
        .opt_usize("attention.sliding_window")
        .filter(|_| (0..layers).any(&sliding));
    spec.sliding_layers = (0..layers)
        .map(|i| spec.sliding_window.is_some() && sliding(i))
        .collect();
}

/// Hugging Face tensor name → llama.cpp's GGUF name. `post_attention_layernorm` is the MLP's
/// input norm in pre-norm models (`ffn_norm`) and the attention output's norm where the
/// spec has post-norms.
pub(crate) fn tensor_name(hf: &str, spec: &ArchSpec) -> Option<String> {
    let top = match hf {
        "model.embed_tokens.weight" => Some("token_embd.weight"),
        "model.norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        _ => None,
    };
    if let Some(t) = top {
        return Some(t.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (idx, sub) = rest.split_once('.')?;
    let (module, kind) = sub.rsplit_once('.')?;
    let g = match module {
        "input_layernorm" => "attn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.qkv_proj" => "attn_qkv",
        "self_attn.o_proj" => "attn_output",
        "self_attn.q_norm" => "attn_q_norm",
        "self_attn.k_norm" => "attn_k_norm",
        "post_attention_layernorm" if spec.norm_placement.has_post() => "post_attention_norm",
        "post_attention_layernorm" => "ffn_norm",
        "pre_feedforward_layernorm" => "ffn_norm",
        "post_feedforward_layernorm" => "post_ffw_norm",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{idx}.{g}.{kind}"))
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
