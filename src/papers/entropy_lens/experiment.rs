//! The run: [`Options`] and its presets, [`run`], and one driver per [`Experiment`]. Drivers
//! only measure (generations, cross-validation rows, intervention rows) into a [`Report`]; the
//! tables, charts and Markdown are built from it afterwards.

use std::time::Instant;

use crate::data::{factor, truthfulqa, Checkpoint, FactorSplit};
use crate::decode::Sampling;
use crate::entropy::Metric;
use crate::{Error, Lm, Result};

use super::classify::{evaluate, EvalSpec, GENERATION, STEP0};
use super::families::{self, Labels};
use super::features::{block_means, block_windows, feature_matrix, Rescale};
use super::intervene::{
    entropy_changes, letter_ids, mc_score, prompt_profile, select_layers, Strategy,
};
use super::profiles::{default_metrics, generation_profiles_kept, GenOptions};
use super::prompts::{
    bos_prompt, format_prompts, load_topics, mc_questions, spread, task_prompts, topics_path,
    LabeledPrompt,
};
use super::report::{InterventionRow, Report, Sample};

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

    /// Short name, as in the `experiment` column of the tables (`families`, `tasks`, …).
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Families => "families",
            Experiment::Tasks => "tasks",
            Experiment::Formats => "formats",
            Experiment::Interventions => "interventions",
        }
    }
}

impl std::fmt::Display for Experiment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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

/// What to run and at which sizes. Start from a preset and change fields:
/// `Options { experiments: vec![Experiment::Tasks], ..Options::quick() }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The experiments to run, in order (default: all four).
    pub experiments: Vec<Experiment>,
    /// Models ([`Lm::load`] arguments): both bundled GGUF models at the full and paper sizes,
    /// SmolLM2 alone below.
    pub models: Vec<String>,
    /// Entropies (Shannon and Rényi orders).
    pub metrics: Vec<Metric>,
    /// Families: samples per model.
    pub family_samples: usize,
    /// Families: tokens per sample.
    pub family_tokens: usize,
    /// Families: sampling temperature.
    pub family_temperature: f64,
    /// Tasks: number of texts (each gives 3 tasks × 2 wordings × 4 variants = 24 prompts).
    pub task_stories: usize,
    /// Tasks: words kept of each story.
    pub task_words: usize,
    /// Tasks: generated tokens.
    pub task_tokens: usize,
    /// Tasks: sampling temperature (the reference samples).
    pub temperature: f64,
    /// Formats: how tokens are chosen (the reference: greedy, [`Sampling::ArgMax`]).
    pub format_sampling: Sampling,
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
    /// Interventions: let block 1 (embeddings → first block) be skipped and ranked. Off by
    /// default: with tied embeddings the embedding layer's lens entropy is ≈ 0, so block 1 is
    /// always the top "expansion" block and skipping it breaks any model.
    pub skip_first_block: bool,
    /// kNN neighbour counts.
    pub knn_ks: Vec<usize>,
    /// CV folds.
    pub folds: usize,
    /// Points of the linear depth grid.
    pub depth_points: usize,
    /// Base seed (sampling, folds, shuffles, random layer draws).
    pub seed: u64,
    /// Tasks, formats and interventions: each request as one user turn of the model's chat
    /// template ([`Lm::encode_request`]). Off by default: the reference encodes plain text.
    /// Instruct models answer in the asked format only inside their template.
    pub chat_template: bool,
    /// Device and weight dtype of every model ([`Lm::load_with`]).
    pub load: crate::model::LoadOptions,
    /// Keep each batch of generations, the interventions' profile and each intervention in this directory as it is finished, and read back those a killed run with the same options kept
    /// ([`crate::data::Checkpoint`]). `None` (the presets): keep nothing. Delete it once the
    /// report is written; the CLI keeps it in `<out>/.checkpoint` and does.
    pub checkpoint: Option<std::path::PathBuf>,
}

impl Options {
    /// The run the README reports, sized for two CPU cores: 32 samples × 32 tokens per family
    /// (T = 0.7), 16 texts of 60 words × 24 task prompts × 8 sampled tokens (T = 1), 30 topics
    /// × 3 formats × 64 greedy tokens (8 windows of 8), 200 MC questions × k ∈ {1, 2, 4, 8} with
    /// 3 random draws; kNN k ∈ {3, 5, 7, 11, 29}, 10 folds, 32 depth points.
    pub fn full() -> Self {
        Self {
            load: crate::model::LoadOptions::default(),
            checkpoint: None,
            experiments: Experiment::ALL.to_vec(),
            models: crate::model::bundled_models(),
            metrics: default_metrics(),
            family_samples: 32,
            family_tokens: 32,
            family_temperature: 0.7,
            task_stories: 16,
            task_words: 60,
            task_tokens: 8,
            temperature: 1.0,
            format_sampling: Sampling::ArgMax,
            format_topics: 30,
            format_tokens: 64,
            format_windows: 8,
            mc_questions: 200,
            skip_ks: vec![1, 2, 4, 8],
            random_draws: 3,
            skip_first_block: false,
            knn_ks: vec![3, 5, 7, 11, 29],
            folds: 10,
            depth_points: 32,
            seed: 0,
            chat_template: false,
        }
    }

    /// The reference's sizes where our data allow them: 64 samples × 32 tokens per family, 100
    /// FACTOR news texts × 24 task prompts (2,400), all 180 topics × 3 formats × 256 greedy
    /// tokens (8 windows of 32), 200 MC questions with 5 random draws. The format generations
    /// dominate (540 × 256 steps per model).
    pub fn paper() -> Self {
        Self {
            family_samples: 64,
            task_stories: 100,
            task_words: 120,
            format_topics: 180,
            format_tokens: 256,
            mc_questions: 200,
            random_draws: 5,
            ..Self::full()
        }
    }

    /// The default size: the default model only (so no family classification, which needs two
    /// models), 16 samples × 16 tokens from BOS, 4 texts × 24 task prompts (96), 10 topics × 3
    /// formats × 64 greedy tokens (8 windows of 8), 24 MC questions × k ∈ {1, 2, 4, 6} with 2
    /// draws.
    pub fn standard() -> Self {
        Self {
            models: vec![crate::model::default_model_path()],
            family_samples: 16,
            family_tokens: 16,
            task_stories: 4,
            format_topics: 10,
            mc_questions: 24,
            skip_ks: vec![1, 2, 4, 6],
            random_draws: 2,
            ..Self::full()
        }
    }

    /// A first look: 10 samples × 8 tokens per family, 2 texts of 40 words × 4 tokens,
    /// 4 topics × 8 tokens (windows of 1 step), 6 MC questions with k ∈ {1, 4} and 1 draw.
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

/// Runs `opts.experiments` on every model of `opts` and cross-validates the profiles. Missing
/// data files or models are errors before long work where possible.
///
/// Errors: no experiment; `format_tokens` not a positive multiple of `format_windows`; a model
/// that does not load; missing data files; the errors of the experiments themselves.
pub fn run(opts: &Options) -> Result<Report> {
    if opts.experiments.is_empty() {
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
            .map(|m| m.alpha().unwrap_or(f32::NAN))
            .collect(),
        ..Report::default()
    };
    if opts.chat_template {
        report.notes.push(
            "requests (tasks, formats, interventions) in each model's chat template \
             (chat_template = true; the reference encodes plain text)"
                .into(),
        );
    }
    let checkpoint = crate::papers::open_checkpoint("entropy-lens", opts)?;
    for (i, m) in opts.models.iter().enumerate() {
        let lm = Lm::load_with(m, &opts.load)?;
        report.params.push((lm.name().into(), approx_params(&lm)));
        let cp = crate::papers::model_part(checkpoint.as_ref(), i)?;
        run_model(&lm, i, opts, cp.as_ref(), &mut report)?;
    }
    classify_samples(&mut report, opts)?;
    Ok(report)
}

/// Approximate parameter count from the config (embeddings, attention, MLP; norms ignored): the
/// marker size of the family scatter.
fn approx_params(lm: &Lm) -> usize {
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

/// An encoded prompt with its class index, class name and detail.
type Encoded = (Vec<u32>, usize, String, String);

fn encode_labeled(lm: &Lm, prompts: &[LabeledPrompt], chat: bool) -> Result<Vec<Encoded>> {
    prompts
        .iter()
        .map(|p| {
            Ok((
                lm.encode_request(&p.text, chat)?,
                p.class,
                p.class_name.clone(),
                p.detail.clone(),
            ))
        })
        .collect()
}

/// How one experiment's prompts are generated from.
struct GenPlan {
    tokens: usize,
    sampling: Sampling,
    /// Windows of steps for the window features (1 = none).
    windows: usize,
}

/// Generate from and featurize one model's prompts.
fn profile_prompts(
    lm: &Lm,
    experiment: Experiment,
    prompts: &[Encoded],
    plan: &GenPlan,
    opts: &Options,
    cp: Option<&Checkpoint>,
) -> Result<Vec<Sample>> {
    let ids: Vec<Vec<u32>> = prompts.iter().map(|p| p.0.clone()).collect();
    let b = crate::progress::progress_bar(
        ids.len(),
        format!("{} {}", experiment.name(), lm.short_name()),
    );
    let key = format!("{} {}", lm.name(), experiment.name());
    let g = generation_profiles_kept(
        lm,
        &ids,
        &GenOptions {
            max_new_tokens: plan.tokens,
            sampling: plan.sampling,
            seed: opts.seed,
            metrics: opts.metrics.clone(),
            ..GenOptions::default()
        },
        Some(&b),
        cp.map(|c| (c, key.as_str())),
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
            let step0 = g
                .profiles
                .iter()
                .map(|p| p.column(0).map(|c| c[1..].to_vec()).unwrap_or_default())
                .collect();
            let windows = if plan.windows > 1 {
                g.profiles
                    .iter()
                    .map(|p| block_windows(p, plan.windows))
                    .collect::<Result<Vec<_>>>()?
            } else {
                Vec::new()
            };
            Ok(Sample {
                experiment: experiment.name().into(),
                model: lm.name().into(),
                family: lm.config().family.to_string(),
                id: i,
                class: *class,
                class_name: class_name.clone(),
                detail: detail.clone(),
                n_layers: lm.n_layers(),
                text: g.text,
                means,
                windows,
                step0,
            })
        })
        .collect()
}

fn run_model(
    lm: &Lm,
    model_index: usize,
    opts: &Options,
    cp: Option<&Checkpoint>,
    report: &mut Report,
) -> Result<()> {
    let name = lm.name().to_string();
    for &e in &opts.experiments {
        let t0 = Instant::now();
        match e {
            Experiment::Families => {
                let bos = bos_prompt(lm)?;
                let prompts: Vec<_> = (0..opts.family_samples)
                    .map(|_| (bos.clone(), model_index, lm.short_name(), String::new()))
                    .collect();
                let plan = GenPlan {
                    tokens: opts.family_tokens,
                    sampling: Sampling::All {
                        temperature: opts.family_temperature,
                    },
                    windows: 1,
                };
                report
                    .samples
                    .extend(profile_prompts(lm, e, &prompts, &plan, opts, cp)?);
            }
            Experiment::Tasks => {
                let items = factor(FactorSplit::News)?;
                let p = task_prompts(&items, opts.task_stories, opts.task_words, opts.seed)?;
                let p = encode_labeled(lm, &p, opts.chat_template)?;
                let plan = GenPlan {
                    tokens: opts.task_tokens,
                    sampling: Sampling::All {
                        temperature: opts.temperature,
                    },
                    windows: 1,
                };
                report
                    .samples
                    .extend(profile_prompts(lm, e, &p, &plan, opts, cp)?);
            }
            Experiment::Formats => {
                let topics = spread(&load_topics(topics_path())?, opts.format_topics);
                let p = encode_labeled(lm, &format_prompts(&topics), opts.chat_template)?;
                let plan = GenPlan {
                    tokens: opts.format_tokens,
                    sampling: opts.format_sampling,
                    windows: opts.format_windows,
                };
                report
                    .samples
                    .extend(profile_prompts(lm, e, &p, &plan, opts, cp)?);
            }
            Experiment::Interventions => run_interventions(lm, opts, cp, report)?,
        }
        let secs = t0.elapsed().as_secs_f64();
        if crate::progress::enabled() {
            eprintln!("{} {}: {secs:.1} s", e.name(), lm.short_name());
        }
        report.timings.push((e.name().into(), name.clone(), secs));
    }
    Ok(())
}

fn run_interventions(
    lm: &Lm,
    opts: &Options,
    cp: Option<&Checkpoint>,
    report: &mut Report,
) -> Result<()> {
    let items = truthfulqa()?;
    let qs = mc_questions(&items, opts.mc_questions, opts.seed);
    if qs.is_empty() {
        return Err(Error::NotEnoughData(
            "no TruthfulQA item with three incorrect answers; ask for at least 1 question".into(),
        ));
    }
    let prompts = qs
        .iter()
        .map(|q| lm.encode_request(&q.prompt, opts.chat_template))
        .collect::<Result<Vec<_>>>()?;
    let letters = letter_ids(lm)?;
    let name = lm.name();
    let profile = crate::papers::keep(cp, &format!("{name} interventions profile"), || {
        prompt_profile(lm, &prompts)
    })?;
    let deltas = entropy_changes(&profile)?;
    let first = if opts.skip_first_block { 1 } else { 2 };
    report.mc_profiles.push((lm.name().into(), profile));
    let ks: Vec<usize> = opts
        .skip_ks
        .iter()
        .copied()
        .filter(|&k| k >= 1 && k + first <= lm.n_layers() + 1)
        .collect();
    let total = 1 + ks.len() * (2 + opts.random_draws);
    let b = crate::progress::progress_bar(total, format!("interventions {}", lm.short_name()));
    let mut push = |strategy: &str, draw: usize, layers: Vec<usize>| -> Result<()> {
        let key = format!("{name} interventions {strategy} {draw} {layers:?}");
        let s = crate::papers::keep(cp, &key, || mc_score(lm, &prompts, &qs, &letters, &layers))?;
        report.interventions.push(InterventionRow {
            model: lm.name().into(),
            strategy: strategy.into(),
            draw,
            k: layers.len(),
            layers,
            accuracy: s.accuracy,
            p_correct: s.p_correct,
            p_correct_se: s.p_correct_se,
        });
        b.inc(1);
        Ok(())
    };
    push("none", 0, Vec::new())?;
    for &k in &ks {
        for st in [Strategy::Expansion, Strategy::Pruning] {
            push(st.name(), 0, select_layers(&deltas, st, k, first, 0)?)?;
        }
        for d in 0..opts.random_draws {
            let seed = opts.seed.wrapping_add(1000 * k as u64 + d as u64);
            push(
                "random",
                d,
                select_layers(&deltas, Strategy::Random, k, first, seed)?,
            )?;
        }
    }
    b.finish_and_clear();
    Ok(())
}

/// Which of a sample's features to classify.
#[derive(Clone, Copy, PartialEq)]
enum Features {
    Means,
    Windows,
    Step0,
}

/// Feature rows and labels of one experiment's samples (optionally of one model), metric `mi`.
fn rows_of(samples: &[&Sample], mi: usize, f: Features) -> (Vec<Vec<f32>>, Vec<usize>) {
    samples
        .iter()
        .map(|s| {
            let v = match f {
                Features::Means => &s.means[mi],
                Features::Windows => &s.windows[mi],
                Features::Step0 => &s.step0[mi],
            };
            (v.clone(), s.class)
        })
        .unzip()
}

/// Cross-validate every classified experiment's features: per model without rescaling, and
/// pooled over the models under both rescalings (families: pooled only, by family, needs ≥ 2
/// families; with the held-out-model check and the profile distances).
/// Sets `report.classification`; a note says when families could not be classified.
fn classify_samples(report: &mut Report, opts: &Options) -> Result<()> {
    let models: Vec<String> = {
        let mut m: Vec<String> = report.samples.iter().map(|s| s.model.clone()).collect();
        m.dedup();
        m
    };
    let rescales = [Rescale::Linear(opts.depth_points), Rescale::PadZeros];
    let (mut rows, mut held_out, mut distances) = (Vec::new(), Vec::new(), Vec::new());
    for e in [Experiment::Families, Experiment::Tasks, Experiment::Formats] {
        let all: Vec<&Sample> = report
            .samples
            .iter()
            .filter(|s| s.experiment == e.name())
            .collect();
        if all.is_empty() {
            continue;
        }
        let windows = e == Experiment::Formats && all.iter().all(|s| !s.windows.is_empty());
        let w = if windows { opts.format_windows } else { 1 };
        let feats = if windows {
            Features::Windows
        } else {
            Features::Means
        };
        for (mi, m) in opts.metrics.iter().enumerate() {
            let mut spec = EvalSpec {
                experiment: e.name(),
                model: "pooled",
                alpha: m.alpha().unwrap_or(f32::NAN),
                rescale: Rescale::None,
                features: GENERATION,
                ks: &opts.knn_ks,
                folds: opts.folds,
                seed: opts.seed,
            };
            if e == Experiment::Families {
                if models.len() < 2 {
                    if mi == 0 {
                        report.notes.push(
                            "families: one model only, so no family classification (needs ≥ 2 models)"
                                .into(),
                        );
                    }
                    continue;
                }
                let (r, _) = rows_of(&all, mi, Features::Means);
                let labels = Labels::new(all.iter().map(|s| (s.model.as_str(), s.family.as_str())));
                if labels.families.len() < 2 {
                    if mi == 0 {
                        report.notes.push(format!(
                            "families: every model is of one family ({}), so no family \
                             classification (needs ≥ 2 families)",
                            labels.families.join(", ")
                        ));
                    }
                    continue;
                }
                for rs in rescales {
                    spec.rescale = rs;
                    let x = feature_matrix(&r, 1, rs)?;
                    rows.extend(evaluate(&spec, &x, &labels.y)?);
                    let name = rs.to_string();
                    held_out.extend(families::held_out(
                        &x,
                        &labels,
                        &opts.knn_ks,
                        spec.alpha,
                        &name,
                    )?);
                    distances.extend(families::distances(&x, &labels, spec.alpha, &name));
                }
                continue;
            }
            for model in &models {
                let mine: Vec<&Sample> =
                    all.iter().copied().filter(|s| &s.model == model).collect();
                if mine.is_empty() {
                    continue;
                }
                let (r, y) = rows_of(&mine, mi, feats);
                spec.model = model;
                spec.rescale = Rescale::None;
                spec.features = GENERATION;
                rows.extend(evaluate(&spec, &feature_matrix(&r, w, Rescale::None)?, &y)?);
                // the diagnostic: the prompt-only profile of the same samples
                let (r, y) = rows_of(&mine, mi, Features::Step0);
                spec.features = STEP0;
                rows.extend(evaluate(&spec, &feature_matrix(&r, 1, Rescale::None)?, &y)?);
                spec.features = GENERATION;
            }
            if models.len() > 1 {
                let (r, y) = rows_of(&all, mi, feats);
                spec.model = "pooled";
                for rs in rescales {
                    spec.rescale = rs;
                    rows.extend(evaluate(&spec, &feature_matrix(&r, w, rs)?, &y)?);
                }
            }
        }
    }
    report.classification = rows;
    report.held_out = held_out;
    report.distances = distances;
    Ok(())
}

crate::papers::preset::impl_sizes!(Options);
