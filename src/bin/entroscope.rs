//! `entroscope` command line: per-layer views of a model's predictions.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use entroscope::prelude::*;

#[derive(Parser)]
#[command(name = "entroscope", version, about = "Entropy of layer-by-layer predictions of transformer LMs")]
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
    },
}

fn model_arg(m: Option<String>) -> String {
    m.unwrap_or_else(entroscope::model::default_model_path)
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Info { model } => {
            let lm = Lm::load(&model_arg(model))?;
            println!("{lm}");
        }
        Cmd::Top { model, prompt } => {
            let lm = Lm::load(&model_arg(model))?;
            let trace = lm.trace_text(&prompt, &CaptureSpec::last())?;
            println!("{lm}\n{trace}\nprompt: {prompt:?}\nlayer  top-1 token (p)");
            for l in 0..=trace.n_layers() {
                let h = trace.layer(l)?;
                let z = lm.unembed(&lm.final_norm(&h)?)?;
                let p = candle_nn::ops::softmax_last_dim(&z)?.flatten_all()?.to_vec1::<f32>()?;
                let (best, pb) = p
                    .iter()
                    .enumerate()
                    .fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
                let tok = lm.decode(&[best as u32])?;
                println!("{l:>5}  {tok:?} ({pb:.3})");
            }
        }
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
