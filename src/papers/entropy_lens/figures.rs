//! The charts of a [`Report`], drawn from its rows: mean profiles against relative depth, the
//! family PCA scatter, AUC against the Rényi order, and accuracy under layer skip.

use crate::model::short_name;
use crate::plot::{self, Band, Chart, Curve};
use crate::stats::summary::mean_std;
use crate::Result;

use super::features::{feature_matrix, pca_2d, Rescale};
use super::report::{Report, Sample, SkipEffect};
use super::Experiment;

/// Which samples one line of [`Report::profile_chart`] averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProfileLines {
    /// One line per model (the families figure).
    #[default]
    Model,
    /// One line per model and class (task, format).
    ModelAndClass,
}

impl Report {
    /// Mean (over samples) Shannon profile against relative depth l / L, one line per model or
    /// per model and class, for one experiment. `None` when it has no samples.
    pub fn profile_chart(
        &self,
        experiment: Experiment,
        lines: ProfileLines,
    ) -> Result<Option<Chart>> {
        let by_class = lines == ProfileLines::ModelAndClass;
        let mine: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.experiment == experiment.name())
            .collect();
        let key = |s: &Sample| {
            (
                s.model.clone(),
                if by_class {
                    s.class_name.clone()
                } else {
                    String::new()
                },
            )
        };
        let mut keys: Vec<(String, String)> = Vec::new();
        for s in &mine {
            let k = key(s);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let mut series = Vec::new();
        for k in &keys {
            let rows: Vec<&Sample> = mine.iter().copied().filter(|s| &key(s) == k).collect();
            let Some(first) = rows.first() else { continue };
            let l = first.n_layers.max(1) as f64;
            let x: Vec<f64> = (1..=first.n_layers).map(|i| i as f64 / l).collect();
            let mean: Vec<f64> = (0..first.n_layers)
                .map(|i| mean_std(rows.iter().map(|s| s.means[0][i])).0)
                .collect();
            let name = if by_class {
                format!("{} · {}", short_name(&k.0), k.1)
            } else {
                short_name(&k.0)
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
    /// model, marker size by parameter count. `None` with fewer than 2 family samples.
    pub fn family_scatter(&self, points: usize) -> Result<Option<Chart>> {
        let fam: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.experiment == Experiment::Families.name())
            .collect();
        if fam.len() < 2 {
            return Ok(None);
        }
        let rows: Vec<Vec<f32>> = fam.iter().map(|s| s.means[0].clone()).collect();
        let x = feature_matrix(&rows, 1, Rescale::Linear(points))?;
        let (pc, ev) = pca_2d(&x)?;
        let class: Vec<String> = fam.iter().map(|s| short_name(&s.model)).collect();
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

    /// kNN AUC against the Rényi order α per experiment and model, at the headline k, ± the
    /// standard deviation over folds, without rescaling (families: linear rescaling). `None`
    /// without classification rows.
    pub fn auc_chart(&self) -> Result<Option<Chart>> {
        let mut series = Vec::new();
        for (e, m, rs) in self.auc_groups() {
            let (want, _) = Report::headline_k(e);
            let mut pts: Vec<(f64, f64, f64)> = self
                .alphas
                .iter()
                .filter_map(|&a| {
                    self.headline(e, m, a, rs, want)
                        .map(|(k, _)| (f64::from(a), k.auc_mean, k.auc_std))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let x = pts.iter().map(|p| p.0).collect();
            let y: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let sd: Vec<f64> = pts.iter().map(|p| p.2).collect();
            let name = if m == "pooled" {
                "both".to_string()
            } else {
                short_name(m)
            };
            // an AUC ± its spread stays an AUC
            let (lo, hi) = y
                .iter()
                .zip(&sd)
                .map(|(m, d)| ((m - d).max(0.0), (m + d).min(1.0)))
                .unzip();
            series.push(Curve::new(format!("{e} · {name}"), x, y).with_interval(lo, hi));
        }
        if series.is_empty() {
            return Ok(None);
        }
        // The axis fits every AUC and band (below chance too) and chance itself.
        let xs = || series.iter().flat_map(|c| c.x.iter().copied());
        let (x0, x1) = (
            xs().fold(f64::INFINITY, f64::min),
            xs().fold(f64::NEG_INFINITY, f64::max),
        );
        series.push(Curve::new("chance (0.5)", vec![x0, x1], vec![0.5, 0.5]).as_reference());
        Ok(Some(
            plot::lines(&series)?
                .markers(plot::Markers::Dots)
                .title("kNN ROC AUC (OvR macro, CV mean) vs Rényi order α")
                .x_label("Rényi order α (1 = Shannon)")
                .y_label("ROC AUC (± std over folds)"),
        ))
    }

    /// The mean probability of the correct letter against the number of skipped blocks per
    /// strategy, ± one standard error over the questions (random: the mean over draws), one
    /// chart per model: `(model name, chart)`. The probability rather than the accuracy, because
    /// it carries a standard error at the question counts a CPU run affords (both are in the
    /// tables).
    pub fn intervention_charts(&self) -> Result<Vec<(String, Chart)>> {
        let mut ks: Vec<usize> = self.interventions.iter().map(|r| r.k).collect();
        ks.retain(|&k| k > 0);
        ks.sort_unstable();
        ks.dedup();
        let effects: Vec<SkipEffect> = ks.iter().flat_map(|&k| self.drops(k)).collect();
        let mut out = Vec::new();
        for m in self.intervention_models() {
            let of_model = || effects.iter().filter(move |e| e.model == m);
            let Some(first) = of_model().next() else {
                continue;
            };
            let mut series = Vec::new();
            for st in ["expansion", "pruning", "random"] {
                let (mut x, mut y, mut se) = (
                    vec![0.0],
                    vec![first.base_p_correct],
                    vec![first.base_p_correct_se],
                );
                for e in of_model().filter(|e| e.strategy == st) {
                    x.push(e.k as f64);
                    y.push(e.p_correct);
                    se.push(e.p_correct_se);
                }
                let name = if st == "random" {
                    "random (mean of draws)"
                } else {
                    st
                };
                series.push(Curve::new(name, x, y).with_error(&se));
            }
            series.push(
                Curve::new(
                    "chance (1 in 4)",
                    vec![0.0, ks.last().copied().unwrap_or(1) as f64],
                    vec![0.25, 0.25],
                )
                .as_reference(),
            );
            let chart = plot::lines(&series)?
                .markers(plot::Markers::Dots)
                .title(format!(
                    "{}: TruthfulQA MC1 under layer skip",
                    short_name(m)
                ))
                .x_label("blocks skipped (k)")
                .y_label("p(correct letter) ± standard error");
            out.push((m.to_string(), chart));
        }
        Ok(out)
    }
}
