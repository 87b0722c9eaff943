//! `entroscope` command line: per-layer views of a model's predictions.
//!
//! ```text
//! entroscope top     [--model M] [--prompt TEXT]          per-layer top-1 token (logit lens)
//! entroscope profile --text-file F --out out.parquet      tidy table of per-layer metrics
//! entroscope figures [--model M] [--out figures] [--quick] the default model's figures
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use entroscope::frame::{self, ToFrame};
use entroscope::plot::{self, Band};
use entroscope::prelude::*;

mod edt;
mod end;
mod entropy_lens;
mod generate;
mod papers;
mod score;
mod uncertainty;

/// `--quick` / `--paper`: the size preset of a reproduction subcommand (default: the full run).
#[derive(clap::Args)]
pub struct SizeArgs {
    /// The quick preset: a handful of items, a few minutes.
    #[arg(long, global = true, conflicts_with = "paper")]
    quick: bool,
    /// The paper's sample counts (hours to days on two CPU cores).
    #[arg(long, global = true)]
    paper: bool,
}

impl SizeArgs {
    /// The chosen preset.
    pub fn preset(&self) -> entroscope::papers::preset::Preset {
        entroscope::papers::preset::Preset::from_flags(self.quick, self.paper)
    }
}

#[derive(Parser)]
#[command(
    name = "entroscope",
    version,
    about = "Entropy of the layer-by-layer predictions of transformer LMs"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the model's configuration.
    Info {
        /// A .gguf file, a Hugging Face model directory, or a hub repo id (default: SmolLM2-135M-Instruct).
        #[arg(long)]
        model: Option<String>,
    },
    /// Per-layer top-1 token (logit lens with the final norm) at the last position of a prompt.
    Top {
        #[arg(long)]
        model: Option<String>,
        #[arg(long, default_value = "The capital of France is")]
        prompt: String,
        /// Tokens per layer.
        #[arg(long, default_value_t = 1)]
        k: usize,
    },
    /// Per-layer metrics of every prompt of a text file (one prompt per line) as a tidy table.
    Profile {
        #[arg(long)]
        model: Option<String>,
        /// One prompt per line; prompt_id = line number (0-based); empty lines are skipped.
        #[arg(long)]
        text_file: PathBuf,
        /// shannon | renyi:<α> | cross-entropy | kl-final | target-rank | target-prob (repeatable).
        #[arg(long, default_value = "shannon")]
        metric: Vec<String>,
        /// normed (final norm at every layer) or raw (DoLa/END).
        #[arg(long, default_value = "normed")]
        lens: String,
        /// nats or bits.
        #[arg(long, default_value = "nats")]
        units: String,
        /// Output table: .csv or .parquet.
        #[arg(long)]
        out: PathBuf,
    },
    /// Reproduce "Uncovering uncertainty in transformer inference" (EPIE idiom completion,
    /// per-layer cross-entropy, ROC AUC) on the real models; figures and tables under --out.
    Uncertainty(uncertainty::Args),
    /// Generate text with a decoding method (greedy, sampling, EDT, END, DoLa).
    Generate(generate::Args),
    /// Score a multiple-choice benchmark (TruthfulQA MC1/2/3, FACTOR) under a decoding method.
    Score(score::Args),
    /// Reproduce Entropy-Lens (families, tasks, output formats, layer-skip interventions).
    EntropyLens(entropy_lens::Args),
    /// Reproduce the END paper's figures and tables.
    End(end::Args),
    /// Reproduce the EDT paper's quality/diversity figures and tables.
    Edt(edt::Args),
    /// Regenerate the default model's figures (PNG) and tables under --out.
    Figures {
        #[arg(long)]
        model: Option<String>,
        #[arg(long, default_value = "figures")]
        out: PathBuf,
        /// Fewer prompts (a fast pass).
        #[arg(long)]
        quick: bool,
    },
}

pub(crate) fn model_arg(m: Option<String>) -> String {
    m.unwrap_or_else(entroscope::model::default_model_path)
}

fn profile_cmd(
    model: Option<String>,
    text_file: &Path,
    metrics: &[String],
    lens: &str,
    units: &str,
    out: &Path,
) -> Result<()> {
    let metrics: Vec<Metric> = metrics
        .iter()
        .map(|m| {
            m.parse::<Metric>()
                .map_err(|e| Error::invalid("metric", m, e.to_string()))
        })
        .collect::<Result<_>>()?;
    for m in &metrics {
        m.validate()?;
    }
    let lens = LogitLens {
        kind: lens.parse()?,
        units: units
            .parse()
            .map_err(|e: entroscope::entropy::ParseMetricError| {
                Error::invalid("units", units, e.to_string())
            })?,
        ..LogitLens::default()
    };
    check_out(out)?;
    let text = std::fs::read_to_string(text_file).map_err(|e| Error::io(text_file, e))?;
    let prompts: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    if prompts.is_empty() {
        return Err(Error::NotEnoughData(format!(
            "{} has no non-empty line; write one prompt per line",
            text_file.display()
        )));
    }
    let lm = Lm::load(&model_arg(model))?;
    let targets = if metrics.iter().any(|m| m.needs_target()) {
        Targets::NextToken
    } else {
        Targets::None
    };
    let pb = entroscope::progress::progress_bar(true, prompts.len(), "profile");
    let mut frames = vec![];
    for (id, line) in prompts {
        let trace = lm.trace_text(line, &CaptureSpec::default())?;
        let mut profiles = lens.profile(&lm, &trace, &metrics, &targets)?;
        for p in &mut profiles {
            p.prompt_id = id;
        }
        frames.push(profiles.to_frame()?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let df = frame::concat(&frames)?;
    frame::write_table(&df, out)?;
    eprintln!("wrote {} rows to {}", df.height(), out.display());
    Ok(())
}

/// Fail before a long run, not after it: the output must be a .csv/.parquet file we can create.
fn check_out(out: &Path) -> Result<()> {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "csv" | "parquet") {
        return Err(Error::invalid(
            "out",
            out.display(),
            "a path ending in .csv or .parquet",
        ));
    }
    std::fs::File::create(out).map_err(|e| Error::Unwritable {
        path: out.to_path_buf(),
        detail: e.to_string(),
    })?;
    Ok(())
}

/// Prompts for the default figures: the first FACTOR news prefixes shipped in `data/`, else a
/// few built-in sentences.
fn figure_prompts(quick: bool) -> Vec<String> {
    let mut prompts = vec![
        "The capital of France is".to_string(),
        "Once upon a time, there was a little girl who".to_string(),
        "def fibonacci(n):\n    if n < 2:\n        return n\n    return".to_string(),
        "The mitochondria is the powerhouse of the".to_string(),
        "1, 2, 3, 4, 5, 6, 7,".to_string(),
        "Water boils at a temperature of".to_string(),
        "In 1969, the first person to walk on the Moon was".to_string(),
        "To be or not to be, that is the".to_string(),
    ];
    if quick {
        prompts.truncate(3);
    }
    prompts
}

fn figures_cmd(model: Option<String>, out: &Path, quick: bool) -> Result<()> {
    let dir = out.join("lens");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Unwritable {
        path: dir.clone(),
        detail: e.to_string(),
    })?;
    let lm = Lm::load(&model_arg(model))?;
    eprintln!("{lm}");
    let prompts = figure_prompts(quick);
    let metrics = [
        Metric::Shannon,
        Metric::renyi(0.5)?,
        Metric::renyi(2.0)?,
        Metric::renyi(f32::INFINITY)?,
    ];
    let lens = LogitLens::normed();
    let pb = entroscope::progress::progress_bar(true, prompts.len(), "figures");
    let mut all = vec![];
    let mut first_trace = None;
    for (id, text) in prompts.iter().enumerate() {
        let trace = lm.trace_text(text, &CaptureSpec::default())?;
        let mut profiles = lens.profile(&lm, &trace, &metrics, &Targets::None)?;
        for p in &mut profiles {
            p.prompt_id = id;
        }
        all.extend(profiles);
        if first_trace.is_none() {
            first_trace = Some(trace);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let shannon: Vec<LayerProfile> = all
        .iter()
        .filter(|p| p.metric == Metric::Shannon)
        .cloned()
        .collect();
    plot::profiles_vs_depth(&shannon, None, Band::Std)?
        .title(format!(
            "Logit-lens Shannon entropy by depth — {}",
            lm.name()
        ))
        .save(dir.join("entropy_vs_depth.png"))?;
    if let Some(p) = shannon.first() {
        plot::heatmap(p)?
            .title(format!(
                "Shannon entropy (nats), layer × token — {}",
                lm.name()
            ))
            .save(dir.join("heatmap.png"))?;
    }
    // Rényi orders: mean over prompts and positions, one line per α.
    let mut renyi_series = vec![];
    for m in metrics {
        let ps: Vec<LayerProfile> = all.iter().filter(|p| p.metric == m).cloned().collect();
        let agg = entroscope::profile::AggregateProfile::from_profiles(&ps)?;
        let n = agg.mean.len().saturating_sub(1).max(1) as f64;
        let x = (0..agg.mean.len()).map(|l| l as f64 / n).collect();
        renyi_series.push(plot::Curve::new(
            m.to_string(),
            x,
            agg.mean.iter().map(|&v| v as f64).collect(),
        ));
    }
    plot::entropy_vs_depth(&renyi_series, Band::None)?
        .title(format!(
            "Rényi entropies by depth (mean over prompts) — {}",
            lm.name()
        ))
        .save(dir.join("renyi_vs_depth.png"))?;
    let df = all.to_frame()?;
    frame::write_table(&df, dir.join("profiles.parquet"))?;
    if let Some(trace) = first_trace {
        let top = lens.top_k(&lm, &trace, 1)?;
        print!("{top}");
    }
    eprintln!("wrote figures and tables under {}", dir.display());
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Info { model } => {
            let lm = Lm::load(&model_arg(model))?;
            println!("{lm}");
        }
        Cmd::Top { model, prompt, k } => {
            let lm = Lm::load(&model_arg(model))?;
            let trace = lm.trace_text(&prompt, &CaptureSpec::last())?;
            println!("{lm}\n{trace}\nprompt: {prompt:?}");
            let top = LogitLens::normed().top_k(&lm, &trace, k)?;
            println!("layer  rank  token            p");
            for e in &top.entries {
                println!(
                    "{:>5}  {:>4}  {:<16} {:.3}",
                    e.layer,
                    e.rank,
                    format!("{:?}", e.token),
                    e.prob
                );
            }
        }
        Cmd::Profile {
            model,
            text_file,
            metric,
            lens,
            units,
            out,
        } => profile_cmd(model, &text_file, &metric, &lens, &units, &out)?,
        Cmd::Figures { model, out, quick } => figures_cmd(model, &out, quick)?,
        Cmd::Generate(args) => generate::run(args)?,
        Cmd::Score(args) => score::run(args)?,
        Cmd::EntropyLens(args) => entropy_lens::run(args)?,
        Cmd::End(args) => end::run(args)?,
        Cmd::Edt(args) => edt::run(args)?,
        Cmd::Uncertainty(args) => uncertainty::run(args)?,
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
