//! What a run measured: one [`SettingResult`] per (model, task, setting), every cleaned sample
//! ([`SampleRow`]), the temperature traces and the timings; their frames (`ToFrame`), the
//! Pareto flags, the Markdown summary, and the [`papers::Report`] implementation that names
//! every file a run writes.

use crate::frame::{self, DataFrame, ToFrame};
use crate::model::short_name;
use crate::papers::{self, output::model_file_stem};
use crate::plot::Chart;
use crate::Result;

use super::experiment::{Sample, Setting, Task};

/// Quality and diversity of one (model, task, setting).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// One cleaned sample of one prompt under one setting.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampleRow {
    /// Model name.
    pub model: String,
    /// Task.
    pub task: Task,
    /// The setting's [label](Setting::label).
    pub setting: String,
    /// Prompt index within the task.
    pub prompt: usize,
    /// Sample index within the prompt.
    pub sample: usize,
    /// The sample, cut at a stop string and [cleaned](Task::clean).
    pub text: String,
}

/// Sets [`SettingResult::pareto`] of every result from the [`pareto_front`] of its (model, task)
/// group.
pub(super) fn mark_pareto(results: &mut [SettingResult]) {
    let mut groups: Vec<(String, Task)> = Vec::new();
    for r in results.iter() {
        let k = (r.model.clone(), r.task);
        if !groups.contains(&k) {
            groups.push(k);
        }
    }
    for (m, t) in groups {
        let idx: Vec<usize> = (0..results.len())
            .filter(|&i| results[i].model == m && results[i].task == t)
            .collect();
        let points: Vec<(f64, f64)> = idx
            .iter()
            .map(|&i| (results[i].rouge_l, results[i].self_bleu))
            .collect();
        for (i, f) in idx.into_iter().zip(pareto_front(&points)) {
            results[i].pareto = f;
        }
    }
}

/// Everything the EDT reproduction measured. Its tables, charts and summary come from
/// [`papers::Report`] (`frames`, `charts`, `markdown`, `write`); runs in parts combine with
/// [`papers::Report::merge`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// One row per (model, task, setting), Pareto flags set per (model, task).
    pub results: Vec<SettingResult>,
    /// Every cleaned sample.
    pub samples: Vec<SampleRow>,
    /// The entropy / temperature trace of one EDT token-level sample per model (first prompt of
    /// the first task, [`TRACE_SETTING`](super::TRACE_SETTING)).
    pub traces: Vec<(String, Sample)>,
    /// `(model, task, seconds)`.
    pub timings: Vec<(String, String, f64)>,
}

/// One row per (model, task, setting): `model, task, kind, setting, t, t0, theta, rouge_l, bleu,
/// self_bleu, mean_temperature, mean_tokens, pareto, n_prompts, n_samples, seconds` (`t` is NaN
/// for EDT, `t0` and `theta` for fixed temperatures). No rows give an empty frame.
impl ToFrame for [SettingResult] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |x, row| {
            let (t, t0, theta) = match x.setting {
                Setting::Fixed(t) => (t, f64::NAN, f64::NAN),
                Setting::EdtToken(a, b) | Setting::EdtInstance(a, b) => (f64::NAN, a, b),
            };
            row.str("model", &x.model)
                .str("task", x.task.name())
                .str("kind", x.setting.kind())
                .str("setting", x.setting.label())
                .f64("t", t)
                .f64("t0", t0)
                .f64("theta", theta)
                .f64("rouge_l", x.rouge_l)
                .f64("bleu", x.bleu)
                .f64("self_bleu", x.self_bleu)
                .f64("mean_temperature", x.mean_temperature)
                .f64("mean_tokens", x.mean_tokens)
                .bool("pareto", x.pareto)
                .usize("n_prompts", x.n_prompts)
                .usize("n_samples", x.n_samples)
                .f64("seconds", x.seconds);
        })
    }
}

/// Every sample: `model, task, setting, prompt, sample, text`. No rows give an empty frame.
impl ToFrame for [SampleRow] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |x, row| {
            row.str("model", &x.model)
                .str("task", x.task.name())
                .str("setting", &x.setting)
                .usize("prompt", x.prompt)
                .usize("sample", x.sample)
                .str("text", &x.text);
        })
    }
}

impl Report {
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

    /// The (model, task) pairs of the results, in order of first appearance.
    pub fn groups(&self) -> Vec<(String, Task)> {
        let mut keys: Vec<(String, Task)> = Vec::new();
        for r in &self.results {
            let k = (r.model.clone(), r.task);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
    }
}

impl papers::Report for Report {
    /// Per model and task: how many settings are on the quality/diversity front, EDT's and the
    /// fixed temperatures'.
    fn headline(&self) -> String {
        let mut groups: Vec<(&str, Task)> = Vec::new();
        for r in &self.results {
            if !groups.contains(&(r.model.as_str(), r.task)) {
                groups.push((r.model.as_str(), r.task));
            }
        }
        groups
            .iter()
            .map(|&(m, t)| {
                let rows: Vec<&SettingResult> = self
                    .results
                    .iter()
                    .filter(|r| r.model == m && r.task == t)
                    .collect();
                let edt = |r: &&SettingResult| !matches!(r.setting, Setting::Fixed(_));
                let on = |f: &dyn Fn(&&SettingResult) -> bool| {
                    (
                        rows.iter().filter(|r| f(r) && r.pareto).count(),
                        rows.iter().filter(|r| f(r)).count(),
                    )
                };
                let (e_on, e_n) = on(&edt);
                let (f_on, f_n) = on(&|r| !edt(r));
                format!(
                    "{} {}: on the Pareto front EDT {e_on} of {e_n}, fixed T {f_on} of {f_n}",
                    short_name(m),
                    t.name()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `results.parquet` and `samples.parquet` (when the report has results).
    fn frames(&self) -> Result<Vec<(String, DataFrame)>> {
        if self.results.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![
            ("results.parquet".into(), self.results.to_frame()?),
            ("samples.parquet".into(), self.samples.to_frame()?),
        ])
    }

    /// `<model>-<task>-pareto.png` per (model, task) ([`Report::pareto_chart`]) and
    /// `<model>-temperature_trace.png` per trace ([`Report::trace_chart`]), `<model>` =
    /// [`model_file_stem`] of the model label.
    fn charts(&self) -> Result<Vec<(String, Chart)>> {
        let mut out = Vec::new();
        for (m, t) in self.groups() {
            out.push((
                format!("{}-{}-pareto.png", model_file_stem(&m), t.name()),
                self.pareto_chart(&m, t)?,
            ));
        }
        for (m, _) in &self.traces {
            out.push((
                format!("{}-temperature_trace.png", model_file_stem(m)),
                self.trace_chart(m)?,
            ));
        }
        Ok(out)
    }

    /// The results as a Markdown table (Pareto-optimal settings in bold) plus a comparison of
    /// each EDT setting with the fixed temperature of closest Self-BLEU, and timings.
    fn markdown(&self) -> String {
        let mut s = String::from("### Quality vs diversity (ROUGE-L / BLEU ↑ against the reference, Self-BLEU ↓ over 5 samples; **bold** = Pareto front)\n\n| model | task | setting | ROUGE-L | BLEU | Self-BLEU | mean T | tokens | Pareto |\n|---|---|---|---|---|---|---|---|---|\n");
        for r in &self.results {
            let b = if r.pareto { "**" } else { "" };
            s.push_str(&format!(
                "| {} | {} | {b}{}{b} | {:.3} | {:.3} | {:.3} | {:.2} | {:.1} | {} |\n",
                short_name(&r.model),
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
                short_name(&r.model),
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

    /// `summary.md`.
    fn markdown_name(&self) -> &'static str {
        "summary.md"
    }

    /// Appends the other run's results, samples, traces and timings, then recomputes the Pareto
    /// flags per (model, task), so that a grid run in parts gets the front of all its settings.
    fn merge(&mut self, other: Self) {
        self.results.extend(other.results);
        self.samples.extend(other.samples);
        self.traces.extend(other.traces);
        self.timings.extend(other.timings);
        mark_pareto(&mut self.results);
    }
}
