//! One runner for the four paper subcommands: run, print the Markdown summary, write the report's
//! folder, list the files and the wall time.

use std::path::{Path, PathBuf};
use std::time::Instant;

use entroscope::data::Checkpoint;
use entroscope::papers::Report;
use entroscope::{Error, Result};

/// Runs one paper's study and writes its report under `out`. `run` gets the checkpoint
/// directory (`out/.checkpoint`, emptied first when `fresh`) for the options' `checkpoint`; it
/// is deleted once the report is written.
pub fn run_paper<R: Report>(
    name: &str,
    out: &Path,
    fresh: bool,
    run: impl FnOnce(PathBuf) -> Result<R>,
) -> Result<R> {
    let t0 = Instant::now();
    let checkpoint = checkpoint_dir(out, fresh)?;
    let report = run(checkpoint.clone())?;
    println!("{}", report.markdown());
    for f in report.write(out)? {
        eprintln!("wrote {}", f.display());
    }
    Checkpoint::delete(&checkpoint)?;
    eprintln!("{name}: {:.1} s", t0.elapsed().as_secs_f64());
    Ok(report)
}

/// Where a paper run writing to `out` keeps its items: `out/.checkpoint`, deleted first when
/// `fresh` (a killed run's items are otherwise read back).
pub fn checkpoint_dir(out: &Path, fresh: bool) -> Result<PathBuf> {
    let dir = out.join(".checkpoint");
    if fresh && dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    Ok(dir)
}
