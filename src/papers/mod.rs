//! The paper reproductions, each built only on the core library:
//! - [`uncertainty`]: *Uncovering Uncertainty in Transformer Inference* (idiom completion);
//! - [`entropy_lens`]: *Entropy-Lens* (families, tasks, output formats, layer-skip interventions);
//! - [`end`]: *END*, cross-layer entropy enhanced decoding;
//! - [`edt`]: *EDT*, entropy-based dynamic temperature sampling.
//!
//! Every paper has the same shape: `papers::X::{Options, Report, run}`. `Options` has the
//! `quick` / `full` / `paper` presets, `run(&Options)` does the work, and its `Report` implements
//! the [`Report`] trait below: tables, charts drawn from those tables, a Markdown summary, and a
//! `write(dir)` that puts them all in one folder. Each paper's folder splits the same way:
//! `experiment.rs` (options, run), `report.rs` (rows, frames, Markdown), `figures.rs` (charts).

use std::path::{Path, PathBuf};

use crate::data::Checkpoint;
use crate::frame::DataFrame;
use crate::plot::Chart;
use crate::Result;

pub mod edt;
pub mod end;
pub mod entropy_lens;
pub mod finding;
pub mod output;
pub mod preset;
pub mod uncertainty;

pub use finding::{Finding, Verdict};
pub use output::OutputDir;
pub use preset::Preset;

/// What a paper's run produces. Implemented by each paper's `Report` struct.
///
/// ```no_run
/// use entroscope::papers::{self, Report as _};
/// # fn main() -> entroscope::Result<()> {
/// let report = papers::uncertainty::run(&papers::uncertainty::Options::quick())?;
/// println!("{}", report.markdown());
/// let files = report.write("figures/uncertainty".as_ref())?;
/// # Ok(())
/// # }
/// ```
pub trait Report {
    /// The tables, each with the file name it is written under (`.parquet` or `.csv`).
    fn frames(&self) -> Result<Vec<(String, DataFrame)>>;

    /// The charts, each with the file name it is written under (`.png` or `.svg`).
    fn charts(&self) -> Result<Vec<(String, Chart)>>;

    /// A Markdown summary: the headline tables beside the paper's numbers.
    fn markdown(&self) -> String;

    /// The paper's claims beside what this run measured, one per figure that has a claim
    /// (listed under "Against the paper" in the Markdown summary).
    fn findings(&self) -> Vec<Finding> {
        Vec::new()
    }

    /// The findings of the chart `figure` ([`Finding::figure`]; one per model or group), for a
    /// notebook to show under the chart.
    fn findings_of(&self, figure: &str) -> Vec<Finding> {
        self.findings()
            .into_iter()
            .filter(|f| f.figure == figure)
            .collect()
    }

    /// The run's headline numbers in a line or two (what `entroscope figures` prints at the end);
    /// empty when the study has none.
    fn headline(&self) -> String {
        String::new()
    }

    /// The file name of the Markdown summary.
    fn markdown_name(&self) -> &'static str {
        "results.md"
    }

    /// Folds another part of the same study (another model, another experiment) into this one.
    fn merge(&mut self, other: Self)
    where
        Self: Sized;

    /// Writes the charts, tables and summary into `dir` (created if missing); returns the files
    /// written, in order.
    fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut out = OutputDir::create(dir)?;
        for (name, chart) in self.charts()? {
            out.chart(&name, &chart)?;
        }
        for (name, df) in self.frames()? {
            out.table(&name, &df)?;
        }
        out.text(self.markdown_name(), &self.markdown())?;
        Ok(out.into_files())
    }
}

/// A paper's options as a run that can resume: where it keeps its items, and what makes two
/// runs' items interchangeable. Every paper's `Options` implements it (through its
/// `checkpoint` field; `preset::impl_sizes!`).
pub trait Resumable {
    /// The checkpoint directory (`Options::checkpoint`); `None`: keep nothing.
    fn checkpoint_dir(&self) -> Option<&Path>;
    /// Every option but the checkpoint's own path, as text.
    fn identity(&self) -> String;
}

/// The checkpoint of a paper run whose options name one. Its identity is the paper and every
/// option ([`Resumable::identity`]), so a rerun with other options is refused rather than mixed
/// in (delete the directory to start again).
pub(crate) fn open_checkpoint(paper: &str, opts: &impl Resumable) -> Result<Option<Checkpoint>> {
    let Some(dir) = opts.checkpoint_dir() else {
        return Ok(None);
    };
    let run = format!(
        "{paper} {} entroscope {} checkpoint format 1",
        opts.identity(),
        env!("CARGO_PKG_VERSION")
    );
    let cp = Checkpoint::open(dir, &run)?;
    if !cp.is_empty() && crate::progress::enabled() {
        eprintln!(
            "{paper}: resuming, {} items kept in {}",
            cp.len(),
            dir.display()
        );
    }
    Ok(Some(cp))
}

/// The part of a run's checkpoint for model `index` of its options, so that two models of one
/// name (two `model.gguf` files in different folders) never share items.
pub(crate) fn model_part(
    checkpoint: Option<&Checkpoint>,
    index: usize,
) -> Result<Option<Checkpoint>> {
    checkpoint
        .map(|c| c.part(&format!("model {index}")))
        .transpose()
}

/// `compute`'s value, kept in (or read back from) the run's checkpoint under `key` when it has one.
pub(crate) fn keep<T: serde::Serialize + serde::de::DeserializeOwned>(
    checkpoint: Option<&Checkpoint>,
    key: &str,
    compute: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match checkpoint {
        Some(c) => c.keep(key, compute),
        None => compute(),
    }
}
