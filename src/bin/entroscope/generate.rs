//! `entroscope generate`: text generation with any of the library's decoders.

use std::path::PathBuf;

use entroscope::decode::{
    generate_batch, Baseline, Decoder, Dola, Edt, EdtLevel, EdtParams, End, EndParams,
    GenerateOptions, Sampling,
};
use entroscope::frame::{self, ToFrame};
use entroscope::prelude::*;

/// Arguments of `entroscope generate`.
#[derive(clap::Args)]
pub struct Args {
    /// A .gguf file, a bundled model's name, a Hugging Face model directory, or a hub repo id (default: SmolLM2-135M-Instruct).
    #[arg(long)]
    model: Option<String>,
    #[command(flatten)]
    load: crate::LoadArgs,
    /// Prompt (repeatable; each is generated on its own).
    #[arg(long, default_value = "The capital of France is")]
    prompt: Vec<String>,
    /// Each prompt as one user turn of the model's chat template (an error for a model without one).
    #[arg(long)]
    chat: bool,
    /// The decoder.
    #[arg(long, value_enum, default_value_t = Method::Greedy)]
    method: Method,
    #[arg(long, default_value_t = 32)]
    max_new_tokens: usize,
    /// Stop when the text contains this (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    /// Sampling temperature (`sample`; with `end`/`dola` it turns sampling on). EDT uses --t0.
    #[arg(long)]
    temperature: Option<f64>,
    /// Keep the k most likely tokens before sampling.
    #[arg(long)]
    top_k: Option<usize>,
    /// Nucleus: keep the smallest set with mass ≥ p before sampling.
    #[arg(long)]
    top_p: Option<f64>,
    /// HF repetition penalty θ (1 = off; DoLa defaults to 1.2).
    #[arg(long)]
    repetition_penalty: Option<f32>,
    /// Random seed (prompt i uses seed + i).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// EDT: base temperature T0.
    #[arg(long, default_value_t = 0.8)]
    t0: f64,
    /// EDT: exponent scale θ.
    #[arg(long, default_value_t = 0.2)]
    theta: f64,
    /// EDT: base N ∈ (0, 1).
    #[arg(long, default_value_t = 0.8)]
    n: f64,
    /// EDT: one temperature per token or per sample.
    #[arg(long, value_enum, default_value_t = Level::Token)]
    level: Level,
    /// END: entropy penalty λ.
    #[arg(long, default_value_t = 1.0)]
    lambda: f32,
    /// END: candidate threshold α (p ≥ α · max p).
    #[arg(long, default_value_t = 0.01)]
    alpha: f32,
    /// Per-step table (token, probabilities, entropy, temperature, layer): .parquet or .csv.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `--method`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Method {
    /// The most likely token.
    Greedy,
    /// Temperature sampling (with --top-k / --top-p).
    Sample,
    /// Entropy-based dynamic temperature.
    Edt,
    /// Cross-layer entropy enhanced decoding.
    End,
    /// Decoding by contrasting layers.
    Dola,
}

/// `--level` (EDT).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Level {
    /// A temperature per generated token.
    Token,
    /// One temperature per sample, from its first step.
    Instance,
}

fn sampling(a: &Args, default_temperature: Option<f64>) -> Sampling {
    let Some(temperature) = a.temperature.or(default_temperature) else {
        return Sampling::ArgMax;
    };
    match (a.top_k, a.top_p) {
        (None, None) => Sampling::All { temperature },
        (Some(k), None) => Sampling::TopK { k, temperature },
        (None, Some(p)) => Sampling::TopP { p, temperature },
        (Some(k), Some(p)) => Sampling::TopKThenTopP { k, p, temperature },
    }
}

fn decoder(a: &Args) -> Result<Box<dyn Decoder>> {
    let d: Box<dyn Decoder> = match a.method {
        Method::Greedy => Box::new(penalised_baseline(Baseline::greedy(), a)?),
        Method::Sample => Box::new(penalised_baseline(
            Baseline::sampling(a.seed, sampling(a, Some(1.0)))?,
            a,
        )?),
        Method::Edt => {
            let level = match a.level {
                Level::Token => EdtLevel::Token,
                Level::Instance => EdtLevel::Instance,
            };
            let mut e = Edt::new(EdtParams {
                t0: a.t0,
                theta: a.theta,
                n: a.n,
                level,
            })?
            .seed(a.seed);
            if let Some(k) = a.top_k {
                e = e.top_k(k)?;
            }
            if let Some(p) = a.top_p {
                e = e.top_p(p)?;
            }
            if let Some(r) = a.repetition_penalty {
                e = e.repetition_penalty(r)?;
            }
            Box::new(e)
        }
        Method::End => {
            let mut e = End::new(EndParams {
                lambda: a.lambda,
                alpha: a.alpha,
                ..EndParams::generation()
            })?;
            if a.temperature.is_some() {
                e = e.sampling(a.seed, sampling(a, None))?;
            }
            if let Some(r) = a.repetition_penalty {
                e = e.repetition_penalty(r)?;
            }
            Box::new(e)
        }
        Method::Dola => {
            let mut d = Dola::new();
            if a.temperature.is_some() {
                d = d.sampling(a.seed, sampling(a, None))?;
            }
            if let Some(r) = a.repetition_penalty {
                d = d.repetition_penalty(r)?;
            }
            Box::new(d)
        }
    };
    Ok(d)
}

fn penalised_baseline(b: Baseline, a: &Args) -> Result<Baseline> {
    match a.repetition_penalty {
        Some(r) => b.repetition_penalty(r),
        None => Ok(b),
    }
}

/// Generates a continuation of every prompt, prints it, and optionally writes the per-step table.
pub fn run(args: Args) -> Result<()> {
    let mut dec = decoder(&args)?; // parameters checked before the model loads
    let lm = crate::load_model(args.model.clone(), &args.load)?;
    let mut opts = GenerateOptions::new(args.max_new_tokens);
    opts.stop_strings = args.stop.clone();
    opts.chat = args.chat;
    let prompts: Vec<&str> = args.prompt.iter().map(String::as_str).collect();
    let gens = generate_batch(&lm, &prompts, &mut dec, &opts)?;
    for (p, g) in prompts.iter().zip(&gens) {
        println!("{p}{}", g.text);
        eprintln!(
            "  [{} tokens, {:.1} tokens/s, stop: {:?}, mean entropy {:.3} nats]",
            g.ids.len(),
            g.tokens_per_second(),
            g.stop,
            g.steps.iter().map(|s| f64::from(s.entropy)).sum::<f64>() / g.steps.len().max(1) as f64
        );
    }
    if let Some(path) = &args.out {
        let frames = gens
            .iter()
            .map(|g| g.to_frame())
            .collect::<Result<Vec<_>>>()?;
        frame::write_table(&frame::concat(&frames)?, path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
