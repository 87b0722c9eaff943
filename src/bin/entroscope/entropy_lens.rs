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
    /// Models (repeatable; paths, bundled names such as qwen2.5-coder-1.5b-instruct, HF
    /// directories or hub ids; default: SmolLM2-135M-Instruct and Gemma-3-270M).
    #[arg(long, global = true)]
    model: Vec<String>,
    /// Output directory for PNG figures and Parquet/CSV/Markdown tables.
    #[arg(long, global = true, default_value = "figures/entropy_lens")]
    out: PathBuf,
    #[command(flatten)]
    size: crate::RunArgs,
    #[command(flatten)]
    load: crate::LoadArgs,
    /// Base seed (sampling, folds, shuffles, random layer draws).
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
    /// Tasks: number of texts (24 prompts each), instead of the preset's.
    #[arg(long, global = true)]
    task_texts: Option<usize>,
    /// Formats: number of topics (3 prompts each), instead of the preset's.
    #[arg(long, global = true)]
    format_topics: Option<usize>,
    /// Formats: generated tokens (a multiple of 8, the windows), instead of the preset's.
    #[arg(long, global = true)]
    format_tokens: Option<usize>,
    /// Interventions: TruthfulQA questions, instead of the preset's.
    #[arg(long, global = true)]
    mc_questions: Option<usize>,
    /// Interventions: numbers of blocks to skip (repeatable), instead of the preset's.
    #[arg(long, global = true)]
    skip_k: Vec<usize>,
    /// Tasks, formats, interventions: each request as a user turn of the model's chat template
    /// (the reference encodes plain text; instruct models follow requests only inside it).
    #[arg(long, global = true)]
    chat_template: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let mut opts = args.size.preset()?.pick::<Options>();
    if !args.model.is_empty() {
        opts.models = args.model;
    }
    opts.seed = args.seed;
    opts.task_stories = args.task_texts.unwrap_or(opts.task_stories);
    opts.format_topics = args.format_topics.unwrap_or(opts.format_topics);
    opts.format_tokens = args.format_tokens.unwrap_or(opts.format_tokens);
    opts.mc_questions = args.mc_questions.unwrap_or(opts.mc_questions);
    if !args.skip_k.is_empty() {
        opts.skip_ks = args.skip_k;
    }
    opts.chat_template = args.chat_template;
    opts.load = args.load.options()?;
    opts.experiments = match args.which {
        Which::Families => vec![Experiment::Families],
        Which::Tasks => vec![Experiment::Tasks],
        Which::Formats => vec![Experiment::Formats],
        Which::Interventions => vec![Experiment::Interventions],
        Which::All => Experiment::ALL.to_vec(),
    };
    crate::papers::run_paper("entropy-lens", &args.out, args.size.fresh, |cp| {
        opts.checkpoint = Some(cp);
        entropy_lens::run(&opts)
    })?;
    Ok(())
}
