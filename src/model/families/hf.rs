//! Reading Hugging Face `config.json` keys: what the Llama-like families share, and helpers the
//! family files use for the rest.

use serde_json::Value as Json;

use super::Family;
use crate::model::arch::{Activation, ArchSpec, Mlp, Positions, Rotary, Sizes};
use crate::{Error, Result};

/// A family's class defaults for keys a config may leave out (its `…Config.__init__`).
pub(crate) struct Defaults {
    pub act: &'static str,
    pub norm_eps: f64,
    pub rope_theta: f64,
    pub tie_word_embeddings: bool,
}

/// Llama's defaults, which most families share.
pub(crate) const LLAMA_DEFAULTS: Defaults = Defaults {
    act: "silu",
    norm_eps: 1e-6,
    rope_theta: 10000.0,
    tie_word_embeddings: true,
};

/// The spec of a Llama-like model (pre-norm RMSNorm, rotary, gated MLP, no biases, no sliding
/// window unless `layer_types` says so); family files change what differs.
pub(crate) fn base(j: &Json, family: Family, defaults: &Defaults) -> Result<ArchSpec> {
    let hidden_size = usize_key(j, "hidden_size")?;
    let heads = usize_key(j, "num_attention_heads")?;
    let layers = crate::model::arch::plausible_depth(usize_key(j, "num_hidden_layers")?)?;
    let head_dim = opt_usize(j, "head_dim").unwrap_or(hidden_size / heads.max(1));
    let sliding_window = opt_f64(j, "sliding_window").map(|w| w as usize);
    let sliding_layers = match layer_types(j) {
        Some(types) => types,
        None => vec![false; layers],
    };
    let rope = rope(j, defaults.rope_theta)?;
    let act = j
        .get("hidden_activation")
        .or_else(|| j.get("hidden_act"))
        .and_then(Json::as_str)
        .unwrap_or(defaults.act);
    let mut spec = ArchSpec::llama_like(
        family,
        Sizes {
            vocab_size: usize_key(j, "vocab_size")?,
            hidden_size,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            num_key_value_heads: opt_usize(j, "num_key_value_heads").unwrap_or(heads),
            head_dim,
            intermediate_size: usize_key(j, "intermediate_size")?,
            max_position_embeddings: opt_usize(j, "max_position_embeddings").unwrap_or(2048),
        },
    );
    spec.norm_eps = opt_f64(j, "rms_norm_eps").unwrap_or(defaults.norm_eps);
    spec.mlp = Mlp::Gated {
        act: Activation::parse(act)?,
        fused: false,
    };
    spec.positions = Positions::Rotary(rope);
    spec.query_pre_attn_scalar = opt_f64(j, "query_pre_attn_scalar");
    spec.attn_logit_softcapping = opt_f64(j, "attn_logit_softcapping");
    spec.final_logit_softcapping = opt_f64(j, "final_logit_softcapping");
    spec.sliding_window = sliding_window;
    spec.sliding_layers = sliding_layers;
    spec.tie_word_embeddings =
        opt_bool(j, "tie_word_embeddings").unwrap_or(defaults.tie_word_embeddings);
    spec.bos_token_id = opt_usize(j, "bos_token_id").map(|v| v as u32);
    spec.eos_token_ids = eos_ids(j);
    Ok(spec)
}

/// `layer_types` (transformers ≥ 4.53): which layers are `sliding_attention`.
pub(crate) fn layer_types(j: &Json) -> Option<Vec<bool>> {
    j.get("layer_types").and_then(Json::as_array).map(|types| {
        types
            .iter()
            .map(|t| t.as_str() == Some("sliding_attention"))
            .collect()
    })
}

/// The rotary parameters. transformers 4.x: top-level `rope_theta` / `rope_local_base_freq` /
/// `rope_scaling`; 5.x: `rope_parameters`, nested per layer type for Gemma 3. Scalings other
/// than linear (YaRN, LongRoPE, Llama 3's) are refused rather than silently ignored.
pub(crate) fn rope(j: &Json, default_theta: f64) -> Result<Rotary> {
    let params = j.get("rope_parameters");
    let full = params.map(|p| p.get("full_attention").unwrap_or(p));
    let local = params.and_then(|p| p.get("sliding_attention"));
    let mut factor = 1.0;
    for r in [j.get("rope_scaling"), full].into_iter().flatten() {
        match r
            .get("rope_type")
            .or_else(|| r.get("type"))
            .and_then(Json::as_str)
        {
            None | Some("default") => {}
            Some("linear") => factor = opt_f64(r, "factor").unwrap_or(1.0),
            Some(other) => {
                return Err(Error::Config {
                    key: "rope_scaling".into(),
                    detail: format!(
                        "rope type `{other}` is not supported (default and linear are); the \
                         positions would be wrong"
                    ),
                })
            }
        }
    }
    Ok(Rotary {
        theta: opt_f64(j, "rope_theta")
            .or_else(|| full.and_then(|r| opt_f64(r, "rope_theta")))
            .unwrap_or(default_theta),
        local_theta: opt_f64(j, "rope_local_base_freq")
            .or_else(|| local.and_then(|r| opt_f64(r, "rope_theta"))),
        scaling_factor: factor,
        fraction: opt_f64(j, "partial_rotary_factor")
            .or_else(|| full.and_then(|r| opt_f64(r, "partial_rotary_factor")))
            .unwrap_or(1.0),
    })
}

pub(crate) fn missing(key: &str) -> Error {
    Error::Config {
        key: key.into(),
        detail: "missing; the file or config is incomplete".into(),
    }
}

pub(crate) fn str_key<'a>(j: &'a Json, key: &str) -> Result<&'a str> {
    j.get(key)
        .and_then(Json::as_str)
        .ok_or_else(|| missing(key))
}

pub(crate) fn usize_key(j: &Json, key: &str) -> Result<usize> {
    opt_usize(j, key).ok_or_else(|| missing(key))
}

pub(crate) fn opt_usize(j: &Json, key: &str) -> Option<usize> {
    j.get(key).and_then(Json::as_u64).map(|v| v as usize)
}

pub(crate) fn opt_f64(j: &Json, key: &str) -> Option<f64> {
    j.get(key).and_then(Json::as_f64)
}

pub(crate) fn opt_bool(j: &Json, key: &str) -> Option<bool> {
    j.get(key).and_then(Json::as_bool)
}

/// `key` as a number; `default` when the key is absent, `None` when it is `null`.
pub(crate) fn defaulted(j: &Json, key: &str, default: f64) -> Option<f64> {
    match j.get(key) {
        None => Some(default),
        Some(v) => v.as_f64(),
    }
}

pub(crate) fn eos_ids(j: &Json) -> Vec<u32> {
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
