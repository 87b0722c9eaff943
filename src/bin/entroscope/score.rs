//! `entroscope score`: a multiple-choice benchmark under a decoding method.

use std::path::PathBuf;

use entroscope::data::Shard;
use entroscope::frame::{self, ToFrame};
use entroscope::papers::output::OutputDir;
use entroscope::prelude::*;
use entroscope::score::{run_bench, Bench, BenchOptions, ScoreMethod};

/// Arguments of `entroscope score`.
#[derive(clap::Args)]
pub struct Args {
    /// A .gguf file, a Hugging Face model directory, or a hub repo id (default: SmolLM2-135M-Instruct).
    #[arg(long)]
    model: Option<String>,
    #[command(flatten)]
    load: crate::LoadArgs,
    /// truthfulqa-mc | factor-news | factor-expert (repeatable).
    #[arg(long, required = true)]
    bench: Vec<String>,
    /// greedy | end | end-normed | dola (repeatable), with the reference settings of each
    /// benchmark (end-normed: END with early exits through the final norm, an ablation).
    #[arg(long, default_value = "greedy")]
    method: Vec<String>,
    /// Score only the first N items of each benchmark.
    #[arg(long)]
    limit: Option<usize>,
    /// The first 50 items (a fast pass; same as --limit 50).
    #[arg(long)]
    quick: bool,
    /// Score only shard i of n (1-based, e.g. 2/3) of the items: each per-item table becomes
    /// `<model>-<bench>-<method>/part-i-of-n.parquet`, which `entroscope merge` joins.
    #[arg(long)]
    shard: Option<Shard>,
    /// Directory for the per-item tables (`<model>-<bench>-<method>.parquet`) and `summary.csv`.
    /// Each table's items are kept in `<table>.items/` as they are scored, so a killed run
    /// resumes when run again.
    #[arg(long, default_value = "figures/score")]
    out: PathBuf,
    /// Start again: drop the items a killed run kept.
    #[arg(long)]
    fresh: bool,
}

/// Scores every (bench, method) pair, writes one per-item table each and a summary table, and
/// prints the summary lines.
pub fn run(args: Args) -> Result<()> {
    let benches = args
        .bench
        .iter()
        .map(|b| b.parse::<Bench>())
        .collect::<Result<Vec<_>>>()?;
    // Validate every method name before loading anything.
    for b in &benches {
        for m in &args.method {
            ScoreMethod::for_bench(m, *b)?;
        }
    }
    let model = args.model.clone();
    let lm = crate::load_model(args.model, &args.load)?;
    let opts = BenchOptions {
        limit: args.limit.or(args.quick.then_some(50)),
        shard: args.shard,
        ..Default::default()
    };
    let mut out = OutputDir::create(&args.out)?;
    let stem = lm.name().replace(['/', ' '], "_");
    let mut summary = Vec::new();
    for bench in &benches {
        for m in &args.method {
            let method = ScoreMethod::for_bench(m, *bench)?;
            let table = format!("{stem}-{bench}-{}", method.name());
            let table = match args.shard {
                Some(shard) => format!("{table}/{}", shard.file_name()),
                None => format!("{table}.parquet"),
            };
            // What makes two runs' items interchangeable: everything that changes a score (the
            // method with its parameters, and the benchmark's data).
            let run = format!(
                "{} ({}) on {} dtype {} bench {bench} ({}) method {method:?} limit {:?} shard {:?} \
                 entroscope {}",
                lm.name(),
                crate::profile::model_identity(model.as_deref()),
                entroscope::model::device_name(lm.device()),
                lm.dtype(),
                bench_digest(*bench)?,
                opts.limit,
                args.shard.map(|s| s.file_name()),
                env!("CARGO_PKG_VERSION"),
            );
            let items = args.out.join(format!("{table}.items"));
            let checkpoint = crate::profile::open_checkpoint(&items, &run, args.fresh, "items")?;
            let opts = BenchOptions {
                checkpoint: Some(checkpoint.clone()),
                ..opts.clone()
            };
            let t0 = std::time::Instant::now();
            let report = run_bench(&lm, *bench, &method, &opts)?;
            let secs = t0.elapsed().as_secs_f64();
            println!("{}  ({secs:.0} s)", report.summary());
            out.table(&table, &report.to_frame()?)?;
            checkpoint.remove()?;
            summary.push(report.summary_frame(secs)?);
        }
    }
    // A shard's means cover its own items only: its summary is named after the shard.
    let summary_name = match args.shard {
        Some(shard) => format!("{stem}-summary-{}.csv", shard.part_name()),
        None => format!("{stem}-summary.csv"),
    };
    out.table(&summary_name, &frame::concat(&summary)?)?;
    eprintln!(
        "wrote {} files under {}",
        out.into_files().len(),
        args.out.display()
    );
    Ok(())
}

/// A digest of a benchmark's items: an edited data file is another run.
fn bench_digest(bench: Bench) -> Result<String> {
    use entroscope::data::{self, FactorSplit};
    let items = match bench {
        Bench::TruthfulQaMc => format!("{:?}", data::truthfulqa()?),
        Bench::FactorNews => format!("{:?}", data::factor(FactorSplit::News)?),
        Bench::FactorExpert => format!("{:?}", data::factor(FactorSplit::Expert)?),
    };
    Ok(format!("data digest {}", crate::profile::digest(&items)))
}
