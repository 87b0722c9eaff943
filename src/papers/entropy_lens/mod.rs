//! Reproduction of *Entropy-Lens: Uncovering Decision Strategies in LLMs* (Ali et al., arXiv
//! 2502.16570) on the models we can run (SmolLM2-135M-Instruct, Gemma-3-270M; any model
//! [`Lm::load`] accepts works unchanged).
//!
//! **Profile** of one generation ([`generation_profiles`]): the normed logit lens (final norm
//! at every layer) at the last position of every generation step, every layer, reduced to
//! Shannon entropy (α = 1) and Rényi α = 0.5 and 5, in nats. Features use the block outputs only
//! (`L` values, embeddings excluded, as the reference code's `hook_resid_post`).
//!
//! | experiment | protocol (paper / reference code) | here, full run ([`Options::full`]) | `--quick` |
//! |---|---|---|---|
//! | families | 64 samples × 32 tokens from BOS, T = 0.7 | 32 × 32 | 10 × 8 |
//! | tasks | TinyStories, 3 tasks × variants, 8 tokens, T = 1 | 16 FACTOR news stories (60 words) × 3 tasks × 3 variants = 144 prompts, 8 tokens | 2 stories (40 words), 4 tokens |
//! | formats | ~180 topics × 3 formats, 256 tokens, 8 windows of 32 | 30 topics × 3, 48 tokens, 8 windows of 6 | 4 topics, 8 tokens (windows of 1) |
//! | interventions | MMLU, skip top-k layers, k = 1..8 | 30 TruthfulQA MC1 questions (A–D), k = 1..8, 3 random draws | 6 questions, k ∈ {1, 4}, 1 draw |
//!
//! [`Options::paper`] restores the paper's sizes (64 family samples, 180 topics × 256 tokens, …)
//! for a machine with hours to spare (`--paper` on the command line).
//!
//! Every reduction is a compute budget (2 CPU cores): the lens costs one `[rows, d]·[d, vocab]`
//! matmul per layer and step (measured ≈ 30 ms per step for SmolLM2 and ≈ 70 ms for Gemma-3,
//! whose vocabulary is 262k, on top of 35 / 56 ms for the forward pass). Measured: the full run
//! took 40 min wall (47 CPU-minutes; formats 6 + 13 min, interventions 5 + 6 min), `--quick`
//! about 3 min. Other choices, all ours where the paper is silent:
//! - EOS is suppressed, so every generation has exactly `max_new_tokens` steps (fixed windows).
//! - Prompts are plain text encoded with [`Lm::encode`] (no chat template); families start from
//!   the BOS token alone (EOS for a model without BOS).
//! - Task prompts: story then instruction, instruction then story, and the story's words
//!   shuffled (seeded) then instruction; every story appears in every task and variant, so the
//!   class is the task only. Format prompts: "Write a chat log between two friends about …" /
//!   "Write a poem about …" / "Write a scientific article about …", topics spread evenly over the
//!   180 of `data/entropy_lens/topics.txt`.
//! - kNN (Euclidean) for k ∈ {3, 5, 7, 11, 29} (those no larger than the smallest training
//!   fold), stratified 10-fold CV shuffled with the seed (fewer folds when a class is smaller),
//!   one-vs-rest macro ROC AUC averaged over folds, and a stratified dummy.
//! - Depth rescaling: profiles of different models put on one length by linear interpolation
//!   onto 32 relative depths (default) or by zero-padding to the deepest model (reference code);
//!   families and the pooled (both models) task/format rows are reported under both.
//! - Interventions: expansion / pruning blocks are the `k` with the largest increase / decrease
//!   of the mean Shannon entropy (last prompt position, over the questions themselves) from the
//!   previous layer; the answer is the letter (" A"…" D") with the largest final logit after
//!   `"Answer:"` (greedy next-token choice, no free generation); we report accuracy and the
//!   mean probability of the correct letter among the four.
//!
//! ```no_run
//! use entroscope::papers::entropy_lens::{run, Experiment, Options};
//! let report = run(&Options::quick(), &Experiment::ALL)?;
//! println!("{}", report.markdown());
//! # Ok::<(), entroscope::Error>(())
//! ```

mod classify;
mod features;
mod intervene;
mod profiles;
mod prompts;

pub use classify::{evaluate, ClassRow, EvalSpec};
pub use features::{block_means, block_windows, feature_matrix, pca_2d, standardize, Rescale};
pub use intervene::{
    entropy_changes, letter_ids, mc_score, prompt_profile, select_layers, McScore, Strategy,
};
pub use profiles::{alpha_of, default_metrics, generation_profiles, GenOptions, GenProfile};
pub use prompts::{
    format_prompts, load_topics, mc_questions, shuffle_words, spread, story_excerpt, task_prompts,
    topics_path, LabeledPrompt, McQuestion, Task, Variant, FORMATS, LETTERS,
};

use crate::papers::output::OutputDir;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::DataFrame;

use crate::data::{factor, truthfulqa, FactorSplit};
use crate::frame::frame_from_columns;
use crate::plot::{self, Band, Curve};
use crate::{Error, Lm, Result};

/// The paper's task-classification AUC range (percent).
pub const PAPER_TASK_AUC: (f64, f64) = (94.8, 98.4);
/// The paper's output-format AUC range (percent).
pub const PAPER_FORMAT_AUC: (f64, f64) = (96.6, 98.7);

/// One of the four experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Experiment {
    /// Profiles from BOS per model; classify the model family.
    Families,
    /// Classify the task of a prompt.
    Tasks,
    /// Classify the requested output format.
    Formats,
    /// Layer-skip interventions on TruthfulQA MC1.
    Interventions,
}

impl Experiment {
    /// All four, in order.
    pub const ALL: [Experiment; 4] = [
        Experiment::Families,
        Experiment::Tasks,
        Experiment::Formats,
        Experiment::Interventions,
    ];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Families => "families",
            Experiment::Tasks => "tasks",
            Experiment::Formats => "formats",
            Experiment::Interventions => "interventions",
        }
    }
}

impl std::str::FromStr for Experiment {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Experiment::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| {
                Error::invalid("experiment", s, "families, tasks, formats or interventions")
            })
    }
}

/// Sizes and settings of a run (see the module docs for the full and quick values).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Models ([`Lm::load`] arguments). Default: SmolLM2-135M-Instruct and Gemma-3-270M GGUF.
    pub models: Vec<String>,
    /// Entropies (Shannon and Rényi orders).
    pub metrics: Vec<crate::entropy::Metric>,
    /// Families: samples per model, tokens per sample, temperature.
    pub family_samples: usize,
    /// Families: tokens per sample.
    pub family_tokens: usize,
    /// Families: sampling temperature.
    pub family_temperature: f64,
    /// Tasks: number of stories (each gives 3 tasks × 3 variants prompts).
    pub task_stories: usize,
    /// Tasks: words kept of each story.
    pub task_words: usize,
    /// Tasks: generated tokens.
    pub task_tokens: usize,
    /// Tasks and formats: sampling temperature.
    pub temperature: f64,
    /// Formats: number of topics (each gives 3 prompts).
    pub format_topics: usize,
    /// Formats: generated tokens (a multiple of `format_windows`).
    pub format_tokens: usize,
    /// Formats: windows of steps whose means are the features.
    pub format_windows: usize,
    /// Interventions: TruthfulQA MC1 questions.
    pub mc_questions: usize,
    /// Interventions: numbers of skipped blocks.
    pub skip_ks: Vec<usize>,
    /// Interventions: random draws per k.
    pub random_draws: usize,
    /// kNN neighbour counts.
    pub knn_ks: Vec<usize>,
    /// CV folds.
    pub folds: usize,
    /// Points of the linear depth grid.
    pub depth_points: usize,
    /// Base seed.
    pub seed: u64,
    /// Where to write figures and tables (`None` = nothing written).
    pub out_dir: Option<PathBuf>,
    /// Progress bars on stderr.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self::full()
    }
}

impl Options {
    /// The full run we report (the paper's protocol at sizes two CPU cores finish in about
    /// 40 minutes for both models): 32 samples × 32 tokens per family, 16 stories × 9 task
    /// prompts, 30 topics × 3 formats × 48 tokens (8 windows of 6), 30 MC questions × k = 1..8
    /// with 3 random draws.
    pub fn full() -> Self {
        Self {
            models: crate::model::bundled_models(),
            metrics: default_metrics(),
            family_samples: 32,
            family_tokens: 32,
            family_temperature: 0.7,
            task_stories: 16,
            task_words: 60,
            task_tokens: 8,
            temperature: 1.0,
            format_topics: 30,
            format_tokens: 48,
            format_windows: 8,
            mc_questions: 30,
            skip_ks: (1..=8).collect(),
            random_draws: 3,
            knn_ks: vec![3, 5, 7, 11, 29],
            folds: 10,
            depth_points: 32,
            seed: 0,
            out_dir: None,
            progress: false,
        }
    }

    /// The paper's sizes where our data allow them: 64 samples × 32 tokens per family, 64
    /// FACTOR news stories × 9 task prompts, all 180 topics × 3
    /// formats × 256 tokens (8 windows of 32), 200 MC questions with 5 random draws. Several
    /// hours on two CPU cores (the format generations dominate: 540 × 256 steps per model).
    pub fn paper() -> Self {
        Self {
            family_samples: 64,
            task_stories: 64,
            format_topics: 180,
            format_tokens: 256,
            mc_questions: 200,
            random_draws: 5,
            ..Self::full()
        }
    }

    /// A fast pass (about 2–3 minutes for both models): fewer samples and tokens.
    pub fn quick() -> Self {
        Self {
            family_samples: 10,
            family_tokens: 8,
            task_stories: 2,
            task_words: 40,
            task_tokens: 4,
            format_topics: 4,
            format_tokens: 8,
            mc_questions: 6,
            skip_ks: vec![1, 4],
            random_draws: 1,
            ..Self::full()
        }
    }
}

/// One generation's features and what it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Experiment name.
    pub experiment: String,
    /// Model name.
    pub model: String,
    /// Index within the experiment and model.
    pub id: usize,
    /// Class index (model index for families, task, format).
    pub class: usize,
    /// Class name.
    pub class_name: String,
    /// Variant, topic, …
    pub detail: String,
    /// Number of blocks L.
    pub n_layers: usize,
    /// Generated text.
    pub text: String,
    /// Per metric: the mean over steps of each block, `[L]`.
    pub means: Vec<Vec<f32>>,
    /// Per metric: window means `[windows × L]` (empty when not computed).
    pub windows: Vec<Vec<f32>>,
}

/// One intervention measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct InterventionRow {
    /// Model name.
    pub model: String,
    /// `none`, `expansion`, `pruning` or `random`.
    pub strategy: String,
    /// Random draw index (0 otherwise).
    pub draw: usize,
    /// Blocks skipped.
    pub k: usize,
    /// The skipped blocks, 1-based.
    pub layers: Vec<usize>,
    /// Accuracy on the questions.
    pub accuracy: f64,
    /// Mean probability of the correct letter among the four.
    pub p_correct: f64,
}

/// The effect of skipping `k` blocks with one strategy ([`Report::drops`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SkipEffect {
    /// Model name.
    pub model: String,
    /// `expansion`, `pruning` or `random`.
    pub strategy: String,
    /// Blocks skipped.
    pub k: usize,
    /// Accuracy without skipping.
    pub base_accuracy: f64,
    /// Accuracy with `k` blocks skipped (random: mean over draws).
    pub accuracy: f64,
    /// Mean p(correct letter) without skipping.
    pub base_p_correct: f64,
    /// Mean p(correct letter) with `k` blocks skipped.
    pub p_correct: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Generations with their features.
    pub samples: Vec<Sample>,
    /// Cross-validation results.
    pub classification: Vec<ClassRow>,
    /// Intervention results.
    pub interventions: Vec<InterventionRow>,
    /// Per model: mean Shannon profile `[L+1]` of the MC prompts and the block entropy changes.
    pub mc_profiles: Vec<(String, Vec<f32>)>,
    /// Per model: parameter count (approximate, from the config).
    pub params: Vec<(String, usize)>,
    /// `(experiment, model, seconds)` wall time.
    pub timings: Vec<(String, String, f64)>,
    /// Notes (skipped analyses and why).
    pub notes: Vec<String>,
    /// Rényi orders of the metrics, in order.
    pub alphas: Vec<f32>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Approximate parameter count from the config (embeddings, attention, MLP; norms ignored).
pub fn approx_params(lm: &Lm) -> usize {
    let c = lm.config();
    let d = c.hidden_size;
    let q = c.num_attention_heads * c.head_dim;
    let kv = c.num_key_value_heads * c.head_dim;
    let block = d * q * 2 + d * kv * 2 + 3 * d * c.intermediate_size;
    let head = if c.tie_word_embeddings {
        0
    } else {
        c.vocab_size * d
    };
    c.vocab_size * d + head + c.num_hidden_layers * block
}

/// `"SmolLM2-135M-Instruct.Q4_1"` → `"SmolLM2-135M-Instruct"`; `"gemma-3-270m-q4_k_m"` →
/// `"gemma-3-270m"`.
pub fn short_model(name: &str) -> String {
    let m = name.rsplit('/').next().unwrap_or(name);
    let m = m.split('.').next().unwrap_or(m);
    m.strip_suffix("-q4_k_m").unwrap_or(m).to_string()
}

/// Generate and featurize one model's prompts.
#[allow(clippy::too_many_arguments)]
fn profile_prompts(
    lm: &Lm,
    experiment: Experiment,
    prompts: &[Encoded],
    tokens: usize,
    temperature: f64,
    windows: usize,
    opts: &Options,
) -> Result<Vec<Sample>> {
    let ids: Vec<Vec<u32>> = prompts.iter().map(|p| p.0.clone()).collect();
    let b = crate::progress::progress_bar(
        opts.progress,
        ids.len(),
        format!("{} {}", experiment.name(), short_model(lm.name())),
    );
    let g = generation_profiles(
        lm,
        &ids,
        &GenOptions {
            max_new_tokens: tokens,
            temperature,
            seed: opts.seed,
            metrics: opts.metrics.clone(),
            ..GenOptions::default()
        },
        Some(&b),
    )?;
    b.finish_and_clear();
    g.into_iter()
        .zip(prompts)
        .enumerate()
        .map(|(i, (g, (_, class, class_name, detail)))| {
            let means = g
                .profiles
                .iter()
                .map(block_means)
                .collect::<Result<Vec<_>>>()?;
            let windows = if windows > 1 {
                g.profiles
                    .iter()
                    .map(|p| block_windows(p, windows))
                    .collect::<Result<Vec<_>>>()?
            } else {
                Vec::new()
            };
            Ok(Sample {
                experiment: experiment.name().into(),
                model: lm.name().into(),
                id: i,
                class: *class,
                class_name: class_name.clone(),
                detail: detail.clone(),
                n_layers: lm.n_layers(),
                text: g.text,
                means,
                windows,
            })
        })
        .collect()
}

/// An encoded prompt with its class index, class name and detail.
type Encoded = (Vec<u32>, usize, String, String);

fn encode_labeled(lm: &Lm, prompts: &[LabeledPrompt]) -> Result<Vec<Encoded>> {
    prompts
        .iter()
        .map(|p| {
            Ok((
                lm.encode(&p.text)?,
                p.class,
                p.class_name.clone(),
                p.detail.clone(),
            ))
        })
        .collect()
}

/// The families prompt: the BOS token alone (EOS for a model without BOS).
pub fn bos_prompt(lm: &Lm) -> Result<Vec<u32>> {
    lm.bos_token_id()
        .or_else(|| lm.eos_token_ids().first().copied())
        .map(|t| vec![t])
        .ok_or_else(|| Error::Config {
            key: "bos_token_id".into(),
            detail: "the model has neither a BOS nor an EOS token to start a generation from"
                .into(),
        })
}

fn run_model(
    lm: &Lm,
    model_index: usize,
    experiments: &[Experiment],
    opts: &Options,
    report: &mut Report,
) -> Result<()> {
    let name = lm.name().to_string();
    for &e in experiments {
        let t0 = Instant::now();
        match e {
            Experiment::Families => {
                let bos = bos_prompt(lm)?;
                let prompts: Vec<_> = (0..opts.family_samples)
                    .map(|_| (bos.clone(), model_index, short_model(&name), String::new()))
                    .collect();
                let s = profile_prompts(
                    lm,
                    e,
                    &prompts,
                    opts.family_tokens,
                    opts.family_temperature,
                    1,
                    opts,
                )?;
                report.samples.extend(s);
            }
            Experiment::Tasks => {
                let items = factor(FactorSplit::News)?;
                let p = task_prompts(&items, opts.task_stories, opts.task_words, opts.seed)?;
                let p = encode_labeled(lm, &p)?;
                let s = profile_prompts(lm, e, &p, opts.task_tokens, opts.temperature, 1, opts)?;
                report.samples.extend(s);
            }
            Experiment::Formats => {
                let topics = spread(&load_topics(topics_path())?, opts.format_topics);
                let p = encode_labeled(lm, &format_prompts(&topics))?;
                let s = profile_prompts(
                    lm,
                    e,
                    &p,
                    opts.format_tokens,
                    opts.temperature,
                    opts.format_windows,
                    opts,
                )?;
                report.samples.extend(s);
            }
            Experiment::Interventions => run_interventions(lm, opts, report)?,
        }
        let secs = t0.elapsed().as_secs_f64();
        if opts.progress {
            eprintln!("{} {}: {secs:.1} s", e.name(), short_model(&name));
        }
        report.timings.push((e.name().into(), name.clone(), secs));
    }
    Ok(())
}

fn run_interventions(lm: &Lm, opts: &Options, report: &mut Report) -> Result<()> {
    let items = truthfulqa()?;
    let qs = mc_questions(&items, opts.mc_questions, opts.seed);
    if qs.is_empty() {
        return Err(Error::NotEnoughData(
            "no TruthfulQA item with three incorrect answers; ask for at least 1 question".into(),
        ));
    }
    let prompts = qs
        .iter()
        .map(|q| lm.encode(&q.prompt))
        .collect::<Result<Vec<_>>>()?;
    let letters = letter_ids(lm)?;
    let profile = prompt_profile(lm, &prompts)?;
    let deltas = entropy_changes(&profile)?;
    report.mc_profiles.push((lm.name().into(), profile));
    let ks: Vec<usize> = opts
        .skip_ks
        .iter()
        .copied()
        .filter(|&k| k >= 1 && k <= lm.n_layers())
        .collect();
    let total = 1 + ks.len() * (2 + opts.random_draws);
    let b = crate::progress::progress_bar(
        opts.progress,
        total,
        format!("interventions {}", short_model(lm.name())),
    );
    let mut push = |strategy: &str, draw: usize, layers: Vec<usize>| -> Result<()> {
        let s = mc_score(lm, &prompts, &qs, &letters, &layers)?;
        report.interventions.push(InterventionRow {
            model: lm.name().into(),
            strategy: strategy.into(),
            draw,
            k: layers.len(),
            layers,
            accuracy: s.accuracy,
            p_correct: s.p_correct,
        });
        b.inc(1);
        Ok(())
    };
    push("none", 0, Vec::new())?;
    for &k in &ks {
        for st in [Strategy::Expansion, Strategy::Pruning] {
            push(st.name(), 0, select_layers(&deltas, st, k, 0)?)?;
        }
        for d in 0..opts.random_draws {
            let seed = opts.seed.wrapping_add(1000 * k as u64 + d as u64);
            push(
                "random",
                d,
                select_layers(&deltas, Strategy::Random, k, seed)?,
            )?;
        }
    }
    b.finish_and_clear();
    Ok(())
}

/// Feature rows and labels of one experiment's samples (optionally of one model), metric `mi`.
fn rows_of(samples: &[&Sample], mi: usize, windows: bool) -> (Vec<Vec<f32>>, Vec<usize>) {
    samples
        .iter()
        .map(|s| {
            let v = if windows {
                &s.windows[mi]
            } else {
                &s.means[mi]
            };
            (v.clone(), s.class)
        })
        .unzip()
}

/// Cross-validate every experiment's features (per model, and pooled under both rescalings).
pub fn classify(report: &mut Report, opts: &Options) -> Result<()> {
    let models: Vec<String> = {
        let mut m: Vec<String> = report.samples.iter().map(|s| s.model.clone()).collect();
        m.dedup();
        m
    };
    let rescales = [Rescale::Linear(opts.depth_points), Rescale::PadZeros];
    let mut rows = Vec::new();
    for e in ["families", "tasks", "formats"] {
        let all: Vec<&Sample> = report
            .samples
            .iter()
            .filter(|s| s.experiment == e)
            .collect();
        if all.is_empty() {
            continue;
        }
        let windows = e == "formats" && all.iter().all(|s| !s.windows.is_empty());
        let w = if windows { opts.format_windows } else { 1 };
        for (mi, m) in opts.metrics.iter().enumerate() {
            let alpha = alpha_of(m).unwrap_or(f32::NAN);
            let mut spec = EvalSpec {
                experiment: e,
                model: "pooled",
                alpha,
                rescale: Rescale::None,
                ks: &opts.knn_ks,
                folds: opts.folds,
                seed: opts.seed,
            };
            if e == "families" {
                if models.len() < 2 {
                    if mi == 0 {
                        report.notes.push(
                            "families: one model only, so no family classification (needs ≥ 2 models)"
                                .into(),
                        );
                    }
                    continue;
                }
                let (r, y) = rows_of(&all, mi, false);
                for rs in rescales {
                    spec.rescale = rs;
                    rows.extend(evaluate(&spec, &feature_matrix(&r, 1, rs)?, &y)?);
                }
                continue;
            }
            for model in &models {
                let mine: Vec<&Sample> =
                    all.iter().copied().filter(|s| &s.model == model).collect();
                if mine.is_empty() {
                    continue;
                }
                let (r, y) = rows_of(&mine, mi, windows);
                spec.model = model;
                spec.rescale = Rescale::None;
                rows.extend(evaluate(&spec, &feature_matrix(&r, w, Rescale::None)?, &y)?);
            }
            if models.len() > 1 {
                let (r, y) = rows_of(&all, mi, windows);
                spec.model = "pooled";
                for rs in rescales {
                    spec.rescale = rs;
                    rows.extend(evaluate(&spec, &feature_matrix(&r, w, rs)?, &y)?);
                }
            }
        }
    }
    report.classification = rows;
    Ok(())
}

/// Run the chosen experiments on every model of `opts`, classify, and (with `out_dir`) write
/// figures and tables. Missing data files or models are errors before long work where possible.
pub fn run(opts: &Options, experiments: &[Experiment]) -> Result<Report> {
    if experiments.is_empty() {
        return Err(Error::invalid(
            "experiments",
            "[]",
            "at least one experiment",
        ));
    }
    if opts.format_windows == 0 || opts.format_tokens % opts.format_windows != 0 {
        return Err(Error::invalid(
            "format_tokens",
            opts.format_tokens,
            format!(
                "a positive multiple of format_windows = {}",
                opts.format_windows
            ),
        ));
    }
    let mut report = Report {
        alphas: opts
            .metrics
            .iter()
            .map(|m| alpha_of(m).unwrap_or(f32::NAN))
            .collect(),
        ..Report::default()
    };
    for (i, m) in opts.models.iter().enumerate() {
        let lm = Lm::load(m)?;
        report.params.push((lm.name().into(), approx_params(&lm)));
        run_model(&lm, i, experiments, opts, &mut report)?;
    }
    classify(&mut report, opts)?;
    if let Some(dir) = &opts.out_dir {
        report.files = write_outputs(&report, dir)?;
    }
    Ok(report)
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}", 100.0 * x)
    } else {
        "n/a".into()
    }
}

fn alpha_label(a: f32) -> String {
    if a == 1.0 {
        "1 (Shannon)".into()
    } else {
        format!("{a}")
    }
}

impl Report {
    /// Append another run's results (e.g. one experiment per notebook cell): samples,
    /// classification rows, interventions, profiles, timings, notes; parameters and α once.
    pub fn merge(&mut self, other: Report) {
        self.samples.extend(other.samples);
        self.classification.extend(other.classification);
        self.interventions.extend(other.interventions);
        self.mc_profiles.extend(other.mc_profiles);
        for p in other.params {
            if !self.params.contains(&p) {
                self.params.push(p);
            }
        }
        self.timings.extend(other.timings);
        self.notes.extend(other.notes);
        if self.alphas.is_empty() {
            self.alphas = other.alphas;
        }
        self.files.extend(other.files);
    }

    /// The kNN row at the headline `k` (the largest available `k` ≤ `want`, else the smallest)
    /// and the dummy row of one experiment / model / α / rescaling.
    pub fn headline(
        &self,
        experiment: &str,
        model: &str,
        alpha: f32,
        rescale: &str,
        want: usize,
    ) -> Option<(&ClassRow, Option<&ClassRow>)> {
        let group: Vec<&ClassRow> = self
            .classification
            .iter()
            .filter(|r| {
                r.experiment == experiment
                    && r.model == model
                    && r.alpha == alpha
                    && r.rescale == rescale
            })
            .collect();
        let knn: Vec<&ClassRow> = group
            .iter()
            .copied()
            .filter(|r| r.classifier == "knn")
            .collect();
        let best = knn
            .iter()
            .copied()
            .filter(|r| r.k <= want)
            .max_by_key(|r| r.k)
            .or_else(|| knn.iter().copied().min_by_key(|r| r.k))?;
        let dummy = group.iter().copied().find(|r| r.classifier == "dummy");
        Some((best, dummy))
    }

    /// What skipping `k` blocks did, per model and strategy (random = mean over draws).
    pub fn drops(&self, k: usize) -> Vec<SkipEffect> {
        let mut out = Vec::new();
        let mut models: Vec<&str> = self
            .interventions
            .iter()
            .map(|r| r.model.as_str())
            .collect();
        models.dedup();
        for m in models {
            let Some(base) = self
                .interventions
                .iter()
                .find(|r| r.model == m && r.strategy == "none")
            else {
                continue;
            };
            for st in ["expansion", "pruning", "random"] {
                let v: Vec<&InterventionRow> = self
                    .interventions
                    .iter()
                    .filter(|r| r.model == m && r.strategy == st && r.k == k)
                    .collect();
                if v.is_empty() {
                    continue;
                }
                let n = v.len() as f64;
                out.push(SkipEffect {
                    model: m.to_string(),
                    strategy: st.to_string(),
                    k,
                    base_accuracy: base.accuracy,
                    accuracy: v.iter().map(|r| r.accuracy).sum::<f64>() / n,
                    base_p_correct: base.p_correct,
                    p_correct: v.iter().map(|r| r.p_correct).sum::<f64>() / n,
                });
            }
        }
        out
    }

    /// The results as Markdown: classification AUC (%) per experiment, model and α with the
    /// dummy and the paper's ranges; intervention accuracy drops at k = 4; timings.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        if !self.classification.is_empty() {
            s += "| experiment | model | features | α | kNN k | AUC % (mean ± std over folds) | dummy AUC % | paper AUC % |\n|---|---|---|---|---|---|---|---|\n";
        }
        let mut groups: Vec<(String, String, String)> = Vec::new();
        for r in &self.classification {
            let g = (r.experiment.clone(), r.model.clone(), r.rescale.clone());
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        for (e, m, rs) in &groups {
            let (want, paper) = match e.as_str() {
                "families" => (3, "> 90 (families)".to_string()),
                "tasks" => (29, format!("{}–{}", PAPER_TASK_AUC.0, PAPER_TASK_AUC.1)),
                _ => (11, format!("{}–{}", PAPER_FORMAT_AUC.0, PAPER_FORMAT_AUC.1)),
            };
            for &a in &self.alphas {
                if let Some((k, d)) = self.headline(e, m, a, rs, want) {
                    s += &format!(
                        "| {e} | {} | {rs} | {} | {} | {} ± {} | {} | {paper} |\n",
                        if m == "pooled" {
                            "both (pooled)".to_string()
                        } else {
                            short_model(m)
                        },
                        alpha_label(a),
                        k.k,
                        pct(k.auc_mean),
                        pct(k.auc_std),
                        d.map_or("n/a".into(), |d| pct(d.auc_mean)),
                    );
                }
            }
        }
        for k in [4usize, 1] {
            let drops = self.drops(k);
            if drops.is_empty() {
                continue;
            }
            s += &format!(
                "\nLayer-skip interventions, TruthfulQA MC1 (A–D, chance 25 %), k = {k} blocks skipped:\n\n| model | strategy | accuracy %, no skip → k = {k} | drop (points) | p(correct letter) %, no skip → k = {k} | drop (points) |\n|---|---|---|---|---|---|\n"
            );
            for d in drops {
                s += &format!(
                    "| {} | {} | {} → {} | {} | {} → {} | {} |\n",
                    short_model(&d.model),
                    d.strategy,
                    pct(d.base_accuracy),
                    pct(d.accuracy),
                    pct(d.base_accuracy - d.accuracy),
                    pct(d.base_p_correct),
                    pct(d.p_correct),
                    pct(d.base_p_correct - d.p_correct),
                );
            }
            break;
        }
        if !self.timings.is_empty() {
            s += "\n| experiment | model | seconds |\n|---|---|---|\n";
            for (e, m, t) in &self.timings {
                s += &format!("| {e} | {} | {t:.1} |\n", short_model(m));
            }
        }
        for n in &self.notes {
            s += &format!("\nNote: {n}\n");
        }
        s
    }

    /// Classification results, one row per experiment × model × α × rescaling × classifier × k.
    pub fn classification_frame(&self) -> Result<DataFrame> {
        let c = &self.classification;
        frame_from_columns(vec![
            (
                "experiment",
                c.iter()
                    .map(|r| r.experiment.clone())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            (
                "model",
                c.iter().map(|r| r.model.clone()).collect::<Vec<_>>().into(),
            ),
            (
                "alpha",
                c.iter().map(|r| r.alpha).collect::<Vec<_>>().into(),
            ),
            (
                "rescale",
                c.iter()
                    .map(|r| r.rescale.clone())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            (
                "classifier",
                c.iter()
                    .map(|r| r.classifier.clone())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ("k", c.iter().map(|r| r.k).collect::<Vec<_>>().into()),
            (
                "folds",
                c.iter().map(|r| r.folds).collect::<Vec<_>>().into(),
            ),
            (
                "n_samples",
                c.iter().map(|r| r.n_samples).collect::<Vec<_>>().into(),
            ),
            (
                "n_classes",
                c.iter().map(|r| r.n_classes).collect::<Vec<_>>().into(),
            ),
            (
                "auc_mean",
                c.iter().map(|r| r.auc_mean).collect::<Vec<_>>().into(),
            ),
            (
                "auc_std",
                c.iter().map(|r| r.auc_std).collect::<Vec<_>>().into(),
            ),
            (
                "accuracy",
                c.iter().map(|r| r.accuracy).collect::<Vec<_>>().into(),
            ),
        ])
    }

    /// Profiles in long form: `experiment, model, sample, class, class_name, detail, alpha,
    /// window (−1 = mean over all steps), layer (1..=L), depth, entropy`.
    pub fn profiles_frame(&self) -> Result<DataFrame> {
        let mut st: [Vec<String>; 4] = Default::default();
        let mut ints: [Vec<i64>; 4] = Default::default();
        let mut fl: [Vec<f64>; 3] = Default::default();
        for s in &self.samples {
            for (mi, &a) in self.alphas.iter().enumerate() {
                let mut parts: Vec<(i64, &[f32])> = Vec::new();
                if let Some(m) = s.means.get(mi) {
                    parts.push((-1, m));
                }
                if let Some(w) = s.windows.get(mi) {
                    for (wi, c) in w.chunks(s.n_layers.max(1)).enumerate() {
                        parts.push((wi as i64, c));
                    }
                }
                for (wi, vals) in parts {
                    for (l, &v) in vals.iter().enumerate() {
                        st[0].push(s.experiment.clone());
                        st[1].push(s.model.clone());
                        st[2].push(s.class_name.clone());
                        st[3].push(s.detail.clone());
                        ints[0].push(s.id as i64);
                        ints[1].push(s.class as i64);
                        ints[2].push(wi);
                        ints[3].push(l as i64 + 1);
                        fl[0].push(f64::from(a));
                        fl[1].push((l + 1) as f64 / s.n_layers.max(1) as f64);
                        fl[2].push(f64::from(v));
                    }
                }
            }
        }
        let [e, m, cn, d] = st;
        let [id, class, window, layer] = ints;
        let [alpha, depth, value] = fl;
        frame_from_columns(vec![
            ("experiment", e.into()),
            ("model", m.into()),
            ("sample", id.into()),
            ("class", class.into()),
            ("class_name", cn.into()),
            ("detail", d.into()),
            ("alpha", alpha.into()),
            ("window", window.into()),
            ("layer", layer.into()),
            ("depth", depth.into()),
            ("entropy", value.into()),
        ])
    }

    /// Generated texts: `experiment, model, sample, class_name, detail, text`.
    pub fn generations_frame(&self) -> Result<DataFrame> {
        let s = &self.samples;
        frame_from_columns(vec![
            (
                "experiment",
                s.iter()
                    .map(|x| x.experiment.clone())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            (
                "model",
                s.iter().map(|x| x.model.clone()).collect::<Vec<_>>().into(),
            ),
            ("sample", s.iter().map(|x| x.id).collect::<Vec<_>>().into()),
            (
                "class_name",
                s.iter()
                    .map(|x| x.class_name.clone())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            (
                "detail",
                s.iter()
                    .map(|x| x.detail.clone())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            (
                "text",
                s.iter().map(|x| x.text.clone()).collect::<Vec<_>>().into(),
            ),
        ])
    }

    /// Intervention results: `model, strategy, draw, k, layers, accuracy, p_correct`.
    pub fn interventions_frame(&self) -> Result<DataFrame> {
        let r = &self.interventions;
        frame_from_columns(vec![
            (
                "model",
                r.iter().map(|x| x.model.clone()).collect::<Vec<_>>().into(),
            ),
            (
                "strategy",
                r.iter()
                    .map(|x| x.strategy.clone())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ("draw", r.iter().map(|x| x.draw).collect::<Vec<_>>().into()),
            ("k", r.iter().map(|x| x.k).collect::<Vec<_>>().into()),
            (
                "layers",
                r.iter()
                    .map(|x| {
                        x.layers
                            .iter()
                            .map(|l| l.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .collect::<Vec<_>>()
                    .into(),
            ),
            (
                "accuracy",
                r.iter().map(|x| x.accuracy).collect::<Vec<_>>().into(),
            ),
            (
                "p_correct",
                r.iter().map(|x| x.p_correct).collect::<Vec<_>>().into(),
            ),
        ])
    }

    /// Mean (over samples) Shannon profile vs relative depth, one line per model (and
    /// class, when `by_class`), for one experiment. `None` when it has no samples.
    pub fn profile_chart(&self, experiment: &str, by_class: bool) -> Result<Option<plot::Chart>> {
        let mut series = Vec::new();
        let mut keys: Vec<(String, String)> = Vec::new();
        for s in self.samples.iter().filter(|s| s.experiment == experiment) {
            let k = (
                s.model.clone(),
                if by_class {
                    s.class_name.clone()
                } else {
                    String::new()
                },
            );
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for (m, c) in &keys {
            let rows: Vec<&Sample> = self
                .samples
                .iter()
                .filter(|s| {
                    s.experiment == experiment && &s.model == m && (!by_class || &s.class_name == c)
                })
                .collect();
            let Some(first) = rows.first() else { continue };
            let l = first.n_layers.max(1) as f64;
            let n = rows.len() as f64;
            let x: Vec<f64> = (1..=first.n_layers).map(|i| i as f64 / l).collect();
            let mean: Vec<f64> = (0..first.n_layers)
                .map(|i| rows.iter().map(|s| f64::from(s.means[0][i])).sum::<f64>() / n)
                .collect();
            let name = if by_class {
                format!("{} · {c}", short_model(m))
            } else {
                short_model(m)
            };
            series.push(Curve::new(format!("{name} (n={})", rows.len()), x, mean));
        }
        if series.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            plot::entropy_vs_depth(&series, Band::None)?
                .title(format!(
                    "Entropy-Lens {experiment}: Shannon entropy (mean over steps)"
                ))
                .y_label("Shannon entropy (nats)")
                .x_label("relative depth (block l / L)"),
        ))
    }

    /// PCA of the family profiles (Shannon, linear depth rescaling onto `points`), coloured by
    /// model, marker size by parameter count.
    pub fn family_scatter(&self, points: usize) -> Result<Option<plot::Chart>> {
        let fam: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.experiment == "families")
            .collect();
        if fam.len() < 2 {
            return Ok(None);
        }
        let rows: Vec<Vec<f32>> = fam.iter().map(|s| s.means[0].clone()).collect();
        let x = feature_matrix(&rows, 1, Rescale::Linear(points))?;
        let (pc, ev) = pca_2d(&x)?;
        let class: Vec<String> = fam.iter().map(|s| short_model(&s.model)).collect();
        let size: Vec<f64> = fam
            .iter()
            .map(|s| {
                self.params
                    .iter()
                    .find(|(m, _)| m == &s.model)
                    .map_or(1.0, |(_, p)| *p as f64 / 1e6)
            })
            .collect();
        let xs = pc.column(0).to_vec();
        let ys = pc.column(1).to_vec();
        Ok(Some(
            plot::scatter(&xs, &ys, &class, Some(&size))?
                .title("Family profiles, PCA (marker size = parameters)")
                .x_label(format!("PC1 ({:.0} % of variance)", 100.0 * ev[0]))
                .y_label(format!("PC2 ({:.0} % of variance)", 100.0 * ev[1])),
        ))
    }

    /// AUC vs α per experiment and model (headline k, no rescaling or linear for families).
    pub fn auc_chart(&self) -> Result<Option<plot::Chart>> {
        let mut series = Vec::new();
        let mut groups: Vec<(String, String, String)> = Vec::new();
        for r in self.classification.iter().filter(|r| r.classifier == "knn") {
            let g = (r.experiment.clone(), r.model.clone(), r.rescale.clone());
            if !groups.contains(&g)
                && (r.rescale == "none"
                    || r.experiment == "families" && r.rescale.starts_with("linear"))
            {
                groups.push(g);
            }
        }
        for (e, m, rs) in &groups {
            let want = match e.as_str() {
                "families" => 3,
                "tasks" => 29,
                _ => 11,
            };
            let mut pts: Vec<(f64, f64)> = self
                .alphas
                .iter()
                .filter_map(|&a| {
                    self.headline(e, m, a, rs, want)
                        .map(|(k, _)| (f64::from(a), k.auc_mean))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (x, y): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
            let name = if m == "pooled" {
                "both".to_string()
            } else {
                short_model(m)
            };
            series.push(Curve::new(format!("{e} · {name}"), x, y));
        }
        if series.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            plot::lines(&series)?
                .markers(true)
                .title("kNN ROC AUC (OvR macro, CV mean) vs Rényi order α")
                .x_label("Rényi order α (1 = Shannon)")
                .y_label("ROC AUC")
                .y_range(0.4, 1.02),
        ))
    }

    /// Accuracy vs number of skipped blocks per strategy, one chart per model.
    pub fn intervention_charts(&self) -> Result<Vec<(String, plot::Chart)>> {
        let mut models: Vec<&str> = self
            .interventions
            .iter()
            .map(|r| r.model.as_str())
            .collect();
        models.dedup();
        let mut out = Vec::new();
        for m in models {
            let base = self
                .interventions
                .iter()
                .find(|r| r.model == m && r.strategy == "none")
                .map_or(f64::NAN, |r| r.accuracy);
            let mut ks: Vec<usize> = self
                .interventions
                .iter()
                .filter(|r| r.model == m && r.k > 0)
                .map(|r| r.k)
                .collect();
            ks.sort_unstable();
            ks.dedup();
            let mut series = Vec::new();
            for st in ["expansion", "pruning", "random"] {
                let mut x = vec![0.0];
                let mut y = vec![base];
                for &k in &ks {
                    let v: Vec<f64> = self
                        .interventions
                        .iter()
                        .filter(|r| r.model == m && r.strategy == st && r.k == k)
                        .map(|r| r.accuracy)
                        .collect();
                    if !v.is_empty() {
                        x.push(k as f64);
                        y.push(v.iter().sum::<f64>() / v.len() as f64);
                    }
                }
                let name = if st == "random" {
                    "random (mean of draws)"
                } else {
                    st
                };
                series.push(Curve::new(name, x, y));
            }
            series.push(Curve::new(
                "chance (25 %)",
                vec![0.0, ks.last().copied().unwrap_or(1) as f64],
                vec![0.25, 0.25],
            ));
            let chart = plot::lines(&series)?
                .markers(true)
                .title(format!(
                    "{}: TruthfulQA MC1 accuracy under layer skip",
                    short_model(m)
                ))
                .x_label("blocks skipped (k)")
                .y_label("accuracy")
                .y_range(0.0, 1.0);
            out.push((m.to_string(), chart));
        }
        Ok(out)
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Write the figures (PNG) and tables (Parquet, CSV, Markdown) of a report into `dir`:
/// `families_profiles.png`, `families_pca.png`, `tasks_profiles.png`, `formats_profiles.png`,
/// `auc_vs_alpha.png`, `interventions_<model>.png`, `classification.parquet`/`.csv`,
/// `profiles.parquet`, `generations.parquet`, `interventions.parquet`, `results.md`. Only what
/// the report holds is written. Returns the paths.
pub fn write_outputs(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = OutputDir::create(dir)?;
    if let Some(c) = report.profile_chart("families", false)? {
        out.chart("families_profiles.png", &c)?;
    }
    if let Some(c) = report.family_scatter(32)? {
        out.chart("families_pca.png", &c)?;
    }
    for e in ["tasks", "formats"] {
        if let Some(c) = report.profile_chart(e, true)? {
            out.chart(&format!("{e}_profiles.png"), &c)?;
        }
    }
    if let Some(c) = report.auc_chart()? {
        out.chart("auc_vs_alpha.png", &c)?;
    }
    for (m, c) in report.intervention_charts()? {
        out.chart(&format!("interventions_{}.png", slug(&short_model(&m))), &c)?;
    }
    if !report.classification.is_empty() {
        let df = report.classification_frame()?;
        out.table("classification.parquet", &df)?;
        out.table("classification.csv", &df)?;
    }
    if !report.samples.is_empty() {
        out.table("profiles.parquet", &report.profiles_frame()?)?;
        out.table("generations.parquet", &report.generations_frame()?)?;
    }
    if !report.interventions.is_empty() {
        out.table("interventions.parquet", &report.interventions_frame()?)?;
    }
    out.text("results.md", &report.markdown())?;
    Ok(out.into_files())
}
