//! Where long runs report to: a progress bar on stderr and an output directory that collects the
//! figures and tables it writes. Every reproduction (`uncertainty`, `entropy_lens`, `end_study`,
//! `edt_study`) and the benchmark runner use these, so bars look alike and every file written is
//! listed in the run's report.

use std::path::{Path, PathBuf};

use crate::frame::{self, DataFrame};
use crate::plot::Chart;
use crate::{Error, Result};

/// An output directory and the files written into it, in order.
///
/// ```no_run
/// # fn main() -> entroscope::Result<()> {
/// let mut out = entroscope::papers::output::OutputDir::create("figures/example")?;
/// out.text("notes.md", "# results\n")?;
/// assert_eq!(out.into_files().len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct OutputDir {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl OutputDir {
    /// Creates `dir` (and its parents). Errors: [`Error::Unwritable`].
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::Unwritable {
            path: dir.clone(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            dir,
            files: Vec::new(),
        })
    }

    /// Saves a chart as `name` (PNG or SVG by its extension).
    pub fn chart(&mut self, name: &str, chart: &Chart) -> Result<()> {
        let p = self.dir.join(name);
        chart.save(&p)?;
        self.files.push(p);
        Ok(())
    }

    /// Writes a table as `name` (`.parquet` or `.csv`; a name with a folder, such as the parts of
    /// a sharded run, creates the folder).
    pub fn table(&mut self, name: &str, df: &DataFrame) -> Result<()> {
        let p = self.dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        frame::write_table(df, &p)?;
        self.files.push(p);
        Ok(())
    }

    /// Writes text (Markdown) as `name`.
    pub fn text(&mut self, name: &str, text: &str) -> Result<()> {
        let p = self.dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
        self.files.push(p);
        Ok(())
    }

    /// The files written, in order.
    pub fn into_files(self) -> Vec<PathBuf> {
        self.files
    }
}

/// A file-name-safe form of a label: ASCII letters and digits lower-cased, everything else `-`
/// (`"SmolLM2-135M · static"` → `"smollm2-135m---static"`).
///
/// ```
/// assert_eq!(entroscope::papers::output::slug("Gemma-3 270M"), "gemma-3-270m");
/// ```
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The file-name form of a model label in the END and EDT figure names: ASCII letters and digits
/// as they are, everything else `_`. It differs from [`slug`] only so that the names of the
/// figures already published stay as they were.
///
/// ```
/// use entroscope::papers::output::model_file_stem;
/// assert_eq!(model_file_stem("SmolLM2-135M-Instruct-Q4_1"), "SmolLM2_135M_Instruct_Q4_1");
/// ```
pub fn model_file_stem(model: &str) -> String {
    model
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
