//! The charts of a [`Report`], drawn from its rows: one prompt's candidates layer by layer, the
//! mean probability growth of correct tokens vs distractors, the cross-layer entropy histogram,
//! and MC2 against λ for every layer set.

use crate::model::short_name;
use crate::plot::{self, Chart, Curve};
use crate::stats::summary::mean_se;
use crate::{Error, Result};

use super::report::{CandidateTrace, Report};

impl Report {
    /// Per-layer probability of the tokens of one prompt (`✓` = correct token, `✗` =
    /// distractor), x = layer. Errors: no candidates for `model` and `prompt_id`.
    pub fn prompt_chart(&self, model: &str, prompt_id: usize) -> Result<Chart> {
        let g: Vec<&CandidateTrace> = self
            .candidates
            .iter()
            .filter(|c| c.model == model && c.prompt_id == prompt_id)
            .collect();
        let first = g.first().ok_or_else(|| {
            Error::NotEnoughData(format!("no candidates for {model} prompt {prompt_id}"))
        })?;
        let series: Vec<Curve> = g
            .iter()
            .map(|c| {
                Curve::from_y(
                    format!(
                        "{} {} (H={:.2})",
                        if c.correct { "✓" } else { "✗" },
                        plot::token_label(&c.token, 12),
                        c.cross_layer_entropy
                    ),
                    c.layer_probs.iter().map(|&p| f64::from(p)).collect(),
                )
            })
            .collect();
        Ok(plot::lines(&series)?
            .markers(plot::Markers::Dots)
            .x_label("layer (normed logit lens; last = final distribution)")
            .y_label("probability")
            .title(format!(
                "{} — \"{}\"",
                short_name(model),
                clip(&first.label, 40)
            )))
    }

    /// Mean per-layer probability (normed logit lens) of correct tokens vs distractors, ± one
    /// standard error (x = relative depth), one pair of lines per model: the "sharp growth in
    /// the upper layers" picture.
    pub fn growth_chart(&self) -> Result<Chart> {
        let mut series = Vec::new();
        for m in &self.candidate_models() {
            for (correct, what) in [(true, "correct"), (false, "distractors")] {
                let g: Vec<&CandidateTrace> = self
                    .candidates
                    .iter()
                    .filter(|c| &c.model == m && c.correct == correct)
                    .collect();
                let Some(len) = g.first().map(|c| c.layer_probs.len()) else {
                    continue;
                };
                let (y, se): (Vec<f64>, Vec<f64>) = (0..len)
                    .map(|l| mean_se(g.iter().map(|c| c.layer_probs[l])))
                    .unzip();
                let d = (len - 1).max(1) as f64;
                let x = (0..len).map(|l| l as f64 / d).collect();
                let name = format!("{} {what} (n = {})", short_name(m), g.len());
                series.push(Curve::new(name, x, y).with_error(&se));
            }
        }
        Ok(plot::lines(&series)?
            .markers(plot::Markers::Dots)
            .x_label("relative depth (layer / L)")
            .y_label("mean probability (± standard error)")
            .title("Probability growth of correct tokens vs distractors"))
    }

    /// Histogram of cross-layer entropies, correct tokens vs distractors, for one model.
    pub fn entropy_chart(&self, model: &str) -> Result<Chart> {
        let h = |correct: bool| -> Vec<f64> {
            self.candidates
                .iter()
                .filter(|c| c.model == model && c.correct == correct)
                .map(|c| f64::from(c.cross_layer_entropy))
                .collect()
        };
        let (hc, hd) = (h(true), h(false));
        Ok(
            plot::histogram(&[("correct", &hc[..]), ("distractors", &hd[..])], 12)?
                .x_label("cross-layer entropy H(v), nats (END's layer set)")
                .title(format!("Cross-layer entropy — {}", short_name(model))),
        )
    }

    /// MC2 against λ, one line per (model, layer set), ± one standard error over questions.
    pub fn sweep_chart(&self) -> Result<Chart> {
        let mut keys: Vec<(&str, &str)> = Vec::new();
        for p in &self.sweep {
            let k = (p.model.as_str(), p.layer_set.as_str());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let series: Vec<Curve> = keys
            .iter()
            .map(|&(m, s)| {
                let mut pts: Vec<(f64, f64, f64)> = self
                    .sweep
                    .iter()
                    .filter(|p| p.model == m && p.layer_set == s)
                    .map(|p| (f64::from(p.lambda), p.mean.mc2, p.se.mc2))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let se: Vec<f64> = pts.iter().map(|p| p.2).collect();
                Curve::new(
                    format!("{} {s}", short_name(m)),
                    pts.iter().map(|p| p.0).collect(),
                    pts.iter().map(|p| p.1).collect(),
                )
                .with_error(&se)
            })
            .collect();
        // The shaded standard errors set the axis, so differences smaller than the noise of the
        // question sample do not fill the plot.
        let chart = plot::lines(&series)?
            .markers(plot::Markers::Dots)
            .x_label("λ (0 = greedy; default 0.25)")
            .y_label("TruthfulQA MC2 (shaded: ± standard error)")
            .title("END: λ and layer-set sweep");
        Ok(chart)
    }
}

/// The first `n` characters of `s`, with `…` when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}
