//! Reproduction of *EDT: Improving Large Language Models' Generation by Entropy-based Dynamic
//! Temperature Sampling* (Zhang et al., arXiv 2403.14541) on our small models: quality and
//! diversity of sampling at fixed temperatures against EDT (token level and instance level).
//!
//! Protocol (every reduction of the paper's is a field of [`EdtStudyOptions`]):
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
//! Measured on 2 CPU cores: [`EdtStudyOptions::full`] 29 min wall for both models (about 5–9 min
//! per model and task), `quick` about 1 min.
//!
//! ```no_run
//! use entroscope::papers::edt::{run_edt_study, EdtStudyOptions};
//! let report = run_edt_study(&EdtStudyOptions::quick())?;
//! println!("{}", report.markdown());
//! # Ok::<(), entroscope::Error>(())
//! ```

use crate::papers::output::OutputDir;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::data::{self, FactorSplit};
use crate::decode::{Baseline, Decoder, Edt, EdtLevel, EdtParams, Sampling, StepInput};
use crate::entropy::shannon;
use crate::frame::{frame_from_columns, ColumnData, DataFrame};
use crate::model::{KvCache, Lm};
use crate::plot::{self, Curve};
use crate::stats::text::{bleu_text, rouge_l_text, self_bleu_text};
use crate::{Error, NoHook, Result};

/// A generation task: prompts with one reference each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// TruthfulQA, 6-shot QA prompt → best answer.
    TruthfulQa,
    /// FACTOR news: prefix → true completion.
    FactorNews,
}

impl Task {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Task::TruthfulQa => "truthfulqa",
            Task::FactorNews => "factor-news",
        }
    }

    /// The first `n` `(prompt, reference)` pairs.
    pub fn prompts(self, n: usize) -> Result<Vec<(String, String)>> {
        Ok(match self {
            Task::TruthfulQa => data::truthfulqa()?
                .into_iter()
                .take(n)
                .map(|it| (data::truthfulqa_prompt(&it.question), it.best_answer))
                .collect(),
            Task::FactorNews => data::factor(FactorSplit::News)?
                .into_iter()
                .take(n)
                .map(|it| (it.prefix, it.completion))
                .collect(),
        })
    }

    fn stops(self) -> &'static [&'static str] {
        match self {
            Task::TruthfulQa => &["\n", "Q:"],
            Task::FactorNews => &["\n"],
        }
    }

    /// Post-process a raw sample: trim; for FACTOR keep only the first sentence.
    pub fn clean(self, text: &str) -> String {
        let t = text.trim();
        match self {
            Task::TruthfulQa => t.to_string(),
            Task::FactorNews => first_sentence(t).to_string(),
        }
    }
}

impl std::str::FromStr for Task {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "truthfulqa" | "tfqa" => Ok(Task::TruthfulQa),
            "factor-news" | "factor" | "news" => Ok(Task::FactorNews),
            _ => Err(Error::invalid("task", s, "`truthfulqa` or `factor-news`")),
        }
    }
}

/// Text up to and including the first `.`, `!` or `?` that ends the text or is followed by
/// whitespace (the whole text if none).
///
/// ```
/// use entroscope::papers::edt::first_sentence;
/// assert_eq!(first_sentence("It costs 3.5 dollars. Then more"), "It costs 3.5 dollars.");
/// ```
pub fn first_sentence(t: &str) -> &str {
    let b = t.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if matches!(c, b'.' | b'!' | b'?') && (i + 1 == b.len() || b[i + 1].is_ascii_whitespace()) {
            return &t[..=i];
        }
    }
    t
}

/// One sampling rule of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Setting {
    /// Fixed temperature `T`.
    Fixed(f64),
    /// EDT, token level, `(T0, θ)`.
    EdtToken(f64, f64),
    /// EDT, instance level, `(T0, θ)`.
    EdtInstance(f64, f64),
}

impl Setting {
    /// `fixed`, `edt-token` or `edt-instance`.
    pub fn kind(&self) -> &'static str {
        match self {
            Setting::Fixed(_) => "fixed",
            Setting::EdtToken(..) => "edt-token",
            Setting::EdtInstance(..) => "edt-instance",
        }
    }

    /// Label such as `T=0.8` or `EDT-tok T0=0.8 θ=0.2`.
    pub fn label(&self) -> String {
        match self {
            Setting::Fixed(t) => format!("T={t}"),
            Setting::EdtToken(t0, th) => format!("EDT-tok T0={t0} θ={th}"),
            Setting::EdtInstance(t0, th) => format!("EDT-inst T0={t0} θ={th}"),
        }
    }

    /// A fresh decoder for this setting (`N = 0.8`).
    pub fn decoder(&self, seed: u64) -> Result<Box<dyn Decoder>> {
        Ok(match *self {
            Setting::Fixed(t) => {
                Box::new(Baseline::sampling(seed, Sampling::All { temperature: t })?)
            }
            Setting::EdtToken(t0, theta) | Setting::EdtInstance(t0, theta) => {
                let level = if matches!(self, Setting::EdtToken(..)) {
                    EdtLevel::Token
                } else {
                    EdtLevel::Instance
                };
                Box::new(
                    Edt::new(EdtParams {
                        t0,
                        theta,
                        n: 0.8,
                        level,
                    })?
                    .seed(seed),
                )
            }
        })
    }
}

/// One sample: its text and per-step entropy (nats, T = 1) and temperature.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Generated text (cut before a stop string, not yet cleaned).
    pub text: String,
    /// New token ids.
    pub ids: Vec<u32>,
    /// Entropy of each step's final distribution at T = 1, nats.
    pub entropy: Vec<f32>,
    /// Temperature used at each step (NaN for greedy steps).
    pub temperature: Vec<f32>,
}

/// A prompt run once: its ids, KV cache and last logits, shared by every sample.
#[derive(Debug, Clone)]
pub struct Prefilled {
    ids: Vec<u32>,
    cache: KvCache,
    logits: Vec<f32>,
}

/// Run a prompt once (tokenized with [`Lm::encode`]).
pub fn prefill(lm: &Lm, prompt: &str) -> Result<Prefilled> {
    let ids = lm.encode(prompt)?;
    let mut cache = lm.new_cache();
    let h = lm.forward(&ids, &mut cache, &mut NoHook)?;
    let logits = lm
        .logits(&h.narrow(0, ids.len() - 1, 1)?)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    Ok(Prefilled { ids, cache, logits })
}

/// Sample one continuation of a prefilled prompt with `decoder` (sequence index `sequence`
/// reseeds it), up to `max_new_tokens`, stopping at EOS or a stop string.
pub fn sample(
    lm: &Lm,
    p: &Prefilled,
    decoder: &mut dyn Decoder,
    sequence: usize,
    max_new_tokens: usize,
    stops: &[&str],
) -> Result<Sample> {
    if max_new_tokens == 0 {
        return Err(Error::invalid("max_new_tokens", 0, "at least 1 new token"));
    }
    decoder.begin(lm, &p.ids, sequence)?;
    let mut cache = p.cache.clone();
    let mut context = p.ids.clone();
    let mut logits = p.logits.clone();
    let mut out = Sample {
        text: String::new(),
        ids: Vec::new(),
        entropy: Vec::new(),
        temperature: Vec::new(),
    };
    let eos = lm.eos_token_ids();
    let max_ctx = lm.config().max_position_embeddings;
    for step in 0..max_new_tokens {
        let c = decoder.step(&StepInput {
            lm,
            step,
            context: &context,
            logits: &logits,
            hidden: None,
            suppress: &[],
        })?;
        out.entropy.push(shannon(&logits)?);
        out.temperature.push(c.temperature.unwrap_or(f32::NAN));
        out.ids.push(c.token);
        context.push(c.token);
        if eos.contains(&c.token) {
            break;
        }
        let text = lm.decode(&out.ids)?;
        if let Some(pos) = stops.iter().filter_map(|s| text.find(s)).min() {
            out.text = text[..pos].to_string();
            return Ok(out);
        }
        if step + 1 == max_new_tokens || cache.len() + 1 >= max_ctx {
            break;
        }
        let h = lm.forward(&[c.token], &mut cache, &mut NoHook)?;
        logits = lm.logits(&h)?.flatten_all()?.to_vec1::<f32>()?;
    }
    out.text = lm.decode(&out.ids)?;
    Ok(out)
}

/// Quality and diversity of one (model, task, setting).
#[derive(Debug, Clone, PartialEq)]
pub struct SettingResult {
    /// Model name.
    pub model: String,
    /// Task.
    pub task: Task,
    /// The sampling rule.
    pub setting: Setting,
    /// Prompts.
    pub n_prompts: usize,
    /// Samples per prompt.
    pub n_samples: usize,
    /// Mean ROUGE-L F1 of the samples against the reference.
    pub rouge_l: f64,
    /// Mean sentence BLEU-4 (smoothing 1) against the reference, in [0, 1].
    pub bleu: f64,
    /// Mean over prompts of the Self-BLEU of its samples (lower = more diverse).
    pub self_bleu: f64,
    /// Mean temperature over all sampled steps.
    pub mean_temperature: f64,
    /// Mean new tokens per sample.
    pub mean_tokens: f64,
    /// On the (ROUGE-L ↑, Self-BLEU ↓) Pareto front of its (model, task)?
    pub pareto: bool,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Pareto-optimal points for maximising `quality` and minimising `self_bleu`: point `i` is on
/// the front unless some `j` has `quality_j ≥ quality_i` and `self_bleu_j ≤ self_bleu_i` with at
/// least one strict. NaN points are never on the front.
///
/// ```
/// use entroscope::papers::edt::pareto_front;
/// // (quality, self-BLEU): b dominates c; a and b trade off
/// let f = pareto_front(&[(0.5, 0.2), (0.6, 0.4), (0.55, 0.5)]);
/// assert_eq!(f, vec![true, true, false]);
/// ```
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(q, s)| {
            if q.is_nan() || s.is_nan() {
                return false;
            }
            !points
                .iter()
                .any(|&(q2, s2)| q2 >= q && s2 <= s && (q2 > q || s2 < s))
        })
        .collect()
}

/// Options of the EDT reproduction.
#[derive(Debug, Clone, PartialEq)]
pub struct EdtStudyOptions {
    /// Models ([`Lm::load`] arguments).
    pub models: Vec<String>,
    /// Tasks.
    pub tasks: Vec<Task>,
    /// First prompts of each task.
    pub n_prompts: usize,
    /// Samples per prompt and setting (Self-BLEU needs ≥ 2; the issue: 5).
    pub n_samples: usize,
    /// New tokens per sample at most.
    pub max_new_tokens: usize,
    /// The settings of the grid.
    pub settings: Vec<Setting>,
    /// Base seed.
    pub seed: u64,
    /// Where to write figures and tables (`None` = nothing written).
    pub out_dir: Option<PathBuf>,
    /// Progress bars on stderr.
    pub progress: bool,
}

/// Fixed T ∈ {0.2, 0.4, …, 1.2}; EDT token level T0 ∈ {0.8, 1.2} × θ ∈ {0.2, 1.0}; instance
/// level the same grid.
pub fn full_grid() -> Vec<Setting> {
    let mut v: Vec<Setting> = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2]
        .iter()
        .map(|&t| Setting::Fixed(t))
        .collect();
    for t0 in [0.8, 1.2] {
        for th in [0.2, 1.0] {
            v.push(Setting::EdtToken(t0, th));
        }
    }
    for t0 in [0.8, 1.2] {
        for th in [0.2, 1.0] {
            v.push(Setting::EdtInstance(t0, th));
        }
    }
    v
}

impl Default for EdtStudyOptions {
    fn default() -> Self {
        Self::full()
    }
}

impl EdtStudyOptions {
    /// The full run we report: both models, both tasks, the first 6 prompts, 5 samples of at
    /// most 16 tokens, [`full_grid`] (14 settings).
    pub fn full() -> Self {
        Self {
            models: crate::model::bundled_models(),
            tasks: vec![Task::TruthfulQa, Task::FactorNews],
            n_prompts: 6,
            n_samples: 5,
            max_new_tokens: 16,
            settings: full_grid(),
            seed: 0,
            out_dir: None,
            progress: false,
        }
    }

    /// Paper-like sizes: 100 prompts per task and up to 64 tokens per sample (many hours on two
    /// CPU cores).
    pub fn paper() -> Self {
        Self {
            n_prompts: 100,
            max_new_tokens: 64,
            ..Self::full()
        }
    }

    /// The quick pass: the default model, TruthfulQA, 2 prompts, 5 samples of at most 16
    /// tokens; T ∈ {0.2, 0.6, 1.0, 1.2}, EDT token (0.8, 0.2), (1.2, 1.0), instance (1.2, 1.0).
    pub fn quick() -> Self {
        Self {
            models: vec![crate::model::default_model_path()],
            tasks: vec![Task::TruthfulQa],
            n_prompts: 2,
            max_new_tokens: 16,
            settings: vec![
                Setting::Fixed(0.2),
                Setting::Fixed(0.6),
                Setting::Fixed(1.0),
                Setting::Fixed(1.2),
                Setting::EdtToken(0.8, 0.2),
                Setting::EdtToken(1.2, 1.0),
                Setting::EdtInstance(1.2, 1.0),
            ],
            ..Self::full()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.models.is_empty() || self.tasks.is_empty() || self.settings.is_empty() {
            return Err(Error::invalid(
                "models / tasks / settings",
                "empty",
                "at least one model, one task and one setting",
            ));
        }
        if self.n_prompts == 0 {
            return Err(Error::invalid("n_prompts", 0, "at least 1"));
        }
        if self.n_samples < 2 {
            return Err(Error::invalid(
                "n_samples",
                self.n_samples,
                "at least 2 (Self-BLEU compares samples with each other)",
            ));
        }
        if self.max_new_tokens == 0 {
            return Err(Error::invalid("max_new_tokens", 0, "at least 1"));
        }
        for s in &self.settings {
            s.decoder(0)?;
        }
        Ok(())
    }
}

/// Everything the EDT reproduction measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EdtReport {
    /// One row per (model, task, setting), Pareto flags set per (model, task).
    pub results: Vec<SettingResult>,
    /// Every cleaned sample: `(model, task, setting label, prompt index, sample index, text)`.
    pub samples: Vec<(String, Task, String, usize, usize, String)>,
    /// The entropy / temperature trace of one EDT token-level sample per model (first prompt of
    /// the first task, T0 = 1.2, θ = 1).
    pub traces: Vec<(String, Sample)>,
    /// `(model, task, seconds)`.
    pub timings: Vec<(String, String, f64)>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Run every setting on every prompt of one task with one model.
pub fn run_task(
    lm: &Lm,
    task: Task,
    opts: &EdtStudyOptions,
    samples_out: &mut Vec<(String, Task, String, usize, usize, String)>,
) -> Result<Vec<SettingResult>> {
    let prompts = task.prompts(opts.n_prompts)?;
    if prompts.is_empty() {
        return Err(Error::NotEnoughData(format!(
            "no prompt for {}",
            task.name()
        )));
    }
    let pre = prompts
        .iter()
        .map(|(p, _)| prefill(lm, p))
        .collect::<Result<Vec<_>>>()?;
    let bar = crate::progress::progress_bar(
        opts.progress,
        opts.settings.len(),
        format!("EDT {} {}", lm.name(), task.name()),
    );
    let mut out = Vec::with_capacity(opts.settings.len());
    for s in &opts.settings {
        let t0 = Instant::now();
        let mut dec = s.decoder(opts.seed)?;
        let (mut rouge, mut bleu, mut sb) = (0.0, 0.0, 0.0);
        let (mut t_sum, mut t_n, mut toks) = (0.0, 0usize, 0usize);
        for (pi, ((_, reference), p)) in prompts.iter().zip(&pre).enumerate() {
            let mut texts = Vec::with_capacity(opts.n_samples);
            for k in 0..opts.n_samples {
                let smp = sample(
                    lm,
                    p,
                    dec.as_mut(),
                    pi * opts.n_samples + k,
                    opts.max_new_tokens,
                    task.stops(),
                )?;
                for &t in &smp.temperature {
                    if t.is_finite() {
                        t_sum += f64::from(t);
                        t_n += 1;
                    }
                }
                toks += smp.ids.len();
                let text = task.clean(&smp.text);
                rouge += rouge_l_text(&text, reference).f;
                bleu += bleu_text(&text, &[reference]);
                samples_out.push((lm.name().to_string(), task, s.label(), pi, k, text.clone()));
                texts.push(text);
            }
            sb += self_bleu_text(&texts)?;
        }
        let n_all = (prompts.len() * opts.n_samples) as f64;
        out.push(SettingResult {
            model: lm.name().to_string(),
            task,
            setting: *s,
            n_prompts: prompts.len(),
            n_samples: opts.n_samples,
            rouge_l: rouge / n_all,
            bleu: bleu / n_all,
            self_bleu: sb / prompts.len() as f64,
            mean_temperature: if t_n > 0 {
                t_sum / t_n as f64
            } else {
                f64::NAN
            },
            mean_tokens: toks as f64 / n_all,
            pareto: false,
            seconds: t0.elapsed().as_secs_f64(),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let front = pareto_front(
        &out.iter()
            .map(|r| (r.rouge_l, r.self_bleu))
            .collect::<Vec<_>>(),
    );
    for (r, f) in out.iter_mut().zip(front) {
        r.pareto = f;
    }
    Ok(out)
}

/// The setting of the temperature-trace figure.
pub const TRACE_SETTING: Setting = Setting::EdtToken(1.2, 1.0);

/// Run the reproduction; with `out_dir`, write figures and tables ([`write_outputs`]).
pub fn run_edt_study(opts: &EdtStudyOptions) -> Result<EdtReport> {
    opts.validate()?;
    let mut report = EdtReport::default();
    for model in &opts.models {
        let lm = Lm::load(model)?;
        for &task in &opts.tasks {
            let t0 = Instant::now();
            let r = run_task(&lm, task, opts, &mut report.samples)?;
            report.results.extend(r);
            report.timings.push((
                lm.name().to_string(),
                task.name().to_string(),
                t0.elapsed().as_secs_f64(),
            ));
        }
        let task = opts.tasks[0];
        if let Some((p, _)) = task.prompts(1)?.first() {
            let pre = prefill(&lm, p)?;
            let mut dec = TRACE_SETTING.decoder(opts.seed)?;
            let s = sample(&lm, &pre, dec.as_mut(), 0, 32, &[])?;
            report.traces.push((lm.name().to_string(), s));
        }
    }
    if let Some(dir) = &opts.out_dir {
        report.files = write_outputs(&report, dir)?;
    }
    Ok(report)
}

fn short(model: &str) -> String {
    model
        .split(['.', '-'])
        .take(2)
        .collect::<Vec<_>>()
        .join("-")
}

impl EdtReport {
    /// The results as a Markdown table (Pareto-optimal settings in bold) plus a comparison of
    /// each EDT setting with the fixed temperature of closest Self-BLEU, and timings.
    pub fn markdown(&self) -> String {
        let mut s = String::from("### Quality vs diversity (ROUGE-L / BLEU ↑ against the reference, Self-BLEU ↓ over 5 samples; **bold** = Pareto front)\n\n| model | task | setting | ROUGE-L | BLEU | Self-BLEU | mean T | tokens | Pareto |\n|---|---|---|---|---|---|---|---|---|\n");
        for r in &self.results {
            let b = if r.pareto { "**" } else { "" };
            s.push_str(&format!(
                "| {} | {} | {b}{}{b} | {:.3} | {:.3} | {:.3} | {:.2} | {:.1} | {} |\n",
                short(&r.model),
                r.task.name(),
                r.setting.label(),
                r.rouge_l,
                r.bleu,
                r.self_bleu,
                r.mean_temperature,
                r.mean_tokens,
                if r.pareto { "yes" } else { "" }
            ));
        }
        s.push_str("\n### EDT vs the fixed temperature of closest Self-BLEU\n\n| model | task | EDT setting | ROUGE-L | Self-BLEU | nearest fixed T | its ROUGE-L | its Self-BLEU | ΔROUGE-L |\n|---|---|---|---|---|---|---|---|---|\n");
        for (r, f) in self.edt_vs_fixed() {
            s.push_str(&format!(
                "| {} | {} | {} | {:.3} | {:.3} | {} | {:.3} | {:.3} | {:+.3} |\n",
                short(&r.model),
                r.task.name(),
                r.setting.label(),
                r.rouge_l,
                r.self_bleu,
                f.setting.label(),
                f.rouge_l,
                f.self_bleu,
                r.rouge_l - f.rouge_l
            ));
        }
        if !self.timings.is_empty() {
            s.push_str("\n### Runtime\n\n| model | task | seconds |\n|---|---|---|\n");
            for (m, t, sec) in &self.timings {
                s.push_str(&format!("| {m} | {t} | {sec:.1} |\n"));
            }
        }
        s
    }

    /// Each EDT result paired with the fixed-temperature result of the same (model, task) whose
    /// Self-BLEU is closest ("equal diversity").
    pub fn edt_vs_fixed(&self) -> Vec<(&SettingResult, &SettingResult)> {
        self.results
            .iter()
            .filter(|r| !matches!(r.setting, Setting::Fixed(_)))
            .filter_map(|r| {
                self.results
                    .iter()
                    .filter(|f| {
                        matches!(f.setting, Setting::Fixed(_))
                            && f.model == r.model
                            && f.task == r.task
                    })
                    .min_by(|a, b| {
                        (a.self_bleu - r.self_bleu)
                            .abs()
                            .total_cmp(&(b.self_bleu - r.self_bleu).abs())
                    })
                    .map(|f| (r, f))
            })
            .collect()
    }

    /// One row per (model, task, setting): `model, task, kind, setting, t, t0, theta, rouge_l,
    /// bleu, self_bleu, mean_temperature, mean_tokens, pareto, n_prompts, n_samples, seconds`.
    pub fn results_frame(&self) -> Result<DataFrame> {
        let r = &self.results;
        let f = |g: &dyn Fn(&SettingResult) -> f64| ColumnData::F64(r.iter().map(g).collect());
        let par = |s: &Setting| match *s {
            Setting::Fixed(t) => (t, f64::NAN, f64::NAN),
            Setting::EdtToken(a, b) | Setting::EdtInstance(a, b) => (f64::NAN, a, b),
        };
        frame_from_columns(vec![
            (
                "model",
                ColumnData::Str(r.iter().map(|x| x.model.clone()).collect()),
            ),
            (
                "task",
                ColumnData::Str(r.iter().map(|x| x.task.name().to_string()).collect()),
            ),
            (
                "kind",
                ColumnData::Str(r.iter().map(|x| x.setting.kind().to_string()).collect()),
            ),
            (
                "setting",
                ColumnData::Str(r.iter().map(|x| x.setting.label()).collect()),
            ),
            ("t", f(&|x| par(&x.setting).0)),
            ("t0", f(&|x| par(&x.setting).1)),
            ("theta", f(&|x| par(&x.setting).2)),
            ("rouge_l", f(&|x| x.rouge_l)),
            ("bleu", f(&|x| x.bleu)),
            ("self_bleu", f(&|x| x.self_bleu)),
            ("mean_temperature", f(&|x| x.mean_temperature)),
            ("mean_tokens", f(&|x| x.mean_tokens)),
            (
                "pareto",
                ColumnData::Bool(r.iter().map(|x| x.pareto).collect()),
            ),
            (
                "n_prompts",
                ColumnData::I64(r.iter().map(|x| x.n_prompts as i64).collect()),
            ),
            (
                "n_samples",
                ColumnData::I64(r.iter().map(|x| x.n_samples as i64).collect()),
            ),
            ("seconds", f(&|x| x.seconds)),
        ])
    }

    /// Every sample: `model, task, setting, prompt, sample, text`.
    pub fn samples_frame(&self) -> Result<DataFrame> {
        let s = &self.samples;
        frame_from_columns(vec![
            (
                "model",
                ColumnData::Str(s.iter().map(|x| x.0.clone()).collect()),
            ),
            (
                "task",
                ColumnData::Str(s.iter().map(|x| x.1.name().to_string()).collect()),
            ),
            (
                "setting",
                ColumnData::Str(s.iter().map(|x| x.2.clone()).collect()),
            ),
            (
                "prompt",
                ColumnData::I64(s.iter().map(|x| x.3 as i64).collect()),
            ),
            (
                "sample",
                ColumnData::I64(s.iter().map(|x| x.4 as i64).collect()),
            ),
            (
                "text",
                ColumnData::Str(s.iter().map(|x| x.5.clone()).collect()),
            ),
        ])
    }

    /// ROUGE-L against Self-BLEU for one (model, task): fixed temperatures as a line in T
    /// order, EDT token / instance settings as points, and the Pareto front as a line.
    pub fn pareto_chart(&self, model: &str, task: Task) -> Result<plot::Chart> {
        let g: Vec<&SettingResult> = self
            .results
            .iter()
            .filter(|r| r.model == model && r.task == task)
            .collect();
        if g.is_empty() {
            return Err(Error::NotEnoughData(format!(
                "no results for {model} / {}",
                task.name()
            )));
        }
        let pick = |kind: &str| -> Curve {
            let mut pts: Vec<(f64, f64)> = g
                .iter()
                .filter(|r| r.setting.kind() == kind)
                .map(|r| (r.self_bleu, r.rouge_l))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            Curve::new(
                kind,
                pts.iter().map(|p| p.0).collect(),
                pts.iter().map(|p| p.1).collect(),
            )
        };
        let mut front: Vec<(f64, f64)> = g
            .iter()
            .filter(|r| r.pareto)
            .map(|r| (r.self_bleu, r.rouge_l))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        // the front first, so the settings' own lines and markers are drawn over it
        let series: Vec<Curve> = std::iter::once(Curve::new(
            "Pareto front",
            front.iter().map(|p| p.0).collect(),
            front.iter().map(|p| p.1).collect(),
        ))
        .chain(
            [pick("fixed"), pick("edt-token"), pick("edt-instance")]
                .into_iter()
                .filter(|s| !s.x.is_empty()),
        )
        .collect();
        Ok(plot::lines(&series)?
            .markers(true)
            .x_label("Self-BLEU over 5 samples (lower = more diverse)")
            .y_label("ROUGE-L vs reference")
            .title(format!(
                "{} — {}: quality vs diversity",
                short(model),
                task.name()
            )))
    }

    /// The per-step temperature of an EDT sample under its entropy trace (one model).
    pub fn trace_chart(&self, model: &str) -> Result<plot::Chart> {
        let (_, s) = self
            .traces
            .iter()
            .find(|(m, _)| m == model)
            .ok_or_else(|| Error::NotEnoughData(format!("no EDT trace for {model}")))?;
        let e = Curve::from_y(
            "entropy H (nats, T = 1)",
            s.entropy.iter().map(|&x| f64::from(x)).collect(),
        );
        let t = Curve::from_y(
            format!("EDT temperature ({})", TRACE_SETTING.label()),
            s.temperature
                .iter()
                .map(|&x| if x.is_finite() { f64::from(x) } else { 0.0 })
                .collect(),
        );
        Ok(plot::lines(&[e, t])?
            .markers(true)
            .x_label("generation step")
            .y_label("nats / temperature")
            .title(format!(
                "{}: EDT temperature follows the entropy",
                short(model)
            )))
    }
}

/// Write figures (PNG) and tables (Parquet, `summary.md`) under `dir`; returns the paths.
pub fn write_outputs(report: &EdtReport, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = OutputDir::create(dir)?;
    let mut keys: Vec<(String, Task)> = Vec::new();
    for r in &report.results {
        let k = (r.model.clone(), r.task);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (m, t) in &keys {
        out.chart(
            &format!("{}-{}-pareto.png", slug(m), t.name()),
            &report.pareto_chart(m, *t)?,
        )?;
    }
    for (m, _) in &report.traces {
        out.chart(
            &format!("{}-temperature_trace.png", slug(m)),
            &report.trace_chart(m)?,
        )?;
    }
    if !report.results.is_empty() {
        out.table("results.parquet", &report.results_frame()?)?;
        out.table("samples.parquet", &report.samples_frame()?)?;
    }
    out.text("summary.md", &report.markdown())?;
    Ok(out.into_files())
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
