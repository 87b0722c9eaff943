//! FACTOR (Muhlgay et al., 2023): a prefix, its true completion and three contradictions.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::{data_dir, Csv};
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
    let csv = Csv::read(path)?;
    let bad = |detail: String| Error::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let col = |n: &str| csv.column(n).map_err(bad);
    let (pre, doc, comp) = (
        col(split.prefix_column())?,
        col("doc_id")?,
        col("completion")?,
    );
    let con = [
        col("contradiction_0")?,
        col("contradiction_1")?,
        col("contradiction_2")?,
    ];
    csv.rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let fields = [pre, comp, con[0], con[1], con[2]];
            if let Some(&c) = fields.iter().find(|&&c| r[c].trim().is_empty()) {
                return Err(bad(format!("item {i}: empty `{}`", csv.header[c])));
            }
            Ok(FactorItem {
                index: i,
                doc_id: r[doc].clone(),
                prefix: r[pre].clone(),
                completion: r[comp].clone(),
                contradictions: [r[con[0]].clone(), r[con[1]].clone(), r[con[2]].clone()],
            })
        })
        .collect()
}

/// The items of `data/factor/<split>_factor.csv`.
pub fn factor(split: FactorSplit) -> Result<Vec<FactorItem>> {
    load_factor(data_dir().join("factor").join(split.file_name()), split)
}
