//! What a run measured: one [`SettingResult`] per (model, task, setting), every cleaned sample
//! ([`SampleRow`]), the temperature traces and the timings; their frames (`ToFrame`), the
//! Pareto flags, the Markdown summary, and the [`papers::Report`] implementation that names
//! every file a run writes.

use crate::frame::{self, DataFrame, ToFrame};
use crate::model::short_name;
use crate::papers::{self, output::model_file_stem, Finding, Verdict};
use crate::plot::Chart;
use crate::Result;

use super::experiment::{Sample, Setting, Task, TRACE_SETTING};

/// The paper's recommended EDT setting (token level, `T0 = 0.8`, `θ = 0.2`).
const PAPER_SETTING: Setting = Setting::EdtToken(0.8, 0.2);

/// Entropy differences (nats) below this are treated as ties in the trace's pair count: the
/// trace's entropy is recomputed from the logits beside the decoder's own, so the two may differ
/// by float rounding.
const ENTROPY_TIE: f64 = 1e-3;

/// Temperature differences below this are ties in the trace's pair count (rounding).
const TEMPERATURE_TIE: f64 = 1e-4;

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

/// The `pareto` finding of one (model, task): a sign count over its EDT settings of
/// [`Report::edt_vs_fixed`] — `k` settings ahead of the fixed temperature of closest Self-BLEU
/// in ROUGE-L and `b` behind (ties dropped), `n = k + b`, difference `k − n/2` with standard
/// error `√n / 2` (the report keeps no per-prompt scores, so no per-item spread).
fn pareto_finding(
    label: &str,
    task: Task,
    pairs: &[(&SettingResult, &SettingResult)],
    rows: &[&SettingResult],
) -> Finding {
    let claim = "EDT reaches better quality (ROUGE-L against the reference) than a fixed \
                 temperature at equal diversity (Self-BLEU between samples), i.e. a better \
                 quality–diversity trade-off."
        .to_string();
    let mut f = Finding {
        figure: "pareto",
        source: "the abstract and Key Results",
        claim,
        measured: format!(
            "{label} {}: no EDT setting beside a fixed temperature in this run",
            task.name()
        ),
        verdict: Verdict::NotMeasured,
    };
    if pairs.is_empty() {
        return f;
    }
    let deltas: Vec<f64> = pairs.iter().map(|(e, x)| e.rouge_l - x.rouge_l).collect();
    let ahead = deltas.iter().filter(|&&d| d > 0.0).count();
    let behind = deltas.iter().filter(|&&d| d < 0.0).count();
    let n = ahead + behind;
    let diff = ahead as f64 - n as f64 / 2.0;
    let se = (n as f64).sqrt() / 2.0;
    let mean = deltas.iter().sum::<f64>() / deltas.len() as f64;
    let paper = pairs
        .iter()
        .find(|(e, _)| e.setting == PAPER_SETTING)
        .map(|(e, x)| {
            format!(
                "; the paper's setting ({}) {:+.3} against {}",
                PAPER_SETTING.label(),
                e.rouge_l - x.rouge_l,
                x.setting.label()
            )
        })
        .unwrap_or_default();
    let on = |edt: bool| {
        let g = rows
            .iter()
            .filter(|r| matches!(r.setting, Setting::Fixed(_)) != edt);
        (g.clone().filter(|r| r.pareto).count(), g.count())
    };
    let ((e_on, e_n), (f_on, f_n)) = (on(true), on(false));
    let (np, ns) = (pairs[0].0.n_prompts, pairs[0].0.n_samples);
    f.measured = format!(
        "{label} {}: EDT ahead of the fixed temperature of closest Self-BLEU in {ahead} of \
         {} settings, behind in {behind} (mean ΔROUGE-L {mean:+.3}){paper}; sign count \
         k − n/2 = {diff:+.1} against its standard error √n/2 = {se:.2} (n = {n} without ties; \
         no per-prompt scores are kept); on the Pareto front EDT {e_on} of {e_n}, fixed {f_on} \
         of {f_n}; {np} prompts × {ns} samples per setting",
        task.name(),
        pairs.len()
    );
    f.verdict = Verdict::of_difference(diff, se);
    f
}

/// The `temperature_trace` finding of one model's EDT trace: the ranges of entropy and
/// temperature, their Pearson correlation, and a count over step pairs of the temperature moving
/// with / against the entropy (pairs within [`ENTROPY_TIE`] or [`TEMPERATURE_TIE`] are ties).
/// Shows when no pair moves against the entropy (EDT's `T = T0 · N^(θ/H)` rises with `H`),
/// reversed when every untied pair does, absent when mixed; not measured without an untied pair.
fn trace_finding(label: &str, s: &Sample) -> Finding {
    // greedy steps carry NaN: temperature 0, as the chart draws them
    let pts: Vec<(f64, f64)> = s
        .entropy
        .iter()
        .zip(&s.temperature)
        .filter(|(h, _)| h.is_finite())
        .map(|(&h, &t)| (f64::from(h), if t.is_finite() { f64::from(t) } else { 0.0 }))
        .collect();
    let (mut with, mut against) = (0usize, 0usize);
    for (i, &(hi, ti)) in pts.iter().enumerate() {
        for &(hj, tj) in &pts[i + 1..] {
            let (dh, dt) = (hj - hi, tj - ti);
            if dh.abs() <= ENTROPY_TIE || dt.abs() <= TEMPERATURE_TIE {
                continue;
            }
            if dh * dt > 0.0 {
                with += 1;
            } else {
                against += 1;
            }
        }
    }
    let verdict = match (with, against) {
        (0, 0) => Verdict::NotMeasured,
        (_, 0) => Verdict::Shows,
        (0, _) => Verdict::Reversed,
        _ => Verdict::Absent,
    };
    let range = |v: &mut dyn Iterator<Item = f64>| {
        v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        })
    };
    let (h_lo, h_hi) = range(&mut pts.iter().map(|p| p.0));
    let (t_lo, t_hi) = range(&mut pts.iter().map(|p| p.1));
    let measured = if pts.is_empty() {
        format!("{label}: the trace has no steps")
    } else {
        format!(
            "{label}: over {} steps of one {} sample, entropy {h_lo:.2}–{h_hi:.2} nats and \
             temperature {t_lo:.2}–{t_hi:.2} (greedy steps as 0); Pearson r(H, T) = {}; the \
             temperature moved with the entropy in {with} step pairs and against it in \
             {against} (ties dropped)",
            pts.len(),
            TRACE_SETTING.label(),
            fmt_r(pearson(&pts))
        )
    };
    Finding {
        figure: "temperature_trace",
        source: "the method, T = T0 · N^(θ/H)",
        claim: "the temperature follows the model's confidence: it falls at low-entropy \
                (confident) steps and rises towards T0 at high-entropy ones."
            .into(),
        measured,
        verdict,
    }
}

/// Pearson correlation of the pairs; NaN with fewer than two points or no spread.
fn pearson(pts: &[(f64, f64)]) -> f64 {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for &(x, y) in pts {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

fn fmt_r(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}")
    } else {
        "n/a".into()
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
    /// `<model>-entropy_trace.png` and `<model>-temperature_trace.png` per trace
    /// ([`Report::trace_charts`]), `<model>` =
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
            let [entropy, temperature] = self.trace_charts(m)?;
            let stem = model_file_stem(m);
            out.push((format!("{stem}-entropy_trace.png"), entropy));
            out.push((format!("{stem}-temperature_trace.png"), temperature));
        }
        Ok(out)
    }

    /// Per (model, task), figure key `pareto` (the `<model>-<task>-pareto.png` charts): EDT's
    /// ROUGE-L against the fixed temperature of closest Self-BLEU, as a sign count over the EDT
    /// settings (`k − n/2` with standard error `√n / 2`, ties dropped; the report keeps no
    /// per-prompt scores). Per trace, figure key `temperature_trace`
    /// (`<model>-temperature_trace.png`): whether the temperature rises and falls with the
    /// entropy, as EDT's formula says.
    fn findings(&self) -> Vec<Finding> {
        let pairs = self.edt_vs_fixed();
        let mut out: Vec<Finding> = self
            .groups()
            .into_iter()
            .map(|(m, t)| {
                let g: Vec<_> = pairs
                    .iter()
                    .copied()
                    .filter(|(e, _)| e.model == m && e.task == t)
                    .collect();
                let rows: Vec<&SettingResult> = self
                    .results
                    .iter()
                    .filter(|r| r.model == m && r.task == t)
                    .collect();
                pareto_finding(&short_name(&m), t, &g, &rows)
            })
            .collect();
        out.extend(
            self.traces
                .iter()
                .map(|(m, s)| trace_finding(&short_name(m), s)),
        );
        out
    }

    /// The findings, then the results as a Markdown table (Pareto-optimal settings in bold), a
    /// comparison of each EDT setting with the fixed temperature of closest Self-BLEU, and
    /// timings.
    fn markdown(&self) -> String {
        let mut s = papers::finding::section(&papers::Report::findings(self));
        s.push_str("### Quality vs diversity (ROUGE-L / BLEU ↑ against the reference, Self-BLEU ↓ over 5 samples; **bold** = Pareto front)\n\n| model | task | setting | ROUGE-L | BLEU | Self-BLEU | mean T | tokens | Pareto |\n|---|---|---|---|---|---|---|---|---|\n");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::edt_temperature;
    use crate::papers::finding::figure_verdicts;
    use crate::papers::Report as _;

    const MODEL: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";
    const OTHER: &str = "google/gemma-3-270m";

    fn row(
        model: &str,
        task: Task,
        setting: Setting,
        rouge_l: f64,
        self_bleu: f64,
    ) -> SettingResult {
        SettingResult {
            model: model.into(),
            task,
            setting,
            n_prompts: 6,
            n_samples: 5,
            rouge_l,
            bleu: rouge_l / 2.0,
            self_bleu,
            mean_temperature: 0.7,
            mean_tokens: 12.0,
            pareto: false,
            seconds: 1.0,
        }
    }

    fn trace(entropy: &[f32], temperature: impl Fn(f64) -> f64) -> Sample {
        Sample {
            text: "x".into(),
            ids: vec![0; entropy.len()],
            entropy: entropy.to_vec(),
            // H = 0 is a greedy step: NaN, as the decoder records it
            temperature: entropy
                .iter()
                .map(|&h| {
                    if h == 0.0 {
                        f32::NAN
                    } else {
                        temperature(f64::from(h)) as f32
                    }
                })
                .collect(),
        }
    }

    /// Fixed T = 0.2 / 0.6 / 1.0 at (ROUGE-L, Self-BLEU) (0.5, 0.9), (0.4, 0.6), (0.3, 0.3).
    fn fixed(model: &str, task: Task) -> Vec<SettingResult> {
        [(0.2, 0.5, 0.9), (0.6, 0.4, 0.6), (1.0, 0.3, 0.3)]
            .iter()
            .map(|&(t, q, sb)| row(model, task, Setting::Fixed(t), q, sb))
            .collect()
    }

    /// SmolLM2 TruthfulQA: 8 EDT settings, each 0.05 above its nearest fixed T → 8 of 8 ahead,
    /// k − n/2 = 4 > 2·√8/2 ≈ 2.83: shows. SmolLM2 news: 5 settings 0.05 below → 0 of 5,
    /// −2.5 < −2·√5/2 ≈ −2.24: reversed. Gemma TruthfulQA: 1 ahead, 1 behind → 0 within
    /// ±2·0.71: absent. Gemma news: fixed temperatures only → not measured.
    fn report() -> Report {
        let mut results = fixed(MODEL, Task::TruthfulQa);
        for (i, &(t0, th)) in [(0.8, 0.2), (0.8, 1.0), (1.2, 0.2), (1.2, 1.0)]
            .iter()
            .enumerate()
        {
            // Self-BLEU 0.88 / 0.62 / 0.31 / 0.58: nearest fixed T = 0.2 / 0.6 / 1.0 / 0.6
            let (q, sb) = [(0.5, 0.88), (0.4, 0.62), (0.3, 0.31), (0.4, 0.58)][i];
            results.push(row(
                MODEL,
                Task::TruthfulQa,
                Setting::EdtToken(t0, th),
                q + 0.05,
                sb,
            ));
            results.push(row(
                MODEL,
                Task::TruthfulQa,
                Setting::EdtInstance(t0, th),
                q + 0.05,
                sb,
            ));
        }
        results.extend(fixed(MODEL, Task::FactorNews));
        for (t0, th) in [(0.8, 0.2), (0.8, 1.0), (1.2, 0.2), (1.2, 1.0)] {
            results.push(row(
                MODEL,
                Task::FactorNews,
                Setting::EdtToken(t0, th),
                0.35,
                0.6,
            ));
        }
        results.push(row(
            MODEL,
            Task::FactorNews,
            Setting::EdtInstance(0.8, 0.2),
            0.35,
            0.6,
        ));
        results.extend(fixed(OTHER, Task::TruthfulQa));
        results.push(row(
            OTHER,
            Task::TruthfulQa,
            Setting::EdtToken(0.8, 0.2),
            0.45,
            0.6,
        ));
        results.push(row(
            OTHER,
            Task::TruthfulQa,
            Setting::EdtToken(1.2, 1.0),
            0.35,
            0.6,
        ));
        results.extend(fixed(OTHER, Task::FactorNews));
        mark_pareto(&mut results);
        let h = [1.5f32, 0.2, 3.0, 0.8, 2.2, 0.0];
        Report {
            results,
            samples: Vec::new(),
            traces: vec![
                // EDT's own formula: T rises with H
                (
                    MODEL.into(),
                    trace(&h, |h| edt_temperature(1.2, 1.0, 0.8, h)),
                ),
                // a rule that raises T when H falls (no greedy step)
                (OTHER.into(), trace(&h[..5], |h| 2.0 - h / 2.0)),
            ],
            timings: Vec::new(),
        }
    }

    #[test]
    fn findings_give_the_hand_derived_verdicts() {
        let r = report();
        let f = r.findings();
        let verdicts = figure_verdicts(&f);
        assert_eq!(
            verdicts,
            vec![
                ("pareto", Verdict::Shows),
                ("pareto", Verdict::Reversed),
                ("pareto", Verdict::Absent),
                ("pareto", Verdict::NotMeasured),
                ("temperature_trace", Verdict::Shows),
                ("temperature_trace", Verdict::Reversed),
            ]
        );
        assert!(
            f[0].measured.contains("in 8 of 8 settings"),
            "{}",
            f[0].measured
        );
        assert!(
            f[0].measured.contains("k − n/2 = +4.0"),
            "{}",
            f[0].measured
        );
        assert!(f[0]
            .measured
            .contains("the paper's setting (EDT-tok T0=0.8 θ=0.2) +0.050"));
        assert!(
            f[1].measured.contains("in 0 of 5 settings"),
            "{}",
            f[1].measured
        );
        assert!(
            f[3].measured.contains("no EDT setting"),
            "{}",
            f[3].measured
        );
        // 6 steps, one greedy (T drawn as 0); 15 pairs, none tied
        assert!(f[4]
            .measured
            .contains("with the entropy in 15 step pairs and against it in 0"));
        assert!(f[5]
            .measured
            .contains("in 0 step pairs and against it in 10"));
        assert_eq!(r.findings_of("pareto").len(), 4);
        assert!(r
            .markdown()
            .starts_with("## Against the paper\n\n- **The paper**"));
    }

    #[test]
    fn every_finding_names_a_chart() -> Result<()> {
        let r = report();
        let charts: Vec<String> = r.charts()?.into_iter().map(|(n, _)| n).collect();
        for f in r.findings() {
            assert!(
                charts.iter().any(|c| c
                    .strip_suffix(".png")
                    .is_some_and(|stem| stem.ends_with(&format!("-{}", f.figure)))),
                "{} not among {charts:?}",
                f.figure
            );
        }
        // one `pareto` finding per pareto chart, one `temperature_trace` per trace chart
        for key in ["pareto", "temperature_trace"] {
            let n = charts
                .iter()
                .filter(|c| c.ends_with(&format!("-{key}.png")))
                .count();
            assert_eq!(r.findings_of(key).len(), n, "{key}");
        }
        Ok(())
    }

    #[test]
    fn pearson_of_a_line_and_its_mirror() {
        let up = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)];
        let down = [(0.0, 5.0), (1.0, 3.0), (2.0, 1.0)];
        assert!((pearson(&up) - 1.0).abs() < 1e-12);
        assert!((pearson(&down) + 1.0).abs() < 1e-12);
        assert!(pearson(&[(1.0, 2.0)]).is_nan());
        assert!(pearson(&[(1.0, 2.0), (1.0, 3.0)]).is_nan());
    }
}
