//! `entroscope end`: the END reproduction (arXiv 2502.03199) — candidate dynamics, greedy /
//! DoLa / END multiple-choice table with the λ × layer-set sweep, open-ended TruthfulQA.

use std::path::PathBuf;

use entroscope::papers::end::{self, Options};
use entroscope::prelude::*;

/// Arguments of `entroscope end`.
#[derive(clap::Args)]
pub struct Args {
    /// Models (repeatable; default: SmolLM2-135M-Instruct and Gemma-3-270M).
    #[arg(long)]
    model: Vec<String>,
    /// Figures (PNG), tables (Parquet) and summary.md go here.
    #[arg(long, default_value = "figures/end")]
    out: PathBuf,
    #[command(flatten)]
    size: crate::RunArgs,
    #[command(flatten)]
    load: crate::LoadArgs,
    /// Parts to run (repeatable): candidates, mc (method table + sweep), open. Default: all.
    #[arg(long)]
    part: Vec<String>,
    /// TruthfulQA questions for the method table and the sweep (overrides the preset).
    #[arg(long)]
    n_mc: Option<usize>,
    /// FACTOR items per split (overrides the preset; 0 skips FACTOR).
    #[arg(long)]
    n_factor: Option<usize>,
    /// Open-ended questions (overrides the preset).
    #[arg(long)]
    n_open: Option<usize>,
    /// λ values of the sweep (repeatable; overrides the preset).
    #[arg(long)]
    lambda: Vec<f32>,
    /// Layer sets of the sweep (repeatable): last-2, last-half, every-other-upper.
    #[arg(long)]
    layer_set: Vec<String>,
    /// Open-ended answers: the QA prompt as one user turn of the model's chat template (the
    /// reference encodes plain text; the multiple-choice parts score the plain prompt).
    #[arg(long)]
    chat_template: bool,
}

/// Runs the reproduction, prints its tables and writes its folder under `--out`.
pub fn run(args: Args) -> Result<()> {
    let mut o = args.size.preset()?.pick::<Options>();
    o.load = args.load.options()?;
    if !args.model.is_empty() {
        o.models = args.model;
    }
    if let Some(n) = args.n_mc {
        o.n_mc = n;
    }
    if let Some(n) = args.n_factor {
        o.n_factor = n;
    }
    if let Some(n) = args.n_open {
        o.n_open = n;
    }
    o.chat_template = args.chat_template;
    if !args.lambda.is_empty() {
        o.lambdas = args.lambda;
    }
    if !args.layer_set.is_empty() {
        o.layer_sets = args.layer_set;
    }
    if !args.part.is_empty() {
        for p in &args.part {
            if !matches!(p.as_str(), "candidates" | "mc" | "open") {
                return Err(Error::invalid(
                    "part",
                    p,
                    "`candidates`, `mc` or `open` (repeatable)",
                ));
            }
        }
        let has = |p: &str| args.part.iter().any(|x| x == p);
        if !has("mc") {
            o.n_mc = 0;
            o.n_factor = 0;
        }
        if !has("open") {
            o.n_open = 0;
        }
        o.candidates = has("candidates");
    }
    crate::papers::run_paper("end", &args.out, args.size.fresh, |cp| {
        o.checkpoint = Some(cp);
        end::run(&o)
    })?;
    Ok(())
}
