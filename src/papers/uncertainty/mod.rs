//! Reproduction of *Uncovering Uncertainty in Transformer Inference* (Brothers et al., arXiv
//! 2412.05768): idiom completion, per-layer cross-entropy through the logit lens, and the ROC AUC
//! of "the generation is wrong" against the final cross-entropy to the sampled token.
//!
//! No code was published with the paper, so every choice below is ours:
//! - **Data**: the EPIE idiom lists, read and cleaned by [`crate::data::load_idioms`] (one idiom
//!   per line; empty lines and one-word idioms are skipped *and counted* in
//!   [`Report::skipped`]).
//! - **Prompt** = [`INSTRUCTION`] + `"\n"` + the idiom without its last word, encoded with
//!   [`Lm::encode`](crate::Lm::encode) (the tokenizer's default special tokens; Gemma adds BOS).
//!   No chat template.
//! - **Ground truth** = the first token of `" " + last word` encoded without special tokens
//!   ([`Lm::encode_plain`](crate::Lm::encode_plain)); for multi-token last words only that first
//!   token counts.
//! - **Generation**: one token. Greedy (argmax of the final logits) and `n_samples` samples at
//!   T = 1 from the whole distribution (the decoding module's
//!   [`LogitsProcessor`](crate::decode::LogitsProcessor)), each from its own seed
//!   [`sample_seed`] = `seed + 1000·idiom + sample` (so any subset of idioms reproduces the same
//!   draws). `correct` = generated token id equals the ground-truth id.
//! - **Per layer** (normed logit lens, layer 0 = embeddings … L = final logits): entropy,
//!   cross-entropy −log p(token) of the generated token and of the ground-truth token, and their
//!   0-based ranks ([`layer_stats`]).
//! - **Scores**: ROC AUC with *incorrect* as the positive class and a higher score meaning "more
//!   likely wrong", via [`crate::stats::roc_auc`] (ties count ½). AUC of the final CE to the
//!   generated token (the paper's [`PAPER_AUC`]), of the final entropy (baseline), of the final
//!   CE to the ground truth (not available at inference time; an upper reference), and of every
//!   layer's CE to the generated token ([`Summary::auc_by_layer`]). A group with no correct or
//!   no incorrect generation has AUC = NaN.
//!
//! ```no_run
//! use entroscope::papers::uncertainty::{run, Options};
//! use entroscope::papers::Report as _;
//! let report = run(&Options { limit: Some(50), ..Options::full() })?;
//! println!("{}", report.markdown());
//! report.write("figures/uncertainty".as_ref())?;
//! # Ok::<(), entroscope::Error>(())
//! ```

mod experiment;
mod figures;
mod report;

pub use experiment::{
    auc_incorrect, layer_stats, make_case, prompt_text, run, run_idiom, sample_seed, summarize,
    Case, LayerStats, Options, Record, Summary, INSTRUCTION,
};
pub use figures::{auc_vs_layer_chart, ce_layers_chart, final_ce_histogram, roc_chart};
pub use report::{Report, PAPER_AUC};
