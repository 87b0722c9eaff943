//! Where weights come from: safetensors (Hugging Face layout, sharded or not) or a GGUF file
//! (dequantized to f32, or its linear layers' blocks kept as they are). Both are read through Hugging Face tensor names, so the model code has
//! one naming scheme.

use std::fs::File;
use std::path::{Path, PathBuf};

use std::borrow::Cow;

use candle_core::quantized::{gguf_file, QStorage, QTensor};
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};

use super::arch::{ArchSpec, NormKind};
use super::families::{gguf, Family};
use crate::{Error, Result};

/// A source of f32 weight tensors addressed by Hugging Face names (`model.layers.0.mlp.up_proj.weight`).
pub(crate) enum Weights {
    Safetensors {
        st: MmapedSafetensors,
        desc: String,
        family: Family,
    },
    Gguf {
        content: gguf_file::Content,
        file: File,
        path: PathBuf,
        /// The spec read from the file's metadata: how its names and tensors map to HF's.
        spec: Box<ArchSpec>,
    },
}

impl Weights {
    /// Memory-map the `*.safetensors` files of a directory (all shards).
    pub fn safetensors(paths: &[PathBuf], desc: String, family: Family) -> Result<Self> {
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
        Ok(Weights::Safetensors { st, desc, family })
    }

    /// A GGUF file whose header has been read. Every tensor's byte range is checked against the
    /// file size up front, so a truncated file is reported before any weight is read.
    pub fn gguf(
        path: &Path,
        file: File,
        content: gguf_file::Content,
        spec: &ArchSpec,
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
            spec: Box::new(spec.clone()),
        })
    }

    /// What the tensors take in memory at `dtype` (on the CPU, `cpu`), from shapes and block
    /// sizes alone: no tensor is read.
    pub fn estimate(&self, dtype: super::WeightDtype, cpu: bool) -> super::MemoryEstimate {
        match self {
            Weights::Safetensors { st, .. } => super::MemoryEstimate::dense(
                st.tensors()
                    .into_iter()
                    .map(|(_, v)| v.shape().iter().product()),
                dtype,
            ),
            Weights::Gguf { content, .. } => super::MemoryEstimate::gguf(content, dtype, cpu),
        }
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
            Weights::Gguf { content, spec, .. } => gguf::tensor_name(name, spec)
                .map(|g| content.tensor_infos.contains_key(&g))
                .unwrap_or(false),
        }
    }

    /// Load one tensor as f32 onto `device` and check its shape.
    pub fn get(&mut self, name: &str, shape: &[usize], device: &Device) -> Result<Tensor> {
        let t = self.load(name, device)?;
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
            spec,
        } = self
        else {
            return Err(Error::invalid(
                "dtype",
                "quantized",
                "a GGUF file (only GGUF holds quantized blocks); use --dtype f32, bf16 or f16 \
                 for safetensors",
            ));
        };
        let q = read_block(content, file, path, name, spec, device)?;
        if q.shape().dims() != shape {
            return Err(Error::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                got: q.shape().dims().to_vec(),
            });
        }
        if !spec.family.def().gguf_permuted_qk {
            return Ok(q);
        }
        if name.ends_with("q_proj.weight") {
            permute_rows(q, spec.num_attention_heads, device)
        } else if name.ends_with("k_proj.weight") {
            permute_rows(q, spec.num_key_value_heads, device)
        } else {
            Ok(q)
        }
    }

    fn load(&mut self, name: &str, device: &Device) -> Result<Tensor> {
        let source_desc = self.desc();
        match self {
            Weights::Safetensors { st, family, .. } => {
                let t = st
                    .load(name, device)
                    .map_err(|_| missing(name, *family, source_desc))?;
                Ok(t.to_dtype(DType::F32)?)
            }
            Weights::Gguf {
                content,
                file,
                path,
                spec,
            } => {
                let q = read_block(content, file, path, name, spec, device)?;
                gguf_to_hf(q.dequantize(device)?, name, spec)
            }
        }
    }
}

/// Undo what llama.cpp's converter did to a tensor, so it equals the Hugging Face tensor:
/// permuted q/k rows (`[heads, 2, half, in]` in the file, `[heads, half, 2, in]` in HF) where
/// the family says so, and norm weights stored as `1 + w` for `(1 + w)` norms.
fn gguf_to_hf(t: Tensor, name: &str, spec: &ArchSpec) -> Result<Tensor> {
    if spec.norm == NormKind::RmsOffset && name.ends_with("norm.weight") {
        return Ok((t - 1.0)?);
    }
    let heads = match spec.family.def().gguf_permuted_qk {
        true if name.ends_with("q_proj.weight") => spec.num_attention_heads,
        true if name.ends_with("k_proj.weight") => spec.num_key_value_heads,
        _ => return Ok(t),
    };
    let (out, inp) = t.dims2()?;
    let half = out / heads / 2;
    Ok(t.reshape((heads, half, 2, inp))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((out, inp))?)
}

fn missing(name: &str, family: Family, source_desc: String) -> Error {
    Error::MissingTensor {
        name: name.to_string(),
        arch: family.name().to_string(),
        source_desc,
    }
}

/// [`gguf_to_hf`]'s q/k unpermutation on quantized rows: row `(h, a, j)` of the result is row `(h, j, a)` of
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

/// The GGUF tensor holding HF weight `name`, as the file's blocks on `device`.
fn read_block(
    content: &gguf_file::Content,
    file: &mut File,
    path: &Path,
    name: &str,
    spec: &ArchSpec,
    device: &Device,
) -> Result<QTensor> {
    let absent = || missing(name, spec.family, path.display().to_string());
    let g = gguf::tensor_name(name, spec).ok_or_else(absent)?;
    if !content.tensor_infos.contains_key(&g) {
        return Err(absent());
    }
    content
        .tensor(file, &g, device)
        .map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("reading tensor `{g}`: {e}"),
        })
}
