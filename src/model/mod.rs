//! `Lm`: weights + tokenizer + config, loaded from a GGUF file, a Hugging Face directory or the
//! hub, and run by our own forward pass (`transformer`) so every block is visible.

pub mod config;
mod device;
pub mod gguf_tokenizer;
mod kv_cache;
pub mod sgemm;
mod transformer;
mod weights;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};
use tokenizers::Tokenizer;

pub use config::{Activation, Config, Family};
pub use device::{device_name, parse_device, LoadOptions, WeightDtype};
pub use kv_cache::KvCache;

use crate::hook::{Hook, NoHook};
use crate::trace::{CaptureSpec, Recorder, Trace};
use crate::{Error, Result};
use transformer::Transformer;
pub use transformer::DEQUANTIZE_FROM_ROWS;
use weights::Weights;

/// File name of the default model (SmolLM2-135M-Instruct, Q4_1), fetched by `make models`.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// File name of the second real model (Gemma-3-270M base, Q4_K_M).
pub const GEMMA_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// Directory of the fetched GGUF models: `$ENTROSCOPE_MODELS`, else `~/.cache/entroscope/models`.
pub fn models_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ENTROSCOPE_MODELS") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache").join("entroscope").join("models")
}

/// Path of the default model file (it may not exist yet: run `make models`).
pub fn default_model_path() -> String {
    models_dir().join(DEFAULT_MODEL_FILE).display().to_string()
}

/// The two models `scripts/fetch-models.sh` fetches (SmolLM2-135M-Instruct, Gemma-3-270M), as
/// [`Lm::load`] arguments: the default model set of every reproduction.
pub fn bundled_models() -> Vec<String> {
    vec![
        default_model_path(),
        models_dir().join(GEMMA_MODEL_FILE).display().to_string(),
    ]
}

/// A model's short label: the last path or repo component without its quantisation suffix
/// (`"HuggingFaceTB/SmolLM2-135M-Instruct"` and `"SmolLM2-135M-Instruct.Q4_1"` →
/// `"SmolLM2-135M-Instruct"`, `"gemma-3-270m-q4_k_m"` → `"gemma-3-270m"`).
///
/// ```
/// use entroscope::model::short_name;
/// assert_eq!(short_name("models/SmolLM2-135M-Instruct.Q4_1"), "SmolLM2-135M-Instruct");
/// assert_eq!(short_name("gemma-3-270m-q4_k_m"), "gemma-3-270m");
/// ```
pub fn short_name(name: &str) -> String {
    let m = name.rsplit('/').next().unwrap_or(name);
    let m = m.split('.').next().unwrap_or(m);
    m.strip_suffix("-q4_k_m").unwrap_or(m).to_string()
}

/// A decoder-only language model with its tokenizer.
///
/// ```no_run
/// use entroscope::prelude::*;
/// # fn main() -> entroscope::Result<()> {
/// let lm = Lm::load(&entroscope::model::default_model_path())?;
/// let ids = lm.encode("The capital of France is")?;
/// let trace = lm.trace(&ids, &CaptureSpec::default(), &mut NoHook)?;
/// assert_eq!(trace.resid.dims(), &[lm.n_layers() + 1, ids.len(), lm.config().hidden_size]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Lm {
    name: String,
    model: Transformer,
    tokenizer: Tokenizer,
}

impl fmt::Debug for Lm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lm")
            .field("name", &self.name)
            .field("config", &self.model.cfg)
            .finish()
    }
}

impl fmt::Display for Lm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.model.cfg;
        write!(
            f,
            "{} ({:?}): {} layers, d={}, heads {}/{} (q/kv), vocab {}, context {}",
            self.name,
            c.family,
            c.num_hidden_layers,
            c.hidden_size,
            c.num_attention_heads,
            c.num_key_value_heads,
            c.vocab_size,
            c.max_position_embeddings
        )
    }
}

const GGUF_MAGIC: u32 = 0x4655_4747; // "GGUF" little-endian

impl Lm {
    /// Load from a `.gguf` file, a Hugging Face model directory, or a hub repo id
    /// (e.g. `"HuggingFaceTB/SmolLM2-135M"`), whichever `model` names.
    pub fn load(model: &str) -> Result<Self> {
        Self::load_with(model, &LoadOptions::default())
    }

    /// [`Lm::load`] on a device and with a weight dtype ([`LoadOptions`]).
    pub fn load_with(model: &str, opts: &LoadOptions) -> Result<Self> {
        let p = Path::new(model);
        if p.is_dir() {
            return Self::from_hf_dir_with(p, opts);
        }
        if p.is_file() {
            return Self::from_gguf_with(p, opts);
        }
        let looks_like_repo = !model.is_empty()
            && !model.starts_with(['.', '/', '~'])
            && model.matches('/').count() <= 1
            && !model.ends_with(".gguf")
            && !model.contains('\\');
        if looks_like_repo {
            let offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v == "true");
            Self::hub(model, hf_hub::Cache::from_env().path(), offline, opts)
        } else {
            Err(Error::FileNotFound {
                path: p.to_path_buf(),
            })
        }
    }

    /// Load a GGUF file: architecture, hyper-parameters, weights (dequantized to f32) and the
    /// tokenizer all come from the file.
    pub fn from_gguf(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_gguf_with(path, &LoadOptions::default())
    }

    /// [`Lm::from_gguf`] with [`LoadOptions`]; [`WeightDtype::Quantized`] keeps the file's blocks.
    pub fn from_gguf_with(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Self> {
        let path = path.as_ref();
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut magic = [0u8; 4];
        file.read_exact(&mut magic).map_err(|_| Error::Corrupt {
            path: path.to_path_buf(),
            detail: "shorter than a GGUF header".into(),
        })?;
        let magic = u32::from_le_bytes(magic);
        if magic != GGUF_MAGIC {
            return Err(Error::BadMagic {
                path: path.to_path_buf(),
                magic,
            });
        }
        // Buffered: the metadata is thousands of small reads (Gemma: 0.57 s unbuffered, 0.11 s).
        let mut header = std::io::BufReader::new(File::open(path).map_err(|e| Error::io(path, e))?);
        let content = gguf_file::Content::read(&mut header).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let vocab = match content.metadata.get("tokenizer.ggml.tokens") {
            Some(gguf_file::Value::Array(a)) => a.len(),
            _ => content
                .tensor_infos
                .get("token_embd.weight")
                .and_then(|t| t.shape.dims().first().copied())
                .ok_or_else(|| Error::Config {
                    key: "tokenizer.ggml.tokens".into(),
                    detail: "missing, and no token_embd.weight to infer the vocabulary from".into(),
                })?,
        };
        let cfg = Config::from_gguf(&content.metadata, vocab)?;
        let tokenizer = gguf_tokenizer::tokenizer_from_gguf(&content)?;
        let (h, kvh) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let mut w = Weights::gguf(path, header.into_inner(), content, cfg.family, h, kvh)?;
        let model = Transformer::load(cfg, &mut w, &opts.device, opts.dtype)?;
        Ok(Self {
            name: file_stem(path),
            model,
            tokenizer,
        })
    }

    /// Load a Hugging Face model directory: `config.json`, `tokenizer.json` and one or more
    /// `*.safetensors` files.
    pub fn from_hf_dir(dir: impl AsRef<Path>) -> Result<Self> {
        Self::from_hf_dir_with(dir, &LoadOptions::default())
    }

    /// [`Lm::from_hf_dir`] with [`LoadOptions`] (not [`WeightDtype::Quantized`]: safetensors
    /// hold no blocks).
    pub fn from_hf_dir_with(dir: impl AsRef<Path>, opts: &LoadOptions) -> Result<Self> {
        let dir = dir.as_ref();
        let files = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut shards: Vec<PathBuf> = files
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        shards.sort();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Self::from_files(
            &name,
            &dir.join("config.json"),
            &dir.join("tokenizer.json"),
            &shards,
            opts,
        )
    }

    /// Load from the Hugging Face hub through `hf-hub`; files already in the local hub cache
    /// (`$HF_HOME/hub`, default `~/.cache/huggingface/hub`) are used without the network, and
    /// with `HF_HUB_OFFLINE=1` only the cache is used.
    pub fn from_hub(repo: &str) -> Result<Self> {
        let offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v == "true");
        Self::from_hub_cache(repo, hf_hub::Cache::from_env().path(), offline)
    }

    /// [`Lm::from_hub`] with an explicit hub cache directory (the `hub/` folder holding
    /// `models--org--name/snapshots/<rev>/…`); with `offline`, only that cache is read.
    pub fn from_hub_cache(repo: &str, cache_dir: &Path, offline: bool) -> Result<Self> {
        Self::hub(repo, cache_dir, offline, &LoadOptions::default())
    }

    fn hub(repo: &str, cache_dir: &Path, offline: bool, opts: &LoadOptions) -> Result<Self> {
        let cache = hf_hub::Cache::new(cache_dir.to_path_buf());
        let cached = cache.model(repo.to_string());
        let hub_err = |detail: String| Error::Hub {
            repo: repo.to_string(),
            detail,
        };
        let get = |file: &str| -> Result<PathBuf> {
            if let Some(p) = cached.get(file) {
                return Ok(p);
            }
            if offline {
                return Err(hub_err(format!(
                    "`{file}` is not in the local hub cache and HF_HUB_OFFLINE is set"
                )));
            }
            let api = hf_hub::api::sync::ApiBuilder::from_cache(cache.clone())
                .build()
                .map_err(|e| hub_err(e.to_string()))?;
            api.model(repo.to_string())
                .get(file)
                .map_err(|e| hub_err(format!("`{file}`: {e}")))
        };
        let config = get("config.json")?;
        let tokenizer = get("tokenizer.json")?;
        let shards = match get("model.safetensors.index.json") {
            Ok(index) => {
                let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
                let j: serde_json::Value = serde_json::from_str(&text)?;
                let mut names: Vec<String> = j
                    .get("weight_map")
                    .and_then(|m| m.as_object())
                    .map(|m| {
                        m.values()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                names.sort();
                names.dedup();
                names.iter().map(|n| get(n)).collect::<Result<Vec<_>>>()?
            }
            Err(_) => vec![get("model.safetensors")?],
        };
        Self::from_files(repo, &config, &tokenizer, &shards, opts)
    }

    fn from_files(
        name: &str,
        config: &Path,
        tokenizer: &Path,
        shards: &[PathBuf],
        opts: &LoadOptions,
    ) -> Result<Self> {
        if opts.dtype == WeightDtype::Quantized {
            return Err(Error::invalid(
                "dtype",
                "quantized",
                "a GGUF file (only GGUF holds quantized blocks); use --dtype f32, bf16 or f16 \
                 for safetensors",
            ));
        }
        let text = std::fs::read_to_string(config).map_err(|e| Error::io(config, e))?;
        let j: serde_json::Value = serde_json::from_str(&text)?;
        let cfg = Config::from_hf_json(&j)?;
        if !tokenizer.exists() {
            return Err(Error::FileNotFound {
                path: tokenizer.to_path_buf(),
            });
        }
        let tokenizer = Tokenizer::from_file(tokenizer)?;
        if shards.is_empty() {
            return Err(Error::FileNotFound {
                path: config.with_file_name("model.safetensors"),
            });
        }
        let mut w = Weights::safetensors(shards, name.to_string())?;
        let model = Transformer::load(cfg, &mut w, &opts.device, opts.dtype)?;
        Ok(Self {
            name: name.to_string(),
            model,
            tokenizer,
        })
    }

    /// Model name (file stem, directory name or repo id).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A short label for tables and charts: [`short_name`] of [`Lm::name`].
    pub fn short_name(&self) -> String {
        short_name(&self.name)
    }

    /// The device weights live on and work runs on; every tensor the library makes for this
    /// model goes there.
    pub fn device(&self) -> &Device {
        &self.model.device
    }

    /// How the weights are stored (statistics are f32 whatever it is).
    pub fn dtype(&self) -> WeightDtype {
        self.model.dtype
    }

    /// Hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.model.cfg
    }

    /// Number of blocks L; profiles have L+1 layers.
    pub fn n_layers(&self) -> usize {
        self.model.n_blocks()
    }

    /// Vocabulary size of the unembedding.
    pub fn vocab_size(&self) -> usize {
        self.model.cfg.vocab_size
    }

    /// The tokenizer (Hugging Face `tokenizers`).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Token ids of `text` as Hugging Face's tokenizer gives them by default (BOS added when the
    /// model's tokenizer adds one). Errors on an empty result.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let ids = self.tokenizer.encode(text, true)?.get_ids().to_vec();
        if text.is_empty() || ids.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        Ok(ids)
    }

    /// Token ids of `text` without special tokens (for continuations).
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.tokenizer.encode(text, false)?.get_ids().to_vec())
    }

    /// Text of token ids (special tokens skipped).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        Ok(self.tokenizer.decode(ids, true)?)
    }

    /// Vocabulary spelling of each id (as HF `convert_ids_to_tokens`), `"<unk:id>"` if unknown.
    pub fn token_strings(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&i| {
                self.tokenizer
                    .id_to_token(i)
                    .unwrap_or_else(|| format!("<unk:{i}>"))
            })
            .collect()
    }

    /// Beginning-of-sequence token id, if the model has one.
    pub fn bos_token_id(&self) -> Option<u32> {
        self.model.cfg.bos_token_id
    }

    /// End-of-sequence token ids.
    pub fn eos_token_ids(&self) -> &[u32] {
        &self.model.cfg.eos_token_ids
    }

    /// A fresh KV cache for [`Lm::forward`].
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.n_layers())
    }

    /// Check ids before a forward: non-empty, inside the vocabulary and the context window.
    pub fn check_ids(&self, ids: &[u32], already: usize) -> Result<()> {
        if ids.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let max = self.model.cfg.max_position_embeddings;
        if already + ids.len() > max {
            return Err(Error::PromptTooLong {
                len: already + ids.len(),
                max,
            });
        }
        let vocab = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&i| i as usize >= vocab) {
            return Err(Error::TokenOutOfVocab { id, vocab });
        }
        Ok(())
    }

    /// Run `ids` through the model, continuing from `cache` (extended in place), with `hook`
    /// seeing every site. Returns the last block's output (before the final norm), `[t, d]`.
    pub fn forward(&self, ids: &[u32], cache: &mut KvCache, hook: &mut dyn Hook) -> Result<Tensor> {
        Ok(self.forward_batch(&[ids], cache, hook)?.squeeze(0)?)
    }

    /// [`Lm::forward`] of several sequences of one length at once (one cache holds them all;
    /// hooks see `[b, t, d]`). Returns `[b, t, d]`. Decoding many prompts together reads the
    /// weights once per step for all of them, which is what makes batched generation fast.
    ///
    /// Errors: no sequences, sequences of different lengths, or any [`Lm::check_ids`] error.
    pub fn forward_batch(
        &self,
        batch: &[&[u32]],
        cache: &mut KvCache,
        hook: &mut dyn Hook,
    ) -> Result<Tensor> {
        let t = batch.first().map_or(0, |s| s.len());
        if batch.iter().any(|s| s.len() != t) {
            let lens: Vec<usize> = batch.iter().map(|s| s.len()).collect();
            return Err(Error::invalid(
                "batch",
                format!("{lens:?} tokens"),
                "sequences of one length (group prompts by length)",
            ));
        }
        for ids in batch {
            self.check_ids(ids, cache.len())?;
        }
        if batch.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        if cache.n_blocks() != self.n_layers() {
            return Err(Error::invalid(
                "cache",
                cache.n_blocks(),
                format!(
                    "a cache made by this model's new_cache() ({} blocks)",
                    self.n_layers()
                ),
            ));
        }
        let ids: Vec<u32> = batch.concat();
        Ok(self
            .model
            .forward(&ids, batch.len(), cache, hook)?
            .to_dtype(DType::F32)?)
    }

    /// Final logits of pre-norm hidden states `[.., d]` → `[.., vocab]` (final norm, unembedding,
    /// soft-cap), f32 on [`Lm::device`].
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.model.logits(hidden)
    }

    /// The model's final norm applied to hidden states `[.., d]`.
    pub fn final_norm(&self, hidden: &Tensor) -> Result<Tensor> {
        let h = self.model.to_compute(hidden)?;
        Ok(self.model.final_norm.forward(&h)?.to_dtype(DType::F32)?)
    }

    /// Unembedding of hidden states `[.., d]` (no norm) → `[.., vocab]`, with the soft-cap.
    pub fn unembed(&self, hidden: &Tensor) -> Result<Tensor> {
        self.model.project(hidden)
    }

    /// The bare unembedding `W_U · h` of hidden states `[.., d]` → `[.., vocab]`: no norm and no
    /// soft-cap, as Hugging Face's `lm_head(hidden_states[l])` (the DoLa/END early exit).
    pub fn unembed_raw(&self, hidden: &Tensor) -> Result<Tensor> {
        self.model.unembed_raw(hidden)
    }

    /// [`Lm::unembed_raw`] of `rows` f32 hidden states on the CPU, written into `out`
    /// (`[rows, vocab]`, row-major) by one direct matrix product ([`sgemm::matmul_nt`]): the CPU
    /// lens's hot path, with no logits tensor to copy out. Needs an f32 unembedding on the CPU.
    pub fn unembed_raw_into(&self, hidden: &Tensor, out: &mut [f32]) -> Result<()> {
        let w = &self.model.lm_head;
        let (vocab, d) = w.dims2()?;
        let h = hidden
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let (storage, layout) = w.storage_and_layout();
        let (candle_core::Storage::Cpu(cpu), true) = (&*storage, layout.is_contiguous()) else {
            return Err(Error::invalid(
                "unembed_raw_into",
                device_name(w.device()),
                "a model on the CPU (use unembed_raw elsewhere)",
            ));
        };
        let w = &cpu.as_slice::<f32>()?[layout.start_offset()..][..vocab * d];
        sgemm::matmul_nt(&h, w, h.len() / d.max(1), vocab, d, out)
    }

    /// Unembedding restricted to some vocabulary rows: `[.., d]` → `[.., ids.len()]`, without
    /// soft-cap: the columns of [`Lm::unembed_raw`] (END needs only its candidates' columns).
    pub fn unembed_rows(&self, hidden: &Tensor, ids: &[u32]) -> Result<Tensor> {
        let vocab = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&i| i as usize >= vocab) {
            return Err(Error::TokenOutOfVocab { id, vocab });
        }
        let idx = Tensor::new(ids, self.device())?;
        let rows = self.model.lm_head.index_select(&idx, 0)?;
        let h = self.model.to_compute(hidden)?;
        Ok(h.broadcast_matmul(&rows.t()?)?.to_dtype(DType::F32)?)
    }

    /// The unembedding matrix `[vocab, d]`, in the model's compute dtype on its device.
    pub fn lm_head(&self) -> &Tensor {
        &self.model.lm_head
    }

    /// Apply the final logit soft-cap (identity when the model has none).
    pub fn softcap(&self, logits: Tensor) -> Result<Tensor> {
        self.model.softcap(logits)
    }

    /// [`Lm::softcap`] on logits in a buffer, in place.
    pub fn softcap_in_place(&self, logits: &mut [f32]) {
        if let Some(c) = self.model.cfg.final_logit_softcapping.map(|c| c as f32) {
            for z in logits {
                *z = c * (*z / c).tanh();
            }
        }
    }

    /// Full-sequence forward that keeps the residual stream of every layer at the positions of
    /// `spec` (and the final logits), with `hook` able to change the run.
    pub fn trace(&self, ids: &[u32], spec: &CaptureSpec, hook: &mut dyn Hook) -> Result<Trace> {
        self.check_ids(ids, 0)?;
        let positions = spec.positions.resolve(ids.len())?;
        let mut rec = Recorder::new(&positions, spec.sub_blocks, self.device())?;
        let mut cache = self.new_cache();
        let last = {
            let mut both = (&mut rec, hook);
            self.model
                .forward(ids, 1, &mut cache, &mut both)?
                .squeeze(0)?
        };
        let last = last.to_dtype(DType::F32)?;
        let logits = if spec.all_logits {
            let idx: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
            let idx = Tensor::new(idx.as_slice(), self.device())?;
            self.logits(&last.index_select(&idx, 0)?)?
        } else {
            self.logits(&last.narrow(0, ids.len() - 1, 1)?)?
        };
        let stack = |v: Vec<Tensor>| -> Result<Option<Tensor>> {
            if v.is_empty() {
                Ok(None)
            } else {
                Ok(Some(Tensor::stack(&v, 0)?))
            }
        };
        let resid = Tensor::stack(&rec.resid, 0)?;
        Ok(Trace {
            model: self.name.clone(),
            ids: ids.to_vec(),
            tokens: self.token_strings(ids),
            positions,
            resid,
            attn_out: stack(std::mem::take(&mut rec.attn))?,
            mlp_out: stack(std::mem::take(&mut rec.mlp))?,
            logits,
        })
    }

    /// [`Lm::trace`] of a text, tokenized with [`Lm::encode`], without a hook.
    pub fn trace_text(&self, text: &str, spec: &CaptureSpec) -> Result<Trace> {
        let ids = self.encode(text)?;
        self.trace(&ids, spec, &mut NoHook)
    }

    /// Final-layer logits at the last position of `ids` (full forward, no cache), `[vocab]`.
    pub fn next_token_logits(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let mut cache = self.new_cache();
        let h = self.forward(ids, &mut cache, &mut NoHook)?;
        let last = h.narrow(0, ids.len() - 1, 1)?;
        Ok(self.logits(&last)?.flatten_all()?.to_vec1::<f32>()?)
    }
}

fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}
