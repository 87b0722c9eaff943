//! The charts, drawn from a [`Report`]'s sampled generations: per model × set the CE to the
//! sampled token by layer, the final-CE histograms and the ROC curves; across them the AUC of
//! every layer against relative depth.

use crate::plot::{self, Chart, Curve};
use crate::stats::summary::median_iqr;
use crate::{Error, Result};

use super::experiment::{Record, Summary};
use super::report::Report;

/// Cross-entropy to the sampled token against the layer, the median with its quartiles shaded,
/// for correct and incorrect generations of one model × set.
///
/// The first layers read through the final norm can be far above the rest (tens to hundreds of
/// nats), so the y axis is clipped to the upper quartiles from layer 2 on and the layers where
/// correct and incorrect part ways stay readable.
pub fn ce_layers_chart(report: &Report, summary: &Summary) -> Result<Chart> {
    let recs = report.sampled(summary);
    let mut series = Vec::new();
    for (name, ok) in [("correct", true), ("incorrect", false)] {
        let rows: Vec<&[f32]> = recs
            .iter()
            .filter(|r| r.correct == ok)
            .map(|r| r.ce_generated.as_slice())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let (med, q1, q3) = median_iqr(&rows);
        series
            .push(Curve::from_y(format!("{name} (n = {})", rows.len()), med).with_interval(q1, q3));
    }
    if series.is_empty() {
        return Err(Error::NotEnoughData(format!(
            "no sampled generations of {} on {}",
            summary.model, summary.set
        )));
    }
    let top = series
        .iter()
        .filter_map(|s| s.interval.as_ref())
        .flat_map(|(_, q3)| q3.iter().skip(2))
        .filter(|y| y.is_finite())
        .fold(0.0f64, |a, &b| a.max(b));
    Ok(plot::lines(&series)?
        .y_range(0.0, (top * 1.15).max(1.0))
        .title(format!("{}: CE to the sampled token", summary.label()))
        .x_label("layer (median, shaded: quartiles; layers 0–1 clipped)")
        .y_label("cross-entropy (nats)"))
}

/// The final-layer cross-entropy to the generated token of the `correct` (or incorrect)
/// generations among `recs`: what the histogram draws and the findings compare.
pub(super) fn final_ce(recs: &[&Record], correct: bool) -> Vec<f64> {
    recs.iter()
        .filter(|r| r.correct == correct)
        .filter_map(|r| r.ce_generated.last().map(|&x| f64::from(x)))
        .collect()
}

/// Histograms of the final-layer cross-entropy to the sampled token, correct vs incorrect.
pub fn final_ce_histogram(report: &Report, summary: &Summary) -> Result<Chart> {
    let recs = report.sampled(summary);
    let (c, w) = (final_ce(&recs, true), final_ce(&recs, false));
    Ok(plot::histogram(
        &[("correct", c.as_slice()), ("incorrect", w.as_slice())],
        30,
    )?
    .title(format!("{}: final CE to sampled token", summary.label()))
    .x_label("cross-entropy (nats)"))
}

/// ROC curves of "incorrect" against the final CE and the final entropy. Errors when the group
/// has no correct or no incorrect generation (the AUC is undefined).
pub fn roc_chart(report: &Report, summary: &Summary) -> Result<Chart> {
    let recs = report.sampled(summary);
    let incorrect: Vec<bool> = recs.iter().map(|r| !r.correct).collect();
    let score = |f: &dyn Fn(&Record) -> f64| recs.iter().map(|r| f(r)).collect::<Vec<_>>();
    let last = |v: &[f32]| v.last().map_or(f64::NAN, |&x| f64::from(x));
    let curves = vec![
        Curve::roc("final CE", &score(&|r| last(&r.ce_generated)), &incorrect)?,
        Curve::roc("final entropy", &score(&|r| last(&r.entropy)), &incorrect)?,
    ];
    Ok(plot::roc(&curves)?
        .title(format!("{}: ROC, incorrect vs score", summary.label()))
        .size(640, 560))
}

/// AUC of every layer's CE to the sampled token against relative depth (layer / L), one line
/// per model × set, so models of different depth share the axis; chance (0.5) dashed.
pub fn auc_vs_layer_chart(report: &Report) -> Result<Chart> {
    let mut lines: Vec<Curve> = report
        .sampled_summaries()
        .into_iter()
        .filter(|s| s.auc_by_layer.iter().any(|a| a.is_finite()))
        .map(|s| {
            let l = s.auc_by_layer.len().saturating_sub(1).max(1) as f64;
            Curve::new(
                s.label(),
                (0..s.auc_by_layer.len()).map(|i| i as f64 / l).collect(),
                s.auc_by_layer.clone(),
            )
        })
        .collect();
    if lines.is_empty() {
        return Err(Error::NotEnoughData(
            "no model × set with both correct and incorrect generations".into(),
        ));
    }
    lines.push(Curve::new("chance (0.5)", vec![0.0, 1.0], vec![0.5, 0.5]).as_reference());
    Ok(plot::lines(&lines)?
        .title("AUC of per-layer CE to the sampled token")
        .x_label("relative depth (layer / L)")
        .y_label("ROC AUC (incorrect)")
        .markers(plot::Markers::Dots))
}
