//! `entroscope` command line: per-layer views of a model's predictions.
//!
//! ```text
//! entroscope top     [--model M] [--prompt TEXT]          per-layer top-1 token (logit lens)
//! entroscope profile --text-file F --out out.parquet      tidy table of per-layer metrics
//!                    [--shard i/n]                         one shard: part-i-of-n.parquet
//! entroscope merge   --dir parts --out out.parquet         join the shards of a profile or score run
//! entroscope figures [--model M] [--out figures] [--quick] the default model's figures
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use entroscope::frame::{self, ToFrame};
use entroscope::papers::preset::Preset;
use entroscope::plot::{self, Band};
use entroscope::prelude::*;

mod edt;
mod end;
mod entropy_lens;
mod generate;
mod papers;
mod profile;
mod score;
mod uncertainty;

/// `--quick` / `--paper`: the size preset of a reproduction subcommand (default: the full run),
/// and `--fresh`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Start again: drop the items a killed run of the same options kept (by default a run
    /// resumes from `<out>/.checkpoint`, removed once the report is written).
    #[arg(long, global = true)]
    fresh: bool,
    /// Run size: quick | default | full | paper (the README's table says how long each takes).
    #[arg(long, global = true, conflicts_with_all = ["quick", "paper"])]
    size: Option<String>,
    /// Same as --size quick.
    #[arg(long, global = true, conflicts_with = "paper")]
    quick: bool,
    /// Same as --size paper (the papers' sample counts: hours to days on two CPU cores).
    #[arg(long, global = true)]
    paper: bool,
}

/// `--device` / `--dtype`: where a subcommand's models run and how their weights are stored.
#[derive(clap::Args, Clone)]
pub struct LoadArgs {
    /// Where the model runs: cpu | cuda | cuda:N (CUDA needs a build with `--features cuda`).
    #[arg(long, global = true, default_value = "cpu")]
    device: String,
    /// Weights: f32 | bf16 | f16 | quantized (GGUF blocks kept as they are); statistics stay f32.
    #[arg(long, global = true, default_value = "f32")]
    dtype: String,
    /// Load a model even when it may not fit in the memory available (checked before loading).
    #[arg(long, global = true)]
    force_load: bool,
}

impl LoadArgs {
    /// The parsed options (an unknown device or dtype, or CUDA on a CPU build, is an error).
    pub fn options(&self) -> Result<entroscope::model::LoadOptions> {
        let opts = entroscope::model::LoadOptions::parse(&self.device, &self.dtype)?;
        Ok(if self.force_load {
            opts.memory(entroscope::model::MemoryCheck::Force)
        } else {
            opts
        })
    }
}

/// Load `model` (default: the bundled SmolLM2) with the `--device` / `--dtype` options.
pub(crate) fn load_model(model: Option<String>, load: &LoadArgs) -> Result<Lm> {
    Lm::load_with(&model_arg(model), &load.options()?)
}

impl RunArgs {
    /// The chosen preset (`default` when nothing is given).
    pub fn preset(&self) -> Result<Preset> {
        match &self.size {
            Some(s) => s.parse(),
            None => Ok(Preset::from_flags(self.quick, self.paper)),
        }
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
        /// A .gguf file, a bundled model's name (e.g. qwen2.5-coder-1.5b-instruct), a Hugging Face model directory, or a hub repo id (default: SmolLM2-135M-Instruct).
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        load: LoadArgs,
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
        /// The prompt as one user turn of the model's chat template.
        #[arg(long)]
        chat: bool,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Per-layer metrics of every prompt of a prompt file (.txt, .jsonl, .csv, .parquet) as a
    /// tidy table; --shard i/n runs one part of it.
    Profile(profile::Args),
    /// Join the part-i-of-n.parquet files of a sharded `profile` or `score` run into one table.
    Merge(profile::MergeArgs),
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
    /// Regenerate every paper's figures and tables under --out (lens, uncertainty,
    /// entropy_lens, end, edt), one progress line per part and a closing summary.
    Figures {
        #[arg(long, default_value = "figures")]
        out: PathBuf,
        #[command(flatten)]
        size: RunArgs,
        /// Only these parts (repeatable): lens, uncertainty, entropy-lens, end, edt.
        #[arg(long)]
        only: Vec<String>,
        /// Models instead of each paper's default set (repeatable; a path, a bundled name such
        /// as qwen2.5-coder-1.5b-instruct, a HF directory or a hub id).
        #[arg(long)]
        model: Vec<String>,
        /// Requests as user turns of each model's chat template: Entropy-Lens's tasks, formats
        /// and interventions, END's open-ended answers, EDT's prompts (off by default, as in the
        /// references; idiom completion continues plain text either way).
        #[arg(long)]
        chat_template: bool,
        #[command(flatten)]
        load: LoadArgs,
    },
}

pub(crate) fn model_arg(m: Option<String>) -> String {
    m.unwrap_or_else(entroscope::model::default_model_path)
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

/// The parts of `entroscope figures`, in order, with their folders under `--out`.
const FIGURE_PARTS: [(&str, &str); 5] = [
    ("lens", "lens"),
    ("uncertainty", "uncertainty"),
    ("entropy-lens", "entropy_lens"),
    ("end", "end"),
    ("edt", "edt"),
];

/// Run one paper at `size` and write its report into `dir`: (files, headline). The run keeps its
/// items in `dir/.checkpoint` until the report is written ([`crate::papers::run_and_write`]).
fn figure_part<R: entroscope::papers::Report>(
    dir: &Path,
    fresh: bool,
    run: impl FnOnce(PathBuf) -> Result<R>,
) -> Result<(Vec<PathBuf>, String)> {
    let (report, files) = crate::papers::run_and_write(dir, fresh, run)?;
    Ok((files, report.headline()))
}

/// What `entroscope figures` runs on: the models (empty: each paper's default set), the
/// chat-template option, the device and dtype, and whether to start again.
struct FigureModels {
    models: Vec<String>,
    chat_template: bool,
    load: LoadArgs,
    /// Drop what a killed run kept (`--fresh`).
    fresh: bool,
}

fn figures_all(out: &Path, size: Preset, only: &[String], run: &FigureModels) -> Result<()> {
    let load = run.load.options()?;
    let models = |default: Vec<String>| {
        if run.models.is_empty() {
            default
        } else {
            run.models.clone()
        }
    };
    use entroscope::papers::{edt, end, entropy_lens, uncertainty};
    for o in only {
        if !FIGURE_PARTS.iter().any(|(p, _)| p == o) {
            return Err(Error::invalid(
                "only",
                o,
                "lens, uncertainty, entropy-lens, end or edt",
            ));
        }
    }
    let parts: Vec<(&str, &str)> = FIGURE_PARTS
        .into_iter()
        .filter(|(p, _)| only.is_empty() || only.iter().any(|o| o == p))
        .collect();
    let t_all = std::time::Instant::now();
    let mut done = Vec::new();
    for (i, &(name, folder)) in parts.iter().enumerate() {
        let dir = out.join(folder);
        eprintln!(
            "[{}/{}] {name} ({size}) → {}",
            i + 1,
            parts.len(),
            dir.display()
        );
        let t0 = std::time::Instant::now();
        let (files, headline) = match name {
            "lens" => (
                figures_cmd(
                    run.models.first().cloned(),
                    out,
                    size == Preset::Quick,
                    &load,
                )?,
                String::new(),
            ),
            "uncertainty" => {
                let mut o: uncertainty::Options = size.pick();
                o.load = load.clone();
                o.models = models(o.models);
                figure_part(&dir, run.fresh, |cp| {
                    o.checkpoint = Some(cp);
                    uncertainty::run(&o)
                })?
            }
            "entropy-lens" => {
                let mut o: entropy_lens::Options = size.pick();
                o.load = load.clone();
                o.models = models(o.models);
                o.chat_template = run.chat_template;
                figure_part(&dir, run.fresh, |cp| {
                    o.checkpoint = Some(cp);
                    entropy_lens::run(&o)
                })?
            }
            "end" => {
                let mut o: end::Options = size.pick();
                o.load = load.clone();
                o.models = models(o.models);
                o.chat_template = run.chat_template;
                figure_part(&dir, run.fresh, |cp| {
                    o.checkpoint = Some(cp);
                    end::run(&o)
                })?
            }
            _ => {
                let mut o: edt::Options = size.pick();
                o.load = load.clone();
                o.models = models(o.models);
                o.chat_template = run.chat_template;
                figure_part(&dir, run.fresh, |cp| {
                    o.checkpoint = Some(cp);
                    edt::run(&o)
                })?
            }
        };
        let secs = t0.elapsed().as_secs_f64();
        eprintln!(
            "[{}/{}] {name}: {} files in {secs:.0} s",
            i + 1,
            parts.len(),
            files.len()
        );
        done.push((name, dir, files, secs, headline));
    }
    println!(
        "\n# entroscope figures, size {size}: {:.1} min in all\n",
        t_all.elapsed().as_secs_f64() / 60.0
    );
    for (name, dir, files, secs, headline) in &done {
        println!(
            "## {name}: {} files in {} ({secs:.0} s)",
            files.len(),
            dir.display()
        );
        for line in headline.lines() {
            println!("  {line}");
        }
        let names: Vec<String> = files
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        println!("  files: {}\n", names.join(", "));
    }
    Ok(())
}

/// The lens figures of the default model under `out/lens`; returns the files written.
fn figures_cmd(
    model: Option<String>,
    out: &Path,
    quick: bool,
    load: &entroscope::model::LoadOptions,
) -> Result<Vec<PathBuf>> {
    let dir = out.join("lens");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Unwritable {
        path: dir.clone(),
        detail: e.to_string(),
    })?;
    let lm = Lm::load_with(&model_arg(model), load)?;
    eprintln!("{lm}");
    let prompts = figure_prompts(quick);
    let metrics = [
        Metric::Shannon,
        Metric::renyi(0.5)?,
        Metric::renyi(2.0)?,
        Metric::renyi(f32::INFINITY)?,
    ];
    let lens = LogitLens::normed();
    let pb = entroscope::progress::progress_bar(prompts.len(), "figures");
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
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Info { model, load } => {
            let lm = load_model(model, &load)?;
            println!("{lm}");
        }
        Cmd::Top {
            model,
            prompt,
            k,
            chat,
            load,
        } => {
            let lm = load_model(model, &load)?;
            let ids = lm.encode_request(&prompt, chat)?;
            let trace = lm.trace(&ids, &CaptureSpec::last(), &mut NoHook)?;
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
        Cmd::Profile(args) => profile::run(args)?,
        Cmd::Merge(args) => profile::merge(args)?,
        Cmd::Figures {
            out,
            size,
            only,
            model,
            chat_template,
            load,
        } => figures_all(
            &out,
            size.preset()?,
            &only,
            &FigureModels {
                models: model,
                chat_template,
                load,
                fresh: size.fresh,
            },
        )?,
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
    entroscope::runtime::init_cpu();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
