//! Benchmark data shipped under `data/`: TruthfulQA (multiple choice), FACTOR (news, expert) and
//! the EPIE idiom lists.
//!
//! The files are the upstream CSVs, unchanged (see `data/README.md` for sources and licences).
//! They are found in `$ENTROSCOPE_DATA`, else `./data`, else the crate's own `data/` directory.
//! CSV files are read by polars with every column as text ([`frame::read_csv_text`]), so a
//! loader picks its columns by name and a bad file is an [`Error::Corrupt`] naming the file and
//! column. The EPIE idiom lists (one idiom per line) are parsed by [`load_idioms`].

mod checkpoint;
mod epie;
mod factor;
pub mod prompts;
mod truthfulqa;

pub use checkpoint::Checkpoint;
pub use prompts::{
    load_prompts, merge_parts, profile_prompts, profile_prompts_kept, Prompt, PromptFileError,
    Shard,
};

pub use epie::{epie_paths, load_idioms, split_idiom, Idiom, IdiomSet, SkipReason, EPIE_SETS};
pub use factor::{factor, load_factor, FactorItem, FactorSplit};
pub use truthfulqa::{
    format_best, load_truthfulqa, split_multi_answer, truthfulqa, truthfulqa_demo,
    truthfulqa_prompt, TruthfulQaItem, TRUTHFULQA_INSTRUCTION,
};

use std::path::{Path, PathBuf};

use crate::{frame, Error, Result};

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

/// Path of `file` inside the [data directory](data_dir), e.g. `path("epie/Static_idioms.txt")`.
pub fn path(file: impl AsRef<Path>) -> PathBuf {
    data_dir().join(file)
}

/// The named columns of a CSV file, as text ([`frame::read_csv_text`]), in the order asked.
/// Blank lines (rows whose fields are all empty) are skipped; a row with fewer fields than the
/// header reads as empty fields, which the loaders reject as empty answers or prefixes. A missing
/// column gives [`Error::Corrupt`] naming the file and the columns it has.
fn read_text_columns<const N: usize>(path: &Path, names: [&str; N]) -> Result<[Vec<String>; N]> {
    let df = frame::read_csv_text(path)?;
    // every column is str, and without nulls (empty fields read as "")
    let columns: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let all: Vec<Vec<String>> = columns
        .iter()
        .map(|n| frame::column_str(&df, n))
        .collect::<Result<_>>()?;
    let keep: Vec<bool> = (0..df.height())
        .map(|i| all.iter().any(|c| c.get(i).is_some_and(|v| !v.is_empty())))
        .collect();
    let mut out: [Vec<String>; N] = std::array::from_fn(|_| Vec::new());
    for (slot, name) in out.iter_mut().zip(names) {
        let Some(i) = columns.iter().position(|n| n == name) else {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                detail: format!("no column `{name}` (columns: {})", columns.join(", ")),
            });
        };
        *slot = all[i]
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(v, _)| v.clone())
            .collect();
    }
    Ok(out)
}

/// First `n` items (all when `n` is `None` or larger): the `--quick` limit of the benchmarks.
pub(crate) fn take_first<T: Clone>(items: &[T], n: Option<usize>) -> Vec<T> {
    match n {
        Some(n) => items.iter().take(n).cloned().collect(),
        None => items.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("entroscope-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap(); // ok: test-only
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap(); // ok: test-only
        p
    }

    #[test]
    fn csv_quotes_and_newlines() {
        // BOM, CRLF, a quoted comma, doubled quotes and a quoted newline; an empty field; the
        // all-empty last row is skipped like a blank line
        let p = write(
            "q.csv",
            "\u{feff}a,b,c\r\n1,\"x, \"\"y\"\"\nz\",3\n,\"\",4\n,,\n",
        );
        let [c, b, a] = read_text_columns(&p, ["c", "b", "a"]).unwrap(); // ok: test-only
        assert_eq!(a, ["1", ""]);
        assert_eq!(b, ["x, \"y\"\nz", ""]);
        assert_eq!(c, ["3", "4"]);
        match read_text_columns(&p, ["d"]) {
            Err(Error::Corrupt { path, detail }) => {
                assert_eq!(path, p);
                assert!(
                    detail.contains("`d`") && detail.contains("a, b, c"),
                    "{detail}"
                );
            }
            other => panic!("expected Corrupt, got {other:?}"), // ok: test-only
        }
    }

    #[test]
    fn blank_lines_are_skipped_and_short_rows_read_empty() {
        let p = write("blank.csv", "a,b\n1,2\n\n3,4\n5\n");
        let [a, b] = read_text_columns(&p, ["a", "b"]).unwrap(); // ok: test-only
        assert_eq!(a, ["1", "3", "5"]);
        assert_eq!(b, ["2", "4", ""]);
    }

    #[test]
    fn bad_csv_is_a_typed_error() {
        for (name, text) in [("long.csv", "a,b\n1,2,3\n"), ("open.csv", "a\n\"open\n")] {
            let p = write(name, text);
            match read_text_columns(&p, ["a"]) {
                Err(Error::Corrupt { path, .. }) => assert_eq!(path, p),
                other => panic!("{name}: expected Corrupt, got {other:?}"), // ok: test-only
            }
        }
        let missing = std::env::temp_dir().join("entroscope-no-such.csv");
        assert!(matches!(
            read_text_columns(&missing, ["a"]),
            Err(Error::FileNotFound { .. })
        ));
    }
}
