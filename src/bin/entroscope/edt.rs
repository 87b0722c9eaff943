//! `entroscope edt`: the EDT reproduction (arXiv 2403.14541) — quality (ROUGE-L, BLEU) against
//! diversity (Self-BLEU) of fixed-temperature sampling and EDT, with the Pareto front.

use std::path::PathBuf;

use entroscope::papers::edt::{self, Options, Task};
use entroscope::prelude::*;

/// Arguments of `entroscope edt`.
#[derive(clap::Args)]
pub struct Args {
    /// Models (repeatable; default: SmolLM2-135M-Instruct and Gemma-3-270M; --quick: SmolLM2).
    #[arg(long)]
    model: Vec<String>,
    /// Figures (PNG), tables (Parquet) and summary.md go here.
    #[arg(long, default_value = "figures/edt")]
    out: PathBuf,
    #[command(flatten)]
    size: crate::RunArgs,
    #[command(flatten)]
    load: crate::LoadArgs,
    /// Tasks (repeatable): truthfulqa, factor-news.
    #[arg(long)]
    task: Vec<String>,
    /// Prompts per task (overrides the preset).
    #[arg(long)]
    n_prompts: Option<usize>,
    /// Samples per prompt and setting (default 5).
    #[arg(long)]
    samples: Option<usize>,
    /// New tokens per sample at most (overrides the preset).
    #[arg(long)]
    max_new_tokens: Option<usize>,
    /// Base seed of the samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Each prompt as one user turn of the model's chat template (the reference encodes plain
    /// text; an error for a model without a template).
    #[arg(long)]
    chat_template: bool,
}

/// Runs the reproduction, prints its tables and writes its files.
pub fn run(args: Args) -> Result<()> {
    let mut o = args.size.preset()?.pick::<Options>();
    o.load = args.load.options()?;
    if !args.model.is_empty() {
        o.models = args.model;
    }
    if !args.task.is_empty() {
        o.tasks = args
            .task
            .iter()
            .map(|t| t.parse::<Task>())
            .collect::<Result<_>>()?;
    }
    if let Some(n) = args.n_prompts {
        o.n_prompts = n;
    }
    if let Some(n) = args.samples {
        o.n_samples = n;
    }
    if let Some(n) = args.max_new_tokens {
        o.max_new_tokens = n;
    }
    o.seed = args.seed;
    o.chat_template = args.chat_template;
    crate::papers::run_paper("edt", &args.out, args.size.fresh, |cp| {
        o.checkpoint = Some(cp);
        edt::run(&o)
    })?;
    Ok(())
}
