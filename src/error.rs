//! One error type for the whole crate. Every variant says what went wrong *and what to do*.

use std::path::PathBuf;

/// Result alias used across entroscope.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong, from a missing file to a NaN logit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- files and formats ----
    #[error(
        "file not found: {path}; check the path, or run `make models` to fetch the default models"
    )]
    FileNotFound { path: PathBuf },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a GGUF file (bad magic {magic:#010x}); pass a .gguf file, a Hugging Face model directory or a hub repo id")]
    BadMagic { path: PathBuf, magic: u32 },
    #[error("{path} is truncated or corrupt ({detail}); delete it and download it again")]
    Corrupt { path: PathBuf, detail: String },
    #[error("unknown architecture `{arch}`; supported: gpt2, llama, qwen2, qwen3, gemma3")]
    UnknownArchitecture { arch: String },
    #[error("missing tensor `{name}` in {source_desc}; the file does not match its architecture `{arch}`")]
    MissingTensor {
        name: String,
        arch: String,
        source_desc: String,
    },
    #[error("tensor `{name}` has shape {got:?} but the config implies {expected:?}; the config does not match the weights")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("bad or missing config value `{key}`: {detail}")]
    Config { key: String, detail: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("could not fetch `{repo}` from the Hugging Face hub ({detail}); check the repo id, your network, or set HF_HUB_OFFLINE=1 to use the local cache")]
    Hub { repo: String, detail: String },

    // ---- user input ----
    #[error("empty prompt: give at least one token of text")]
    EmptyPrompt,
    #[error("prompt has {len} tokens but the model's context window is {max}; shorten the prompt or split it")]
    PromptTooLong { len: usize, max: usize },
    #[error("token id {id} is outside the vocabulary (size {vocab})")]
    TokenOutOfVocab { id: u32, vocab: usize },
    #[error("layer {layer} is out of range: the model has layers 0..={max}")]
    LayerOutOfRange { layer: usize, max: usize },
    #[error("invalid parameter `{name}` = {value}: {expected}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        expected: String,
    },
    #[error("non-finite values (NaN or inf) in {what}; check the model weights and inputs")]
    NonFinite { what: String },
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    #[error("cannot write {path}: {detail}; check that the directory exists and is writable")]
    Unwritable { path: PathBuf, detail: String },

    // ---- wrapped library errors ----
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("plot: {0}")]
    Plot(String),
    /// Classification / cross-validation / ROC misuse (typed, see [`crate::stats::knn::KnnError`]).
    #[error(transparent)]
    Knn(#[from] crate::stats::knn::KnnError),
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid(name: &'static str, value: impl ToString, expected: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// Wrap an `std::io::Error` on a path, mapping "not found" to [`Error::FileNotFound`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::FileNotFound { path }
        } else {
            Error::Io { path, source }
        }
    }
}

impl From<tokenizers::Error> for Error {
    fn from(e: tokenizers::Error) -> Self {
        Error::Tokenizer(e.to_string())
    }
}
