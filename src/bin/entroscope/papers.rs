//! One runner for the four paper subcommands: run, print the Markdown summary, write the report's
//! folder, list the files and the wall time.

use std::path::{Path, PathBuf};
use std::time::Instant;

use entroscope::data::Checkpoint;
use entroscope::papers::Report;
use entroscope::{Error, Result};

/// Runs one paper's study, prints its Markdown summary and writes its report under `out`
/// ([`run_and_write`]).
pub fn run_paper<R: Report>(
    name: &str,
    out: &Path,
    fresh: bool,
    run: impl FnOnce(PathBuf) -> Result<R>,
) -> Result<R> {
    let t0 = Instant::now();
    let (report, files) = run_and_write(out, fresh, run)?;
    println!("{}", report.markdown());
    for f in files {
        eprintln!("wrote {}", f.display());
    }
    eprintln!("{name}: {:.1} s", t0.elapsed().as_secs_f64());
    Ok(report)
}

/// Runs a paper's study and writes its report into `out`: (report, files written). `run` gets
/// the checkpoint directory for the options' `checkpoint`: `out/.checkpoint`, emptied first
/// when `fresh` (a killed run's items are otherwise read back), deleted once the report is
/// written.
pub fn run_and_write<R: Report>(
    out: &Path,
    fresh: bool,
    run: impl FnOnce(PathBuf) -> Result<R>,
) -> Result<(R, Vec<PathBuf>)> {
    let checkpoint = out.join(".checkpoint");
    if fresh && checkpoint.exists() {
        std::fs::remove_dir_all(&checkpoint).map_err(|e| Error::io(&checkpoint, e))?;
    }
    let report = run(checkpoint.clone())?;
    let files = report.write(out)?;
    Checkpoint::delete(&checkpoint)?;
    Ok((report, files))
}
