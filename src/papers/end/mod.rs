//! Reproduction of *Improve Decoding Factuality by Token-wise Cross Layer Entropy of Large
//! Language Models* (END, arXiv 2502.03199) on any model [`Lm::load`](crate::Lm::load) accepts
//! (by default the two bundled ones, SmolLM2-135M-Instruct and Gemma-3-270M).
//!
//! The three parts:
//! 1. **Candidate dynamics** ([`candidate_dynamics`]): for factual prompts (a dozen of ours,
//!    [`FACT_PROMPTS`], plus TruthfulQA questions in the 6-shot QA prompt) the per-layer
//!    probability of the final layer's top candidates and of the reference answer's first token
//!    (normed logit lens: final norm + unembedding at every layer, softmax over the vocabulary),
//!    and each token's cross-layer entropy `H(v)` over END's layer set (raw early-exit logits,
//!    softmax across layers — exactly the quantity END subtracts). The paper's picture: the
//!    correct token's probability grows sharply in the upper layers (low `H`), distractors'
//!    grow flatly (high `H`).
//! 2. **Multiple choice**: TruthfulQA MC1/MC2/MC3 and FACTOR news / expert for greedy, DoLa and
//!    END ([`crate::score::run_bench`], reference settings), and a **sweep** of λ and of the layer
//!    set ([`layer_sets`], named [`Layers`](crate::decode::Layers)) on TruthfulQA
//!    ([`truthfulqa_sweep`]). The sweep runs each continuation once and scores every
//!    (λ, layer set) from the same early-exit logits; at λ = 0 it is the greedy baseline and at
//!    (λ, set) it equals [`crate::score::Scorer`] with
//!    `ScoreMethod::End(EndParams { lambda, layers, ..EndParams::scoring() })`: α = 0 and the
//!    final layer in every set, as the reference's MC script (tested).
//! 3. **Open-ended TruthfulQA** ([`open_ended`]): greedy, DoLa and END generate up to 50 tokens
//!    after the 6-shot prompt, stopping at `"Q:"`. The paper judges answers with fine-tuned GPT
//!    judges ("truth" and "info"), which are out of reach here; we score **overlap** instead:
//!    `max ROUGE-L(answer, correct refs) − max ROUGE-L(answer, incorrect refs)` and the share of
//!    answers strictly closer to a correct reference (TruthfulQA's own ROUGE "diff" and "acc"
//!    metrics, with `"I have no comment."` added to the correct references as TruthfulQA does).
//!
//! Every reduction of the paper's protocol (subsets of questions, our two small models) is a
//! field of [`Options`].
//!
//! ```no_run
//! use entroscope::papers::end::{run, Options};
//! use entroscope::papers::Report as _;
//! let report = run(&Options::quick())?;
//! println!("{}", report.markdown());
//! report.write("figures/end".as_ref())?;
//! # Ok::<(), entroscope::Error>(())
//! ```

mod experiment;
mod figures;
mod report;

pub use experiment::{
    candidate_dynamics, fact_prompts, layer_set_name, layer_sets, open_ended, open_methods, run,
    score_answer, truthfulqa_sweep, FactPrompt, Options, DEFAULT_LAMBDA, DEFAULT_LAYER_SET,
    FACT_PROMPTS, LAYER_SETS, NO_COMMENT,
};
pub use report::{
    summarize_open, CandidateTrace, MethodRow, OpenAnswer, OpenSummary, Report, SweepPoint,
};
