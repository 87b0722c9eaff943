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
    /// A file that does not exist.
    FileNotFound {
        /// The path asked for.
        path: PathBuf,
    },
    #[error("I/O error on {path}: {source}")]
    /// Any other I/O failure on a path.
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a GGUF file (bad magic {magic:#010x}); pass a .gguf file, a Hugging Face model directory or a hub repo id")]
    /// A weights file that is not GGUF.
    BadMagic {
        /// The file.
        path: PathBuf,
        /// Its first four bytes, little-endian.
        magic: u32,
    },
    #[error("{path} is truncated or corrupt ({detail}); delete it and download it again")]
    /// A truncated or malformed weights or tokenizer file.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser found wrong.
        detail: String,
    },
    #[error("{model} needs about {need_gib:.1} GiB at dtype {dtype} but {available_gib:.1} GiB is available; {hint}, or load it anyway (--force-load, LoadOptions::memory(MemoryCheck::Force))")]
    /// A model that would not fit in the memory available (checked before loading).
    InsufficientMemory {
        /// The model.
        model: String,
        /// The weight dtype asked for.
        dtype: String,
        /// The estimate, GiB.
        need_gib: f64,
        /// What the process may still use, GiB.
        available_gib: f64,
        /// The cheaper choice.
        hint: String,
    },
    #[error("unknown architecture `{arch}`; supported: {supported} (CONTRIBUTING.md says how to add a family)")]
    /// A model family this crate does not implement.
    UnknownArchitecture {
        /// The architecture name from the file.
        arch: String,
        /// The families this build runs.
        supported: String,
    },
    #[error("missing tensor `{name}` in {source_desc}; the file does not match its architecture `{arch}`")]
    /// A weight the architecture needs that the file lacks.
    MissingTensor {
        /// The tensor's name.
        name: String,
        /// The architecture being loaded.
        arch: String,
        /// Where the weights came from.
        source_desc: String,
    },
    #[error("tensor `{name}` has shape {got:?} but the config implies {expected:?}; the config does not match the weights")]
    /// A weight whose shape disagrees with the config.
    ShapeMismatch {
        /// The tensor's name.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    #[error("bad or missing config value `{key}`: {detail}")]
    /// A config value that is missing or unusable.
    Config {
        /// The config key.
        key: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A prompt file whose content is wrong; `problem` says what to fix.
    #[error("prompt file {path}: {problem}")]
    PromptFile {
        /// The prompt file.
        path: PathBuf,
        /// What is wrong with it.
        problem: crate::data::PromptFileError,
    },
    #[error("{model} has no chat template (GGUF `tokenizer.chat_template` or `chat_template` in tokenizer_config.json); drop --chat / chat_template, or use an instruct model that ships one")]
    /// `--chat` on a model that carries no chat template.
    NoChatTemplate {
        /// The model's name.
        model: String,
    },
    #[error("the chat template failed to render: {detail}; check the messages (roles, order) or the template")]
    /// A chat template that does not parse, or that raises on these messages.
    ChatTemplate {
        /// minijinja's message.
        detail: String,
    },
    #[error("unknown model name `{name}`; bundled models: {known}")]
    /// A name that is neither a path, a hub id nor a bundled model.
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The bundled models' names.
        known: String,
    },
    #[error("tokenizer: {0}")]
    /// The tokenizer failed (its message).
    Tokenizer(String),
    #[error("could not fetch `{repo}` from the Hugging Face hub ({detail}); check the repo id, your network, or set HF_HUB_OFFLINE=1 to use the local cache")]
    /// A Hugging Face hub download failed.
    Hub {
        /// The repo id.
        repo: String,
        /// The client's error.
        detail: String,
    },

    // ---- user input ----
    #[error("empty prompt: give at least one token of text")]
    /// A prompt with no tokens.
    EmptyPrompt,
    #[error("prompt has {len} tokens but the model's context window is {max}; shorten the prompt or split it")]
    /// A prompt (or prompt + generation) longer than the context window.
    PromptTooLong {
        /// Tokens asked for.
        len: usize,
        /// The model's context window.
        max: usize,
    },
    #[error("{prompt} prompt tokens + {new} new tokens exceed the model's context window of {max}; ask for at most {} new tokens", max.saturating_sub(*prompt))]
    /// A generation that could not fit the context window, refused before any work.
    GenerationTooLong {
        /// Tokens of the prompt.
        prompt: usize,
        /// New tokens asked for.
        new: usize,
        /// The model's context window.
        max: usize,
    },
    #[error("token id {id} is outside the vocabulary (size {vocab})")]
    /// A token id past the vocabulary.
    TokenOutOfVocab {
        /// The id.
        id: u32,
        /// The vocabulary size.
        vocab: usize,
    },
    #[error("layer {layer} is out of range: the model has layers 0..={max}")]
    /// A layer index past the model's depth.
    LayerOutOfRange {
        /// The layer asked for.
        layer: usize,
        /// The last layer, `L`.
        max: usize,
    },
    #[error("invalid parameter `{name}` = {value}: {expected}")]
    /// A parameter outside its domain (α < 0, k = 0, …).
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    #[error("non-finite values (NaN or inf) in {what}; check the model weights and inputs")]
    /// NaN or infinite values where numbers are needed.
    NonFinite {
        /// Where they were found.
        what: String,
    },
    #[error("device `{requested}` is not available: {detail}")]
    /// A device that this build or this machine cannot provide.
    DeviceUnavailable {
        /// The device asked for (`cuda:0`, …).
        requested: String,
        /// Why, and what to do instead.
        detail: String,
    },
    #[error("not enough data: {0}")]
    /// Too few items for the statistic asked for.
    NotEnoughData(String),
    #[error("cannot write {path}: {detail}; check that the directory exists and is writable")]
    /// An output that cannot be written.
    Unwritable {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        detail: String,
    },

    // ---- wrapped library errors ----
    #[error(transparent)]
    /// A tensor operation failed.
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    /// A table operation failed.
    Polars(#[from] polars::error::PolarsError),
    #[error(transparent)]
    /// A JSON file could not be parsed.
    Json(#[from] serde_json::Error),
    #[error("plot: {0}")]
    /// A chart could not be drawn (the backend's message).
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
