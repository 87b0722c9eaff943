//! Where a model comes from ([`ModelSource`]) and how it is loaded from there.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::Device;
use tokenizers::Tokenizer;

use super::memory;
use super::transformer::Transformer;
use super::weights::Weights;
use super::{gguf_tokenizer, ArchSpec, Bundled, ChatTemplate, Lm, LoadOptions, WeightDtype};
use crate::{Error, Result};

/// Where a model's weights and tokenizer come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// One of the models `make models` fetches.
    Bundled(Bundled),
    /// A `.gguf` file: weights, hyper-parameters, tokenizer and chat template in one.
    Gguf(PathBuf),
    /// A Hugging Face directory: `config.json`, `tokenizer.json`, `*.safetensors`.
    HfDir(PathBuf),
    /// A Hugging Face hub repo id, read from the local hub cache first (only from it with
    /// `HF_HUB_OFFLINE=1`).
    Hub(String),
}

impl ModelSource {
    /// What a string names, in this order: a bundled model's name; an existing directory (HF)
    /// or file (GGUF); a hub repo id (`org/name` or `name`: at most one slash, no `.gguf`, not
    /// a path that starts with `.`, `/` or `~`). Anything else is [`Error::FileNotFound`].
    ///
    /// ```
    /// use entroscope::model::{Bundled, ModelSource};
    /// assert_eq!(ModelSource::parse("gemma-3-270m")?, ModelSource::Bundled(Bundled::Gemma3_270m));
    /// assert_eq!(ModelSource::parse("Qwen/Qwen2.5-0.5B")?, ModelSource::Hub("Qwen/Qwen2.5-0.5B".into()));
    /// assert!(ModelSource::parse("./no/such/model.gguf").is_err());
    /// # Ok::<(), entroscope::Error>(())
    /// ```
    pub fn parse(model: &str) -> Result<Self> {
        let p = Path::new(model);
        if let (false, Some(b)) = (p.exists(), Bundled::from_name(model)) {
            return Ok(ModelSource::Bundled(b));
        }
        if p.is_dir() {
            return Ok(ModelSource::HfDir(p.to_path_buf()));
        }
        if p.is_file() {
            return Ok(ModelSource::Gguf(p.to_path_buf()));
        }
        let looks_like_repo = !model.is_empty()
            && !model.starts_with(['.', '/', '~'])
            && model.matches('/').count() <= 1
            && !model.ends_with('/')
            && !model.ends_with(".gguf")
            && !model.contains('\\');
        if looks_like_repo {
            Ok(ModelSource::Hub(model.to_string()))
        } else {
            Err(Error::FileNotFound {
                path: p.to_path_buf(),
            })
        }
    }

    /// Load the model with `opts`.
    pub fn load(&self, opts: &LoadOptions) -> Result<Lm> {
        match self {
            ModelSource::Bundled(b) => Lm::from_gguf_with(b.path(), opts),
            ModelSource::Gguf(p) => Lm::from_gguf_with(p, opts),
            ModelSource::HfDir(p) => Lm::from_hf_dir_with(p, opts),
            ModelSource::Hub(repo) => {
                let offline =
                    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v == "true");
                Lm::hub(repo, hf_hub::Cache::from_env().path(), offline, opts).map_err(
                    |e| match e {
                        Error::Hub { repo, detail } => Error::Hub {
                            detail: format!("{detail}; nor is `{repo}` a file or directory here"),
                            repo,
                        },
                        e => e,
                    },
                )
            }
        }
    }
}

impl std::str::FromStr for ModelSource {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// [`Lm::builder`]: a source, then the device and dtype.
#[derive(Debug, Clone)]
pub struct LmBuilder {
    source: ModelSource,
    opts: LoadOptions,
}

impl LmBuilder {
    /// Where weights live and work runs (default: the CPU).
    pub fn device(mut self, device: Device) -> Self {
        self.opts.device = device;
        self
    }

    /// How weights are stored (default: f32).
    pub fn dtype(mut self, dtype: WeightDtype) -> Self {
        self.opts.dtype = dtype;
        self
    }

    /// Load.
    pub fn load(self) -> Result<Lm> {
        self.source.load(&self.opts)
    }
}

const GGUF_MAGIC: u32 = 0x4655_4747; // "GGUF" little-endian

impl Lm {
    /// Load whatever `model` names: a bundled model's name ([`Bundled`], e.g.
    /// `"qwen2.5-coder-1.5b-instruct"`), a `.gguf` file, a Hugging Face model directory or a hub
    /// repo id (`"HuggingFaceTB/SmolLM2-135M"`), read as [`ModelSource::parse`] says. For full
    /// control, [`Lm::builder`].
    pub fn load(model: &str) -> Result<Self> {
        Self::load_with(model, &LoadOptions::default())
    }

    /// [`Lm::load`] on a device and with a weight dtype ([`LoadOptions`]).
    pub fn load_with(model: &str, opts: &LoadOptions) -> Result<Self> {
        ModelSource::parse(model)?.load(opts)
    }

    /// A loader for `source`, with the device and dtype to set:
    ///
    /// ```no_run
    /// use entroscope::model::{Bundled, Lm, ModelSource, WeightDtype};
    /// # fn main() -> entroscope::Result<()> {
    /// let lm = Lm::builder(ModelSource::Bundled(Bundled::QwenCoder1_5bInstruct))
    ///     .dtype(WeightDtype::Quantized)
    ///     .load()?;
    /// # Ok(()) }
    /// ```
    pub fn builder(source: ModelSource) -> LmBuilder {
        LmBuilder {
            source,
            opts: LoadOptions::default(),
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
        let cfg = ArchSpec::from_gguf(&content.metadata, vocab)?;
        let tokenizer = gguf_tokenizer::tokenizer_from_gguf(&content)?;
        let chat_template = match content.metadata.get("tokenizer.chat_template") {
            Some(gguf_file::Value::String(t)) => Some(ChatTemplate::new(
                t.clone(),
                token_text(&tokenizer, cfg.bos_token_id),
                token_text(&tokenizer, cfg.eos_token_ids.first().copied()),
            )),
            _ => None,
        };
        let mut w = Weights::gguf(path, header.into_inner(), content, &cfg)?;
        let need = w.estimate(opts.dtype, opts.device.is_cpu());
        memory::check(&path.display().to_string(), &need, opts, true)?;
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
        let cfg = ArchSpec::from_hf_json(&j)?;
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
        let mut w = Weights::safetensors(shards, name.to_string(), cfg.family)?;
        let need = w.estimate(opts.dtype, opts.device.is_cpu());
        memory::check(name, &need, opts, false)?;
        let model = Transformer::load(cfg, &mut w, &opts.device, opts.dtype)?;
        Ok(Self {
            name: name.to_string(),
            model,
            tokenizer,
            chat_template,
            head_bf16: Default::default(),
        })
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
