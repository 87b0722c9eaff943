//! The run: [`Options`] and its presets, [`run`], and the per-prompt work — the tasks and their
//! prompts ([`Task`]), the sampling rules of the grid ([`Setting`]), one prefill per prompt
//! shared by every sample ([`prefill`], [`sample`], [`sample_batch`]), and one task's grid ([`run_task`]).

use std::time::Instant;

use crate::data::{self, Checkpoint, FactorSplit};
use crate::decode::{Baseline, Decoder, Edt, EdtLevel, EdtParams, Sampling, StepInput};
use crate::entropy::shannon;
use crate::model::{KvCache, Lm};
use crate::stats::text::{bleu_text, rouge_l_text, self_bleu_text};
use crate::{Error, NoHook, Result};

use super::report::{mark_pareto, Report, SampleRow, SettingResult};

/// A generation task: prompts with one reference each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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
    prefill_ids(lm, lm.encode(prompt)?)
}

/// Run a tokenized prompt once (e.g. [`Lm::encode_request`] of a request in the chat template).
pub fn prefill_ids(lm: &Lm, ids: Vec<u32>) -> Result<Prefilled> {
    lm.check_ids(&ids, 0)?;
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
    sample_batch(lm, p, &mut [decoder], sequence, max_new_tokens, stops)?
        .pop()
        .ok_or_else(|| Error::NotEnoughData("a batch of one decoder drew no sample".into()))
}

/// Sample one continuation per decoder of a prefilled prompt, all of them in one batch (decoder
/// `k` gets sequence index `first_sequence + k`): each step reads the weights once for every
/// sample, which is what makes several samples per prompt cheap. Each sample is what [`sample`]
/// draws alone with the same decoder and sequence index, up to float rounding (a batch's
/// products may round differently, rarely enough to change a token); a finished sample's row
/// keeps running until the last one stops, and its extra tokens are dropped.
pub fn sample_batch<D: Decoder>(
    lm: &Lm,
    p: &Prefilled,
    decoders: &mut [D],
    first_sequence: usize,
    max_new_tokens: usize,
    stops: &[&str],
) -> Result<Vec<Sample>> {
    if max_new_tokens == 0 {
        return Err(Error::invalid("max_new_tokens", 0, "at least 1 new token"));
    }
    if decoders.is_empty() {
        return Ok(Vec::new());
    }
    for (k, d) in decoders.iter_mut().enumerate() {
        d.begin(lm, &p.ids, first_sequence + k)?;
    }
    let b = decoders.len();
    let mut cache = p.cache.repeat(b)?;
    let mut contexts = vec![p.ids.clone(); b];
    let mut logits = vec![p.logits.clone(); b];
    let mut out = vec![
        Sample {
            text: String::new(),
            ids: Vec::new(),
            entropy: Vec::new(),
            temperature: Vec::new(),
        };
        b
    ];
    let mut cut: Vec<Option<String>> = vec![None; b];
    let mut done = vec![false; b];
    let eos = lm.eos_token_ids();
    let max_ctx = lm.config().max_position_embeddings;
    for step in 0..max_new_tokens {
        let mut next = vec![0u32; b];
        for (k, dec) in decoders.iter_mut().enumerate() {
            let last = contexts[k].last().copied().unwrap_or(0);
            if done[k] {
                next[k] = last;
                continue;
            }
            let c = dec.step(&StepInput {
                lm,
                step,
                context: &contexts[k],
                logits: &logits[k],
                hidden: None,
                suppress: &[],
            })?;
            let s = &mut out[k];
            s.entropy.push(shannon(&logits[k])?);
            s.temperature.push(c.temperature.unwrap_or(f32::NAN));
            s.ids.push(c.token);
            contexts[k].push(c.token);
            next[k] = c.token;
            if eos.contains(&c.token) {
                done[k] = true;
                continue;
            }
            if !stops.is_empty() {
                let text = lm.decode(&s.ids)?;
                if let Some(pos) = stops.iter().filter_map(|x| text.find(x)).min() {
                    cut[k] = Some(text[..pos].to_string());
                    done[k] = true;
                }
            }
        }
        if done.iter().all(|&d| d) || step + 1 == max_new_tokens || cache.len() + 1 >= max_ctx {
            break;
        }
        let rows: Vec<[u32; 1]> = next.iter().map(|&t| [t]).collect();
        let refs: Vec<&[u32]> = rows.iter().map(|r| r.as_slice()).collect();
        let h = lm.forward_batch(&refs, &mut cache, &mut NoHook)?; // [b, 1, d]
        let z = lm.logits(&h.squeeze(1)?)?; // [b, vocab]
        logits = z.to_vec2::<f32>()?;
    }
    for (s, c) in out.iter_mut().zip(cut) {
        s.text = match c {
            Some(t) => t,
            None => lm.decode(&s.ids)?,
        };
    }
    Ok(out)
}

/// What [`run`] runs (every reduction of the paper's protocol is a field).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Models ([`Lm::load`] arguments).
    pub models: Vec<String>,
    /// Tasks.
    pub tasks: Vec<Task>,
    /// First prompts of each task.
    pub n_prompts: usize,
    /// Samples per prompt and setting (Self-BLEU needs ≥ 2). Default 5..
    pub n_samples: usize,
    /// New tokens per sample at most.
    pub max_new_tokens: usize,
    /// The settings of the grid.
    pub settings: Vec<Setting>,
    /// Base seed.
    pub seed: u64,
    /// Each prompt as one user turn of the model's chat template ([`Lm::encode_request`]).
    /// Off by default: the reference encodes plain text.
    pub chat_template: bool,
    /// Device and weight dtype of every model ([`Lm::load_with`]).
    pub load: crate::model::LoadOptions,
    /// Keep each setting's result and samples in this directory as it is finished, and read back those a killed run with the same options kept
    /// ([`crate::data::Checkpoint`]). `None` (the presets): keep nothing. Delete it once the
    /// report is written; the CLI keeps it in `<out>/.checkpoint` and does.
    pub checkpoint: Option<std::path::PathBuf>,
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

impl Options {
    /// The full run we report: both models, both tasks, the first 6 prompts, 5 samples of at
    /// most 16 tokens, [`full_grid`] (14 settings).
    pub fn full() -> Self {
        Self {
            load: crate::model::LoadOptions::default(),
            checkpoint: None,
            chat_template: false,
            models: crate::model::bundled_models(),
            tasks: vec![Task::TruthfulQa, Task::FactorNews],
            n_prompts: 6,
            n_samples: 5,
            max_new_tokens: 16,
            settings: full_grid(),
            seed: 0,
        }
    }

    /// Paper-like sizes: 100 prompts per task and up to 64 tokens per sample (hours on a CPU).
    pub fn paper() -> Self {
        Self {
            n_prompts: 100,
            max_new_tokens: 64,
            ..Self::full()
        }
    }

    /// The default size: the default model, TruthfulQA and FACTOR news, 3 prompts each, 5
    /// samples of at most 16 tokens, the full grid.
    pub fn standard() -> Self {
        Self {
            models: vec![crate::model::default_model_path()],
            n_prompts: 3,
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

/// Run every setting on every prompt of one task with one model. With a `checkpoint`, each
/// setting's result and samples are kept as they finish, and those a killed run kept are read
/// back.
pub fn run_task(
    lm: &Lm,
    task: Task,
    opts: &Options,
    checkpoint: Option<&Checkpoint>,
    samples_out: &mut Vec<SampleRow>,
) -> Result<Vec<SettingResult>> {
    let prompts = task.prompts(opts.n_prompts)?;
    if prompts.is_empty() {
        return Err(Error::NotEnoughData(format!(
            "no prompt for {}",
            task.name()
        )));
    }
    let mut pre = None;
    let bar = crate::progress::progress_bar(
        opts.settings.len(),
        format!("EDT {} {}", lm.name(), task.name()),
    );
    let mut out = Vec::with_capacity(opts.settings.len());
    for s in &opts.settings {
        let key = format!("{} {} {}", lm.name(), task.name(), s.label());
        let (result, samples) = crate::papers::keep(checkpoint, &key, || {
            if pre.is_none() {
                let p = prompts
                    .iter()
                    .map(|(p, _)| prefill_ids(lm, lm.encode_request(p, opts.chat_template)?))
                    .collect::<Result<Vec<_>>>()?;
                pre = Some(p);
            }
            let pre = pre.as_deref().unwrap_or_default();
            run_setting(lm, task, *s, &prompts, pre, opts)
        })?;
        out.push(result);
        samples_out.extend(samples);
        bar.inc(1);
    }
    bar.finish_and_clear();
    mark_pareto(&mut out);
    Ok(out)
}

/// One setting on every prompt: its result and its cleaned samples.
fn run_setting(
    lm: &Lm,
    task: Task,
    s: Setting,
    prompts: &[(String, String)],
    pre: &[Prefilled],
    opts: &Options,
) -> Result<(SettingResult, Vec<SampleRow>)> {
    let t0 = Instant::now();
    let mut rows = Vec::new();
    let mut decoders = (0..opts.n_samples)
        .map(|_| s.decoder(opts.seed))
        .collect::<Result<Vec<_>>>()?;
    let (mut rouge, mut bleu, mut sb) = (0.0, 0.0, 0.0);
    let (mut t_sum, mut t_n, mut toks) = (0.0, 0usize, 0usize);
    for (pi, ((_, reference), p)) in prompts.iter().zip(pre).enumerate() {
        let samples = sample_batch(
            lm,
            p,
            &mut decoders,
            pi * opts.n_samples,
            opts.max_new_tokens,
            task.stops(),
        )?;
        let mut texts = Vec::with_capacity(opts.n_samples);
        for (k, smp) in samples.into_iter().enumerate() {
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
            rows.push(SampleRow {
                model: lm.name().to_string(),
                task,
                setting: s.label(),
                prompt: pi,
                sample: k,
                text: text.clone(),
            });
            texts.push(text);
        }
        sb += self_bleu_text(&texts)?;
    }
    let n_all = (prompts.len() * opts.n_samples) as f64;
    let result = SettingResult {
        model: lm.name().to_string(),
        task,
        setting: s,
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
    };
    Ok((result, rows))
}

/// The setting of the temperature-trace figure.
pub const TRACE_SETTING: Setting = Setting::EdtToken(1.2, 1.0);

/// Run the reproduction: every model × task × setting, and one [`TRACE_SETTING`] sample per
/// model for the temperature trace. Invalid options are an error before any work. Write it
/// with [`papers::Report::write`](crate::papers::Report::write).
pub fn run(opts: &Options) -> Result<Report> {
    opts.validate()?;
    let checkpoint = crate::papers::open_checkpoint("edt", opts)?;
    let mut report = Report::default();
    for (mi, model) in opts.models.iter().enumerate() {
        let lm = Lm::load_with(model, &opts.load)?;
        let cp = crate::papers::model_part(checkpoint.as_ref(), mi)?;
        for &task in &opts.tasks {
            let t0 = Instant::now();
            let r = run_task(&lm, task, opts, cp.as_ref(), &mut report.samples)?;
            report.results.extend(r);
            report.timings.push((
                lm.name().to_string(),
                task.name().to_string(),
                t0.elapsed().as_secs_f64(),
            ));
        }
        let task = opts.tasks[0];
        if let Some((p, _)) = task.prompts(1)?.first() {
            let pre = prefill_ids(&lm, lm.encode_request(p, opts.chat_template)?)?;
            let mut dec = TRACE_SETTING.decoder(opts.seed)?;
            let s = sample(&lm, &pre, dec.as_mut(), 0, 32, &[])?;
            report.traces.push((lm.name().to_string(), s));
        }
    }
    Ok(report)
}

crate::papers::preset::impl_sizes!(Options);
