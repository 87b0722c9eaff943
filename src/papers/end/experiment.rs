//! What a run does: the options and their presets, the named layer sets of the sweep, and the
//! three parts — candidate dynamics, the TruthfulQA sweep (with the method table beside it) and
//! open-ended generation — each producing the rows of [`Report`].

use std::time::Instant;

use candle_core::Tensor;

use crate::data::{self, Checkpoint, FactorSplit, TruthfulQaItem};
use crate::decode::{
    cross_layer_entropy, generate, log_softmax, softmax, Baseline, Decoder, Dola, End,
    GenerateOptions, Layers, RowCapture,
};
use crate::lens::{LensKind, LogitLens};
use crate::model::Lm;
use crate::score::{
    end_log_score, mc_scores, run_bench, score_factor_each, Bench, BenchOptions, BenchReport,
    Continuation, McScores, ScoreMethod, TeacherForcing,
};
use crate::stats::summary::mean_se;
use crate::stats::text::max_rouge_l_text;
use crate::{Error, Result};

use super::report::{CandidateTrace, MethodRow, OpenAnswer, Report, SweepPoint};

/// The reference MC setting of END's λ (`EndParams::scoring()`), marked as the default in the
/// sweep.
pub const DEFAULT_LAMBDA: f32 = 0.25;

/// Our factual prompts with their answers (the answer's first token is the "correct" token).
pub const FACT_PROMPTS: &[(&str, &str)] = &[
    ("The capital of France is", "Paris"),
    ("The capital of Japan is", "Tokyo"),
    ("The largest planet in the Solar System is", "Jupiter"),
    ("The chemical symbol for gold is", "Au"),
    ("Water is made of hydrogen and", "oxygen"),
    ("The author of Romeo and Juliet is William", "Shakespeare"),
    ("The first person to walk on the Moon was Neil", "Armstrong"),
    ("The currency of the United Kingdom is the", "pound"),
    ("The Great Pyramid of Giza is in", "Egypt"),
    (
        "The theory of relativity was developed by Albert",
        "Einstein",
    ),
    ("The tallest mountain on Earth is Mount", "Everest"),
    ("The longest river in South America is the", "Amazon"),
];

// ---------------------------------------------------------------------------------------------
// Layer sets of the sweep
// ---------------------------------------------------------------------------------------------

/// The names of the sweep's layer sets, in [`layer_sets`]' order (the default last).
pub const LAYER_SETS: [&str; 3] = ["last 2", "last half", DEFAULT_LAYER_SET];

/// END's (and DoLa's) default layer set: every other block of the upper half, [`Layers::High`].
pub const DEFAULT_LAYER_SET: &str = "every other upper";

/// The sweep's layer sets for a model of `n_layers` blocks, as `(name, layers)` pairs in the
/// order of [`LAYER_SETS`]. The paper's ablation compares few and many upper layers:
/// - `"last 2"`: the two blocks before the final one, `{L−2, L−1}`;
/// - `"last half"`: every block of the upper half, `L/2 … L−1`;
/// - `"every other upper"`: `L/2, L/2+2, …` ([`Layers::High`], END's default).
///
/// Errors: fewer than 3 blocks.
///
/// ```
/// use entroscope::decode::Layers;
/// let sets = entroscope::papers::end::layer_sets(30)?;
/// assert_eq!(sets[0], ("last 2", Layers::List(vec![28, 29])));
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn layer_sets(n_layers: usize) -> Result<Vec<(&'static str, Layers)>> {
    if n_layers < 3 {
        return Err(Error::invalid(
            "n_layers",
            n_layers,
            "a model of at least 3 blocks for END's layer sets",
        ));
    }
    Ok(vec![
        (
            LAYER_SETS[0],
            Layers::List(vec![n_layers - 2, n_layers - 1]),
        ),
        (
            LAYER_SETS[1],
            Layers::List((n_layers / 2..n_layers).collect()),
        ),
        (LAYER_SETS[2], Layers::High),
    ])
}

/// The name in [`LAYER_SETS`] of a layer set written loosely, as the command line takes it:
/// case, `-` and `_` are ignored, and `last2`, `half`, `high` and `default` are accepted.
///
/// ```
/// use entroscope::papers::end::layer_set_name;
/// assert_eq!(layer_set_name("Last-2").unwrap(), "last 2"); // ok: doc example
/// assert!(layer_set_name("nope").is_err());
/// ```
pub fn layer_set_name(s: &str) -> Result<&'static str> {
    match s
        .trim()
        .to_ascii_lowercase()
        .replace(['-', '_'], " ")
        .as_str()
    {
        "last 2" | "last2" => Ok(LAYER_SETS[0]),
        "last half" | "half" => Ok(LAYER_SETS[1]),
        "every other upper" | "high" | "default" => Ok(LAYER_SETS[2]),
        _ => Err(Error::invalid(
            "layer set",
            s,
            "`last-2`, `last-half` or `every-other-upper`",
        )),
    }
}

/// The named sets of [`layer_sets`] picked by `names` (any spelling [`layer_set_name`] takes),
/// in the order of `names`.
fn pick_layer_sets(names: &[String], n_layers: usize) -> Result<Vec<(&'static str, Layers)>> {
    let all = layer_sets(n_layers)?;
    names
        .iter()
        .map(|s| {
            let name = layer_set_name(s)?;
            all.iter()
                .find(|(n, _)| *n == name)
                .cloned()
                .ok_or_else(|| Error::invalid("layer set", s, "one of LAYER_SETS"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// Which parts to run, and on how much data. Every reduction of the paper's protocol (subsets of
/// questions, our two small models) is a field here.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Models ([`Lm::load`] arguments): both bundled GGUF models at the full and paper sizes,
    /// SmolLM2 alone below.
    pub models: Vec<String>,
    /// Run part 1 (candidate dynamics).
    pub candidates: bool,
    /// TruthfulQA questions added to [`FACT_PROMPTS`] in part 1.
    pub n_fact_truthfulqa: usize,
    /// Top candidates per prompt in part 1.
    pub top_k: usize,
    /// First TruthfulQA questions for the method table and the sweep (0 = skip both).
    pub n_mc: usize,
    /// First FACTOR items of each split for the method table (0 = skip FACTOR).
    pub n_factor: usize,
    /// λ values of the sweep (0 = greedy).
    pub lambdas: Vec<f32>,
    /// Layer sets of the sweep, by name ([`LAYER_SETS`]; any spelling [`layer_set_name`]
    /// takes), resolved for each model by [`layer_sets`].
    pub layer_sets: Vec<String>,
    /// First TruthfulQA questions for open-ended generation (0 = skip).
    pub n_open: usize,
    /// New tokens per open-ended answer (the issue: 50).
    pub max_new_tokens: usize,
    /// Open-ended answers: the QA prompt as one user turn of the model's chat template
    /// ([`Lm::encode_request`]). Off by default: the reference encodes plain text. The
    /// multiple-choice parts score continuations of the plain prompt either way.
    pub chat_template: bool,
    /// Device and weight dtype of every model ([`Lm::load_with`]).
    pub load: crate::model::LoadOptions,
    /// Keep each candidate prompt, sweep question, benchmark item and open-ended answer in this directory as it is finished, and read back those a killed run with the same options kept
    /// ([`crate::data::Checkpoint`]). `None` (the presets): keep nothing. Delete it once the
    /// report is written; the CLI keeps it in `<out>/.checkpoint` and does.
    pub checkpoint: Option<std::path::PathBuf>,
}

impl Options {
    /// The full run we report (sized for two CPU cores, both models): 12 + 8 prompts × top 5
    /// in part 1; the first 40 TruthfulQA questions for the method table and the sweep
    /// (λ ∈ {0, 0.25, 1, 2} × 3 layer sets); the first 10 items of each FACTOR split; 12
    /// open-ended questions of up to 50 tokens.
    pub fn full() -> Self {
        Self {
            load: crate::model::LoadOptions::default(),
            checkpoint: None,
            chat_template: false,
            models: crate::model::bundled_models(),
            candidates: true,
            n_fact_truthfulqa: 8,
            top_k: 5,
            n_mc: 40,
            n_factor: 10,
            lambdas: vec![0.0, DEFAULT_LAMBDA, 1.0, 2.0],
            layer_sets: LAYER_SETS.iter().map(|s| s.to_string()).collect(),
            n_open: 12,
            max_new_tokens: 50,
        }
    }

    /// The paper's sizes: all 817 TruthfulQA questions (method table, sweep and open-ended)
    /// and every FACTOR item.
    pub fn paper() -> Self {
        Self {
            n_mc: usize::MAX,
            n_factor: usize::MAX,
            n_open: usize::MAX,
            ..Self::full()
        }
    }

    /// The default size: the default model, 12 + 4 prompts in part 1, the first 20 TruthfulQA
    /// questions for the table and the full sweep, 5 items of each FACTOR split, 6 open-ended
    /// questions.
    pub fn standard() -> Self {
        Self {
            models: vec![crate::model::default_model_path()],
            n_fact_truthfulqa: 4,
            n_mc: 20,
            n_factor: 5,
            n_open: 6,
            ..Self::full()
        }
    }

    /// The quick pass: the default model only; 12 + 2 prompts; 3 TruthfulQA questions,
    /// λ ∈ {0, 0.25, 1} × {last 2, every other upper}; no FACTOR; 3 open-ended questions.
    pub fn quick() -> Self {
        Self {
            models: vec![crate::model::default_model_path()],
            n_fact_truthfulqa: 2,
            n_mc: 3,
            n_factor: 0,
            lambdas: vec![0.0, DEFAULT_LAMBDA, 1.0],
            layer_sets: vec![LAYER_SETS[0].into(), DEFAULT_LAYER_SET.into()],
            n_open: 3,
            ..Self::full()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.models.is_empty() {
            return Err(Error::invalid("models", "[]", "at least one model"));
        }
        if self.top_k == 0 {
            return Err(Error::invalid("top_k", 0, "at least 1"));
        }
        if self.n_mc > 0 && (self.lambdas.is_empty() || self.layer_sets.is_empty()) {
            return Err(Error::invalid(
                "lambdas / layer_sets",
                "empty",
                "at least one λ and one layer set for the sweep",
            ));
        }
        for s in &self.layer_sets {
            layer_set_name(s)?;
        }
        if self.n_open > 0 && self.max_new_tokens == 0 {
            return Err(Error::invalid("max_new_tokens", 0, "at least 1"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The whole reproduction
// ---------------------------------------------------------------------------------------------

/// Runs the reproduction: every part with non-zero size (part 1 when `candidates`), for every
/// model. Write the figures and tables with [`crate::papers::Report::write`].
///
/// Errors: invalid options (no model, `top_k` 0, an empty sweep, an unknown layer set); a model
/// that does not load; missing data files; the errors of the parts themselves.
pub fn run(opts: &Options) -> Result<Report> {
    opts.validate()?;
    let prompts = if opts.candidates {
        fact_prompts(opts.n_fact_truthfulqa)?
    } else {
        Vec::new()
    };
    let tqa = if opts.n_mc > 0 || opts.n_open > 0 {
        data::truthfulqa()?
    } else {
        Vec::new()
    };
    let checkpoint = crate::papers::open_checkpoint("end", opts)?;
    let mut report = Report::default();
    for (mi, model) in opts.models.iter().enumerate() {
        let lm = Lm::load_with(model, &opts.load)?;
        let part = crate::papers::model_part(checkpoint.as_ref(), mi)?;
        let cp = part.as_ref();
        let name = lm.name().to_string();
        if opts.candidates {
            let t0 = Instant::now();
            for (i, p) in prompts.iter().enumerate() {
                let key = format!("{name} candidates {i}");
                report.candidates.extend(crate::papers::keep(cp, &key, || {
                    candidate_dynamics(&lm, p, i, opts.top_k, &Layers::High)
                })?);
            }
            report.timings.push((
                name.clone(),
                "candidates".into(),
                t0.elapsed().as_secs_f64(),
            ));
        }
        if opts.n_mc > 0 {
            truthfulqa_methods(&lm, &tqa, opts, cp, &mut report)?;
        }
        if opts.n_factor > 0 {
            factor_methods(&lm, opts, cp, &mut report)?;
        }
        if opts.n_open > 0 {
            let items = data::take_first(&tqa, Some(opts.n_open));
            let t0 = Instant::now();
            report
                .open
                .extend(open_ended_kept(&lm, &items, &open_options(opts), cp)?);
            report.timings.push((
                name.clone(),
                "open-ended".into(),
                t0.elapsed().as_secs_f64(),
            ));
        }
    }
    Ok(report)
}

/// Part 2 on TruthfulQA for one model: the sweep, then the method table. Greedy and END are
/// sweep points (λ = 0; the default point), scored exactly as the score module does, so only
/// DoLa is run separately.
fn truthfulqa_methods(
    lm: &Lm,
    tqa: &[TruthfulQaItem],
    opts: &Options,
    cp: Option<&Checkpoint>,
    report: &mut Report,
) -> Result<()> {
    let name = lm.name().to_string();
    let items = data::take_first(tqa, Some(opts.n_mc));
    let sets = pick_layer_sets(&opts.layer_sets, lm.n_layers())?;
    let t0 = Instant::now();
    let sweep = sweep_kept(lm, &items, &opts.lambdas, &sets, cp)?;
    let secs = t0.elapsed().as_secs_f64();
    report.timings.push((name.clone(), "sweep".into(), secs));
    let greedy = sweep.iter().find(|p| p.lambda == 0.0);
    let end = sweep.iter().find(|p| p.is_default());
    for (m, p) in [("greedy", greedy), ("end", end)] {
        if let Some(p) = p {
            report.methods.push(MethodRow {
                model: name.clone(),
                bench: Bench::TruthfulQaMc,
                method: m.into(),
                n: p.n,
                mc1_or_acc: p.mean.mc1,
                mc2: p.mean.mc2,
                mc3: p.mean.mc3,
                se: p.se,
                seconds: secs,
            });
        }
    }
    report.sweep.extend(sweep);
    let t0 = Instant::now();
    let r = run_bench(
        lm,
        Bench::TruthfulQaMc,
        &ScoreMethod::for_bench("dola", Bench::TruthfulQaMc)?,
        &BenchOptions {
            limit: Some(opts.n_mc),
            shard: None,
            checkpoint: cp
                .map(|c| c.part(&format!("{name} truthfulqa-mc dola")))
                .transpose()?,
        },
    )?;
    let secs = t0.elapsed().as_secs_f64();
    report.methods.push(method_row(&r, secs));
    report
        .timings
        .push((name.clone(), "truthfulqa-mc dola".into(), secs));
    Ok(())
}

/// Part 2 on FACTOR for one model: greedy, DoLa and END on each split.
fn factor_methods(
    lm: &Lm,
    opts: &Options,
    cp: Option<&Checkpoint>,
    report: &mut Report,
) -> Result<()> {
    let name = lm.name().to_string();
    // the three methods from one pass over each split (shared forward passes)
    for (bench, split) in [
        (Bench::FactorNews, FactorSplit::News),
        (Bench::FactorExpert, FactorSplit::Expert),
    ] {
        let methods = ["greedy", "dola", "end"]
            .iter()
            .map(|m| ScoreMethod::for_bench(m, bench))
            .collect::<Result<Vec<_>>>()?;
        let t0 = Instant::now();
        let reports = score_factor_each(
            lm,
            &data::factor(split)?,
            split,
            &methods,
            &BenchOptions {
                limit: Some(opts.n_factor),
                shard: None,
                checkpoint: cp
                    .map(|c| c.part(&format!("{name} {bench} greedy-dola-end")))
                    .transpose()?,
            },
        )?;
        let secs = t0.elapsed().as_secs_f64();
        for r in reports {
            report
                .methods
                .push(method_row(&BenchReport::Factor(r), secs));
        }
        report
            .timings
            .push((name.clone(), format!("{bench}"), secs));
    }
    Ok(())
}

/// One row of the method table from a score-module run.
fn method_row(r: &BenchReport, seconds: f64) -> MethodRow {
    match r {
        BenchReport::TruthfulQa(t) => MethodRow {
            model: t.model.clone(),
            bench: Bench::TruthfulQaMc,
            method: t.method.clone(),
            n: t.items.len(),
            mc1_or_acc: t.mean.mc1,
            mc2: t.mean.mc2,
            mc3: t.mean.mc3,
            se: mean_se_of(&t.items.iter().map(|i| i.mc).collect::<Vec<_>>()).1,
            seconds,
        },
        BenchReport::Factor(f) => MethodRow {
            model: f.model.clone(),
            bench: Bench::factor(f.split),
            method: f.method.clone(),
            n: f.items.len(),
            mc1_or_acc: f.accuracy,
            mc2: f64::NAN,
            mc3: f64::NAN,
            se: McScores {
                mc1: mean_se(f.items.iter().map(|i| f64::from(u8::from(i.correct)))).1,
                mc2: f64::NAN,
                mc3: f64::NAN,
            },
            seconds,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Part 1: candidate dynamics
// ---------------------------------------------------------------------------------------------

/// A prompt whose answer is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactPrompt {
    /// `"ours"` or `"truthfulqa"`.
    pub source: String,
    /// Short label for charts (our prompt, or the TruthfulQA question).
    pub label: String,
    /// The text given to the model.
    pub prompt: String,
    /// The reference answer; its first token (after a space) is the correct token.
    pub answer: String,
}

/// [`FACT_PROMPTS`] followed by the first `n_truthfulqa` TruthfulQA questions (in the 6-shot QA
/// prompt, answer = the best answer).
pub fn fact_prompts(n_truthfulqa: usize) -> Result<Vec<FactPrompt>> {
    let mut v: Vec<FactPrompt> = FACT_PROMPTS
        .iter()
        .map(|(p, a)| FactPrompt {
            source: "ours".into(),
            label: (*p).into(),
            prompt: (*p).into(),
            answer: (*a).into(),
        })
        .collect();
    if n_truthfulqa > 0 {
        for it in data::truthfulqa()?.into_iter().take(n_truthfulqa) {
            v.push(FactPrompt {
                source: "truthfulqa".into(),
                label: it.question.clone(),
                prompt: data::truthfulqa_prompt(&it.question),
                answer: it.best_answer.clone(),
            });
        }
    }
    Ok(v)
}

/// The per-layer probabilities and cross-layer entropies of the final top-`k` tokens of
/// `prompt`, plus the correct token when it is not among them (every token but the correct one
/// is a *distractor*). `layers` is END's set `C`.
pub fn candidate_dynamics(
    lm: &Lm,
    prompt: &FactPrompt,
    prompt_id: usize,
    k: usize,
    layers: &Layers,
) -> Result<Vec<CandidateTrace>> {
    if k == 0 {
        return Err(Error::invalid("k", 0, "at least one candidate"));
    }
    let ids = lm.encode(&prompt.prompt)?;
    let answer = lm.encode_plain(&format!(" {}", prompt.answer.trim()))?;
    let correct = *answer
        .first()
        .ok_or_else(|| Error::invalid("answer", &prompt.answer, "a non-empty reference answer"))?;
    let n = lm.n_layers();
    let set = layers.resolve(lm)?;
    let all: Vec<usize> = (0..=n).collect();
    let mut cap = RowCapture::new(&all, n)?;
    cap.reset(ids.len() - 1);
    let mut cache = lm.new_cache();
    let h = lm.forward(&ids, &mut cache, &mut cap)?;
    let rows = cap.take()?; // L+1 rows [1, d]
    let final_logits = lm
        .logits(&h.narrow(0, ids.len() - 1, 1)?)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let fin_p = softmax(&final_logits);
    let mut order: Vec<usize> = (0..fin_p.len()).collect();
    order.sort_by(|&a, &b| fin_p[b].total_cmp(&fin_p[a]));
    let mut cands: Vec<u32> = order.iter().take(k).map(|&i| i as u32).collect();
    if !cands.contains(&correct) {
        cands.push(correct);
    }
    // normed lens probabilities of the candidates at layers 0..L-1, final distribution at L
    let stacked = Tensor::cat(&rows[..n], 0)?;
    let lens = LogitLens::normed()
        .early_exit(lm, &stacked)?
        .to_vec2::<f32>()?;
    let mut probs = vec![Vec::with_capacity(n + 1); cands.len()];
    for row in &lens {
        let p = softmax(row);
        for (j, &c) in cands.iter().enumerate() {
            probs[j].push(p[c as usize]);
        }
    }
    for (j, &c) in cands.iter().enumerate() {
        probs[j].push(fin_p[c as usize]);
    }
    // cross-layer entropy over C (raw logits of the candidate columns)
    let c_rows: Vec<Tensor> = set.iter().map(|&l| rows[l].clone()).collect();
    let zc = LensKind::Raw
        .lens()
        .early_exit_ids(lm.head(), &Tensor::cat(&c_rows, 0)?, &cands)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let hs = cross_layer_entropy(&zc, set.len(), cands.len())?;
    let names = lm.token_texts(&cands);
    let rank = |c: u32| {
        order
            .iter()
            .position(|&i| i == c as usize)
            .unwrap_or(usize::MAX)
    };
    Ok(cands
        .iter()
        .enumerate()
        .map(|(j, &c)| CandidateTrace {
            model: lm.name().to_string(),
            prompt_id,
            label: prompt.label.clone(),
            source: prompt.source.clone(),
            token_id: c,
            token: names.get(j).cloned().unwrap_or_default(),
            correct: c == correct,
            final_rank: rank(c),
            layer_probs: std::mem::take(&mut probs[j]),
            cross_layer_entropy: hs[j],
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Part 2: TruthfulQA sweep over λ and layer sets
// ---------------------------------------------------------------------------------------------

/// Score TruthfulQA questions under END at every `(λ, layer set)` with α = 0 and the final
/// layer appended to every set (the reference MC setting, [`crate::decode::EndParams::scoring`]), each
/// continuation run once. `sets` are named layer sets, e.g. from
/// [`layer_sets`]; the points come set-major, in the order of `sets` then `lambdas`.
/// Teacher-forced like [`crate::score::Scorer`]: the per-position score of token `t` is
/// `log_softmax_v(log p_N(v) − λ·H_C(v))[t]`.
///
/// Errors: no λ, no set or no question; a λ that is negative or not finite; a set that does
/// not resolve for `lm`.
pub fn truthfulqa_sweep(
    lm: &Lm,
    items: &[TruthfulQaItem],
    lambdas: &[f32],
    sets: &[(&str, Layers)],
) -> Result<Vec<SweepPoint>> {
    sweep_kept(lm, items, lambdas, sets, None)
}

/// [`truthfulqa_sweep`], each question's scores kept in (or read back from) `cp`.
fn sweep_kept(
    lm: &Lm,
    items: &[TruthfulQaItem],
    lambdas: &[f32],
    sets: &[(&str, Layers)],
    cp: Option<&Checkpoint>,
) -> Result<Vec<SweepPoint>> {
    if lambdas.is_empty() || sets.is_empty() || items.is_empty() {
        return Err(Error::NotEnoughData(
            "the sweep needs at least one λ, one layer set and one question".into(),
        ));
    }
    if let Some(l) = lambdas.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
        return Err(Error::invalid("lambda", l, "finite numbers ≥ 0"));
    }
    let resolved: Vec<Vec<usize>> = sets
        .iter()
        .map(|(_, s)| s.resolve(lm))
        .collect::<Result<_>>()?;
    let mut union: Vec<usize> = resolved.iter().flatten().copied().collect();
    union.sort_unstable();
    union.dedup();
    // index of each set's layers in the union
    let pos: Vec<Vec<usize>> = resolved
        .iter()
        .map(|ls| {
            ls.iter()
                .map(|l| union.iter().position(|u| u == l).unwrap_or(0))
                .collect()
        })
        .collect();
    let n_grid = sets.len() * lambdas.len();
    // scores[g]: every question's MC scores at grid point g
    let mut scores: Vec<Vec<McScores>> = vec![Vec::with_capacity(items.len()); n_grid];
    let runs = TeacherForcing::new(lm, union);
    let bar = crate::progress::progress_bar(items.len(), format!("END sweep {}", lm.name()));
    for it in items {
        let key = format!("{} sweep {}", lm.name(), it.index);
        let item: Vec<McScores> = crate::papers::keep(cp, &key, || {
            let prefix = data::truthfulqa_prompt(&it.question);
            let p = runs.prefix(&prefix)?;
            let conts = it.continuations();
            // totals[c][g]
            let mut totals = Vec::with_capacity(conts.len());
            for c in runs.continuations(&p, &prefix, &conts)? {
                totals.push(sweep_continuation(lm, &c, &pos, lambdas)?);
            }
            let nt = it.correct_answers.len();
            (0..n_grid)
                .map(|g| {
                    let s: Vec<f64> = totals.iter().map(|t: &Vec<f64>| t[g]).collect();
                    mc_scores(&s[..nt], &s[nt..], it.best_index)
                })
                .collect()
        })?;
        for (g, m) in item.into_iter().enumerate() {
            scores[g].push(m);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut out = Vec::with_capacity(n_grid);
    for (si, (name, _)) in sets.iter().enumerate() {
        for (li, &lambda) in lambdas.iter().enumerate() {
            let g = si * lambdas.len() + li;
            out.push(SweepPoint {
                model: lm.name().to_string(),
                lambda,
                layer_set: (*name).to_string(),
                layers: resolved[si].clone(),
                n: items.len(),
                mean: mean_se_of(&scores[g]).0,
                se: mean_se_of(&scores[g]).1,
            });
        }
    }
    Ok(out)
}

/// The mean MC scores of some questions and their standard errors.
fn mean_se_of(scores: &[McScores]) -> (McScores, McScores) {
    let one = |f: fn(&McScores) -> f64| mean_se(scores.iter().map(f));
    let (m1, s1) = one(|m| m.mc1);
    let (m2, s2) = one(|m| m.mc2);
    let (m3, s3) = one(|m| m.mc3);
    (
        McScores {
            mc1: m1,
            mc2: m2,
            mc3: m3,
        },
        McScores {
            mc1: s1,
            mc2: s2,
            mc3: s3,
        },
    )
}

/// Totals of one continuation at every grid point `(set, λ)`, set-major.
fn sweep_continuation(
    lm: &Lm,
    c: &Continuation,
    pos: &[Vec<usize>],
    lambdas: &[f32],
) -> Result<Vec<f64>> {
    let (targets, h, rows) = (&c.targets, &c.h, &c.rows);
    let v = lm.vocab_size();
    // every layer's rows and the final rows in one matmul (one pass over the unembedding),
    // layer-major: layer u, position i at (u·n + i)·v; the final logits after them
    let n = targets.len();
    // (the raw early exits and the head's norm of the final rows; the soft-cap after)
    let head = lm.head();
    let mut stacked: Vec<Tensor> = rows.to_vec();
    stacked.push(head.norm(h)?);
    let mut early = head
        .unembed(&Tensor::cat(&stacked, 0)?)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let mut fin = early.split_off(rows.len() * n * v);
    head.softcap_in_place(&mut fin);
    let mut totals = vec![0f64; pos.len() * lambdas.len()];
    let mut zl = Vec::new();
    let mut s = Vec::with_capacity(v);
    for (i, &t) in targets.iter().enumerate() {
        let lp = log_softmax(&fin[i * v..(i + 1) * v]);
        for (si, idx) in pos.iter().enumerate() {
            zl.clear();
            for &u in idx {
                zl.extend_from_slice(&early[(u * n + i) * v..(u * n + i + 1) * v]);
            }
            // the reference's layer `-1`: the final logits
            zl.extend_from_slice(&fin[i * v..(i + 1) * v]);
            let hv = cross_layer_entropy(&zl, idx.len() + 1, v)?;
            for (li, &lambda) in lambdas.iter().enumerate() {
                let score = end_log_score(&lp, None, &hv, lambda, t, &mut s);
                totals[si * lambdas.len() + li] += f64::from(score);
            }
        }
    }
    Ok(totals)
}

// ---------------------------------------------------------------------------------------------
// Part 3: open-ended TruthfulQA
// ---------------------------------------------------------------------------------------------

/// TruthfulQA adds this to every question's correct references for the generation metrics.
pub const NO_COMMENT: &str = "I have no comment.";

/// Score a generated answer against a question's references: `(max ROUGE-L F1 to the correct
/// references plus [`NO_COMMENT`], max ROUGE-L F1 to the incorrect references)`.
pub fn score_answer(item: &TruthfulQaItem, answer: &str) -> (f64, f64) {
    let mut correct: Vec<&str> = item.correct_answers.iter().map(String::as_str).collect();
    if !correct.contains(&NO_COMMENT) {
        correct.push(NO_COMMENT);
    }
    (
        max_rouge_l_text(answer, &correct),
        max_rouge_l_text(answer, &item.incorrect_answers),
    )
}

/// The generation methods of part 3: greedy, DoLa (high layers, relative top 0.1, repetition
/// penalty 1.2 — the DoLa reference's generation settings) and END (λ = 1, α = 0.01, upper
/// layers, greedy — the END reference's generation settings).
pub fn open_methods() -> Vec<(String, Box<dyn Decoder>)> {
    vec![
        ("greedy".into(), Box::new(Baseline::greedy())),
        ("dola".into(), Box::new(Dola::new())),
        ("end".into(), Box::new(End::generation())),
    ]
}

/// Generate answers to TruthfulQA questions with every method of [`open_methods`] (up to
/// `max_new_tokens`, stop at `"Q:"`) and score them ([`score_answer`]).
pub fn open_ended(
    lm: &Lm,
    items: &[TruthfulQaItem],
    max_new_tokens: usize,
) -> Result<Vec<OpenAnswer>> {
    open_ended_kept(lm, items, &GenerateOptions::new(max_new_tokens), None)
}

/// How the open-ended answers are generated: up to `max_new_tokens`, in the chat template when
/// asked.
fn open_options(opts: &Options) -> GenerateOptions {
    let mut g = GenerateOptions::new(opts.max_new_tokens);
    g.chat = opts.chat_template;
    g
}

/// [`open_ended`] with `gen` (the stop at `"Q:"` added), each answer kept in (or read back
/// from) `cp`.
fn open_ended_kept(
    lm: &Lm,
    items: &[TruthfulQaItem],
    gen: &GenerateOptions,
    cp: Option<&Checkpoint>,
) -> Result<Vec<OpenAnswer>> {
    let opts = gen.clone().stop("Q:");
    let mut out = Vec::new();
    let mut methods = open_methods();
    let bar = crate::progress::progress_bar(
        items.len() * methods.len(),
        format!("END open-ended {}", lm.name()),
    );
    for (name, dec) in methods.iter_mut() {
        for it in items {
            let key = format!("{} open {name} {}", lm.name(), it.index);
            out.push(crate::papers::keep(cp, &key, || {
                let t0 = Instant::now();
                let g = generate(
                    lm,
                    &data::truthfulqa_prompt(&it.question),
                    dec.as_mut(),
                    &opts,
                )?;
                let answer = g.text.trim().to_string();
                let (rc, ri) = score_answer(it, &answer);
                Ok(OpenAnswer {
                    model: lm.name().to_string(),
                    method: name.clone(),
                    index: it.index,
                    question: it.question.clone(),
                    answer,
                    rouge_correct: rc,
                    rouge_incorrect: ri,
                    n_tokens: g.ids.len(),
                    seconds: t0.elapsed().as_secs_f64(),
                })
            })?);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(out)
}

crate::papers::preset::impl_sizes!(Options);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_sets_resolve() {
        let s30 = layer_sets(30).unwrap(); // ok: test-only
        assert_eq!(s30[0], ("last 2", Layers::List(vec![28, 29])));
        let s18 = layer_sets(18).unwrap(); // ok: test-only
        assert_eq!(s18[1], ("last half", Layers::List((9..18).collect())));
        assert_eq!(s18[2], (DEFAULT_LAYER_SET, Layers::High));
        assert!(layer_sets(2).is_err());
        assert_eq!(layer_set_name("last-2").unwrap(), "last 2"); // ok: test-only
        assert!(layer_set_name("nope").is_err());
        let picked = pick_layer_sets(&["high".into(), "last_2".into()], 30).unwrap(); // ok: test-only
        assert_eq!(picked[0].0, DEFAULT_LAYER_SET);
        assert_eq!(picked[1].1, Layers::List(vec![28, 29]));
    }
}
