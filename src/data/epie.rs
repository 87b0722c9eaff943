//! The EPIE idiom lists (`data/epie/`, one idiom per line) as prompt prefix + last word.
//!
//! A line is cleaned by [`split_idiom`]: parentheses are unwrapped (`(somebody)` → `somebody`),
//! the placeholder `[pron]` becomes `it` when it is the last word (`sleep on [pron]` →
//! `sleep on it`) and `their` elsewhere (`make up [pron] mind` → `make up their mind`), trailing
//! punctuation of the last word is dropped (`… uncle!` → last word `uncle`). Empty lines and
//! one-word idioms are *skipped and counted* ([`SkipReason`]), never silently lost.
//!
//! ```no_run
//! let sets = entroscope::data::epie_paths()
//!     .iter()
//!     .map(entroscope::data::load_idioms)
//!     .collect::<entroscope::Result<Vec<_>>>()?;
//! # Ok::<(), entroscope::Error>(())
//! ```

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Directory of the EPIE lists inside the [data directory](super::data_dir).
pub const EPIE_DIR: &str = "epie";

/// The EPIE lists used by default, in order: static and formal idioms.
pub const EPIE_SETS: [&str; 2] = ["Static_idioms.txt", "Formal_idioms.txt"];

/// Paths of the [`EPIE_SETS`] in the data directory (`$ENTROSCOPE_DATA/epie/…`).
pub fn epie_paths() -> Vec<PathBuf> {
    let dir = super::path(EPIE_DIR);
    EPIE_SETS.iter().map(|f| dir.join(f)).collect()
}

/// Why an idiom line was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Blank (or whitespace-only) line.
    Empty,
    /// A single word: nothing is left for the prompt.
    OneWord,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::Empty => "empty line",
            SkipReason::OneWord => "one-word idiom",
        })
    }
}

/// One idiom split into prompt prefix and last word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idiom {
    /// 1-based line number in the source file.
    pub line: usize,
    /// The cleaned idiom (placeholders filled in), e.g. `"rule of thumb"`.
    pub text: String,
    /// Everything before the last word, e.g. `"rule of"`.
    pub prefix: String,
    /// The last word without trailing punctuation, e.g. `"thumb"`.
    pub last_word: String,
}

/// A parsed idiom list with its skipped lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdiomSet {
    /// Set name (file stem, e.g. `Static_idioms`).
    pub name: String,
    /// Usable idioms, in file order.
    pub idioms: Vec<Idiom>,
    /// `(line, reason)` of every skipped line.
    pub skipped: Vec<(usize, SkipReason)>,
}

/// Clean and split one idiom line (see the module docs for the rules).
///
/// ```
/// use entroscope::data::{split_idiom, SkipReason};
/// let i = split_idiom("make up [pron] mind", 1);
/// let parts = i.as_ref().map(|i| (i.prefix.as_str(), i.last_word.as_str()));
/// assert_eq!(parts, Ok(("make up their", "mind")));
/// assert_eq!(split_idiom("  ", 2), Err(SkipReason::Empty));
/// assert_eq!(split_idiom("carpe", 3), Err(SkipReason::OneWord));
/// ```
pub fn split_idiom(line: &str, line_no: usize) -> std::result::Result<Idiom, SkipReason> {
    let unwrapped: String = line.chars().filter(|c| *c != '(' && *c != ')').collect();
    let mut words: Vec<String> = unwrapped.split_whitespace().map(str::to_owned).collect();
    // Drop trailing words that are punctuation only ("… !").
    while words
        .last()
        .is_some_and(|w| w.chars().all(|c| c.is_ascii_punctuation()) && w != "[pron]")
    {
        words.pop();
    }
    let n = words.len();
    for (i, w) in words.iter_mut().enumerate() {
        if w.contains("[pron]") {
            *w = w.replace("[pron]", if i + 1 == n { "it" } else { "their" });
        }
    }
    let Some(last) = words.last() else {
        return Err(SkipReason::Empty);
    };
    let last_word = last
        .trim_end_matches(|c: char| c.is_ascii_punctuation())
        .to_owned();
    if n < 2 || last_word.is_empty() {
        return Err(SkipReason::OneWord);
    }
    Ok(Idiom {
        line: line_no,
        text: words.join(" "),
        prefix: words[..n - 1].join(" "),
        last_word,
    })
}

/// Parse an idiom list (one idiom per line); lines that cannot be used are counted in
/// [`IdiomSet::skipped`].
pub fn parse_idioms(name: &str, text: &str) -> IdiomSet {
    let mut set = IdiomSet {
        name: name.to_owned(),
        ..Default::default()
    };
    for (i, line) in text.lines().enumerate() {
        match split_idiom(line, i + 1) {
            Ok(idiom) => set.idioms.push(idiom),
            Err(r) => set.skipped.push((i + 1, r)),
        }
    }
    set
}

/// Read and parse an idiom file. A missing file gives [`Error::FileNotFound`].
pub fn load_idioms(path: impl AsRef<Path>) -> Result<IdiomSet> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "idioms".into());
    Ok(parse_idioms(&name, &text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> (String, String, String) {
        let i = split_idiom(line, 1).unwrap(); // ok: test-only
        (i.text, i.prefix, i.last_word)
    }

    #[test]
    fn split_idiom_hand_checked() {
        let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            split("rule of thumb"),
            s("rule of thumb", "rule of", "thumb")
        );
        // trailing punctuation is not part of the last word
        assert_eq!(
            split("Bob's your uncle!"),
            s("Bob's your uncle!", "Bob's your", "uncle")
        );
        assert_eq!(
            split("the more, the merrier."),
            s("the more, the merrier.", "the more, the", "merrier")
        );
        // a punctuation-only last "word" is dropped
        assert_eq!(
            split("well I never !"),
            s("well I never", "well I", "never")
        );
        // EPIE placeholders: parentheses unwrapped, [pron] → their (inside) / it (at the end)
        assert_eq!(
            split("bring (somebody) to ([pron]) knees"),
            s(
                "bring somebody to their knees",
                "bring somebody to their",
                "knees"
            )
        );
        assert_eq!(split("sleep on [pron]"), s("sleep on it", "sleep on", "it"));
        // extra whitespace is collapsed
        assert_eq!(split("  salad \t days "), s("salad days", "salad", "days"));
    }

    #[test]
    fn bad_lines_are_skipped_and_counted() {
        assert_eq!(split_idiom("", 1), Err(SkipReason::Empty));
        assert_eq!(split_idiom("   \t", 1), Err(SkipReason::Empty));
        assert_eq!(split_idiom("hello", 1), Err(SkipReason::OneWord));
        assert_eq!(split_idiom("hello !", 1), Err(SkipReason::OneWord));
        let set = parse_idioms("t", "a sorry sight\n\ncarpe\nrule of thumb\n");
        assert_eq!(set.idioms.len(), 2);
        assert_eq!(set.idioms[1].line, 4);
        assert_eq!(
            set.skipped,
            vec![(2, SkipReason::Empty), (3, SkipReason::OneWord)]
        );
    }

    #[test]
    fn missing_file_is_a_typed_error() {
        match load_idioms("/no/such/idioms.txt") {
            Err(Error::FileNotFound { path }) => assert!(path.ends_with("idioms.txt")),
            other => panic!("expected FileNotFound, got {other:?}"), // ok: test-only
        }
    }

    #[test]
    fn shipped_epie_lists_parse() {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(EPIE_DIR);
        let st = load_idioms(d.join("Static_idioms.txt")).unwrap(); // ok: test-only
        let fo = load_idioms(d.join("Formal_idioms.txt")).unwrap(); // ok: test-only
                                                                    // 359 and 358 lines (`wc -l` says one less: no newline after the last line); every line
                                                                    // is counted either as an idiom or as skipped.
        assert_eq!(st.idioms.len() + st.skipped.len(), 359);
        assert_eq!(fo.idioms.len() + fo.skipped.len(), 358);
        assert_eq!(st.name, "Static_idioms");
        assert_eq!(st.idioms[2].prefix, "rule of"); // line 3: "rule of thumb"
        assert!(fo
            .idioms
            .iter()
            .all(|i| !i.text.contains('[') && !i.text.contains('(')));
    }
}
