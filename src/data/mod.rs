//! Benchmark data shipped under `data/`: TruthfulQA (multiple choice) and FACTOR (news, expert).
//!
//! The files are the upstream CSVs, unchanged (see `data/README.md` for sources and licences).
//! They are found in `$ENTROSCOPE_DATA`, else `./data`, else the crate's own `data/` directory.
//! CSV is read by a small RFC 4180 reader here (quoted fields with commas, doubled quotes and
//! newlines), so that loading a benchmark needs neither polars nor a schema guess.

mod factor;
mod truthfulqa;

pub use factor::{factor, load_factor, FactorItem, FactorSplit};
pub use truthfulqa::{
    format_best, load_truthfulqa, split_multi_answer, truthfulqa, truthfulqa_demo,
    truthfulqa_prompt, TruthfulQaItem, TRUTHFULQA_INSTRUCTION,
};

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The data directory: `$ENTROSCOPE_DATA`, else `./data` if it exists, else the crate's `data/`.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ENTROSCOPE_DATA") {
        return PathBuf::from(d);
    }
    let local = PathBuf::from("data");
    if local.join("truthfulqa").is_dir() || local.join("factor").is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A CSV file as a header and rows of fields (every row as long as the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csv {
    /// Column names.
    pub header: Vec<String>,
    /// Data rows.
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// Read and parse a CSV file (UTF-8, optional BOM).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|detail| Error::Corrupt {
            path: path.to_path_buf(),
            detail,
        })
    }

    /// Parse CSV text (RFC 4180: `,` separators, `"` quoting with `""` escapes, quoted newlines;
    /// `\r\n` or `\n` line ends). Errors (as a message) on an unterminated quote or a row whose
    /// length differs from the header's.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut records = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut in_quotes = false;
        let mut line = 1usize;
        let mut any = false; // anything on the current record
        while let Some(c) = chars.next() {
            if in_quotes {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => in_quotes = false,
                    '\n' => {
                        line += 1;
                        field.push('\n');
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' => {
                    in_quotes = true;
                    any = true;
                }
                ',' => {
                    row.push(std::mem::take(&mut field));
                    any = true;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    line += 1;
                    if any || !field.is_empty() {
                        row.push(std::mem::take(&mut field));
                        records.push(std::mem::take(&mut row));
                    }
                    any = false;
                }
                _ => {
                    field.push(c);
                    any = true;
                }
            }
        }
        if in_quotes {
            return Err(format!(
                "unterminated quoted field at end of file (line {line})"
            ));
        }
        if any || !field.is_empty() {
            row.push(field);
            records.push(row);
        }
        let mut it = records.into_iter();
        let header = it
            .next()
            .ok_or_else(|| "empty file, no header".to_string())?;
        let rows: Vec<Vec<String>> = it.collect();
        if let Some((i, r)) = rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != header.len())
        {
            return Err(format!(
                "data row {} has {} fields but the header has {}",
                i + 1,
                r.len(),
                header.len()
            ));
        }
        Ok(Self { header, rows })
    }

    /// Index of a column, or an error naming the file's columns.
    pub fn column(&self, name: &str) -> std::result::Result<usize, String> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("no column `{name}` (columns: {})", self.header.join(", ")))
    }
}

/// First `n` items (all when `n` is `None` or larger): the `--quick` limit of the benchmarks.
pub fn take_first<T: Clone>(items: &[T], n: Option<usize>) -> Vec<T> {
    match n {
        Some(n) => items.iter().take(n).cloned().collect(),
        None => items.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_newlines() {
        let t = "a,b,c\r\n1,\"x, \"\"y\"\"\nz\",3\n,,\n";
        let c = Csv::parse(t).unwrap(); // ok: test-only
        assert_eq!(c.header, ["a", "b", "c"]);
        assert_eq!(c.rows[0], ["1", "x, \"y\"\nz", "3"]);
        assert_eq!(c.rows[1], ["", "", ""]);
        assert!(Csv::parse("a,b\n1\n").is_err());
        assert!(Csv::parse("a\n\"open\n").is_err());
        assert_eq!(c.column("c"), Ok(2));
        assert!(c.column("d").is_err());
    }
}
