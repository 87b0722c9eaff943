//! The real models `make models` fetches, by the names users give them, and where they live.

use std::fmt;
use std::path::PathBuf;

use crate::{Error, Result};

/// The real models `make models` fetches (`scripts/fetch-models.sh`, `shared/MODELS.md`), by the
/// names users give them: `"qwen2.5-coder-1.5b-instruct"` works wherever a model path does
/// ([`Lm::load`](crate::Lm::load), `--model`, the papers' `models`).
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

    /// [`Bundled::path`] as an [`Lm::load`](crate::Lm::load) argument.
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
/// [`Lm::load`](crate::Lm::load) arguments; [`Bundled::ALL`] lists every fetched model.
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
