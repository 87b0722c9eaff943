//! Our own forward pass: one block at a time, with a [`Hook`] at every [`Site`].
//!
//! Per-family differences live in the constructors (which tensors exist, which norms wrap a
//! sub-block); the forward code is shared.

use candle_core::quantized::{QMatMul, QStorage, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::Linear;

use super::config::{Activation, Config, Family};
use super::device::WeightDtype;
use super::kv_cache::KvCache;
use super::weights::Weights;
use crate::hook::{Hook, Site};
use crate::Result;

/// A linear layer `y = x·Wᵀ + b`: dense weights in the model's dtype, or GGUF blocks run as a
/// quantized matmul (activations f32).
#[derive(Debug, Clone)]
pub(crate) enum Proj {
    Dense(Linear),
    Quantized { w: QMatMul, bias: Option<Tensor> },
}

/// From this many positions per sequence on (a prompt, not a decoding step), a quantized layer
/// on the CPU dequantizes its blocks for one f32 product instead of running candle's quantized
/// kernel, which rounds every activation row to 8 bits: a prompt's lens statistics then equal
/// the f32 model's (on Qwen2.5-1.5B the kernel moves per-layer mean entropies by up to 0.4 nats).
/// Decoding steps, one position per sequence however many sequences, always run the kernel.
/// Only one layer's weight exists in f32 at a time.
pub const DEQUANTIZE_FROM_ROWS: usize = 16;

impl Proj {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Proj::Dense(l) => l.forward(x)?,
            Proj::Quantized { w, bias } => {
                // positions per sequence: `[.., t, d]`
                let t = if x.rank() >= 2 { x.dim(D::Minus2)? } else { 1 };
                let y = match w {
                    QMatMul::QTensor(q) if t >= DEQUANTIZE_FROM_ROWS && x.device().is_cpu() => {
                        x.broadcast_matmul(&q.dequantize(x.device())?.t()?)?
                    }
                    _ => w.forward(x)?,
                };
                match bias {
                    Some(b) => y.broadcast_add(b)?,
                    None => y,
                }
            }
        })
    }
}

/// RMSNorm (weight already includes Gemma's `1 +`) or LayerNorm with bias.
#[derive(Debug, Clone)]
pub(crate) enum Norm {
    Rms {
        weight: Tensor,
        eps: f32,
    },
    Layer {
        weight: Tensor,
        bias: Tensor,
        eps: f32,
    },
}

impl Norm {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        Ok(match self {
            Norm::Rms { weight, eps } => candle_nn::ops::rms_norm(&x, weight, *eps)?,
            Norm::Layer { weight, bias, eps } => {
                candle_nn::ops::layer_norm(&x, weight, bias, *eps)?
            }
        })
    }
}

#[derive(Debug, Clone)]
enum Mlp {
    /// `down(act(gate(x)) * up(x))` (Llama, Qwen, Gemma).
    Gated { gate: Proj, up: Proj, down: Proj },
    /// `proj(act(fc(x)))` (GPT-2).
    Plain { fc: Proj, proj: Proj },
}

#[derive(Debug, Clone)]
struct Attention {
    q: Proj,
    k: Proj,
    v: Proj,
    o: Proj,
    q_norm: Option<Norm>,
    k_norm: Option<Norm>,
}

#[derive(Debug, Clone)]
struct Block {
    attn_norm: Norm,
    attn: Attention,
    /// Gemma: norm of the attention output before it is added to the residual.
    post_attn_norm: Option<Norm>,
    mlp_norm: Norm,
    mlp: Mlp,
    /// Gemma: norm of the MLP output before it is added to the residual.
    post_mlp_norm: Option<Norm>,
    sliding: bool,
}

/// The token embedding `[vocab, d]`: dense, or — quantized weights with an untied head — the
/// file's blocks, of which only the looked-up rows are dequantized (an f32 copy of a 151k-token
/// vocabulary would take 0.9 GB at d = 1536).
#[derive(Debug, Clone)]
enum Embedding {
    Dense(Tensor),
    Quantized(std::sync::Arc<QTensor>),
}

impl Embedding {
    /// Rows `ids` (each checked `< vocab` by the caller), `[ids.len(), d]` on `dev`.
    fn lookup(&self, ids: &[u32], dev: &Device) -> Result<Tensor> {
        match self {
            Embedding::Dense(e) => Ok(e.index_select(&Tensor::new(ids, dev)?, 0)?),
            Embedding::Quantized(q) => {
                let (_, d) = q.shape().dims2()?;
                let dtype = q.dtype();
                let row_bytes = d / dtype.block_size() * dtype.type_size();
                let data = q.data()?;
                let rows = ids
                    .iter()
                    .map(|&id| {
                        let start = id as usize * row_bytes;
                        let bytes = data.get(start..start + row_bytes).ok_or_else(|| {
                            crate::Error::invalid("token id", id, "an id inside the vocabulary")
                        })?;
                        let storage = QStorage::from_data(
                            std::borrow::Cow::Borrowed(bytes),
                            &Device::Cpu,
                            dtype,
                        )?;
                        Ok(QTensor::new(storage, (1, d))?.dequantize(&Device::Cpu)?)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Tensor::cat(&rows, 0)?.to_device(dev)?)
            }
        }
    }
}

/// The weights of a decoder-only transformer and the code that runs them.
#[derive(Debug, Clone)]
pub(crate) struct Transformer {
    pub cfg: Config,
    embed: Embedding,
    pos_embed: Option<Tensor>,
    blocks: Vec<Block>,
    pub final_norm: Norm,
    /// `[vocab, d]`; the same storage as `embed` when tied.
    pub lm_head: Tensor,
    pub device: Device,
    pub dtype: WeightDtype,
}

struct Loader<'a> {
    w: &'a mut Weights,
    cfg: &'a Config,
    device: &'a Device,
    dtype: WeightDtype,
}

impl Loader<'_> {
    /// A tensor as f32 on the model's device, as the file has it (dequantized).
    fn t32(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.w.get(name, shape, self.cfg.family, self.device)
    }

    /// A tensor in the compute dtype on the model's device.
    fn place(&self, t: Tensor) -> Result<Tensor> {
        Ok(t.to_dtype(self.dtype.compute())?.to_device(self.device)?)
    }

    fn t(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.t32(name, shape)?;
        self.place(t)
    }

    fn linear(&mut self, p: &str, out: usize, inp: usize, bias: bool) -> Result<Proj> {
        let name = format!("{p}.weight");
        let b = if bias {
            Some(self.t(&format!("{p}.bias"), &[out])?)
        } else {
            None
        };
        if self.dtype == WeightDtype::Quantized {
            let q = self.w.get_quantized(&name, &[out, inp], self.device)?;
            return Ok(Proj::Quantized {
                w: QMatMul::from_qtensor(q)?,
                bias: b,
            });
        }
        let w = self.t(&name, &[out, inp])?;
        Ok(Proj::Dense(Linear::new(w, b)))
    }

    /// GPT-2's `Conv1D` stores `[in, out]`; transpose to `[out, in]`.
    fn conv1d(&mut self, p: &str, inp: usize, out: usize) -> Result<Linear> {
        let w = self
            .t(&format!("{p}.weight"), &[inp, out])?
            .t()?
            .contiguous()?;
        let b = self.t(&format!("{p}.bias"), &[out])?;
        Ok(Linear::new(w, Some(b)))
    }

    fn rms(&mut self, name: &str, size: usize) -> Result<Norm> {
        let mut weight = self.t32(name, &[size])?;
        if self.cfg.family.is_gemma() {
            weight = (weight + 1.0)?; // Gemma scales by (1 + w), computed in f32 as HF does
        }
        Ok(Norm::Rms {
            weight: self.place(weight)?,
            eps: self.cfg.norm_eps as f32,
        })
    }

    fn layer_norm(&mut self, p: &str, size: usize) -> Result<Norm> {
        Ok(Norm::Layer {
            weight: self.t(&format!("{p}.weight"), &[size])?,
            bias: self.t(&format!("{p}.bias"), &[size])?,
            eps: self.cfg.norm_eps as f32,
        })
    }
}

impl Transformer {
    /// Build the model from weights named as in Hugging Face checkpoints.
    pub fn load(cfg: Config, w: &mut Weights, device: &Device, dtype: WeightDtype) -> Result<Self> {
        if cfg.family == Family::Gpt2 {
            return Self::load_gpt2(cfg, w, device, dtype);
        }
        let c = cfg.clone();
        let (d, v, hd) = (c.hidden_size, c.vocab_size, c.head_dim);
        let (h, kvh) = (c.num_attention_heads, c.num_key_value_heads);
        let mut l = Loader {
            w,
            cfg: &c,
            device,
            dtype,
        };
        let untied = l.w.contains("lm_head.weight");
        let embed = if untied && dtype == WeightDtype::Quantized && device.is_cpu() {
            let q =
                l.w.get_quantized("model.embed_tokens.weight", &[v, d], device)?;
            Embedding::Quantized(std::sync::Arc::new(q))
        } else {
            Embedding::Dense(l.t("model.embed_tokens.weight", &[v, d])?)
        };
        let gemma = c.family.is_gemma();
        let qk_norm = matches!(c.family, Family::Qwen3 | Family::Gemma3);
        let qkv_bias = c.family == Family::Qwen2;
        let mut blocks = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let attn = Attention {
                q: l.linear(&format!("{p}.self_attn.q_proj"), h * hd, d, qkv_bias)?,
                k: l.linear(&format!("{p}.self_attn.k_proj"), kvh * hd, d, qkv_bias)?,
                v: l.linear(&format!("{p}.self_attn.v_proj"), kvh * hd, d, qkv_bias)?,
                o: l.linear(&format!("{p}.self_attn.o_proj"), d, h * hd, false)?,
                q_norm: if qk_norm {
                    Some(l.rms(&format!("{p}.self_attn.q_norm.weight"), hd)?)
                } else {
                    None
                },
                k_norm: if qk_norm {
                    Some(l.rms(&format!("{p}.self_attn.k_norm.weight"), hd)?)
                } else {
                    None
                },
            };
            let mlp = Mlp::Gated {
                gate: l.linear(&format!("{p}.mlp.gate_proj"), c.intermediate_size, d, false)?,
                up: l.linear(&format!("{p}.mlp.up_proj"), c.intermediate_size, d, false)?,
                down: l.linear(&format!("{p}.mlp.down_proj"), d, c.intermediate_size, false)?,
            };
            let attn_norm = l.rms(&format!("{p}.input_layernorm.weight"), d)?;
            let (post_attn_norm, mlp_norm, post_mlp_norm) = if gemma {
                (
                    Some(l.rms(&format!("{p}.post_attention_layernorm.weight"), d)?),
                    l.rms(&format!("{p}.pre_feedforward_layernorm.weight"), d)?,
                    Some(l.rms(&format!("{p}.post_feedforward_layernorm.weight"), d)?),
                )
            } else {
                (
                    None,
                    l.rms(&format!("{p}.post_attention_layernorm.weight"), d)?,
                    None,
                )
            };
            blocks.push(Block {
                attn_norm,
                attn,
                post_attn_norm,
                mlp_norm,
                mlp,
                post_mlp_norm,
                sliding: c.sliding_layers.get(i).copied().unwrap_or(false),
            });
        }
        let final_norm = l.rms("model.norm.weight", d)?;
        let lm_head = match (&embed, untied) {
            (Embedding::Dense(e), false) => e.clone(),
            _ => l.t("lm_head.weight", &[v, d])?,
        };
        let mut cfg = cfg;
        cfg.tie_word_embeddings = !untied;
        Ok(Transformer {
            cfg,
            embed,
            pos_embed: None,
            blocks,
            final_norm,
            lm_head,
            device: device.clone(),
            dtype,
        })
    }

    fn load_gpt2(
        cfg: Config,
        w: &mut Weights,
        device: &Device,
        dtype: WeightDtype,
    ) -> Result<Self> {
        let c = cfg.clone();
        let (d, v) = (c.hidden_size, c.vocab_size);
        // Checkpoints saved from GPT2LMHeadModel prefix names with `transformer.`; the hub's
        // `gpt2` repo does not.
        let pre = if w.contains("transformer.wte.weight") {
            "transformer."
        } else {
            ""
        };
        let mut l = Loader {
            w,
            cfg: &c,
            device,
            // GPT-2 comes from safetensors only, whose dense weights have no blocks to keep.
            dtype: match dtype {
                WeightDtype::Quantized => WeightDtype::F32,
                d => d,
            },
        };
        let embed = l.t(&format!("{pre}wte.weight"), &[v, d])?;
        let pos = l.t(&format!("{pre}wpe.weight"), &[c.max_position_embeddings, d])?;
        let mut blocks = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let p = format!("{pre}h.{i}");
            let qkv = l.conv1d(&format!("{p}.attn.c_attn"), d, 3 * d)?;
            let (qw, qb) = (qkv.weight(), qkv.bias());
            let split = |t: &Tensor, k: usize| t.narrow(0, k * d, d).and_then(|x| x.contiguous());
            let part = |k: usize| -> Result<Proj> {
                Ok(Proj::Dense(Linear::new(
                    split(qw, k)?,
                    qb.map(|b| split(b, k)).transpose()?,
                )))
            };
            let attn = Attention {
                q: part(0)?,
                k: part(1)?,
                v: part(2)?,
                o: Proj::Dense(l.conv1d(&format!("{p}.attn.c_proj"), d, d)?),
                q_norm: None,
                k_norm: None,
            };
            blocks.push(Block {
                attn_norm: l.layer_norm(&format!("{p}.ln_1"), d)?,
                attn,
                post_attn_norm: None,
                mlp_norm: l.layer_norm(&format!("{p}.ln_2"), d)?,
                mlp: Mlp::Plain {
                    fc: Proj::Dense(l.conv1d(&format!("{p}.mlp.c_fc"), d, c.intermediate_size)?),
                    proj: Proj::Dense(l.conv1d(
                        &format!("{p}.mlp.c_proj"),
                        c.intermediate_size,
                        d,
                    )?),
                },
                post_mlp_norm: None,
                sliding: false,
            });
        }
        let final_norm = l.layer_norm(&format!("{pre}ln_f"), d)?;
        Ok(Transformer {
            cfg,
            lm_head: embed.clone(),
            embed: Embedding::Dense(embed),
            pos_embed: Some(pos),
            blocks,
            final_norm,
            device: device.clone(),
            dtype: l.dtype,
        })
    }

    /// Run `b` sequences of one length `t` (`ids` row-major, `b·t` ids) through every block,
    /// continuing from `cache` (which is extended). Returns the residual stream after the last
    /// block, before the final norm, `[b, t, d]`.
    pub fn forward(
        &self,
        ids: &[u32],
        b: usize,
        cache: &mut KvCache,
        hook: &mut dyn Hook,
    ) -> Result<Tensor> {
        let dev = &self.device;
        let offset = cache.len();
        let t = ids.len() / b.max(1);
        let mut x = self.embed.lookup(ids, dev)?;
        if let Some(pos) = &self.pos_embed {
            x = x
                .reshape((b, t, ()))?
                .broadcast_add(&pos.narrow(0, offset, t)?)?
                .flatten_to(1)?;
        }
        if self.cfg.family.is_gemma() {
            // HF multiplies by sqrt(d) rounded to the activations' dtype.
            let scale = Tensor::new(&[(self.cfg.hidden_size as f32).sqrt()], dev)?
                .to_dtype(x.dtype())?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?[0];
            x = (x * f64::from(scale))?;
        }
        let mut x = x.reshape((b, t, ()))?;
        visit(hook, Site::Embed, &mut x)?;
        let rope = RopeTables::new(&self.cfg, offset, t, dev, x.dtype())?;
        for (i, block) in self.blocks.iter().enumerate() {
            let l = i + 1;
            if !hook.skip_block(l) {
                let mut a = block.attn.forward(
                    &block.attn_norm.forward(&x)?,
                    &self.cfg,
                    &rope,
                    block.sliding,
                    cache.layer(i),
                    offset,
                )?;
                if let Some(n) = &block.post_attn_norm {
                    a = n.forward(&a)?;
                }
                visit(hook, Site::AttnOut(l), &mut a)?;
                x = (x + a)?;
                let mut m = block
                    .mlp
                    .forward(&block.mlp_norm.forward(&x)?, self.cfg.hidden_act)?;
                if let Some(n) = &block.post_mlp_norm {
                    m = n.forward(&m)?;
                }
                visit(hook, Site::MlpOut(l), &mut m)?;
                x = (x + m)?;
            }
            visit(hook, Site::BlockOut(l), &mut x)?;
        }
        cache.advance(t);
        Ok(x)
    }

    /// Hidden states as the model computes them (its dtype, its device).
    pub fn to_compute(&self, h: &Tensor) -> Result<Tensor> {
        Ok(h.to_device(&self.device)?.to_dtype(self.dtype.compute())?)
    }

    /// Final logits of hidden states `[.., d]` (pre-norm): final norm, unembedding, soft-cap;
    /// f32 on the model's device.
    pub fn logits(&self, h: &Tensor) -> Result<Tensor> {
        self.project(&self.final_norm.forward(&self.to_compute(h)?)?)
    }

    /// The bare unembedding `[.., d] → [.., vocab]` in f32 (no norm, no soft-cap).
    pub fn unembed_raw(&self, h: &Tensor) -> Result<Tensor> {
        let z = self.to_compute(h)?.broadcast_matmul(&self.lm_head.t()?)?;
        Ok(z.to_dtype(DType::F32)?)
    }

    /// Unembedding `[.., d] → [.., vocab]` of already-normed states, with Gemma's final soft-cap;
    /// f32 (the soft-cap is applied in f32).
    pub fn project(&self, h: &Tensor) -> Result<Tensor> {
        self.softcap(self.unembed_raw(h)?)
    }

    /// Apply the final logit soft-cap `c·tanh(z/c)` when the model has one.
    pub fn softcap(&self, z: Tensor) -> Result<Tensor> {
        Ok(match self.cfg.final_logit_softcapping {
            Some(c) => ((z / c)?.tanh()? * c)?,
            None => z,
        })
    }
}

impl Mlp {
    fn forward(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        let a = |t: Tensor| -> Result<Tensor> {
            Ok(match act {
                Activation::Silu => candle_nn::ops::silu(&t)?,
                Activation::GeluTanh => t.gelu()?,
                Activation::Gelu => t.gelu_erf()?,
            })
        };
        Ok(match self {
            Mlp::Gated { gate, up, down } => {
                down.forward(&(a(gate.forward(x)?)? * up.forward(x)?)?)?
            }
            Mlp::Plain { fc, proj } => proj.forward(&a(fc.forward(x)?)?)?,
        })
    }
}

/// Show `x` to the hook at `site`; a replacement is cast to `x`'s dtype and device.
fn visit(hook: &mut dyn Hook, site: Site, x: &mut Tensor) -> Result<()> {
    if let Some(r) = hook.visit(site, x)? {
        *x = r.to_device(x.device())?.to_dtype(x.dtype())?;
    }
    Ok(())
}

/// cos/sin tables `[t, head_dim/2]` for the global and (Gemma) local RoPE bases.
struct RopeTables {
    global: Option<(Tensor, Tensor)>,
    local: Option<(Tensor, Tensor)>,
}

impl RopeTables {
    fn new(cfg: &Config, offset: usize, t: usize, dev: &Device, dtype: DType) -> Result<Self> {
        if cfg.family == Family::Gpt2 {
            return Ok(Self {
                global: None,
                local: None,
            });
        }
        let table = |base: f64, scale: f64| -> Result<(Tensor, Tensor)> {
            let half = cfg.head_dim / 2;
            // As transformers computes it: inv_freq in f32, then position × inv_freq in f32.
            let inv: Vec<f32> = (0..half)
                .map(|i| 1.0 / (base as f32).powf((2 * i) as f32 / cfg.head_dim as f32))
                .collect();
            let mut freqs = Vec::with_capacity(t * half);
            for p in offset..offset + t {
                let p = p as f32 / scale as f32;
                freqs.extend(inv.iter().map(|f| p * f));
            }
            let f = Tensor::from_vec(freqs, (t, half), dev)?;
            Ok((f.cos()?.to_dtype(dtype)?, f.sin()?.to_dtype(dtype)?))
        };
        let global = Some(table(cfg.rope_theta, cfg.rope_scaling_factor)?);
        let local = match cfg.rope_local_base_freq {
            Some(b) => Some(table(b, 1.0)?),
            None => None,
        };
        Ok(Self { global, local })
    }

    fn get(&self, sliding: bool) -> Option<&(Tensor, Tensor)> {
        if sliding {
            self.local.as_ref().or(self.global.as_ref())
        } else {
            self.global.as_ref()
        }
    }
}

impl Attention {
    fn forward(
        &self,
        x: &Tensor,
        cfg: &Config,
        rope: &RopeTables,
        sliding: bool,
        cache: &mut Option<(Tensor, Tensor)>,
        offset: usize,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let (h, kvh, hd) = (
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
            cfg.head_dim,
        );
        let heads = |y: Tensor, n: usize| y.reshape((b, t, n, hd))?.transpose(1, 2);
        let mut q = heads(self.q.forward(x)?, h)?;
        let mut k = heads(self.k.forward(x)?, kvh)?;
        let v = heads(self.v.forward(x)?, kvh)?.contiguous()?;
        if let Some(n) = &self.q_norm {
            q = n.forward(&q)?;
        }
        if let Some(n) = &self.k_norm {
            k = n.forward(&k)?;
        }
        if let Some((cos, sin)) = rope.get(sliding) {
            q = candle_nn::rotary_emb::rope(&q.contiguous()?, cos, sin)?;
            k = candle_nn::rotary_emb::rope(&k.contiguous()?, cos, sin)?;
        }
        let (k, v) = match cache.take() {
            Some((ck, cv)) => (Tensor::cat(&[&ck, &k], 2)?, Tensor::cat(&[&cv, &v], 2)?),
            None => (k.contiguous()?, v),
        };
        *cache = Some((k.clone(), v.clone()));
        let total = k.dim(2)?;
        // Grouped-query attention without copying K/V: fold the query heads of one KV head
        // into the row dimension.
        let rep = h / kvh;
        let q = (q.contiguous()?.reshape((b, kvh, rep * t, hd))? * cfg.attn_scale())?;
        // Scores, soft-cap (Gemma 2: `c·tanh(s/c)` before the mask) and softmax in f32 whatever
        // the dtype (transformers' eager attention runs the softmax in f32).
        let mut s = q.matmul(&k.t()?)?.to_dtype(DType::F32)?; // [b, kvh, rep*t, total]
        if let Some(c) = cfg.attn_logit_softcapping {
            s = ((s / c)?.tanh()? * c)?;
        }
        let window = if sliding { cfg.sliding_window } else { None };
        let mask = causal_mask(t, total, offset, window, x.device())?;
        let s = s.reshape((b, kvh, rep, t, total))?.broadcast_add(&mask)?;
        let p = candle_nn::ops::softmax_last_dim(&s.reshape((b, kvh, rep * t, total))?)?
            .to_dtype(v.dtype())?;
        let y = p.matmul(&v)?; // [b, kvh, rep*t, hd]
        let y = y
            .reshape((b, h, t, hd))?
            .transpose(1, 2)?
            .reshape((b, t, h * hd))?;
        self.o.forward(&y)
    }
}

/// Additive mask `[t, total]`: query `i` (absolute `offset + i`) sees key `j` when `j ≤ i` and,
/// with a sliding window `w`, when `i − j < w` (as transformers' sliding-window mask).
fn causal_mask(
    t: usize,
    total: usize,
    offset: usize,
    window: Option<usize>,
    dev: &Device,
) -> Result<Tensor> {
    let mut m = vec![0f32; t * total];
    for i in 0..t {
        let qi = offset + i;
        for j in 0..total {
            let visible = j <= qi && window.is_none_or(|w| qi - j < w);
            if !visible {
                m[i * total + j] = f32::NEG_INFINITY;
            }
        }
    }
    Ok(Tensor::from_vec(m, (t, total), dev)?)
}

impl Transformer {
    /// Number of blocks L.
    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }
}
