//! The charts, drawn from a [`Report`]'s rows: quality against diversity with the Pareto front
//! per (model, task), and the EDT temperature under its entropy trace per model.

use crate::model::short_name;
use crate::plot::{self, Chart, Curve};
use crate::{Error, Result};

use super::experiment::{Task, TRACE_SETTING};
use super::report::{Report, SettingResult};

impl Report {
    /// ROUGE-L against Self-BLEU for one (model, task): fixed temperatures as a line in T
    /// order, EDT token / instance settings as points, and the Pareto front as a line.
    pub fn pareto_chart(&self, model: &str, task: Task) -> Result<Chart> {
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
            .markers(plot::Markers::Dots)
            .x_label("Self-BLEU over 5 samples (lower = more diverse)")
            .y_label("ROUGE-L vs reference")
            .title(format!(
                "{} — {}: quality vs diversity",
                short_name(model),
                task.name()
            )))
    }

    /// The per-step entropy and EDT temperature of one sample (one model), as two panels with
    /// an axis each (nats; temperature): `[entropy, temperature]`, to be shown one above the
    /// other on the same steps.
    pub fn trace_charts(&self, model: &str) -> Result<[Chart; 2]> {
        let (_, s) = self
            .traces
            .iter()
            .find(|(m, _)| m == model)
            .ok_or_else(|| Error::NotEnoughData(format!("no EDT trace for {model}")))?;
        let name = short_name(model);
        let e = Curve::from_y(
            "entropy H at T = 1",
            s.entropy.iter().map(|&x| f64::from(x)).collect(),
        );
        let t = Curve::from_y(
            format!("EDT temperature ({})", TRACE_SETTING.label()),
            s.temperature
                .iter()
                .map(|&x| if x.is_finite() { f64::from(x) } else { 0.0 })
                .collect(),
        );
        let entropy = plot::lines(&[e])?
            .markers(plot::Markers::Dots)
            .legend(plot::Legend::Hidden)
            .x_label("generation step")
            .y_label("entropy H (nats)")
            .title(format!("{name}: entropy of each step's distribution"));
        let temperature = plot::lines(&[t])?
            .markers(plot::Markers::Dots)
            .legend(plot::Legend::Hidden)
            .x_label("generation step")
            .y_label("EDT temperature")
            .title(format!(
                "{name}: EDT temperature ({}) at the same steps",
                TRACE_SETTING.label()
            ));
        Ok([entropy, temperature])
    }
}
