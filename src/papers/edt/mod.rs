//! Reproduction of *EDT: Improving Large Language Models' Generation by Entropy-based Dynamic
//! Temperature Sampling* (Zhang et al., arXiv 2403.14541) on our small models: quality and
//! diversity of sampling at fixed temperatures against EDT (token level and instance level).
//!
//! Protocol (every reduction of the paper's is a field of [`Options`]):
//! - **Tasks** ([`Task`]): TruthfulQA (the 6-shot QA prompt, reference = the best answer, stop at
//!   a newline or `"Q:"`) and FACTOR news (prompt = the news prefix, reference = the true
//!   completion, stop at a newline, the sample cut after its first sentence). The paper
//!   fine-tunes LLaMA2 on XLSum / QuAC / MS MARCO / WMT19; we use the two reference datasets we
//!   ship and no fine-tuning.
//! - **Settings** ([`Setting`]): fixed temperatures, EDT token level (`T = T0 · N^(θ/H)` per
//!   step, `N = 0.8`) and instance level (one `T` per sample from the first step's entropy), over
//!   a grid of `T0` and `θ`. Pure temperature sampling from the whole distribution (no top-k /
//!   top-p), so only the temperature rule differs.
//! - **Samples**: `n_samples` (5) per prompt and setting, seeded (`seed + prompt · n_samples +
//!   sample`), the prompt's KV cache computed once and shared by every sample.
//! - **Quality** = mean ROUGE-L F1 and mean sentence BLEU-4 (NLTK smoothing 1) of each sample
//!   against the reference; **diversity** = mean over prompts of the Self-BLEU of its samples
//!   (lower = more diverse), see [`crate::stats::text`].
//! - **Pareto front** ([`pareto_front`]): settings that no other setting beats on both quality
//!   (higher ROUGE-L) and Self-BLEU (lower). The paper's claim: EDT reaches better quality at
//!   equal diversity, i.e. EDT settings sit on (or push out) the front.
//!
//! ```no_run
//! use entroscope::papers::edt::{run, Options};
//! use entroscope::papers::Report as _;
//! let report = run(&Options::quick())?;
//! println!("{}", report.markdown());
//! report.write("figures/edt".as_ref())?;
//! # Ok::<(), entroscope::Error>(())
//! ```

mod experiment;
mod figures;
mod report;

pub use experiment::{
    first_sentence, full_grid, prefill, prefill_ids, run, run_task, sample, sample_batch, Options,
    Prefilled, Sample, Setting, Task, TRACE_SETTING,
};
pub use report::{pareto_front, Report, SampleRow, SettingResult};
