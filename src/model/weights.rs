//! Where weights come from: safetensors (Hugging Face layout, sharded or not) or a GGUF file
//! (dequantized to f32, or its linear layers' blocks kept as they are). Both are read through Hugging Face tensor names, so the model code has
//! one naming scheme.

use std::fs::File;
use std::path::{Path, PathBuf};

use std::borrow::Cow;

use candle_core::quantized::{gguf_file, QStorage, QTensor};
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};

use super::config::Family;
use crate::{Error, Result};

/// A source of f32 weight tensors addressed by Hugging Face names (`model.layers.0.mlp.up_proj.weight`).
pub(crate) enum Weights {
    Safetensors {
        st: MmapedSafetensors,
        desc: String,
    },
    Gguf {
        content: gguf_file::Content,
        file: File,
        path: PathBuf,
        family: Family,
        heads: usize,
        kv_heads: usize,
    },
}

impl Weights {
    /// Memory-map the `*.safetensors` files of a directory (all shards).
    pub fn safetensors(paths: &[PathBuf], desc: String) -> Result<Self> {
        for p in paths {
            if !p.exists() {
                return Err(Error::FileNotFound { path: p.clone() });
            }
        }
        // SAFETY: the files are memory-mapped read-only; entroscope never writes them, and a
        // caller that changes a weight file while it is loaded is outside what we can guard.
        let st = unsafe { MmapedSafetensors::multi(paths) }.map_err(|e| Error::Corrupt {
            path: paths.first().cloned().unwrap_or_default(),
            detail: e.to_string(),
        })?;
        Ok(Weights::Safetensors { st, desc })
    }

    /// A GGUF file whose header has been read. Every tensor's byte range is checked against the
    /// file size up front, so a truncated file is reported before any weight is read.
    pub fn gguf(
        path: &Path,
        file: File,
        content: gguf_file::Content,
        family: Family,
        heads: usize,
        kv_heads: usize,
    ) -> Result<Self> {
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        for (name, info) in &content.tensor_infos {
            let elems = info.shape.elem_count();
            let bytes = elems / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
            let end = content.tensor_data_offset + info.offset + bytes as u64;
            if end > size {
                return Err(Error::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!(
                        "tensor `{name}` ends at byte {end} but the file has {size} bytes"
                    ),
                });
            }
        }
        Ok(Weights::Gguf {
            content,
            file,
            path: path.to_path_buf(),
            family,
            heads,
            kv_heads,
        })
    }

    fn desc(&self) -> String {
        match self {
            Weights::Safetensors { desc, .. } => desc.clone(),
            Weights::Gguf { path, .. } => path.display().to_string(),
        }
    }

    /// Does a tensor of this Hugging Face name exist?
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Weights::Safetensors { st, .. } => st.get(name).is_ok(),
            Weights::Gguf {
                content, family, ..
            } => gguf_name(name, *family)
                .map(|g| content.tensor_infos.contains_key(&g))
                .unwrap_or(false),
        }
    }

    /// Load one tensor as f32 onto `device` and check its shape.
    pub fn get(
        &mut self,
        name: &str,
        shape: &[usize],
        family: Family,
        device: &Device,
    ) -> Result<Tensor> {
        let t = self.load(name, family, device)?;
        if t.dims() != shape {
            return Err(Error::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                got: t.dims().to_vec(),
            });
        }
        Ok(t)
    }

    /// One linear layer's weight `[out, in]` as the file's quantized blocks, on `device`, with
    /// llama.cpp's q/k row permutation undone (rows are whole blocks, so it is a byte shuffle).
    /// Only GGUF files hold blocks; safetensors are refused with a hint.
    pub fn get_quantized(
        &mut self,
        name: &str,
        shape: &[usize],
        device: &Device,
    ) -> Result<QTensor> {
        let Weights::Gguf {
            content,
            file,
            path,
            family,
            heads,
            kv_heads,
        } = self
        else {
            return Err(Error::invalid(
                "dtype",
                "quantized",
                "a GGUF file (only GGUF holds quantized blocks); use --dtype f32, bf16 or f16 \
                 for safetensors",
            ));
        };
        let q = read_block(content, file, path, name, *family, device)?;
        if q.shape().dims() != shape {
            return Err(Error::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                got: q.shape().dims().to_vec(),
            });
        }
        match family {
            Family::Llama | Family::Mistral if name.ends_with("q_proj.weight") => {
                permute_rows(q, *heads, device)
            }
            Family::Llama | Family::Mistral if name.ends_with("k_proj.weight") => {
                permute_rows(q, *kv_heads, device)
            }
            _ => Ok(q),
        }
    }

    fn missing(&self, name: &str, family: Family) -> Error {
        Error::MissingTensor {
            name: name.to_string(),
            arch: format!("{family:?}").to_lowercase(),
            source_desc: self.desc(),
        }
    }

    fn load(&mut self, name: &str, fam: Family, device: &Device) -> Result<Tensor> {
        let missing = self.missing(name, fam);
        match self {
            Weights::Safetensors { st, .. } => {
                let t = st.load(name, device).map_err(|_| missing)?;
                Ok(t.to_dtype(DType::F32)?)
            }
            Weights::Gguf {
                content,
                file,
                path,
                family,
                heads,
                kv_heads,
            } => {
                let q = read_block(content, file, path, name, *family, device)?;
                let t = q.dequantize(device)?;
                gguf_to_hf(t, name, *family, *heads, *kv_heads)
            }
        }
    }
}

fn self_missing(name: &str, family: Family, path: &Path) -> Error {
    Error::MissingTensor {
        name: name.to_string(),
        arch: format!("{family:?}").to_lowercase(),
        source_desc: path.display().to_string(),
    }
}

/// Undo what llama.cpp's converter did to a tensor, so it equals the Hugging Face tensor:
/// Llama's (and Mistral's, converted as Llama) q/k rows are permuted for interleaved RoPE;
/// Gemma 2/3 norm weights are stored as `1 + w`.
fn gguf_to_hf(
    t: Tensor,
    name: &str,
    family: Family,
    heads: usize,
    kv_heads: usize,
) -> Result<Tensor> {
    match family {
        Family::Llama | Family::Mistral if name.ends_with("q_proj.weight") => {
            reverse_permute(&t, heads)
        }
        Family::Llama | Family::Mistral if name.ends_with("k_proj.weight") => {
            reverse_permute(&t, kv_heads)
        }
        Family::Gemma2 | Family::Gemma3 if name.ends_with("norm.weight") => Ok((t - 1.0)?),
        _ => Ok(t),
    }
}

/// Inverse of llama.cpp's `permute`: rows `[heads, 2, half, in]` → `[heads, half, 2, in]`.
fn reverse_permute(w: &Tensor, heads: usize) -> Result<Tensor> {
    let (out, inp) = w.dims2()?;
    let half = out / heads / 2;
    Ok(w.reshape((heads, half, 2, inp))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((out, inp))?)
}

/// [`reverse_permute`] on quantized rows: row `(h, a, j)` of the result is row `(h, j, a)` of
/// the file (`a` ∈ {0, 1}, `j` < half), moved as whole rows of blocks.
fn permute_rows(q: QTensor, heads: usize, device: &Device) -> Result<QTensor> {
    let (out, inp) = q.shape().dims2()?;
    let dtype = q.dtype();
    let row = inp / dtype.block_size() * dtype.type_size();
    let half = out / heads / 2;
    let data = q.data()?;
    let mut moved = Vec::with_capacity(data.len());
    for r in 0..out {
        let (h, rem) = (r / (2 * half), r % (2 * half));
        let src = h * 2 * half + (rem % half) * 2 + rem / half;
        moved.extend_from_slice(&data[src * row..(src + 1) * row]);
    }
    let storage = QStorage::from_data(Cow::Owned(moved), device, dtype)?;
    Ok(QTensor::new(storage, (out, inp))?)
}

/// Hugging Face tensor name → GGUF tensor name.
fn gguf_name(hf: &str, family: Family) -> Option<String> {
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
    let g = match (module, family) {
        ("input_layernorm", _) => "attn_norm",
        ("self_attn.q_proj", _) => "attn_q",
        ("self_attn.k_proj", _) => "attn_k",
        ("self_attn.v_proj", _) => "attn_v",
        ("self_attn.o_proj", _) => "attn_output",
        ("self_attn.q_norm", _) => "attn_q_norm",
        ("self_attn.k_norm", _) => "attn_k_norm",
        ("post_attention_layernorm", Family::Gemma2 | Family::Gemma3) => "post_attention_norm",
        ("post_attention_layernorm", _) => "ffn_norm",
        ("pre_feedforward_layernorm", _) => "ffn_norm",
        ("post_feedforward_layernorm", _) => "post_ffw_norm",
        ("mlp.gate_proj", _) => "ffn_gate",
        ("mlp.up_proj", _) => "ffn_up",
        ("mlp.down_proj", _) => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{idx}.{g}.{kind}"))
}

/// The GGUF tensor holding HF weight `name`, as the file's blocks on `device`.
fn read_block(
    content: &gguf_file::Content,
    file: &mut File,
    path: &Path,
    name: &str,
    family: Family,
    device: &Device,
) -> Result<QTensor> {
    let g = gguf_name(name, family).ok_or_else(|| self_missing(name, family, path))?;
    if !content.tensor_infos.contains_key(&g) {
        return Err(self_missing(name, family, path));
    }
    content
        .tensor(file, &g, device)
        .map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("reading tensor `{g}`: {e}"),
        })
}
