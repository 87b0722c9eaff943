//! One runner for the four paper subcommands: run, print the Markdown summary, write the report's
//! folder, list the files and the wall time.

use std::path::Path;
use std::time::Instant;

use entroscope::papers::Report;
use entroscope::Result;

/// Runs one paper's study and writes its report under `out`.
pub fn run_paper<R: Report>(name: &str, out: &Path, run: impl FnOnce() -> Result<R>) -> Result<R> {
    let t0 = Instant::now();
    let report = run()?;
    println!("{}", report.markdown());
    for f in report.write(out)? {
        eprintln!("wrote {}", f.display());
    }
    eprintln!("{name}: {:.1} s", t0.elapsed().as_secs_f64());
    Ok(report)
}
