//! Our own forward pass: one block at a time, with a [`Hook`] at every [`Site`].
//!
//! Family files turn weights into [`Parts`]; everything structural the forward needs comes
//! from the [`ArchSpec`] and the optional pieces of each [`Block`], so no code here branches on
//! a family.

use candle_core::quantized::{QMatMul, QStorage, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::Linear;

use super::arch::{Activation, ArchSpec, Mlp, NormKind, NormPlacement, QkNorm};
use super::device::WeightDtype;
use super::kv_cache::KvCache;
use super::weights::Weights;
use super::{sgemm, with_cpu_f32};
use crate::entropy::fast_exp;
use crate::hook::{Hook, Site};
use crate::{Error, Result};

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

/// Whether the CPU's f32 linear layers run on the build's BLAS backend ([`sgemm::matmul_nt`]):
/// in a build with `openblas` or `mkl`. The default build keeps candle's matmul, which calls
/// the same `gemm` crate.
const LINEAR_ON_BLAS: bool = cfg!(any(feature = "openblas", feature = "mkl"));

impl Proj {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Proj::Dense(l) if LINEAR_ON_BLAS && on_cpu_f32(x, l.weight()) => {
                let y = matmul_blas(x, l.weight())?;
                match l.bias() {
                    Some(b) => y.broadcast_add(b)?,
                    None => y,
                }
            }
            Proj::Dense(l) => l.forward(x)?,
            Proj::Quantized { w, bias } => {
                // positions per sequence: `[.., t, d]`
                let t = if x.rank() >= 2 { x.dim(D::Minus2)? } else { 1 };
                let y = match w {
                    QMatMul::QTensor(q) if t >= DEQUANTIZE_FROM_ROWS && x.device().is_cpu() => {
                        let w = q.dequantize(x.device())?;
                        if LINEAR_ON_BLAS && on_cpu_f32(x, &w) {
                            matmul_blas(x, &w)?
                        } else {
                            x.broadcast_matmul(&w.t()?)?
                        }
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

fn on_cpu_f32(x: &Tensor, w: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32 && w.dtype() == DType::F32
}

/// `x · wᵀ` for `x [.., k]` and `w [n, k]`, f32 on the CPU, as one product of all of `x`'s rows
/// by the build's backend, into the output tensor's buffer.
fn matmul_blas(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (x, w) = (x.contiguous()?, w.contiguous()?);
    let (n, k) = w.dims2()?;
    let mut dims = x.dims().to_vec();
    if dims.last() != Some(&k) {
        return Err(Error::invalid(
            "linear layer input",
            format!("{dims:?}"),
            format!("a last dimension of {k}, the weight's input width"),
        ));
    }
    let m: usize = dims[..dims.len() - 1].iter().product();
    let mut out = vec![0f32; m * n];
    with_cpu_f32(&x, "linear layer input", |a| {
        with_cpu_f32(&w, "linear layer weight", |b| {
            sgemm::matmul_nt(a, b, m, n, k, &mut out)
        })
    })?;
    if let Some(last) = dims.last_mut() {
        *last = n;
    }
    Ok(Tensor::from_vec(out, dims, x.device())?)
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

/// The token embedding `[vocab, d]`: dense, or — quantized weights with an untied head — the
/// file's blocks, of which only the looked-up rows are dequantized (an f32 copy of a 151k-token
/// vocabulary would take 0.9 GB at d = 1536).
#[derive(Debug, Clone)]
pub(crate) enum Embedding {
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

/// q, k and v: three projections, or one whose output is `[q | k | v]`.
#[derive(Debug, Clone)]
pub(crate) enum Qkv {
    Separate { q: Proj, k: Proj, v: Proj },
    Fused(Proj),
}

#[derive(Debug, Clone)]
pub(crate) struct Attention {
    pub qkv: Qkv,
    pub o: Proj,
    pub q_norm: Option<Norm>,
    pub k_norm: Option<Norm>,
}

/// The MLP's weights: gated (gate and up apart, or one projection `[gate | up]`) or plain.
#[derive(Debug, Clone)]
pub(crate) enum MlpWeights {
    Gated { gate: Proj, up: Proj, down: Proj },
    GatedFused { gate_up: Proj, down: Proj },
    Plain { fc: Proj, proj: Proj },
}

/// One block; which norms exist follows [`NormPlacement`].
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub attn_norm: Option<Norm>,
    pub attn: Attention,
    /// Norm of the attention output before it is added to the residual (Gemma, OLMo-2).
    pub post_attn_norm: Option<Norm>,
    pub mlp_norm: Option<Norm>,
    pub mlp: MlpWeights,
    /// Norm of the MLP output before it is added to the residual (Gemma, OLMo-2).
    pub post_mlp_norm: Option<Norm>,
    pub sliding: bool,
}

/// What a family's loader builds from the weights.
pub(crate) struct Parts {
    pub embed: Embedding,
    /// Learned position embeddings `[context, d]` (GPT-2).
    pub pos_embed: Option<Tensor>,
    pub blocks: Vec<Block>,
    pub final_norm: Norm,
    /// `[vocab, d]`; `None` when tied to the (dense) embedding.
    pub lm_head: Option<Tensor>,
}

/// The weights of a decoder-only transformer and the code that runs them.
#[derive(Debug, Clone)]
pub(crate) struct Transformer {
    pub cfg: ArchSpec,
    embed: Embedding,
    pos_embed: Option<Tensor>,
    blocks: Vec<Block>,
    pub final_norm: Norm,
    /// `[vocab, d]`; the same storage as `embed` when tied.
    pub lm_head: Tensor,
    pub device: Device,
    pub dtype: WeightDtype,
}

/// Reads tensors by Hugging Face name into the model's dtype and device; the building blocks
/// family loaders use.
pub(crate) struct Loader<'a> {
    pub w: &'a mut Weights,
    spec: &'a ArchSpec,
    device: &'a Device,
    pub dtype: WeightDtype,
}

impl Loader<'_> {
    /// A tensor as f32 on the model's device, as the file has it (dequantized).
    fn t32(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.w.get(name, shape, self.device)
    }

    /// A tensor in the compute dtype on the model's device.
    fn place(&self, t: Tensor) -> Result<Tensor> {
        Ok(t.to_dtype(self.dtype.compute())?.to_device(self.device)?)
    }

    pub fn t(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.t32(name, shape)?;
        self.place(t)
    }

    /// `{p}.weight` `[out, inp]` (and `{p}.bias` when `bias`): dense, or the file's blocks when
    /// the weights are kept quantized.
    pub fn linear(&mut self, p: &str, out: usize, inp: usize, bias: bool) -> Result<Proj> {
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

    /// A `Conv1D` layer (GPT-2), which stores `[in, out]`: transposed to `[out, in]`.
    pub fn conv1d(&mut self, p: &str, inp: usize, out: usize) -> Result<Proj> {
        let w = self
            .t(&format!("{p}.weight"), &[inp, out])?
            .t()?
            .contiguous()?;
        let b = self.t(&format!("{p}.bias"), &[out])?;
        Ok(Proj::Dense(Linear::new(w, Some(b))))
    }

    /// The spec's norm with `{p}.weight` (and `{p}.bias` for LayerNorm) of width `size`.
    pub fn norm(&mut self, p: &str, size: usize) -> Result<Norm> {
        let eps = self.spec.norm_eps as f32;
        let mut weight = self.t32(&format!("{p}.weight"), &[size])?;
        Ok(match self.spec.norm {
            NormKind::Layer => Norm::Layer {
                weight: self.place(weight)?,
                bias: self.t(&format!("{p}.bias"), &[size])?,
                eps,
            },
            kind => {
                if kind == NormKind::RmsOffset {
                    weight = (weight + 1.0)?; // (1 + w), computed in f32 as HF does
                }
                Norm::Rms {
                    weight: self.place(weight)?,
                    eps,
                }
            }
        })
    }
}

impl Transformer {
    /// Build the model from weights named as in Hugging Face checkpoints.
    pub fn load(
        spec: ArchSpec,
        w: &mut Weights,
        device: &Device,
        dtype: WeightDtype,
    ) -> Result<Self> {
        let mut l = Loader {
            w,
            spec: &spec,
            device,
            dtype,
        };
        let parts = match spec.family.def().load {
            Some(load) => load(&spec, &mut l)?,
            None => load_standard(&spec, &mut l)?,
        };
        let mut spec = spec.clone();
        spec.tie_word_embeddings = parts.lm_head.is_none();
        let lm_head = match (parts.lm_head, &parts.embed) {
            (Some(h), _) => h,
            (None, Embedding::Dense(e)) => e.clone(),
            (None, Embedding::Quantized(_)) => {
                return Err(Error::invalid(
                    "weights",
                    "a tied head over a quantized embedding",
                    "a loader that dequantizes the embedding it shares with the head",
                ))
            }
        };
        Ok(Transformer {
            cfg: spec,
            embed: parts.embed,
            pos_embed: parts.pos_embed,
            blocks: parts.blocks,
            final_norm: parts.final_norm,
            lm_head,
            device: device.clone(),
            dtype,
        })
    }
}

/// The standard layout (`model.embed_tokens`, `model.layers.{i}.self_attn.q_proj`, …,
/// `model.norm`, `lm_head`), shaped by the spec: fused projections, q/k norms, norm placement.
fn load_standard(s: &ArchSpec, l: &mut Loader) -> Result<Parts> {
    let (d, v, hd) = (s.hidden_size, s.vocab_size, s.head_dim);
    let (h, kvh, ff) = (
        s.num_attention_heads,
        s.num_key_value_heads,
        s.intermediate_size,
    );
    let untied = l.w.contains("lm_head.weight");
    let embed = if untied && l.dtype == WeightDtype::Quantized && l.device.is_cpu() {
        let q =
            l.w.get_quantized("model.embed_tokens.weight", &[v, d], l.device)?;
        Embedding::Quantized(std::sync::Arc::new(q))
    } else {
        Embedding::Dense(l.t("model.embed_tokens.weight", &[v, d])?)
    };
    let mut blocks = Vec::with_capacity(s.num_hidden_layers);
    for i in 0..s.num_hidden_layers {
        let p = format!("model.layers.{i}");
        let a = format!("{p}.self_attn");
        let qkv = if s.fused_qkv {
            Qkv::Fused(l.linear(&format!("{a}.qkv_proj"), (h + 2 * kvh) * hd, d, s.qkv_bias)?)
        } else {
            Qkv::Separate {
                q: l.linear(&format!("{a}.q_proj"), h * hd, d, s.qkv_bias)?,
                k: l.linear(&format!("{a}.k_proj"), kvh * hd, d, s.qkv_bias)?,
                v: l.linear(&format!("{a}.v_proj"), kvh * hd, d, s.qkv_bias)?,
            }
        };
        let (q_width, k_width) = match s.qk_norm {
            QkNorm::Whole => (h * hd, kvh * hd),
            _ => (hd, hd),
        };
        let (q_norm, k_norm) = match s.qk_norm {
            QkNorm::None => (None, None),
            _ => (
                Some(l.norm(&format!("{a}.q_norm"), q_width)?),
                Some(l.norm(&format!("{a}.k_norm"), k_width)?),
            ),
        };
        let attn = Attention {
            qkv,
            o: l.linear(&format!("{a}.o_proj"), d, h * hd, s.o_bias)?,
            q_norm,
            k_norm,
        };
        let m = format!("{p}.mlp");
        let mlp =
            match s.mlp {
                Mlp::Gated { fused: true, .. } => MlpWeights::GatedFused {
                    gate_up: l.linear(&format!("{m}.gate_up_proj"), 2 * ff, d, false)?,
                    down: l.linear(&format!("{m}.down_proj"), d, ff, false)?,
                },
                Mlp::Gated { fused: false, .. } => MlpWeights::Gated {
                    gate: l.linear(&format!("{m}.gate_proj"), ff, d, false)?,
                    up: l.linear(&format!("{m}.up_proj"), ff, d, false)?,
                    down: l.linear(&format!("{m}.down_proj"), d, ff, false)?,
                },
                Mlp::Plain { .. } => return Err(Error::invalid(
                    "architecture",
                    s.family,
                    "a gated MLP in the standard layout (a plain MLP needs its family's loader)",
                )),
            };
        let mut norm = |name: &str| l.norm(&format!("{p}.{name}"), d);
        let (attn_norm, post_attn_norm, mlp_norm, post_mlp_norm) = match s.norm_placement {
            NormPlacement::Pre => (
                Some(norm("input_layernorm")?),
                None,
                Some(norm("post_attention_layernorm")?),
                None,
            ),
            NormPlacement::Sandwich => (
                Some(norm("input_layernorm")?),
                Some(norm("post_attention_layernorm")?),
                Some(norm("pre_feedforward_layernorm")?),
                Some(norm("post_feedforward_layernorm")?),
            ),
            NormPlacement::Post => (
                None,
                Some(norm("post_attention_layernorm")?),
                None,
                Some(norm("post_feedforward_layernorm")?),
            ),
        };
        blocks.push(Block {
            attn_norm,
            attn,
            post_attn_norm,
            mlp_norm,
            mlp,
            post_mlp_norm,
            sliding: s.sliding_layers.get(i).copied().unwrap_or(false),
        });
    }
    let final_norm = l.norm("model.norm", d)?;
    let lm_head = match (&embed, untied) {
        (Embedding::Dense(_), false) => None,
        _ => Some(l.t("lm_head.weight", &[v, d])?),
    };
    Ok(Parts {
        embed,
        pos_embed: None,
        blocks,
        final_norm,
        lm_head,
    })
}

/// Apply an optional norm (identity when the placement has none there).
fn maybe_norm(n: &Option<Norm>, x: &Tensor) -> Result<Tensor> {
    match n {
        Some(n) => n.forward(x),
        None => Ok(x.clone()),
    }
}

impl Transformer {
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
        if let Some(scale) = self.cfg.embed_scale {
            // HF multiplies by the scale rounded to the activations' dtype.
            let scale = Tensor::new(&[scale as f32], dev)?
                .to_dtype(x.dtype())?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?[0];
            x = (x * f64::from(scale))?;
        }
        let mut x = x.reshape((b, t, ()))?;
        visit(hook, Site::Embed, &mut x)?;
        let rope = RopeTables::new(&self.cfg, offset, t, dev, x.dtype())?;
        let act = self.cfg.mlp.act();
        for (i, block) in self.blocks.iter().enumerate() {
            let l = i + 1;
            if !hook.skip_block(l) {
                let mut a = block.attn.forward(
                    &maybe_norm(&block.attn_norm, &x)?,
                    &self.cfg,
                    &rope,
                    block.sliding,
                    cache.layer(i),
                    offset,
                    l,
                    hook,
                )?;
                if let Some(n) = &block.post_attn_norm {
                    a = n.forward(&a)?;
                }
                visit(hook, Site::AttnOut(l), &mut a)?;
                x = (x + a)?;
                visit(hook, Site::ResidMid(l), &mut x)?;
                let mut m = block.mlp.forward(&maybe_norm(&block.mlp_norm, &x)?, act)?;
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

    /// Number of blocks L.
    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }
}

impl MlpWeights {
    fn forward(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        let a = |t: Tensor| -> Result<Tensor> {
            Ok(match act {
                Activation::Silu => candle_nn::ops::silu(&t)?,
                Activation::GeluTanh => t.gelu()?,
                Activation::Gelu => t.gelu_erf()?,
            })
        };
        let gated = |gate: Tensor, up: Tensor| -> Result<Tensor> {
            if act == Activation::Silu && gate.device().is_cpu() && gate.dtype() == DType::F32 {
                silu_mul_cpu(&gate, &up)
            } else {
                Ok((a(gate.contiguous()?)? * up)?)
            }
        };
        Ok(match self {
            MlpWeights::Gated { gate, up, down } => {
                down.forward(&gated(gate.forward(x)?, up.forward(x)?)?)?
            }
            MlpWeights::GatedFused { gate_up, down } => {
                let gu = gate_up.forward(x)?;
                let ff = gu.dim(D::Minus1)? / 2;
                let gate = gu.narrow(D::Minus1, 0, ff)?;
                let up = gu.narrow(D::Minus1, ff, ff)?;
                down.forward(&gated(gate, up)?)?
            }
            MlpWeights::Plain { fc, proj } => proj.forward(&a(fc.forward(x)?)?)?,
        })
    }
}

/// `silu(gate) · up` for f32 tensors on the CPU in one parallel pass with a vectorised `exp`,
/// where candle's `silu` and product take a scalar `exp` per element and two passes.
fn silu_mul_cpu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    use rayon::prelude::*;
    let (gate, up) = (gate.contiguous()?, up.contiguous()?);
    if gate.dims() != up.dims() {
        return Err(Error::invalid(
            "MLP up projection",
            format!("{:?}", up.dims()),
            format!("the gate's shape {:?}", gate.dims()),
        ));
    }
    let mut out = vec![0f32; gate.elem_count()];
    with_cpu_f32(&gate, "MLP gate", |g| {
        with_cpu_f32(&up, "MLP up projection", |u| {
            const CHUNK: usize = 4096;
            out.par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK).zip(u.par_chunks(CHUNK)))
                .for_each(|(o, (g, u))| {
                    for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                        *o = g / (1.0 + fast_exp(-g)) * u;
                    }
                });
            Ok(())
        })
    })?;
    Ok(Tensor::from_vec(out, gate.dims(), gate.device())?)
}

/// Show `x` to the hook at `site`; a replacement is cast to `x`'s dtype and device.
fn visit(hook: &mut dyn Hook, site: Site, x: &mut Tensor) -> Result<()> {
    if let Some(r) = hook.visit(site, x)? {
        if r.dims() != x.dims() {
            return Err(Error::invalid(
                "hook replacement",
                format!("{:?} at {site:?}", r.dims()),
                format!("the shape of the activation it replaces, {:?}", x.dims()),
            ));
        }
        *x = r.to_device(x.device())?.to_dtype(x.dtype())?;
    }
    Ok(())
}

/// cos/sin tables `[t, rotary_dim/2]` for the global and (Gemma 3) local RoPE bases.
struct RopeTables {
    global: Option<(Tensor, Tensor)>,
    local: Option<(Tensor, Tensor)>,
}

impl RopeTables {
    fn new(spec: &ArchSpec, offset: usize, t: usize, dev: &Device, dtype: DType) -> Result<Self> {
        let Some(r) = spec.rotary() else {
            return Ok(Self {
                global: None,
                local: None,
            });
        };
        let dim = spec.rotary_dim();
        let table = |base: f64, scale: f64| -> Result<(Tensor, Tensor)> {
            let half = dim / 2;
            // As transformers computes it: inv_freq in f32, then position × inv_freq in f32.
            let inv: Vec<f32> = (0..half)
                .map(|i| 1.0 / (base as f32).powf((2 * i) as f32 / dim as f32))
                .collect();
            let mut freqs = Vec::with_capacity(t * half);
            for p in offset..offset + t {
                let p = p as f32 / scale as f32;
                freqs.extend(inv.iter().map(|f| p * f));
            }
            let f = Tensor::from_vec(freqs, (t, half), dev)?;
            Ok((f.cos()?.to_dtype(dtype)?, f.sin()?.to_dtype(dtype)?))
        };
        let global = Some(table(r.theta, r.scaling_factor)?);
        let local = match r.local_theta {
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

    /// Rotate the first `cos`-width·2 dimensions of `x` `[b, heads, t, hd]`; the rest pass.
    fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let hd = x.dim(D::Minus1)?;
        let rd = 2 * cos.dim(D::Minus1)?;
        if rd == hd {
            return Ok(candle_nn::rotary_emb::rope(&x.contiguous()?, cos, sin)?);
        }
        let rot = x.narrow(D::Minus1, 0, rd)?.contiguous()?;
        let rot = candle_nn::rotary_emb::rope(&rot, cos, sin)?;
        let pass = x.narrow(D::Minus1, rd, hd - rd)?.contiguous()?;
        Ok(Tensor::cat(&[&rot, &pass], D::Minus1)?)
    }
}

impl Attention {
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        x: &Tensor,
        cfg: &ArchSpec,
        rope: &RopeTables,
        sliding: bool,
        cache: &mut Option<(Tensor, Tensor)>,
        offset: usize,
        layer: usize,
        hook: &mut dyn Hook,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let (h, kvh, hd) = (
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
            cfg.head_dim,
        );
        let (mut q, mut k, v) = match &self.qkv {
            Qkv::Separate { q, k, v } => (q.forward(x)?, k.forward(x)?, v.forward(x)?),
            Qkv::Fused(p) => {
                let y = p.forward(x)?;
                (
                    y.narrow(D::Minus1, 0, h * hd)?,
                    y.narrow(D::Minus1, h * hd, kvh * hd)?,
                    y.narrow(D::Minus1, (h + kvh) * hd, kvh * hd)?,
                )
            }
        };
        let whole = cfg.qk_norm == QkNorm::Whole;
        if whole {
            if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
                q = qn.forward(&q)?;
                k = kn.forward(&k)?;
            }
        }
        let heads = |y: Tensor, n: usize| -> Result<Tensor> {
            Ok(y.contiguous()?.reshape((b, t, n, hd))?.transpose(1, 2)?)
        };
        let mut q = heads(q, h)?;
        let mut k = heads(k, kvh)?;
        let v = heads(v, kvh)?.contiguous()?;
        if !whole {
            if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
                q = qn.forward(&q)?;
                k = kn.forward(&k)?;
            }
        }
        if let Some((cos, sin)) = rope.get(sliding) {
            q = RopeTables::apply(&q, cos, sin)?;
            k = RopeTables::apply(&k, cos, sin)?;
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
        let window = if sliding { cfg.sliding_window } else { None };
        // Probabilities `[b, kvh, rep·tq, keys]` of the `tq` queries from `q0` (rows of `q`)
        // over the first `keys` keys: scores, soft-cap (Gemma 2: `c·tanh(s/c)` before the mask)
        // and softmax in f32 whatever the dtype (transformers' eager attention runs the softmax
        // in f32).
        let probs = |q: &Tensor, tq: usize, q0: usize, keys: usize| -> Result<Tensor> {
            let mut s = q
                .matmul(&k.narrow(2, 0, keys)?.t()?)?
                .to_dtype(DType::F32)?;
            if let Some(c) = cfg.attn_logit_softcapping {
                s = ((s / c)?.tanh()? * c)?;
            }
            if s.device().is_cpu() {
                causal_softmax_cpu(&s, tq, offset + q0, window)
            } else {
                let mask = causal_mask(tq, keys, offset + q0, window, x.device())?;
                let s = s.reshape((b, kvh, rep, tq, keys))?.broadcast_add(&mask)?;
                Ok(candle_nn::ops::softmax_last_dim(&s.reshape((
                    b,
                    kvh,
                    rep * tq,
                    keys,
                ))?)?)
            }
        };
        let y = if x.device().is_cpu() && t > QUERY_BLOCK && !hook.wants_pattern(layer) {
            // Blocks of queries: each needs the keys up to its last query only, which skips
            // most of the masked half of both products on long prompts.
            let q = q.reshape((b, kvh, rep, t, hd))?;
            let mut ys = Vec::with_capacity(t.div_ceil(QUERY_BLOCK));
            for q0 in (0..t).step_by(QUERY_BLOCK) {
                let tq = QUERY_BLOCK.min(t - q0);
                let keys = offset + q0 + tq;
                let qb = q.narrow(3, q0, tq)?.contiguous()?;
                let p = probs(&qb.reshape((b, kvh, rep * tq, hd))?, tq, q0, keys)?;
                let yb = p.to_dtype(v.dtype())?.matmul(&v.narrow(2, 0, keys)?)?;
                ys.push(yb.reshape((b, kvh, rep, tq, hd))?);
            }
            Tensor::cat(&ys, 3)?.reshape((b, h, t, hd))?
        } else {
            let mut p = probs(&q, t, 0, total)?; // [b, kvh, rep*t, total]
            if hook.wants_pattern(layer) {
                // Head j reads key/value head j / rep, so [b, kvh, rep·t, total] is [b, h, t, total].
                let mut pattern = p.reshape((b, h, t, total))?;
                visit(hook, Site::Pattern(layer), &mut pattern)?;
                p = pattern.reshape((b, kvh, rep * t, total))?;
            }
            p.to_dtype(v.dtype())?.matmul(&v)?.reshape((b, h, t, hd))?
        };
        let y = y.transpose(1, 2)?.reshape((b, t, h * hd))?;
        self.o.forward(&y)
    }
}

/// Queries per attention block on the CPU when no hook reads the pattern (see `Attention::forward`).
const QUERY_BLOCK: usize = 128;

/// The causal softmax of f32 scores `[.., t, total]` on the CPU (rows cycle through the `t`
/// queries): what adding [`causal_mask`] and a softmax give, in one pass that leaves the hidden
/// keys at 0 without computing them, where the mask costs a broadcast add over every score and
/// the softmax an `exp` of each masked one. At 512 tokens that is half the scores.
fn causal_softmax_cpu(
    s: &Tensor,
    t: usize,
    offset: usize,
    window: Option<usize>,
) -> Result<Tensor> {
    use rayon::prelude::*;
    let s = s.contiguous()?;
    let total = s.dim(D::Minus1)?;
    let mut dst = vec![0f32; s.elem_count()];
    with_cpu_f32(&s, "attention scores", |src| {
        src.par_chunks(total.max(1))
            .zip(dst.par_chunks_mut(total.max(1)))
            .enumerate()
            .for_each(|(r, (src, dst))| {
                let keys = visible_keys(offset + r % t.max(1), total, window);
                let (src, dst) = (&src[keys.clone()], &mut dst[keys]);
                // eight independent lanes for the max and the sum, so that the loops vectorise
                let mut lanes = [f32::NEG_INFINITY; 8];
                for c in src.chunks(8) {
                    for (m, &x) in lanes.iter_mut().zip(c) {
                        *m = if x > *m { x } else { *m };
                    }
                }
                let max = lanes.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut lanes = [0f32; 8];
                for (d, s) in dst.chunks_mut(8).zip(src.chunks(8)) {
                    for ((d, &s), acc) in d.iter_mut().zip(s).zip(lanes.iter_mut()) {
                        *d = fast_exp(s - max);
                        *acc += *d;
                    }
                }
                let inv = 1.0 / lanes.iter().sum::<f32>();
                for d in dst.iter_mut() {
                    *d *= inv;
                }
            });
        Ok(())
    })?;
    Ok(Tensor::from_vec(dst, s.dims(), s.device())?)
}

/// Additive mask `[t, total]`: 0 where query `i` (absolute `offset + i`) sees the key
/// ([`visible_keys`]), −∞ elsewhere.
fn causal_mask(
    t: usize,
    total: usize,
    offset: usize,
    window: Option<usize>,
    dev: &Device,
) -> Result<Tensor> {
    let mut m = vec![f32::NEG_INFINITY; t * total];
    for (i, row) in m.chunks_mut(total.max(1)).enumerate() {
        row[visible_keys(offset + i, total, window)].fill(0.0);
    }
    Ok(Tensor::from_vec(m, (t, total), dev)?)
}

/// The keys query `qi` (absolute position) attends to among `total`: `j ≤ qi` and, with a
/// sliding window `w`, `qi − j < w` (as transformers' sliding-window mask).
fn visible_keys(qi: usize, total: usize, window: Option<usize>) -> std::ops::Range<usize> {
    let hi = (qi + 1).min(total);
    let lo = window.map_or(0, |w| (qi + 1).saturating_sub(w)).min(hi);
    lo..hi
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass CPU softmax against candle's softmax of the masked scores (the device path),
    /// continuing a cache (offset 2), with and without a sliding window.
    #[test]
    fn causal_softmax_equals_mask_then_softmax() -> Result<()> {
        let (t, offset) = (5, 2);
        let total = offset + t;
        let s = Tensor::randn(0f32, 3.0, (2, 3 * t, total), &Device::Cpu)?;
        for window in [None, Some(3), Some(1)] {
            let mask = causal_mask(t, total, offset, window, &Device::Cpu)?;
            let masked = s.reshape((2, 3, t, total))?.broadcast_add(&mask)?;
            let want = candle_nn::ops::softmax_last_dim(&masked.reshape((2, 3 * t, total))?)?;
            let got = causal_softmax_cpu(&s, t, offset, window)?;
            let diff = (got - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-6, "window {window:?}: max |Δ| {diff}");
        }
        Ok(())
    }

    /// The fused CPU SiLU product against candle's `silu` and product, on a strided `up` (as
    /// Phi-3's fused gate/up projection gives) and with large |gate| (exp saturating both ways).
    #[test]
    fn silu_mul_equals_silu_then_product() -> Result<()> {
        let gu = (Tensor::randn(0f32, 4.0, (2, 3, 2 * 37), &Device::Cpu)? * 10.0)?;
        let (gate, up) = (gu.narrow(2, 0, 37)?, gu.narrow(2, 37, 37)?);
        let want = (candle_nn::ops::silu(&gate.contiguous()?)? * &up)?;
        let got = silu_mul_cpu(&gate, &up)?;
        let scale = want.abs()?.max_all()?.to_scalar::<f32>()?;
        let diff = (got - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff <= 1e-6 * scale, "max |Δ| {diff} (max |value| {scale})");
        Ok(())
    }
}
