//! Reproduction of *Entropy-Lens: Uncovering Decision Strategies in LLMs* (Ali et al., arXiv
//! 2502.16570) on any model [`Lm::load`](crate::Lm::load) accepts (by default the two bundled
//! ones, SmolLM2-135M-Instruct and Gemma-3-270M).
//!
//! **Profile** of one generation ([`profiles::generation_profiles`]): the normed logit lens
//! (final norm at every layer) at the last position of every generation step, every layer,
//! reduced to Shannon entropy (α = 1) and Rényi α = 0.5 and 5, in nats. Features use the block
//! outputs only (`L` values, embeddings excluded, as the reference code's `hook_resid_post`).
//!
//! The experiments and the choices that are ours where the paper is silent:
//! - **Families**: samples from the BOS token alone (EOS for a model without BOS,
//!   [`prompts::bos_prompt`]); the class is the model's family (its architecture), which is the
//!   model itself when no two models share one. Where two do (Qwen2.5 0.5B and 1.5B), each is
//!   also held out and classified by a kNN trained on the others ([`HeldOutRow`]), and the
//!   distances between mean profiles are reported ([`DistanceRow`]).
//! - **Tasks**: FACTOR news openings stand in for TinyStories. Story then instruction,
//!   instruction then story, and the story's words shuffled (seeded) then instruction; every
//!   story appears in every task and variant, so the class is the task only.
//! - **Formats**: "Write a chat log between two friends about …" / "Write a poem about …" /
//!   "Write a scientific article about …", topics spread evenly over the list of
//!   `data/entropy_lens/topics.txt` ([`prompts::topics_path`], under `ENTROSCOPE_DATA`); the
//!   features are the means of consecutive windows of steps, concatenated.
//! - **Interventions**: expansion / pruning blocks are the `k` with the largest increase /
//!   decrease of the mean Shannon entropy (last prompt position, over the questions themselves)
//!   from the previous layer; the answer is the letter (" A"…" D") with the largest final logit
//!   after `"Answer:"` (greedy next-token choice, no free generation); reported are accuracy and
//!   the mean probability of the correct letter among the four, on TruthfulQA MC1.
//! - EOS is suppressed, so every generation has exactly `max_new_tokens` steps (fixed windows).
//!   Prompts are plain text encoded with [`Lm::encode`](crate::Lm::encode) (no chat template);
//!   [`Options::chat_template`] puts each request in the model's own template instead.
//! - kNN (Euclidean) for the `k` of [`Options::knn_ks`] no larger than the smallest training
//!   fold, stratified k-fold CV shuffled with the seed (fewer folds when a class is smaller),
//!   one-vs-rest macro ROC AUC averaged over folds, and a stratified dummy.
//! - Depth rescaling: profiles of different models are put on one length by linear
//!   interpolation onto [`Options::depth_points`] relative depths or by zero-padding to the
//!   deepest model (the reference code); families and the pooled (all models) task/format rows
//!   are reported under both.
//!
//! ```no_run
//! use entroscope::papers::entropy_lens::{run, Experiment, Options};
//! use entroscope::papers::Report as _;
//! let report = run(&Options { experiments: vec![Experiment::Tasks], ..Options::quick() })?;
//! println!("{}", report.markdown());
//! report.write("figures/entropy_lens".as_ref())?;
//! # Ok::<(), entroscope::Error>(())
//! ```

pub mod classify;
pub mod families;
pub mod features;
pub mod intervene;
pub mod profiles;
pub mod prompts;

mod experiment;
mod figures;
mod report;

pub use classify::ClassRow;
pub use experiment::{run, Experiment, Options};
pub use families::{DistanceRow, HeldOutRow};
pub use figures::ProfileLines;
pub use report::{InterventionRow, Report, Sample, SkipEffect, PAPER_FORMAT_AUC, PAPER_TASK_AUC};
