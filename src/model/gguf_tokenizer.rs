//! Build a [`tokenizers::Tokenizer`] from the `tokenizer.ggml.*` metadata of a GGUF file.
//!
//! A GGUF file carries no `tokenizer.json`: llama.cpp stores the vocabulary, the merges, the token
//! types and the special token ids as metadata. We rebuild from them *the same* tokenizer that
//! Hugging Face transformers 5.x builds when it loads the file
//! (`AutoTokenizer.from_pretrained(dir, gguf_file=name)`, code in
//! `transformers/integrations/gguf/gguf_tokenizer_mapping.py`), so that token ids agree exactly
//! with the Python reference the test suite compares against:
//!
//! * `tokenizer.ggml.model = "gpt2"`: byte-level BPE with the file's merges (GPT-2, SmolLM2, Qwen,
//!   Llama 3, ...). Tokens not spelled in the byte-level alphabet are respelled into it. The
//!   `tokenizer.ggml.pre` name picks the split regex for the families HF knows; otherwise GPT-2's.
//! * `tokenizer.ggml.model = "llama"`: SentencePiece-style BPE with byte fallback. The file usually
//!   has no merges: they are derived from the vocabulary (every split of a token into two tokens),
//!   ordered by score, or, for Gemma, by the token's position in the file (Gemma's scores do not
//!   follow its merge order). Gemma spells runs of spaces as real spaces, which are respelled to
//!   `▁`; its normalizer turns every space into `▁` and it adds no prefix space.
//!
//! Control tokens (token type 3) become special added tokens and user-defined tokens (type 4)
//! plain added tokens, so text like `<|im_start|>` or `<start_of_turn>` is never split. BOS / EOS
//! are added by a `TemplateProcessing` post-processor when `add_bos_token` / `add_eos_token` say
//! so: `encode(text, true)` equals HF's `tok(text).input_ids` and `encode(text, false)` equals
//! `add_special_tokens=False`.
//!
//! Where transformers would invent a token the vocabulary lacks (a class-default special token such
//! as GPT-2's `<|endoftext|>` in a Llama 3 file), we do not: such an id would index past the
//! embedding matrix. Everything else follows transformers, quirks included.

use std::collections::{HashMap, HashSet};

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::{Template, TemplateProcessing};
use tokenizers::{
    AddedToken, DecoderWrapper, Model, NormalizerWrapper, PreTokenizerWrapper,
    SplitDelimiterBehavior, Tokenizer,
};

use crate::{Error, Result};

/// llama.cpp token types (`tokenizer.ggml.token_type`).
const TOKEN_TYPE_CONTROL: i64 = 3;
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// SentencePiece's word-boundary marker.
const SPIECE: char = '\u{2581}';

/// Build the tokenizer a GGUF file describes, identical to what transformers 5.x builds from it.
///
/// Reads `tokenizer.ggml.model`, `.tokens`, `.token_type`, `.scores`, `.merges`, `.pre`,
/// `.bos_token_id`, `.eos_token_id`, `.unknown_token_id`, `.padding_token_id`, `.add_bos_token`,
/// `.add_eos_token` and `general.architecture`. Building Gemma 3's 262144-token vocabulary (and
/// deriving its ~515k merges) takes a fraction of a second in release builds.
///
/// # Errors
/// * [`Error::Config`] when a required key (`tokenizer.ggml.model`, `tokenizer.ggml.tokens`, the
///   merges of a `gpt2` vocabulary, the scores of a `llama` one without merges) is missing, has the
///   wrong type, or is inconsistent (arrays of different lengths, a merge not of the form `"a b"`
///   over known tokens, a special token id out of range).
/// * [`Error::Tokenizer`] for a tokenizer model other than `gpt2` and `llama`.
///
/// # Example
/// ```no_run
/// use candle_core::quantized::gguf_file;
/// use entroscope::model::tokenizer_from_gguf;
/// use entroscope::Error;
///
/// let path = "gemma-3-270m-q4_k_m.gguf";
/// let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
/// // Buffered: the metadata is read value by value (262144 token strings for Gemma).
/// let content = gguf_file::Content::read(&mut std::io::BufReader::new(file))?;
/// let tokenizer = tokenizer_from_gguf(&content)?;
/// let ids = tokenizer.encode("Hello world", true)?.get_ids().to_vec();
/// assert_eq!(ids, [2, 9259, 1902]); // <bos> Hello ▁world
/// # Ok::<(), Error>(())
/// ```
pub fn tokenizer_from_gguf(content: &Content) -> Result<Tokenizer> {
    build(&Meta(&content.metadata))
}

// ---------------------------------------------------------------------------------------------
// Metadata access: typed, never panicking, never dumping a 262144-element array into a message.
// ---------------------------------------------------------------------------------------------

struct Meta<'a>(&'a HashMap<String, Value>);

fn describe(value: &Value) -> String {
    match value {
        Value::Array(items) => match items.first() {
            Some(first) => format!("an array of {} {}", items.len(), describe(first)),
            None => "an empty array".to_string(),
        },
        other => format!("{:?}", other.value_type()),
    }
}

fn bad_type(key: &str, expected: &str, found: &Value) -> Error {
    Error::Config {
        key: key.to_string(),
        detail: format!(
            "expected {expected}, found {}; the GGUF file is malformed, re-export or re-download it",
            describe(found)
        ),
    }
}

fn missing(key: &str, why: &str) -> Error {
    Error::Config {
        key: key.to_string(),
        detail: format!("missing from the GGUF metadata ({why}); the file carries no usable tokenizer, load the model's tokenizer.json from its Hugging Face repo instead"),
    }
}

fn as_int(value: &Value) -> Option<i64> {
    match *value {
        Value::U8(v) => Some(v.into()),
        Value::I8(v) => Some(v.into()),
        Value::U16(v) => Some(v.into()),
        Value::I16(v) => Some(v.into()),
        Value::U32(v) => Some(v.into()),
        Value::I32(v) => Some(v.into()),
        Value::U64(v) => i64::try_from(v).ok(),
        Value::I64(v) => Some(v),
        _ => None,
    }
}

impl Meta<'_> {
    fn string(&self, key: &str) -> Result<Option<&str>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(bad_type(key, "a string", other)),
        }
    }

    /// A token id or count: any integer type, non-negative and within `u32`.
    fn id(&self, key: &str) -> Result<Option<u32>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(value) => as_int(value)
                .and_then(|v| u32::try_from(v).ok())
                .map(Some)
                .ok_or_else(|| bad_type(key, "a non-negative integer", value)),
        }
    }

    /// A flag; integers are read as C truthiness, like Python's `bool(...)` would.
    fn flag(&self, key: &str) -> Result<Option<bool>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(value) => as_int(value)
                .map(|v| Some(v != 0))
                .ok_or_else(|| bad_type(key, "a bool", value)),
        }
    }

    fn array(&self, key: &str, expected: &str) -> Result<Option<&[Value]>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items.as_slice())),
            Some(other) => Err(bad_type(key, expected, other)),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<&str>>> {
        const WHAT: &str = "an array of strings";
        let Some(items) = self.array(key, WHAT)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(bad_type(key, WHAT, &Value::Array(vec![other.clone()]))),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    fn ints(&self, key: &str) -> Result<Option<Vec<i64>>> {
        const WHAT: &str = "an array of integers";
        let Some(items) = self.array(key, WHAT)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| as_int(v).ok_or_else(|| bad_type(key, WHAT, &Value::Array(vec![v.clone()]))))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    fn floats(&self, key: &str) -> Result<Option<Vec<f64>>> {
        const WHAT: &str = "an array of floats";
        let Some(items) = self.array(key, WHAT)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| match *v {
                Value::F32(x) => Ok(f64::from(x)),
                Value::F64(x) => Ok(x),
                ref other => as_int(other)
                    .map(|i| i as f64)
                    .ok_or_else(|| bad_type(key, WHAT, &Value::Array(vec![other.clone()]))),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}

// ---------------------------------------------------------------------------------------------
// The tokenizer schemes (not the model families of `model::families`).
// ---------------------------------------------------------------------------------------------

/// Which transformers builder a file maps to (`select_tokenizer_builder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// `gpt2`: `GPT2Tokenizer`, byte-level BPE.
    ByteLevel,
    /// `llama` in general: `LlamaTokenizer`, Metaspace with a prefix `▁` on the first word.
    Llama,
    /// `llama` with architecture `phi3`: the prefix and the spaces come from a normalizer.
    Phi3,
    /// `llama` with architecture `gemma`, `gemma2` or `gemma3`: `GemmaTokenizer`.
    Gemma,
}

impl Scheme {
    /// The special tokens the transformers class adds by default (when the vocabulary has them).
    fn class_defaults(self) -> &'static [&'static str] {
        match self {
            Scheme::ByteLevel => &["<|endoftext|>"],
            Scheme::Llama | Scheme::Phi3 => &["<unk>", "<s>", "</s>"],
            Scheme::Gemma => &["<unk>", "<bos>", "<eos>", "<pad>", "<mask>"],
        }
    }
}

const KEY_MODEL: &str = "tokenizer.ggml.model";
const KEY_TOKENS: &str = "tokenizer.ggml.tokens";
const KEY_TYPES: &str = "tokenizer.ggml.token_type";
const KEY_SCORES: &str = "tokenizer.ggml.scores";
const KEY_MERGES: &str = "tokenizer.ggml.merges";

fn build(meta: &Meta) -> Result<Tokenizer> {
    let model_type = meta.string(KEY_MODEL)?.ok_or_else(|| {
        missing(
            KEY_MODEL,
            "it says which tokenizer the vocabulary belongs to",
        )
    })?;
    let architecture = meta.string("general.architecture")?.unwrap_or("");
    let family = match (model_type, architecture) {
        ("gpt2", _) => Scheme::ByteLevel,
        ("llama", "gemma" | "gemma2" | "gemma3") => Scheme::Gemma,
        ("llama", "phi3") => Scheme::Phi3,
        ("llama", _) => Scheme::Llama,
        (other, _) => {
            return Err(Error::Tokenizer(format!(
                "GGUF tokenizer model `{other}` is not supported (supported: gpt2, llama); \
                 pass the model's Hugging Face directory or hub id so its tokenizer.json is used"
            )))
        }
    };

    let tokens = meta
        .strings(KEY_TOKENS)?
        .ok_or_else(|| missing(KEY_TOKENS, "the vocabulary"))?;
    if tokens.is_empty() {
        return Err(Error::Config {
            key: KEY_TOKENS.into(),
            detail: "the vocabulary is empty; the GGUF file is malformed".into(),
        });
    }
    if u32::try_from(tokens.len()).is_err() {
        return Err(Error::Config {
            key: KEY_TOKENS.into(),
            detail: format!("{} tokens do not fit u32 ids", tokens.len()),
        });
    }
    let same_length = |key: &str, len: usize| -> Result<()> {
        if len == tokens.len() {
            Ok(())
        } else {
            Err(Error::Config {
                key: key.to_string(),
                detail: format!(
                    "has {len} entries but {KEY_TOKENS} has {}; the GGUF file is malformed",
                    tokens.len()
                ),
            })
        }
    };
    let token_types = meta.ints(KEY_TYPES)?;
    if let Some(t) = &token_types {
        same_length(KEY_TYPES, t.len())?;
    }
    let scores = meta.floats(KEY_SCORES)?;
    if let Some(s) = &scores {
        same_length(KEY_SCORES, s.len())?;
    }
    let merges = meta.strings(KEY_MERGES)?;

    let mut tokenizer = match family {
        Scheme::ByteLevel => {
            let merges = merges.ok_or_else(|| {
                missing(KEY_MERGES, "a byte-level BPE vocabulary needs its merges")
            })?;
            byte_level_tokenizer(&tokens, &merges, meta.string("tokenizer.ggml.pre")?)?
        }
        Scheme::Llama | Scheme::Phi3 | Scheme::Gemma => {
            sentencepiece_tokenizer(family, &tokens, scores.as_deref(), merges.as_deref())?
        }
    };

    add_special_tokens(
        &mut tokenizer,
        family,
        &tokens,
        token_types.as_deref(),
        meta,
    )?;
    set_post_processor(&mut tokenizer, family, &tokens, meta)?;
    Ok(tokenizer)
}

// ---------------------------------------------------------------------------------------------
// gpt2: byte-level BPE.
// ---------------------------------------------------------------------------------------------

/// GPT-2's printable spelling of every byte (`bytes_to_unicode` in transformers).
fn byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for (byte, slot) in (0u32..).zip(table.iter_mut()) {
        let code = if is_printable_byte(byte) {
            byte
        } else {
            extra += 1;
            255 + extra
        };
        *slot = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
    }
    table
}

fn is_printable_byte(b: u32) -> bool {
    (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b)
}

/// Whether `c` is one of the 256 characters of the byte-level alphabet.
fn in_byte_alphabet(c: char) -> bool {
    let u = c as u32;
    is_printable_byte(u) || (256..256 + 68).contains(&u)
}

/// Split regexes by `tokenizer.ggml.pre` (`GGUF_PRE_TOKENIZER_SPLITS`); others keep GPT-2's.
fn pre_split_regex(pre: &str) -> Option<&'static str> {
    const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const TEKKEN: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const GPT4O: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const QWEN2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const QWEN35: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    Some(match pre {
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" | "dbrx" | "smaug-bpe" => LLAMA3,
        "tekken" => TEKKEN,
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" => QWEN2,
        "qwen35" => QWEN35,
        "gpt-4o" | "llama4" | "kanana2" | "talkie" | "minimax-m2" => GPT4O,
        _ => return None,
    })
}

fn byte_level_tokenizer(tokens: &[&str], merges: &[&str], pre: Option<&str>) -> Result<Tokenizer> {
    let spelling = byte_to_char();
    let respell = |t: &str| -> String {
        if t.chars().all(in_byte_alphabet) {
            t.to_string()
        } else {
            t.bytes().map(|b| spelling[usize::from(b)]).collect()
        }
    };
    // A Python dict comprehension: the last of duplicate spellings wins.
    let vocab: Vocab = (0u32..)
        .zip(tokens)
        .map(|(id, t)| (respell(t), id))
        .collect();
    let pairs = merges
        .iter()
        .enumerate()
        .map(|(i, m)| parse_merge(i, m, &vocab))
        .collect::<Result<Vec<_>>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, pairs)
        .continuing_subword_prefix(String::new())
        .end_of_word_suffix(String::new())
        .fuse_unk(false)
        .build()?;

    let mut tokenizer = Tokenizer::new(bpe);
    let pre_tokenizer: PreTokenizerWrapper = match pre.and_then(pre_split_regex) {
        Some(regex) => PreTokenizerSequence::new(vec![
            Split::new(
                SplitPattern::Regex(regex.to_string()),
                SplitDelimiterBehavior::Isolated,
                false,
            )?
            .into(),
            ByteLevel::new(false, true, false).into(),
        ])
        .into(),
        None => ByteLevel::new(false, true, true).into(),
    };
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    Ok(tokenizer)
}

/// One merge of the file, `"a b"`, checked so that the BPE builder cannot fail or panic on it.
fn parse_merge(index: usize, merge: &str, vocab: &Vocab) -> Result<(String, String)> {
    let bad = |why: &str| {
        let shown: String = merge.chars().take(80).collect();
        Error::Config {
            key: KEY_MERGES.into(),
            detail: format!("merge {index} `{shown}` {why}; the GGUF file is malformed"),
        }
    };
    let mut parts = merge.split(' ');
    let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("is not of the form \"a b\""));
    };
    if !vocab.contains_key(a) || !vocab.contains_key(b) {
        return Err(bad("names a token that is not in the vocabulary"));
    }
    if !vocab.contains_key(&format!("{a}{b}")) {
        return Err(bad("merges into a token that is not in the vocabulary"));
    }
    Ok((a.to_string(), b.to_string()))
}

// ---------------------------------------------------------------------------------------------
// llama: SentencePiece-style BPE with byte fallback.
// ---------------------------------------------------------------------------------------------

/// Python's `str.isspace` (Rust's `is_whitespace` lacks the separators U+001C..U+001F).
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn sentencepiece_tokenizer(
    family: Scheme,
    tokens: &[&str],
    scores: Option<&[f64]>,
    merges: Option<&[&str]>,
) -> Result<Tokenizer> {
    // Gemma stores a token of spaces as real spaces but looks it up as `▁`s (transformers'
    // `gemma_tokenizer`); its test is `" " in t and not t.strip()`, so a token of spaces and
    // newlines is respelled too, one `▁` per character.
    let spelled: Vec<String> = tokens
        .iter()
        .map(|t| {
            if family == Scheme::Gemma && t.contains(' ') && t.chars().all(py_isspace) {
                std::iter::repeat_n(SPIECE, t.chars().count()).collect()
            } else {
                t.to_string()
            }
        })
        .collect();
    let vocab: Vocab = (0u32..)
        .zip(&spelled)
        .map(|(id, t)| (t.clone(), id))
        .collect();

    let pairs = match merges {
        Some(merges) => merges
            .iter()
            .enumerate()
            .map(|(i, m)| parse_merge(i, m, &vocab))
            .collect::<Result<Vec<_>>>()?,
        None if family == Scheme::Gemma => {
            // Gemma's scores do not follow its merge order; the file order does.
            derive_merges(&spelled, &vocab, |id| -(id as f64))
        }
        None => {
            let scores = scores.ok_or_else(|| {
                missing(
                    KEY_SCORES,
                    "a sentencepiece vocabulary without merges needs scores to order them",
                )
            })?;
            derive_merges(&spelled, &vocab, |id| {
                scores.get(id).copied().unwrap_or(f64::NAN)
            })
        }
    };

    let mut builder = BPE::builder()
        .vocab_and_merges(vocab, pairs)
        .fuse_unk(true)
        .byte_fallback(true);
    if family == Scheme::Gemma {
        builder = builder.unk_token("<unk>".to_string());
    }
    let mut tokenizer = Tokenizer::new(builder.build()?);

    let replace_marker = Replace::new(SPIECE.to_string(), " ")?;
    let mut decoders: Vec<DecoderWrapper> = vec![
        replace_marker.into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    match family {
        Scheme::Gemma => {
            let normalizer: NormalizerWrapper = Replace::new(" ", SPIECE.to_string())?.into();
            tokenizer.with_normalizer(Some(normalizer))?;
            let split = Split::new(
                SplitPattern::String(" ".into()),
                SplitDelimiterBehavior::MergedWithPrevious,
                false,
            )?;
            tokenizer.with_pre_tokenizer(Some(split));
        }
        Scheme::Phi3 => {
            let normalizer = NormalizerSequence::new(vec![
                Prepend::new(SPIECE.to_string()).into(),
                Replace::new(" ", SPIECE.to_string())?.into(),
            ]);
            tokenizer.with_normalizer(Some(normalizer))?;
            decoders.push(Strip::new(' ', 1, 0).into());
        }
        Scheme::Llama | Scheme::ByteLevel => {
            let metaspace = Metaspace::new(SPIECE, PrependScheme::First, false);
            tokenizer.with_pre_tokenizer(Some(metaspace));
            decoders.push(Strip::new(' ', 1, 0).into());
        }
    }
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tokenizer)
}

/// Merges implied by a vocabulary without any (transformers' `generate_merges`): every split of a
/// token into two tokens, best first by the token's score, then longer left part, then longer
/// right part (lengths in characters); ties keep the order of first appearance. `vocab` maps each
/// spelling to its id, the last of duplicates as in a Python dict, and that id gives the score.
fn derive_merges<'a>(
    tokens: &'a [String],
    vocab: &Vocab,
    score_of_id: impl Fn(usize) -> f64,
) -> Vec<(String, String)> {
    struct Candidate<'a> {
        score: f64,
        left_chars: usize,
        right_chars: usize,
        left: &'a str,
        right: &'a str,
    }
    // Distinct tokens in order of first appearance (all of them when there are no duplicates).
    let first: Vec<bool> = if vocab.len() == tokens.len() {
        vec![true; tokens.len()]
    } else {
        let mut seen = HashSet::new();
        tokens.iter().map(|t| seen.insert(t.as_str())).collect()
    };
    // The splits of one token, longest left part first (the order the sort below wants, so
    // presorted input stays cheap).
    let splits = |token: &'a String| {
        let Some(&id) = vocab.get(token.as_str()) else {
            return Vec::new();
        };
        let score = score_of_id(id as usize);
        let boundaries: Vec<usize> = token.char_indices().map(|(byte, _)| byte).skip(1).collect();
        let total_chars = boundaries.len() + 1;
        let mut out = Vec::new();
        for (i, &byte) in boundaries.iter().enumerate().rev() {
            let (left, right) = token.split_at(byte);
            if vocab.contains_key(left) && vocab.contains_key(right) {
                out.push(Candidate {
                    score,
                    left_chars: i + 1,
                    right_chars: total_chars - (i + 1),
                    left,
                    right,
                });
            }
        }
        out
    };
    let mut candidates: Vec<Candidate> = tokens
        .iter()
        .zip(&first)
        .filter(|(_, &first)| first)
        .flat_map(|(token, _)| splits(token))
        .collect();
    // Stable and descending, like Python's `sorted(..., reverse=True)`.
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.left_chars.cmp(&a.left_chars))
            .then(b.right_chars.cmp(&a.right_chars))
    });
    candidates
        .into_iter()
        .map(|c| (c.left.to_string(), c.right.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Added tokens and the post-processor.
// ---------------------------------------------------------------------------------------------

/// The token a `tokenizer.ggml.*_token_id` key names, if the key is there.
fn named_token<'t>(meta: &Meta, key: &str, tokens: &[&'t str]) -> Result<Option<&'t str>> {
    let Some(id) = meta.id(key)? else {
        return Ok(None);
    };
    match tokens.get(id as usize) {
        Some(t) => Ok(Some(*t)),
        None => Err(Error::Config {
            key: key.to_string(),
            detail: format!(
                "token id {id} is outside the vocabulary ({} tokens); the GGUF file is malformed",
                tokens.len()
            ),
        }),
    }
}

const KEY_BOS: &str = "tokenizer.ggml.bos_token_id";
const KEY_EOS: &str = "tokenizer.ggml.eos_token_id";
const KEY_UNK: &str = "tokenizer.ggml.unknown_token_id";
const KEY_PAD: &str = "tokenizer.ggml.padding_token_id";

/// Same order as transformers: the class's default special tokens, the control tokens, the
/// user-defined tokens, then the special tokens the file names.
fn add_special_tokens(
    tokenizer: &mut Tokenizer,
    family: Scheme,
    tokens: &[&str],
    token_types: Option<&[i64]>,
    meta: &Meta,
) -> Result<()> {
    let in_model = |tokenizer: &Tokenizer, t: &str| tokenizer.get_model().token_to_id(t).is_some();

    let defaults: Vec<AddedToken> = family
        .class_defaults()
        .iter()
        .filter(|t| in_model(tokenizer, t))
        .map(|t| AddedToken::from(*t, true))
        .collect();
    tokenizer.add_special_tokens(defaults)?;

    if let Some(types) = token_types {
        // In a byte-level vocabulary every real token is spelled in the byte alphabet; a control
        // token that is not is a llama.cpp mislabel, and transformers skips it.
        let control: Vec<&str> = tokens
            .iter()
            .zip(types)
            .filter(|&(t, &ty)| {
                ty == TOKEN_TYPE_CONTROL
                    && (family != Scheme::ByteLevel || t.chars().all(in_byte_alphabet))
            })
            .map(|(t, _)| *t)
            .collect();
        let control_set: HashSet<&str> = control.iter().copied().collect();
        tokenizer.add_special_tokens(control.iter().map(|t| AddedToken::from(*t, true)))?;

        let user_defined: Vec<AddedToken> = tokens
            .iter()
            .zip(types)
            .filter(|&(t, &ty)| {
                ty == TOKEN_TYPE_USER_DEFINED && (control_set.contains(t) || in_model(tokenizer, t))
            })
            .map(|(t, _)| AddedToken::from(*t, false).normalized(false))
            .collect();
        tokenizer.add_tokens(user_defined)?;
    }

    let mut named = Vec::new();
    for key in [KEY_BOS, KEY_EOS, KEY_UNK, KEY_PAD] {
        if let Some(t) = named_token(meta, key, tokens)? {
            if in_model(tokenizer, t) && !tokenizer.get_added_vocabulary().is_special_token(t) {
                named.push(AddedToken::from(t, true));
            }
        }
    }
    tokenizer.add_special_tokens(named)?;
    Ok(())
}

/// `TemplateProcessing` adding BOS / EOS as transformers' `update_post_processor` does:
/// single `[bos] $A [eos]`, pair `[bos] $A [eos] [bos] $B [eos]` (type id 1 for the second).
fn set_post_processor(
    tokenizer: &mut Tokenizer,
    family: Scheme,
    tokens: &[&str],
    meta: &Meta,
) -> Result<()> {
    let sentencepiece = family != Scheme::ByteLevel;
    // Older llama files have no flag, and llama.cpp adds BOS to a sentencepiece vocabulary then.
    let add_bos = meta
        .flag("tokenizer.ggml.add_bos_token")?
        .unwrap_or(sentencepiece);
    let add_eos = meta.flag("tokenizer.ggml.add_eos_token")?.unwrap_or(false);
    // Like transformers, a flag without its token is dropped.
    let bos = if add_bos {
        named_token(meta, KEY_BOS, tokens)?
    } else {
        None
    };
    let eos = if add_eos {
        named_token(meta, KEY_EOS, tokens)?
    } else {
        None
    };

    let mut special_tokens = Vec::new();
    for (key, token) in [(KEY_BOS, bos), (KEY_EOS, eos)] {
        if let Some(t) = token {
            let id = tokenizer.token_to_id(t).ok_or_else(|| Error::Config {
                key: key.to_string(),
                detail: format!("token `{t}` is not in the vocabulary as built"),
            })?;
            special_tokens.push((t, id));
        }
    }
    let special =
        |t: &str, type_id: u32| serde_json::json!({"SpecialToken": {"id": t, "type_id": type_id}});
    let sequence =
        |s: &str, type_id: u32| serde_json::json!({"Sequence": {"id": s, "type_id": type_id}});
    let mut single = Vec::new();
    let mut pair = Vec::new();
    for (seq, type_id) in [("A", 0), ("B", 1)] {
        let mut part = Vec::new();
        if let Some(t) = bos {
            part.push(special(t, type_id));
        }
        part.push(sequence(seq, type_id));
        if let Some(t) = eos {
            part.push(special(t, type_id));
        }
        if seq == "A" {
            single.clone_from(&part);
        }
        pair.extend(part);
    }
    let template = |pieces: Vec<serde_json::Value>| -> Result<Template> {
        Ok(serde_json::from_value(serde_json::Value::Array(pieces))?)
    };
    let processor = TemplateProcessing::builder()
        .single(template(single)?)
        .pair(template(pair)?)
        .special_tokens(special_tokens)
        .build()
        .map_err(|e| Error::Tokenizer(format!("cannot build the BOS/EOS post-processor: {e}")))?;
    tokenizer.with_post_processor(Some(processor));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::gguf_file::VersionedMagic;

    fn content(entries: Vec<(&str, Value)>) -> Content {
        Content {
            magic: VersionedMagic::GgufV3,
            metadata: entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            tensor_infos: HashMap::new(),
            tensor_data_offset: 0,
        }
    }

    fn strs(items: &[&str]) -> Value {
        Value::Array(items.iter().map(|s| Value::String(s.to_string())).collect())
    }

    fn i32s(items: &[i32]) -> Value {
        Value::Array(items.iter().map(|&i| Value::I32(i)).collect())
    }

    fn f32s(items: &[f32]) -> Value {
        Value::Array(items.iter().map(|&f| Value::F32(f)).collect())
    }

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    /// A tiny GPT-2 style vocabulary: bytes `a`, `b`, `Ġ` (space), merges `a b` then `Ġ ab`.
    fn tiny_gpt2() -> Vec<(&'static str, Value)> {
        vec![
            (KEY_MODEL, s("gpt2")),
            (
                KEY_TOKENS,
                strs(&["<|endoftext|>", "a", "b", "Ġ", "ab", "Ġab"]),
            ),
            (KEY_TYPES, i32s(&[3, 1, 1, 1, 1, 1])),
            (KEY_MERGES, strs(&["a b", "Ġ ab"])),
            (KEY_BOS, Value::U32(0)),
            (KEY_EOS, Value::U32(0)),
        ]
    }

    fn config_key(result: Result<Tokenizer>) -> String {
        match result {
            Err(Error::Config { key, .. }) => key,
            Err(other) => panic!("expected Error::Config, got {other}"), // ok: test-only
            Ok(_) => panic!("expected Error::Config, got a tokenizer"),  // ok: test-only
        }
    }

    fn ids(tokenizer: &Tokenizer, text: &str, add_special: bool) -> Vec<u32> {
        tokenizer
            .encode(text, add_special)
            .expect("encode") // ok: test-only
            .get_ids()
            .to_vec()
    }

    #[test]
    fn tiny_gpt2_encodes_by_merges() {
        let tokenizer = tokenizer_from_gguf(&content(tiny_gpt2())).expect("build"); // ok: test-only
                                                                                    // "ab ab": pre-tokenized "ab" | "Ġab"; merges a+b -> ab (4), Ġ+ab -> Ġab (5).
        assert_eq!(ids(&tokenizer, "ab ab", true), [4, 5]);
        // The control token stays whole; no BOS (the flag is absent for gpt2).
        assert_eq!(ids(&tokenizer, "ab<|endoftext|>b", true), [4, 0, 2]);
        let decoded = tokenizer.decode(&[4, 5, 0], false).expect("decode"); // ok: test-only
        assert_eq!(decoded, "ab ab<|endoftext|>");
        let skipped = tokenizer.decode(&[4, 5, 0], true).expect("decode"); // ok: test-only
        assert_eq!(skipped, "ab ab");
        // ok: test-only
    }

    #[test]
    fn tiny_llama_derives_merges_from_scores_and_adds_bos() {
        // Tokens: <unk> <s> </s> ▁ a b ab ▁ab ; scores make "ab" (-1) beat "▁ab" (-2).
        let tokenizer = tokenizer_from_gguf(&content(vec![
            (KEY_MODEL, s("llama")),
            (
                KEY_TOKENS,
                strs(&["<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁ab"]),
            ),
            (
                KEY_SCORES,
                f32s(&[0.0, 0.0, 0.0, -5.0, -6.0, -7.0, -1.0, -2.0]),
            ),
            (KEY_TYPES, i32s(&[2, 3, 3, 1, 1, 1, 1, 1])),
            (KEY_BOS, Value::U32(1)),
            (KEY_EOS, Value::U32(2)),
            (KEY_UNK, Value::U32(0)),
        ]))
        .expect("build"); // ok: test-only
                          // Metaspace prepends ▁ to the first word: "▁ab" -> ▁ a b -> ▁ ab -> ▁ab ; BOS by default.
        assert_eq!(ids(&tokenizer, "ab", true), [1, 7]);
        assert_eq!(ids(&tokenizer, "ab", false), [7]);
        assert_eq!(tokenizer.decode(&[1, 7], true).expect("decode"), "ab"); // ok: test-only
                                                                            // A lone token's text keeps the space its ▁ stands for (the decoder's Strip drops it).
        assert_eq!(tokenizer.decode(&[7], false).expect("decode"), "ab"); // ok: test-only
        assert_eq!(crate::model::token_text(&tokenizer, 7), " ab");
        assert_eq!(crate::model::token_text(&tokenizer, 4), "a");
    }

    #[test]
    fn derive_merges_orders_like_transformers() {
        // Hand-derived from `generate_merges`: token "abc" (score -1) splits as (ab, c) and
        // (a, bc), longer left first; "ab" (score -2) then "bc" (score -3).
        let tokens: Vec<String> = ["a", "b", "c", "ab", "bc", "abc"]
            .map(String::from)
            .to_vec();
        let scores = [0.0, 0.0, 0.0, -2.0, -3.0, -1.0];
        let vocab: Vocab = (0u32..)
            .zip(&tokens)
            .map(|(id, t)| (t.clone(), id))
            .collect();
        let merges = derive_merges(&tokens, &vocab, |i| scores[i]);
        let expect = [("ab", "c"), ("a", "bc"), ("a", "b"), ("b", "c")];
        let got: Vec<(&str, &str)> = merges
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn missing_tokens_is_a_config_error() {
        let mut entries = tiny_gpt2();
        entries.retain(|(k, _)| *k != KEY_TOKENS);
        assert_eq!(
            config_key(tokenizer_from_gguf(&content(entries))),
            KEY_TOKENS
        );
    }

    #[test]
    fn missing_model_is_a_config_error() {
        let mut entries = tiny_gpt2();
        entries.retain(|(k, _)| *k != KEY_MODEL);
        assert_eq!(
            config_key(tokenizer_from_gguf(&content(entries))),
            KEY_MODEL
        );
    }

    #[test]
    fn unknown_model_is_a_tokenizer_error() {
        let mut entries = tiny_gpt2();
        entries[0] = (KEY_MODEL, s("rwkv"));
        match tokenizer_from_gguf(&content(entries)) {
            Err(Error::Tokenizer(msg)) => assert!(msg.contains("rwkv"), "{msg}"),
            Err(other) => panic!("expected Error::Tokenizer, got {other}"), // ok: test-only
            Ok(_) => panic!("expected an error"),                           // ok: test-only
        }
    }

    #[test]
    fn wrong_types_are_config_errors() {
        let mut entries = tiny_gpt2();
        entries[1] = (KEY_TOKENS, Value::U32(7));
        assert_eq!(
            config_key(tokenizer_from_gguf(&content(entries))),
            KEY_TOKENS
        );

        let mut entries = tiny_gpt2();
        entries[1] = (KEY_TOKENS, i32s(&[1, 2]));
        assert_eq!(
            config_key(tokenizer_from_gguf(&content(entries))),
            KEY_TOKENS
        );

        let mut entries = tiny_gpt2();
        entries[0] = (KEY_MODEL, Value::Bool(true));
        assert_eq!(
            config_key(tokenizer_from_gguf(&content(entries))),
            KEY_MODEL
        );

        let mut entries = tiny_gpt2();
        entries.push((KEY_BOS, s("zero")));
        assert_eq!(config_key(tokenizer_from_gguf(&content(entries))), KEY_BOS);
    }

    #[test]
    fn mismatched_lengths_are_config_errors() {
        let mut entries = tiny_gpt2();
        entries[2] = (KEY_TYPES, i32s(&[3, 1]));
        assert_eq!(
            config_key(tokenizer_from_gguf(&content(entries))),
            KEY_TYPES
        );

        let llama = vec![
            (KEY_MODEL, s("llama")),
            (KEY_TOKENS, strs(&["<unk>", "a"])),
            (KEY_SCORES, f32s(&[0.0])),
        ];
        assert_eq!(config_key(tokenizer_from_gguf(&content(llama))), KEY_SCORES);
    }

    #[test]
    fn malformed_merges_are_config_errors() {
        // Not "a b"; unknown part; a merge whose result is not a token (the BPE builder would
        // otherwise index past its buffer).
        for bad in ["ab", "a b c", "a x", "Ġ b"] {
            let mut entries = tiny_gpt2();
            entries[3] = (KEY_MERGES, strs(&["a b", bad]));
            assert_eq!(
                config_key(tokenizer_from_gguf(&content(entries))),
                KEY_MERGES,
                "merge {bad:?}"
            );
        }
        let mut entries = tiny_gpt2();
        entries.retain(|(k, _)| *k != KEY_MERGES);
        assert_eq!(
            config_key(tokenizer_from_gguf(&content(entries))),
            KEY_MERGES
        );
    }

    #[test]
    fn special_token_id_out_of_range_is_a_config_error() {
        let mut entries = tiny_gpt2();
        entries[4] = (KEY_BOS, Value::U32(99));
        entries.push(("tokenizer.ggml.add_bos_token", Value::Bool(true)));
        assert_eq!(config_key(tokenizer_from_gguf(&content(entries))), KEY_BOS);
    }

    #[test]
    fn sentencepiece_without_scores_or_merges_is_a_config_error() {
        let llama = vec![(KEY_MODEL, s("llama")), (KEY_TOKENS, strs(&["<unk>", "a"]))];
        assert_eq!(config_key(tokenizer_from_gguf(&content(llama))), KEY_SCORES);
    }

    #[test]
    fn byte_alphabet_matches_gpt2() {
        let table = byte_to_char();
        assert_eq!(table[b' ' as usize], 'Ġ');
        assert_eq!(table[b'\n' as usize], 'Ċ');
        assert_eq!(table[b'A' as usize], 'A');
        let distinct: HashSet<char> = table.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
        assert!(table.iter().all(|&c| in_byte_alphabet(c)));
        assert!(!in_byte_alphabet(' ') && !in_byte_alphabet('\u{144}'));
    }
}
