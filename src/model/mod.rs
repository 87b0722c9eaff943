//! `Lm`: weights + tokenizer + config, loaded from a GGUF file, a Hugging Face directory or the
//! hub, and run by our own forward pass (`transformer`) so every block is visible.

mod chat;
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

pub use chat::{ChatTemplate, Message};
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
pub const DEFAULT_MODEL_FILE: &str = Bundled::SmolLm2_135mInstruct.file();
/// File name of the second real model (Gemma-3-270M base, Q4_K_M).
pub const GEMMA_MODEL_FILE: &str = Bundled::Gemma3_270m.file();

/// The real models `make models` fetches (`scripts/fetch-models.sh`, `shared/MODELS.md`), by the
/// names users give them: `"qwen2.5-coder-1.5b-instruct"` works wherever a model path does
/// ([`Lm::load`], `--model`, the papers' `models`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bundled {
    /// SmolLM2-135M-Instruct, Q4_1 (llama family, 30 blocks): the default model.
    SmolLm2_135mInstruct,
    /// Gemma-3-270M base, Q4_K_M (18 blocks); no chat template.
    Gemma3_270m,
    /// Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (qwen2, 24 blocks, vocab 151936), with its chat template.
    QwenCoder0_5bInstruct,
    /// Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (qwen2, 28 blocks, d 1536): the paper-scale model.
    QwenCoder1_5bInstruct,
}

impl Bundled {
    /// Every bundled model, smallest first.
    pub const ALL: [Bundled; 4] = [
        Bundled::SmolLm2_135mInstruct,
        Bundled::Gemma3_270m,
        Bundled::QwenCoder0_5bInstruct,
        Bundled::QwenCoder1_5bInstruct,
    ];

    /// The name users type (lower case, as on the hub without the organisation).
    pub const fn name(self) -> &'static str {
        match self {
            Bundled::SmolLm2_135mInstruct => "smollm2-135m-instruct",
            Bundled::Gemma3_270m => "gemma-3-270m",
            Bundled::QwenCoder0_5bInstruct => "qwen2.5-coder-0.5b-instruct",
            Bundled::QwenCoder1_5bInstruct => "qwen2.5-coder-1.5b-instruct",
        }
    }

    /// The GGUF file's name in [`models_dir`].
    pub const fn file(self) -> &'static str {
        match self {
            Bundled::SmolLm2_135mInstruct => "SmolLM2-135M-Instruct.Q4_1.gguf",
            Bundled::Gemma3_270m => "gemma-3-270m-q4_k_m.gguf",
            Bundled::QwenCoder0_5bInstruct => "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            Bundled::QwenCoder1_5bInstruct => "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        }
    }

    /// Where `make models` puts the file (it may not exist yet).
    pub fn path(self) -> PathBuf {
        models_dir().join(self.file())
    }

    /// [`Bundled::path`] as an [`Lm::load`] argument.
    pub fn path_string(self) -> String {
        self.path().display().to_string()
    }

    /// The bundled model called `name` (its [`Bundled::name`], case-insensitive, or its file name).
    ///
    /// ```
    /// use entroscope::model::Bundled;
    /// assert_eq!(Bundled::from_name("Qwen2.5-Coder-1.5B-Instruct"), Some(Bundled::QwenCoder1_5bInstruct));
    /// assert_eq!(Bundled::from_name("gpt2"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(name) || b.file() == name)
    }

    /// The names of all bundled models, comma-separated (for help texts and errors).
    pub fn names() -> String {
        Self::ALL.map(Bundled::name).join(", ")
    }
}

impl std::str::FromStr for Bundled {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s).ok_or_else(|| Error::UnknownModel {
            name: s.to_string(),
            known: Self::names(),
        })
    }
}

impl fmt::Display for Bundled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
    Bundled::SmolLm2_135mInstruct.path_string()
}

/// The default model set of every reproduction (SmolLM2-135M-Instruct, Gemma-3-270M), as
/// [`Lm::load`] arguments; [`Bundled::ALL`] lists every fetched model.
pub fn bundled_models() -> Vec<String> {
    vec![
        Bundled::SmolLm2_135mInstruct.path_string(),
        Bundled::Gemma3_270m.path_string(),
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
/// assert_eq!(short_name("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"), "qwen2.5-coder-1.5b-instruct");
/// assert_eq!(short_name("Qwen/Qwen2.5-0.5B"), "Qwen2.5-0.5B");
/// assert_eq!(short_name("Llama-3.2-1B.IQ4_XS"), "Llama-3.2-1B");
/// assert_eq!(short_name("phi-2"), "phi-2");
/// ```
pub fn short_name(name: &str) -> String {
    let m = name.trim_end_matches('/');
    let m = m.rsplit('/').next().unwrap_or(m);
    let m = m.strip_suffix(".gguf").unwrap_or(m);
    // A quantisation or dtype tag after the last `.` or `-` (`.Q4_1`, `-q4_k_m`, `.IQ4_XS`,
    // `.bf16`) is dropped; a dot inside a name (`qwen2.5`) is kept.
    let is_tag = |t: &str| {
        let t = t.to_ascii_lowercase();
        let t = t.strip_prefix('i').unwrap_or(&t);
        let t = t.strip_prefix('t').unwrap_or(t);
        (t.starts_with('q') && t[1..].starts_with(|c: char| c.is_ascii_digit()))
            || matches!(t, "bf16" | "f16" | "f32" | "fp16" | "fp32")
    };
    let m = match m.rsplit_once('.') {
        Some((stem, tag)) if is_tag(tag) => stem,
        _ => m,
    };
    let m = match m.rsplit_once('-') {
        Some((stem, tag)) if is_tag(tag) => stem,
        _ => m,
    };
    m.to_string()
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
    chat_template: Option<ChatTemplate>,
    /// The unembedding in bf16 for the bf16 lens, converted on first use (half the f32 head's
    /// memory), so a model that never runs it pays nothing.
    head_bf16: std::sync::OnceLock<Vec<half::bf16>>,
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
    /// Load from a `.gguf` file, a Hugging Face model directory, a bundled model's name
    /// ([`Bundled`], e.g. `"qwen2.5-coder-1.5b-instruct"`) or a hub repo id
    /// (e.g. `"HuggingFaceTB/SmolLM2-135M"`), whichever `model` names.
    pub fn load(model: &str) -> Result<Self> {
        Self::load_with(model, &LoadOptions::default())
    }

    /// [`Lm::load`] on a device and with a weight dtype ([`LoadOptions`]).
    pub fn load_with(model: &str, opts: &LoadOptions) -> Result<Self> {
        let p = Path::new(model);
        if !p.exists() {
            if let Some(b) = Bundled::from_name(model) {
                return Self::from_gguf_with(b.path(), opts);
            }
        }
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
        let chat_template = match content.metadata.get("tokenizer.chat_template") {
            Some(gguf_file::Value::String(t)) => Some(ChatTemplate::new(
                t.clone(),
                token_text(&tokenizer, cfg.bos_token_id),
                token_text(&tokenizer, cfg.eos_token_ids.first().copied()),
            )),
            _ => None,
        };
        let (h, kvh) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let mut w = Weights::gguf(path, header.into_inner(), content, cfg.family, h, kvh)?;
        let model = Transformer::load(cfg, &mut w, &opts.device, opts.dtype)?;
        Ok(Self {
            name: file_stem(path),
            model,
            tokenizer,
            chat_template,
            head_bf16: Default::default(),
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
        // Optional: the chat template lives in one of these (newer repos: the .jinja file).
        for optional in ["tokenizer_config.json", "chat_template.jinja"] {
            let _ = get(optional);
        }
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
        let chat_template = ChatTemplate::from_tokenizer_config(
            &tokenizer.with_file_name("tokenizer_config.json"),
        )?;
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
            chat_template,
            head_bf16: Default::default(),
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

    /// The model's chat template, if it ships one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.chat_template.as_ref()
    }

    /// This model with `template` as its chat template (e.g. an instruct sibling's template on
    /// a base model, or a template of your own).
    pub fn with_chat_template(mut self, template: ChatTemplate) -> Self {
        self.chat_template = Some(template);
        self
    }

    /// The conversation rendered by the model's own chat template, ending with the assistant's
    /// header (`add_generation_prompt`), as `transformers`' `apply_chat_template` renders it.
    /// Errors: [`Error::NoChatTemplate`] when the model has none, [`Error::ChatTemplate`] when it
    /// fails to render.
    pub fn chat_prompt(&self, messages: &[Message]) -> Result<String> {
        let t = self
            .chat_template
            .as_ref()
            .ok_or_else(|| Error::NoChatTemplate {
                model: self.name.clone(),
            })?;
        t.render(messages, true)
    }

    /// Token ids of [`Lm::chat_prompt`]: the rendered text tokenized without adding special
    /// tokens (the template writes them itself), as `apply_chat_template(tokenize=True)` does.
    pub fn encode_chat(&self, messages: &[Message]) -> Result<Vec<u32>> {
        let ids = self.encode_plain(&self.chat_prompt(messages)?)?;
        if ids.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        Ok(ids)
    }

    /// Token ids of a request: [`Lm::encode`] of `text`, or with `chat` the text as one user
    /// turn of the model's chat template ([`Lm::encode_chat`]). What `--chat` and the papers'
    /// `chat_template` option switch.
    pub fn encode_request(&self, text: &str, chat: bool) -> Result<Vec<u32>> {
        if !chat {
            return self.encode(text);
        }
        if text.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        self.encode_chat(&[Message::user(text)])
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

    /// The model's head: how a residual row becomes logits (final norm, unembedding, soft-cap).
    /// The lens, the decoders and the scorer all project through it.
    pub fn head(&self) -> Head<'_> {
        Head {
            model: &self.model,
            bf16: &self.head_bf16,
        }
    }

    /// Final logits of pre-norm hidden states `[.., d]` → `[.., vocab]`: [`Head::logits`].
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.head().logits(hidden)
    }

    /// The model's final norm of hidden states `[.., d]`: [`Head::norm`].
    pub fn final_norm(&self, hidden: &Tensor) -> Result<Tensor> {
        self.head().norm(hidden)
    }
}

/// The model's head, borrowed from an [`Lm`] ([`Lm::head`]): the one type that says how a
/// residual row `h` becomes logits, `softcap(W_U · norm_f(h))`, and offers each part on its own
/// (the raw lens and END need the bare `W_U · h`). Every product returns f32.
#[derive(Clone, Copy)]
pub struct Head<'a> {
    model: &'a Transformer,
    /// The unembedding in bf16 for [`Precision::Bf16`](crate::lens::Precision), converted on
    /// first use and kept by the [`Lm`].
    bf16: &'a std::sync::OnceLock<Vec<half::bf16>>,
}

impl fmt::Debug for Head<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Head")
            .field("unembedding", &self.model.lm_head.shape())
            .field("softcap", &self.model.cfg.final_logit_softcapping)
            .finish()
    }
}

impl Head<'_> {
    /// Final logits of pre-norm hidden states `[.., d]` → `[.., vocab]`: final norm,
    /// unembedding, soft-cap; f32 on the model's device.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.model.logits(hidden)
    }

    /// The final norm of hidden states `[.., d]`, f32.
    pub fn norm(&self, hidden: &Tensor) -> Result<Tensor> {
        let h = self.model.to_compute(hidden)?;
        Ok(self.model.final_norm.forward(&h)?.to_dtype(DType::F32)?)
    }

    /// The bare unembedding `W_U · h` of hidden states `[.., d]` → `[.., vocab]`: no norm and no
    /// soft-cap, as Hugging Face's `lm_head(hidden_states[l])` (the DoLa/END early exit).
    pub fn unembed(&self, hidden: &Tensor) -> Result<Tensor> {
        self.model.unembed_raw(hidden)
    }

    /// [`Head::unembed`] restricted to some vocabulary entries: `[.., d]` → `[.., ids.len()]`
    /// (END needs only its candidates' columns).
    pub fn unembed_ids(&self, hidden: &Tensor, ids: &[u32]) -> Result<Tensor> {
        let w = &self.model.lm_head;
        let vocab = w.dim(0)?;
        if let Some(&id) = ids.iter().find(|&&i| i as usize >= vocab) {
            return Err(Error::TokenOutOfVocab { id, vocab });
        }
        let idx = Tensor::new(ids, w.device())?;
        let rows = w.index_select(&idx, 0)?;
        let h = self.model.to_compute(hidden)?;
        Ok(h.broadcast_matmul(&rows.t()?)?.to_dtype(DType::F32)?)
    }

    /// The final logit soft-cap `c·tanh(z/c)` (identity when the model has none).
    pub fn softcap(&self, logits: Tensor) -> Result<Tensor> {
        self.model.softcap(logits)
    }

    /// [`Head::softcap`] on logits in a buffer, in place.
    pub fn softcap_in_place(&self, logits: &mut [f32]) {
        if let Some(c) = self.model.cfg.final_logit_softcapping.map(|c| c as f32) {
            for z in logits {
                *z = c * (*z / c).tanh();
            }
        }
    }

    /// The unembedding matrix `[vocab, d]`, in the model's compute dtype on its device.
    pub fn weight(&self) -> &Tensor {
        &self.model.lm_head
    }

    /// Whether the `_into` products run: an f32, contiguous unembedding on the CPU.
    pub fn fills_buffers(&self) -> bool {
        let w = &self.model.lm_head;
        w.device().is_cpu() && w.dtype() == DType::F32 && w.is_contiguous()
    }

    /// [`Head::logits`] of `rows` hidden states written into `out` (`[rows, vocab]`,
    /// row-major); see [`Head::unembed_into`].
    pub fn logits_into(
        &self,
        hidden: &Tensor,
        precision: crate::lens::Precision,
        out: &mut [f32],
    ) -> Result<()> {
        self.unembed_into(&self.norm(hidden)?, precision, out)?;
        self.softcap_in_place(out);
        Ok(())
    }

    /// [`Head::unembed`] of `rows` hidden states written into `out` (`[rows, vocab]`, row-major)
    /// by one direct matrix product: the CPU lens's hot path, with no logits tensor to copy out.
    /// [`Precision::Bf16`](crate::lens::Precision) rounds rows and unembedding to bf16 and
    /// accumulates in f32 where [`sgemm::has_bf16_product`] holds, else runs in f32. Errors off
    /// the CPU or (f32) where [`Head::fills_buffers`] is false.
    pub fn unembed_into(
        &self,
        hidden: &Tensor,
        precision: crate::lens::Precision,
        out: &mut [f32],
    ) -> Result<()> {
        let w = &self.model.lm_head;
        let (vocab, d) = w.dims2()?;
        if !w.device().is_cpu() {
            return Err(Error::invalid(
                "Head::unembed_into",
                device_name(w.device()),
                "a model on the CPU (use Head::unembed elsewhere)",
            ));
        }
        if precision.effective() == crate::lens::Precision::Bf16 {
            let head = match self.bf16.get() {
                Some(h) => h,
                None => {
                    let h = w
                        .to_dtype(DType::BF16)?
                        .flatten_all()?
                        .to_vec1::<half::bf16>()?;
                    self.bf16.get_or_init(|| h)
                }
            };
            let h = hidden
                .to_dtype(DType::BF16)?
                .flatten_all()?
                .to_vec1::<half::bf16>()?;
            return sgemm::matmul_nt_bf16(&h, head, h.len() / d.max(1), vocab, d, out);
        }
        let h = hidden
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let (storage, layout) = w.storage_and_layout();
        let (candle_core::Storage::Cpu(cpu), true) = (&*storage, layout.is_contiguous()) else {
            return Err(Error::invalid(
                "Head::unembed_into",
                format!("{:?} unembedding", w.dtype()),
                "a contiguous f32 unembedding (use Head::unembed elsewhere)",
            ));
        };
        let w = &cpu.as_slice::<f32>()?[layout.start_offset()..][..vocab * d];
        sgemm::matmul_nt(&h, w, h.len() / d.max(1), vocab, d, out)
    }
}

impl Lm {
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

/// The spelling of a special token, empty when the model has none.
fn token_text(tokenizer: &Tokenizer, id: Option<u32>) -> String {
    id.and_then(|i| tokenizer.id_to_token(i))
        .unwrap_or_default()
}
