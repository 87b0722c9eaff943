//! Reproduce "Uncovering Uncertainty in Transformer Inference" (arXiv 2412.05768) on the EPIE
//! idioms with SmolLM2-135M-Instruct and Gemma-3-270M: figures and tables under
//! `figures/uncertainty/`, the results table printed as Markdown.
//!
//! ```sh
//! cargo run --release --example uncertainty            # all idioms (a few minutes)
//! cargo run --release --example uncertainty -- --quick # first 50 idioms of each set
//! cargo run --release --example uncertainty -- --out DIR --samples 5 --seed 0
//! ```

use std::path::PathBuf;

use entroscope::papers::uncertainty::{run, Options};
use entroscope::papers::Report as _;

fn main() -> entroscope::Result<()> {
    entroscope::runtime::init_cpu();
    let mut opts = Options { ..Options::full() };
    let mut out = PathBuf::from("figures/uncertainty");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => opts.limit = Options::quick().limit,
            "--out" => {
                let v = args.next().unwrap_or_default();
                if v.is_empty() {
                    return Err(entroscope::Error::invalid("--out", v, "a directory"));
                }
                out = v.into();
            }
            "--samples" => {
                let v = args.next().unwrap_or_default();
                opts.n_samples = v
                    .parse()
                    .map_err(|_| entroscope::Error::invalid("--samples", v, "an integer ≥ 0"))?;
            }
            "--seed" => {
                let v = args.next().unwrap_or_default();
                opts.seed = v
                    .parse()
                    .map_err(|_| entroscope::Error::invalid("--seed", v, "an integer ≥ 0"))?;
            }
            other => {
                return Err(entroscope::Error::invalid(
                    "argument",
                    other,
                    "--quick, --out DIR, --samples N, --seed S",
                ))
            }
        }
    }
    let t = std::time::Instant::now();
    let report = run(&opts)?;
    println!("{}", report.markdown());
    println!(
        "skipped idiom lines: {}; {} generations in {:.1} s",
        report.skipped.len(),
        report.records.len(),
        t.elapsed().as_secs_f64()
    );
    for f in report.write(&out)? {
        println!("wrote {}", f.display());
    }
    Ok(())
}
