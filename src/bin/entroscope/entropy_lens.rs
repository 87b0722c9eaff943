//! `entroscope entropy-lens <experiment>`: the Entropy-Lens reproduction (families, tasks,
//! output formats, layer-skip interventions), figures and tables under `--out`.

use std::path::PathBuf;

use entroscope::papers::entropy_lens::{self, Experiment, Options};
use entroscope::prelude::*;

/// Which experiment to run.
#[derive(clap::Subcommand, Clone, Copy, Debug)]
pub enum Which {
    /// Profiles from BOS, family classification under both depth rescalings, PCA scatter.
    Families,
    /// Task classification (continuation / counting / semantic) on FACTOR news stories.
    Tasks,
    /// Output-format classification (chat / poem / scientific), window features.
    Formats,
    /// Layer-skip interventions (expansion / pruning / random) on TruthfulQA MC1.
    Interventions,
    /// All four.
    All,
}

/// Arguments of `entroscope entropy-lens`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
    /// Models (repeatable; default: SmolLM2-135M-Instruct and Gemma-3-270M).
    #[arg(long, global = true)]
    model: Vec<String>,
    /// Output directory for PNG figures and Parquet/CSV/Markdown tables.
    #[arg(long, global = true, default_value = "figures/entropy_lens")]
    out: PathBuf,
    #[command(flatten)]
    size: crate::SizeArgs,
    /// Base seed (sampling, folds, shuffles, random layer draws).
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let mut opts = args
        .size
        .preset()
        .choose(Options::quick, Options::full, Options::paper);
    if !args.model.is_empty() {
        opts.models = args.model;
    }
    opts.seed = args.seed;
    opts.progress = true;
    opts.experiments = match args.which {
        Which::Families => vec![Experiment::Families],
        Which::Tasks => vec![Experiment::Tasks],
        Which::Formats => vec![Experiment::Formats],
        Which::Interventions => vec![Experiment::Interventions],
        Which::All => Experiment::ALL.to_vec(),
    };
    crate::papers::run_paper("entropy-lens", &args.out, || entropy_lens::run(&opts))?;
    Ok(())
}
