//! Prompt files, shards of a run over them, and the tidy profile table of a run.
//!
//! A researcher's prompts live in a file: [`load_prompts`] reads four formats, chosen by the
//! extension, into [`Prompt`]s (an id, the text, an optional label):
//!
//! | extension  | layout                                                   | default id           |
//! |------------|----------------------------------------------------------|----------------------|
//! | `.txt`     | one prompt per line; blank lines skipped                 | 0-based line number  |
//! | `.jsonl`   | one JSON object per line: `{"text": …, "id": …, "label": …}` | 0-based record index |
//! | `.csv`     | a `text` column, optional `id` and `label` columns       | 0-based row index    |
//! | `.parquet` | the same columns                                         | 0-based row index    |
//!
//! JSON Lines is the format for prompts that span lines (code, dialogues): JSON escapes the
//! newlines, so one record stays one line. CSV and Parquet are read by polars
//! ([`frame::read_csv_text`], [`frame::read_parquet`]); rows whose text is empty are skipped like
//! blank lines. A bad file is an [`Error::PromptFile`] whose [`PromptFileError`] says what to fix.
//!
//! A long run is split into [`Shard`]s (`--shard i/n`: prompt `k` belongs to shard `k % n + 1`),
//! each written as `part-i-of-n.parquet`; [`merge_parts`] joins the parts back into the table an
//! unsharded run writes. [`profile_prompts`] is the run itself: the profile frame of
//! [`ToFrame`] with the prompt's id and label as two more columns ([`PROMPT`], [`LABEL`]).
//!
//! ```no_run
//! use entroscope::data::{load_prompts, merge_parts, profile_prompts, Shard};
//! use entroscope::prelude::*;
//! # fn main() -> entroscope::Result<()> {
//! let prompts = load_prompts("prompts.jsonl")?;
//! let lm = Lm::load(&entroscope::model::default_model_path())?;
//! let shard = Shard::parse("2/3")?; // prompts 1, 4, 7, …
//! let df = profile_prompts(&lm, &LogitLens::normed(), &[Metric::Shannon], &shard.select(&prompts), false)?;
//! entroscope::frame::write_parquet(&df, format!("parts/{}", shard.file_name()))?;
//! // … once every shard has run:
//! let all = merge_parts("parts")?;
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use polars::prelude::{Column, DataFrame, DataType, IdxCa, IdxSize, NamedFrom};

use crate::entropy::Metric;
use crate::frame::{self, ToFrame};
use crate::hook::NoHook;
use crate::lens::{LogitLens, Targets};
use crate::model::Lm;
use crate::profile::LayerProfile;
use crate::trace::CaptureSpec;
use crate::{Error, Result};

/// Column `prompt` (str) of [`profile_prompts`]' frame: the prompt's [id](Prompt::id).
pub const PROMPT: &str = "prompt";
/// Column `label` (str, null when the prompt has none) of [`profile_prompts`]' frame.
pub const LABEL: &str = "label";

/// The column holding the prompt text in CSV / Parquet files, and the key in JSON Lines.
const TEXT: &str = "text";
/// The optional id column / key.
const ID: &str = "id";

/// One prompt of a prompt file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The prompt's name: the file's `id` field, else its 0-based line / record / row number.
    pub id: String,
    /// The text given to the model (may hold newlines).
    pub text: String,
    /// An optional class or tag (e.g. `"code"`, `"correct"`), carried into the output table.
    pub label: Option<String>,
}

/// What is wrong with a prompt file (inside [`Error::PromptFile`], which names the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptFileError {
    /// The extension is none of the four formats.
    #[error("unknown prompt-file extension `{extension}`; use .txt (one prompt per line), .jsonl (one {{\"text\": …}} object per line), or .csv / .parquet with a `text` column")]
    UnknownFormat {
        /// The extension found (empty when there is none).
        extension: String,
    },
    /// A CSV / Parquet file without a `text` column.
    #[error("no `text` column (columns: {}); name the column that holds the prompts `text`", .columns.join(", "))]
    NoTextColumn {
        /// The columns the file has.
        columns: Vec<String>,
    },
    /// A column has a type that cannot hold what it should (e.g. a numeric `text` column).
    #[error("column `{column}` has type {dtype}; store it as text")]
    BadColumn {
        /// The column's name.
        column: String,
        /// Its polars type.
        dtype: String,
    },
    /// A JSON Lines record that is not an object with a non-empty string `text`.
    #[error("line {line}: {detail}; write one object per line, e.g. {{\"text\": \"…\", \"id\": \"q1\", \"label\": \"yes\"}}")]
    BadJsonLine {
        /// 1-based line number in the file.
        line: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// A CSV file polars cannot parse (a row with more fields than the header, an open quote).
    #[error("not valid CSV ({detail}); quote fields that hold commas, quotes or newlines, e.g. \"a, b\"")]
    BadCsv {
        /// polars' message.
        detail: String,
    },
    /// A Parquet file polars cannot read (truncated, or pages that contradict its footer).
    #[error("not a readable Parquet file ({detail}); write it again, e.g. with polars or pandas")]
    BadParquet {
        /// What the reader found wrong.
        detail: String,
    },
    /// Two prompts share an id (the output table's `prompt` column would be ambiguous).
    #[error("id `{id}` is used twice; give every prompt its own id")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// The file holds no prompt (empty, only blank lines, or only empty texts).
    #[error("no prompts (no non-empty line, record or row); write one prompt per line, or per row of a `text` column")]
    Empty,
}

/// The four prompt-file formats, chosen by the extension (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Txt,
    Jsonl,
    Csv,
    Parquet,
}

impl Format {
    fn of(path: &Path) -> std::result::Result<Self, PromptFileError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "txt" => Ok(Format::Txt),
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            "parquet" | "pq" => Ok(Format::Parquet),
            _ => Err(PromptFileError::UnknownFormat { extension: ext }),
        }
    }
}

/// Read the prompts of a `.txt`, `.jsonl`, `.csv` or `.parquet` file (see the [module
/// docs](self) for the layouts), in file order.
///
/// Errors: a missing file is [`Error::FileNotFound`]; a file whose content is wrong is
/// [`Error::PromptFile`] with a [`PromptFileError`] (no `text` column — the columns found are
/// listed —, a JSON line that is not an object with a string `text` — its line number is given —,
/// a CSV polars cannot parse, an id used twice, no prompt at all).
///
/// ```no_run
/// let prompts = entroscope::data::load_prompts("prompts.jsonl")?;
/// println!("{} prompts, the first is {:?}", prompts.len(), prompts[0].id);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn load_prompts(path: impl AsRef<Path>) -> Result<Vec<Prompt>> {
    let path = path.as_ref();
    let bad = |problem| Error::PromptFile {
        path: path.to_path_buf(),
        problem,
    };
    let format = Format::of(path).map_err(bad)?;
    if !path.is_file() {
        return Err(Error::FileNotFound {
            path: path.to_path_buf(),
        });
    }
    let prompts = match format {
        Format::Txt => parse_txt(&read_text(path)?),
        Format::Jsonl => parse_jsonl(&read_text(path)?).map_err(bad)?,
        Format::Csv => {
            if read_text(path)?.trim().is_empty() {
                return Err(bad(PromptFileError::Empty));
            }
            let df = frame::read_csv_text(path).map_err(|e| match e {
                Error::Corrupt { detail, .. } => bad(PromptFileError::BadCsv { detail }),
                e => e,
            })?;
            from_frame(&df).map_err(bad)?
        }
        Format::Parquet => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            check_parquet_pages(bytes)
                .map_err(|detail| bad(PromptFileError::BadParquet { detail }))?;
            let df = frame::read_parquet(path).map_err(|e| match e {
                Error::Corrupt { detail, .. } => bad(PromptFileError::BadParquet { detail }),
                Error::Polars(p) => bad(PromptFileError::BadParquet {
                    detail: p.to_string(),
                }),
                e => e,
            })?;
            from_frame(&df).map_err(bad)?
        }
    };
    check(prompts).map_err(bad)
}

/// The footer's metadata must decode within a budget of a few times its size. polars' metadata
/// reader sizes each list from its declared length, so a footer that claims billions of row
/// groups made it ask for 193 GB and abort (found by fuzzing); the thrift reader of
/// `polars-parquet-format` counts what every list would allocate and stops at the budget.
fn check_parquet_footer(bytes: &[u8]) -> std::result::Result<(), String> {
    use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
    use polars_parquet_format::FileMetaData;
    let n = bytes.len();
    if n < 12 || &bytes[n - 4..] != b"PAR1" {
        return Err("not a Parquet file: it does not end with PAR1".into());
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[n - 8..n - 4]);
    let len = u32::from_le_bytes(len) as usize;
    if len > n - 12 {
        return Err(format!(
            "the footer claims {len} bytes of metadata in a file of {n} bytes"
        ));
    }
    let meta = &bytes[n - 8 - len..n - 8];
    // Every list element is counted at 8 bytes; real footers stay far below 8 × their size.
    let budget = len.saturating_mul(8).saturating_add(1 << 20);
    FileMetaData::read_from_in_protocol(&mut TCompactInputProtocol::new(meta, budget))
        .map(|_| ())
        .map_err(|e| format!("the Parquet footer's metadata is malformed: {e}"))
}

/// Every data page of a prompt file must hold at most its row group's rows (prompt files are
/// flat). polars' decoder trusts a page header's value count and, for a negative one, asks for
/// 2^61 bytes and aborts the process (found by fuzzing), so the headers are read first, after
/// the footer ([`check_parquet_footer`]). The reader itself runs under `catch_unwind`, as
/// [`frame::read_parquet`] does.
fn check_parquet_pages(bytes: Vec<u8>) -> std::result::Result<(), String> {
    check_parquet_footer(&bytes)?;
    use polars_parquet::parquet::page::CompressedPage;
    use polars_parquet::parquet::read::{get_page_iterator, read_metadata};
    use std::io::Cursor;
    let max_page = bytes.len();
    let check = move || -> std::result::Result<(), String> {
        let meta = read_metadata(&mut Cursor::new(&bytes)).map_err(|e| e.to_string())?;
        let buffer = polars_buffer::Buffer::from(bytes);
        for rg in &meta.row_groups {
            let rows = rg.num_rows();
            for col in rg.parquet_columns() {
                let pages =
                    get_page_iterator(col, Cursor::new(buffer.clone()), Vec::new(), max_page)
                        .map_err(|e| e.to_string())?;
                for page in pages {
                    if let CompressedPage::Data(p) = page.map_err(|e| e.to_string())? {
                        if p.num_values() > rows {
                            return Err(format!(
                                "a page claims {} values in a row group of {rows} rows",
                                p.num_values()
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(check))
        .unwrap_or_else(|_| Err("the Parquet metadata or a page header is malformed".into()))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Reject an empty list and repeated ids.
fn check(prompts: Vec<Prompt>) -> std::result::Result<Vec<Prompt>, PromptFileError> {
    if prompts.is_empty() {
        return Err(PromptFileError::Empty);
    }
    let mut seen = HashSet::new();
    if let Some(p) = prompts.iter().find(|p| !seen.insert(p.id.as_str())) {
        return Err(PromptFileError::DuplicateId { id: p.id.clone() });
    }
    Ok(prompts)
}

/// One prompt per line (`\n` or `\r\n`), id = 0-based line number, blank lines skipped.
fn parse_txt(text: &str) -> Vec<Prompt> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Prompt {
            id: i.to_string(),
            text: l.to_string(),
            label: None,
        })
        .collect()
}

/// JSON Lines; blank lines are skipped and do not count as records.
fn parse_jsonl(text: &str) -> std::result::Result<Vec<Prompt>, PromptFileError> {
    let mut out = vec![];
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    for (record, (i, line)) in lines.enumerate() {
        let bad = |detail: String| PromptFileError::BadJsonLine {
            line: i + 1,
            detail,
        };
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not JSON ({e})")))?;
        let serde_json::Value::Object(obj) = value else {
            return Err(bad(format!("{} is not a JSON object", json_kind(&value))));
        };
        let text = match obj.get(TEXT) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(serde_json::Value::String(_)) => return Err(bad("`text` is empty".into())),
            Some(v) => return Err(bad(format!("`text` is {}, not a string", json_kind(v)))),
            None => return Err(bad("no `text` key".into())),
        };
        let id = json_scalar(obj.get(ID)).map_err(|k| bad(format!("`id` is {k}")))?;
        let label = json_scalar(obj.get(LABEL)).map_err(|k| bad(format!("`label` is {k}")))?;
        out.push(Prompt {
            id: id.unwrap_or_else(|| record.to_string()),
            text,
            label,
        });
    }
    Ok(out)
}

/// A string, number or boolean as text (absent or null: `None`); an array or object is an error
/// naming its kind.
fn json_scalar(v: Option<&serde_json::Value>) -> std::result::Result<Option<String>, String> {
    use serde_json::Value;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(format!("{}; use a string or a number", json_kind(other))),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Prompts from a frame with a `text` column (str) and optional `id` / `label` columns (any
/// type, read as text). Null or empty ids fall back to the row index; empty labels are `None`.
fn from_frame(df: &DataFrame) -> std::result::Result<Vec<Prompt>, PromptFileError> {
    let text = optional_str(df, TEXT, false)?.ok_or_else(|| PromptFileError::NoTextColumn {
        columns: df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect(),
    })?;
    let ids = optional_str(df, ID, true)?;
    let labels = optional_str(df, LABEL, true)?;
    let cell = |col: &Option<Vec<Option<String>>>, i: usize| {
        col.as_ref()
            .and_then(|c| c.get(i).cloned().flatten())
            .filter(|s| !s.is_empty())
    };
    Ok(text
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let t = t.as_ref().filter(|t| !t.trim().is_empty())?;
            Some(Prompt {
                id: cell(&ids, i).unwrap_or_else(|| i.to_string()),
                text: t.clone(),
                label: cell(&labels, i),
            })
        })
        .collect())
}

/// Column `name` as optional strings (`None` if the frame has no such column). `cast`: any type
/// is formatted as text (ids stored as integers); otherwise the column must already be text.
fn optional_str(
    df: &DataFrame,
    name: &str,
    cast: bool,
) -> std::result::Result<Option<Vec<Option<String>>>, PromptFileError> {
    let Ok(col) = df.column(name) else {
        return Ok(None);
    };
    let bad = || PromptFileError::BadColumn {
        column: name.to_string(),
        dtype: col.dtype().to_string(),
    };
    let col = match (col.dtype(), cast) {
        (DataType::String, _) => col.clone(),
        (_, true) => col.cast(&DataType::String).map_err(|_| bad())?,
        (_, false) => return Err(bad()),
    };
    let ca = col.str().map_err(|_| bad())?;
    Ok(Some(ca.iter().map(|v| v.map(str::to_owned)).collect()))
}

// ---------------------------------------------------------------------------------------------
// Shards
// ---------------------------------------------------------------------------------------------

/// Shard `i` of `n` (1-based, `1 ≤ i ≤ n`) of a run: the items whose 0-based index `k` has
/// `k % n == i - 1`. Interleaving (not contiguous blocks) keeps the shards within one item of the
/// same size and mixes long and short prompts when a file is sorted.
///
/// ```
/// use entroscope::data::Shard;
/// let s = Shard::parse("2/3")?;
/// assert_eq!(s.select(&["a", "b", "c", "d", "e"]), vec![(1, &"b"), (4, &"e")]);
/// assert_eq!(s.file_name(), "part-2-of-3.parquet");
/// assert!(Shard::parse("0/3").is_err() && Shard::parse("4/3").is_err());
/// # Ok::<(), entroscope::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// The whole run as one shard (`1/1`).
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Shard `index` of `count`; [`Error::InvalidParameter`] unless `1 ≤ index ≤ count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index == 0 || index > count {
            return Err(Error::invalid(
                "shard",
                format!("{index}/{count}"),
                "i/n with 1 ≤ i ≤ n, e.g. 2/3 (shard 2 of 3)",
            ));
        }
        Ok(Shard { index, count })
    }

    /// Parse `"i/n"` (spaces around the numbers allowed), e.g. `"2/3"`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "shard",
                s,
                "i/n with whole numbers 1 ≤ i ≤ n, e.g. 2/3 (shard 2 of 3)",
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse::<usize>().map_err(|_| bad())?;
        let n = n.trim().parse::<usize>().map_err(|_| bad())?;
        Shard::new(i, n)
    }

    /// The 1-based shard number `i`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of shards `n`.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether the item at 0-based `index` belongs to this shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.count == self.index - 1
    }

    /// This shard's items with their 0-based indices in `items`, in order.
    pub fn select<'a, T>(&self, items: &'a [T]) -> Vec<(usize, &'a T)> {
        items
            .iter()
            .enumerate()
            .filter(|(k, _)| self.contains(*k))
            .collect()
    }

    /// The name of this shard's outputs without an extension: `part-i-of-n`.
    pub fn part_name(&self) -> String {
        format!("part-{}-of-{}", self.index, self.count)
    }

    /// The part file this shard writes: `part-i-of-n.parquet`.
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.part_name())
    }

    /// The shard a part file's name encodes (`part-i-of-n.parquet`), `None` for other names.
    fn from_file_name(name: &str) -> Option<std::result::Result<Self, ()>> {
        let rest = name.strip_prefix("part-")?.strip_suffix(".parquet")?;
        let (i, n) = rest.split_once("-of-")?;
        Some(match (i.parse(), n.parse()) {
            (Ok(i), Ok(n)) => Shard::new(i, n).map_err(|_| ()),
            _ => Err(()),
        })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Shard::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// The run and its parts
// ---------------------------------------------------------------------------------------------

/// Profile prompts with `lens`: every metric at every layer and position of each prompt, as one
/// tidy frame — the columns of [`ToFrame`] for [`LayerProfile`]s with [`PROMPT`] (the id) and
/// [`LABEL`] inserted after `prompt_id`, which is the prompt's index in its file (the `usize` of
/// each pair, as [`Shard::select`] gives it).
///
/// Target metrics (cross-entropy, rank, probability) use the next token of the prompt. No prompts
/// give the columns with 0 rows, so an empty shard still writes a part that merges. With `chat`
/// each prompt is one user turn of the model's chat template ([`Lm::encode_request`]);
/// progress goes to stderr ([`crate::progress`]).
pub fn profile_prompts(
    lm: &Lm,
    lens: &LogitLens,
    metrics: &[Metric],
    prompts: &[(usize, &Prompt)],
    chat: bool,
) -> Result<DataFrame> {
    profile_prompts_kept(lm, lens, metrics, prompts, chat, None)
}

/// [`profile_prompts`] that keeps each prompt's table in `checkpoint` as it is made and takes
/// the tables a killed run already kept from there, so a rerun does only what is left; the
/// result equals an uninterrupted run's row for row.
pub fn profile_prompts_kept(
    lm: &Lm,
    lens: &LogitLens,
    metrics: &[Metric],
    prompts: &[(usize, &Prompt)],
    chat: bool,
    checkpoint: Option<&super::Checkpoint>,
) -> Result<DataFrame> {
    if metrics.is_empty() {
        return Err(Error::invalid("metrics", "[]", "at least one metric"));
    }
    let targets = Targets::for_metrics(metrics);
    let bar = crate::progress::progress_bar(prompts.len(), "profile");
    let mut frames = vec![with_prompt_columns(
        Vec::<LayerProfile>::new().to_frame()?,
        "",
        None,
    )?];
    for &(index, prompt) in prompts {
        if let Some(df) = checkpoint.and_then(|c| c.load(index)) {
            frames.push(df);
            bar.inc(1);
            continue;
        }
        let ids = lm.encode_request(&prompt.text, chat)?;
        let trace = lm.trace(&ids, &CaptureSpec::default(), &mut NoHook)?;
        let mut profiles = lens.profile(lm, &trace, metrics, &targets)?;
        for p in &mut profiles {
            p.prompt_id = index;
        }
        let df = with_prompt_columns(profiles.to_frame()?, &prompt.id, prompt.label.as_deref())?;
        if let Some(c) = checkpoint {
            c.save(index, &df)?;
        }
        frames.push(df);
        bar.inc(1);
    }
    bar.finish_and_clear();
    frame::concat(&frames)
}

/// Insert the constant columns `prompt` and `label` after `prompt_id`.
fn with_prompt_columns(mut df: DataFrame, id: &str, label: Option<&str>) -> Result<DataFrame> {
    let n = df.height();
    let at = df
        .get_column_names()
        .iter()
        .position(|c| c.as_str() == frame::PROMPT_ID)
        .map_or(0, |i| i + 1);
    df.insert_column(at, Column::new(PROMPT.into(), vec![id; n]))?;
    df.insert_column(
        at + 1,
        Column::new(LABEL.into(), vec![label.map(str::to_owned); n]),
    )?;
    Ok(df)
}

/// The columns that number a sharded run's items, in the order [`merge_parts`] looks for them:
/// `prompt_id` (`entroscope profile`) and `index` (the per-item tables of `entroscope score`).
pub const ITEM_KEYS: [&str; 2] = [frame::PROMPT_ID, "index"];

/// Join the parts of a sharded run: every `part-i-of-n.parquet` in `dir`, read with polars and
/// stacked in item order — a stable sort by the first of [`ITEM_KEYS`] the parts have, so each
/// item keeps its rows in the order the run wrote them (for a profile: metric, then layer, then
/// position) and the result equals the table of the unsharded run row for row.
///
/// Errors: no part in `dir`, parts that disagree on `n`, a part whose name or columns do not fit
/// ([`Error::InvalidParameter`]), missing parts (`Error::NotEnoughData`, naming them and the
/// `--shard` values to rerun).
pub fn merge_parts(dir: impl AsRef<Path>) -> Result<DataFrame> {
    let dir = dir.as_ref();
    let parts = find_parts(dir)?;
    let mut frames = Vec::with_capacity(parts.len());
    for (_, path) in &parts {
        let df = frame::read_parquet(path)?;
        if let Some(first) = frames.first() {
            let first: &DataFrame = first;
            if df.schema() != first.schema() {
                return Err(Error::invalid(
                    "part",
                    path.display(),
                    format!(
                        "the columns of part {} ({}); merge parts of one run only",
                        parts[0].0,
                        names(first)
                    ),
                ));
            }
        }
        frames.push(df);
    }
    let df = frame::concat(&frames)?;
    // Every part has the first part's columns (checked above), so one look finds the key.
    let Some(ids) = ITEM_KEYS
        .into_iter()
        .find_map(|k| frame::column_i64(&df, k).ok())
    else {
        return Err(Error::invalid(
            "part",
            parts[0].1.display(),
            format!(
                "a table with an integer `prompt_id` or `index` column (it has {})",
                names(&df)
            ),
        ));
    };
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&r| ids[r]); // stable
    let order = order
        .into_iter()
        .map(|r| {
            IdxSize::try_from(r).map_err(|_| Error::invalid("rows", r, "fewer than 2^32 rows"))
        })
        .collect::<Result<Vec<IdxSize>>>()?;
    Ok(df.take(&IdxCa::new("idx".into(), order))?)
}

fn names(df: &DataFrame) -> String {
    df.get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parts in `dir`, sorted by shard number, after checking they are one complete run.
fn find_parts(dir: &Path) -> Result<Vec<(Shard, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut parts = vec![];
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        match Shard::from_file_name(name) {
            None => {}
            Some(Ok(shard)) => parts.push((shard, entry.path())),
            Some(Err(())) => {
                return Err(Error::invalid(
                    "part",
                    entry.path().display(),
                    "a name part-i-of-n.parquet with 1 ≤ i ≤ n; rename or remove it",
                ))
            }
        }
    }
    let Some(&(first, _)) = parts.first() else {
        return Err(Error::invalid(
            "dir",
            dir.display(),
            "a directory holding part-i-of-n.parquet files written by `entroscope profile|score --shard i/n --out DIR`",
        ));
    };
    let counts: std::collections::BTreeSet<usize> = parts.iter().map(|(s, _)| s.count()).collect();
    if counts.len() > 1 {
        let counts: Vec<String> = counts.iter().map(|n| format!("part-*-of-{n}")).collect();
        return Err(Error::invalid(
            "dir",
            dir.display(),
            format!(
                "the parts of one run, but it mixes {}; move the other run's parts out",
                counts.join(" and ")
            ),
        ));
    }
    parts.sort_by_key(|(s, _)| s.index());
    let n = first.count();
    let have: HashSet<usize> = parts.iter().map(|(s, _)| s.index()).collect();
    let missing: Vec<usize> = (1..=n).filter(|i| !have.contains(i)).collect();
    if !missing.is_empty() {
        let files: Vec<String> = missing
            .iter()
            .map(|&i| format!("part-{i}-of-{n}.parquet"))
            .collect();
        let shards: Vec<String> = missing
            .iter()
            .map(|&i| format!("--shard {i}/{n}"))
            .collect();
        return Err(Error::NotEnoughData(format!(
            "{} holds {} of {n} parts; missing {}: run {} and merge again",
            dir.display(),
            parts.len(),
            files.join(", "),
            shards.join(", ")
        )));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_ids_are_line_numbers() {
        let p = parse_txt("a\n\n  \r\nb c\r\n");
        let ids: Vec<&str> = p.iter().map(|p| p.id.as_str()).collect();
        let texts: Vec<&str> = p.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(ids, ["0", "3"]);
        assert_eq!(texts, ["a", "b c"]);
    }

    #[test]
    fn jsonl_ids_default_to_record_index() {
        let p =
            parse_jsonl("{\"text\": \"x\"}\n\n{\"text\": \"y\\nz\", \"id\": 7, \"label\": true}\n")
                .unwrap(); // ok: test-only
        assert_eq!(p[0].id, "0");
        assert_eq!(p[1].id, "7");
        assert_eq!(p[1].text, "y\nz");
        assert_eq!(p[1].label.as_deref(), Some("true"));
        assert_eq!(
            parse_jsonl("{\"text\": \"x\"}\n\n[1]\n"),
            Err(PromptFileError::BadJsonLine {
                line: 3,
                detail: "an array is not a JSON object".into()
            })
        );
    }

    #[test]
    fn shard_file_names_round_trip() {
        let s = Shard::new(2, 8).unwrap(); // ok: test-only
        assert_eq!(Shard::from_file_name(&s.file_name()), Some(Ok(s)));
        assert_eq!(Shard::from_file_name("part-9-of-8.parquet"), Some(Err(())));
        assert_eq!(Shard::from_file_name("profiles.parquet"), None);
        assert_eq!(s.to_string(), "2/8");
        assert_eq!("2/8".parse::<Shard>().unwrap(), s); // ok: test-only
    }
}
