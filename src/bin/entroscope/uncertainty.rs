//! `entroscope uncertainty`: the idiom-completion reproduction of "Uncovering uncertainty in
//! transformer inference" (arXiv 2412.05768) — per-layer cross-entropy and ROC AUC on the EPIE
//! idioms; figures and tables under `--out`.

use std::path::PathBuf;

use entroscope::papers::uncertainty::{self, Options};
use entroscope::prelude::*;

/// Arguments of `entroscope uncertainty`.
#[derive(clap::Args)]
pub struct Args {
    /// Models (repeatable; default: SmolLM2-135M-Instruct and Gemma-3-270M).
    #[arg(long)]
    model: Vec<String>,
    /// Figures (PNG), tables (CSV, Parquet) and results.md go here.
    #[arg(long, default_value = "figures/uncertainty")]
    out: PathBuf,
    /// `--quick`: the first 50 idioms of each set; `--paper`: every idiom (as the default).
    #[command(flatten)]
    size: crate::RunArgs,
    #[command(flatten)]
    load: crate::LoadArgs,
    /// Samples at T = 1 per idiom besides the greedy token.
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Base seed of the samples (sample `s` of idiom `i` draws from `seed + 1000·i + s`).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs the reproduction, prints its table and writes its files.
pub fn run(args: Args) -> Result<()> {
    let mut opts = args.size.preset()?.pick::<Options>();
    if !args.model.is_empty() {
        opts.models = args.model;
    }
    opts.n_samples = args.samples;
    opts.seed = args.seed;
    opts.load = args.load.options()?;
    let report = crate::papers::run_paper("uncertainty", &args.out, args.size.fresh, |cp| {
        opts.checkpoint = Some(cp);
        uncertainty::run(&opts)
    })?;
    eprintln!("skipped idiom lines: {}", report.skipped.len());
    Ok(())
}
