//! FACTOR (Muhlgay et al., 2023): a prefix, its true completion and three contradictions.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::read_text_columns;
use crate::{Error, Result};

/// Which FACTOR file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorSplit {
    /// `news_factor.csv` (1036 items); prefix column `full_prefix`.
    News,
    /// `expert_factor.csv` (236 items); prefix column `turncated_prefixes` (sic).
    Expert,
}

impl FactorSplit {
    /// File name under `data/factor/`.
    pub fn file_name(self) -> &'static str {
        match self {
            FactorSplit::News => "news_factor.csv",
            FactorSplit::Expert => "expert_factor.csv",
        }
    }

    /// The prefix column the reference evaluation reads (DoLa's / END's `factor_eval.py`).
    pub fn prefix_column(self) -> &'static str {
        match self {
            FactorSplit::News => "full_prefix",
            FactorSplit::Expert => "turncated_prefixes",
        }
    }
}

impl fmt::Display for FactorSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FactorSplit::News => "news",
            FactorSplit::Expert => "expert",
        })
    }
}

impl FromStr for FactorSplit {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "news" | "factor-news" => Ok(FactorSplit::News),
            "expert" | "factor-expert" => Ok(FactorSplit::Expert),
            _ => Err(Error::invalid("split", s, "`news` or `expert`")),
        }
    }
}

/// One FACTOR item. Candidates are scored as continuations `" " + text` of `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorItem {
    /// Row index in the CSV (0-based).
    pub index: usize,
    /// The `doc_id` column.
    pub doc_id: String,
    /// The prefix (as in the file, trailing space included).
    pub prefix: String,
    /// The true completion.
    pub completion: String,
    /// The three contradictions.
    pub contradictions: [String; 3],
}

/// Load a FACTOR CSV of the given split. Errors on a missing column or an empty field.
pub fn load_factor(path: impl AsRef<Path>, split: FactorSplit) -> Result<Vec<FactorItem>> {
    let path = path.as_ref();
    let names = [
        split.prefix_column(),
        "doc_id",
        "completion",
        "contradiction_0",
        "contradiction_1",
        "contradiction_2",
    ];
    let [pre, doc, comp, c0, c1, c2] = read_text_columns(path, names)?;
    let bad = |detail: String| Error::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    (0..pre.len())
        .map(|i| {
            // every field but `doc_id` must be non-empty
            let fields = [(0, &pre), (2, &comp), (3, &c0), (4, &c1), (5, &c2)];
            if let Some((c, _)) = fields.iter().find(|(_, col)| col[i].trim().is_empty()) {
                return Err(bad(format!("item {i}: empty `{}`", names[*c])));
            }
            Ok(FactorItem {
                index: i,
                doc_id: doc[i].clone(),
                prefix: pre[i].clone(),
                completion: comp[i].clone(),
                contradictions: [c0[i].clone(), c1[i].clone(), c2[i].clone()],
            })
        })
        .collect()
}

/// The items of `data/factor/<split>_factor.csv`.
pub fn factor(split: FactorSplit) -> Result<Vec<FactorItem>> {
    load_factor(super::path("factor").join(split.file_name()), split)
}
