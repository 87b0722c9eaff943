//! What a run measured: the rows ([`Sample`], [`ClassRow`], [`InterventionRow`]), their frames,
//! the headline lookups behind the Markdown summary, and the [`papers::Report`] implementation
//! that names every file a run writes.

use crate::frame::{self, DataFrame, ToFrame};
use crate::model::short_name;
use crate::papers::{self, output::slug, Finding, Verdict};
use crate::plot::Chart;
use crate::stats::summary::mean_std;
use crate::Result;

use super::classify::{ClassRow, GENERATION, STEP0};
use super::families::{DistanceRow, HeldOutRow};
use super::figures::ProfileLines;
use super::Experiment;

/// The paper's task-classification AUC range (percent).
pub const PAPER_TASK_AUC: (f64, f64) = (94.8, 98.4);
/// The paper's output-format AUC range (percent).
pub const PAPER_FORMAT_AUC: (f64, f64) = (96.6, 98.7);

/// Depth points of the family PCA scatter that [`papers::Report::charts`] draws.
const SCATTER_DEPTH_POINTS: usize = 32;

/// One generation's features and what it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Experiment name ([`Experiment::name`]).
    pub experiment: String,
    /// Model name.
    pub model: String,
    /// The model's family (architecture name: `llama`, `qwen2`, `gemma3`, …).
    pub family: String,
    /// Index within the experiment and model.
    pub id: usize,
    /// Class index (model index for families, task, format; the families experiment classifies
    /// by [`family`](Self::family)).
    pub class: usize,
    /// Class name.
    pub class_name: String,
    /// Variant, topic, …
    pub detail: String,
    /// Number of blocks L.
    pub n_layers: usize,
    /// Generated text.
    pub text: String,
    /// Per metric: the mean over steps of each block, `[L]`.
    pub means: Vec<Vec<f32>>,
    /// Per metric: window means `[windows × L]` (empty when not computed).
    pub windows: Vec<Vec<f32>>,
    /// Per metric: the first step's entropy of each block, `[L]` (the prompt-only profile).
    pub step0: Vec<Vec<f32>>,
}

/// One intervention measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct InterventionRow {
    /// Model name.
    pub model: String,
    /// `none`, `expansion`, `pruning` or `random`.
    pub strategy: String,
    /// Random draw index (0 otherwise).
    pub draw: usize,
    /// Blocks skipped.
    pub k: usize,
    /// The skipped blocks, 1-based.
    pub layers: Vec<usize>,
    /// Accuracy on the questions.
    pub accuracy: f64,
    /// Mean probability of the correct letter among the four.
    pub p_correct: f64,
    /// Standard error of `p_correct` over the questions.
    pub p_correct_se: f64,
}

/// The effect of skipping `k` blocks with one strategy ([`Report::drops`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SkipEffect {
    /// Model name.
    pub model: String,
    /// `expansion`, `pruning` or `random`.
    pub strategy: String,
    /// Blocks skipped.
    pub k: usize,
    /// Accuracy without skipping.
    pub base_accuracy: f64,
    /// Accuracy with `k` blocks skipped (random: mean over draws).
    pub accuracy: f64,
    /// Mean p(correct letter) without skipping.
    pub base_p_correct: f64,
    /// Mean p(correct letter) with `k` blocks skipped.
    pub p_correct: f64,
    /// Standard error of `base_p_correct` over the questions.
    pub base_p_correct_se: f64,
    /// Standard error of `p_correct` over the questions (random: the mean of the draws').
    pub p_correct_se: f64,
}

/// Everything a run measured. Its tables, charts and summary come from
/// [`papers::Report`] (`frames`, `charts`, `markdown`, `write`), and runs of single experiments
/// combine with [`papers::Report::merge`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Generations with their features.
    pub samples: Vec<Sample>,
    /// Cross-validation results.
    pub classification: Vec<ClassRow>,
    /// Families: each model whose family has another model, classified by a kNN that never saw it.
    pub held_out: Vec<HeldOutRow>,
    /// Families: distances between the models' mean profiles.
    pub distances: Vec<DistanceRow>,
    /// Intervention results.
    pub interventions: Vec<InterventionRow>,
    /// Per model: mean Shannon profile `[L+1]` of the MC prompts (its block changes pick the
    /// expansion and pruning blocks).
    pub mc_profiles: Vec<(String, Vec<f32>)>,
    /// Per model: parameter count (approximate, from the config).
    pub params: Vec<(String, usize)>,
    /// `(experiment, model, seconds)` wall time.
    pub timings: Vec<(String, String, f64)>,
    /// Notes (skipped analyses and why).
    pub notes: Vec<String>,
    /// Rényi orders of the metrics, in order (1 = Shannon).
    pub alphas: Vec<f32>,
}

/// Held-out families: `model, family, alpha, rescale, k, n_samples, accuracy, chance`.
impl ToFrame for [HeldOutRow] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |r, row| {
            row.str("model", &r.model)
                .str("family", &r.family)
                .f64("alpha", r.alpha)
                .str("rescale", &r.rescale)
                .usize("k", r.k)
                .usize("n_samples", r.n_samples)
                .f64("accuracy", r.accuracy)
                .f64("chance", r.chance);
        })
    }
}

/// Profile distances: `alpha, rescale, model_a, model_b, distance`.
impl ToFrame for [DistanceRow] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |r, row| {
            row.f64("alpha", r.alpha)
                .str("rescale", &r.rescale)
                .str("model_a", &r.model_a)
                .str("model_b", &r.model_b)
                .f64("distance", r.distance);
        })
    }
}

/// Classification results: `experiment, model, alpha, rescale, features, classifier, k, folds, n_samples,
/// n_classes, auc_mean, auc_std, accuracy`, one row per experiment × model × α × rescaling ×
/// classifier × k. No rows give an empty frame.
impl ToFrame for [ClassRow] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |r, row| {
            row.str("experiment", &r.experiment)
                .str("model", &r.model)
                .f64("alpha", r.alpha)
                .str("rescale", &r.rescale)
                .str("features", &r.features)
                .str("classifier", &r.classifier)
                .usize("k", r.k)
                .usize("folds", r.folds)
                .usize("n_samples", r.n_samples)
                .usize("n_classes", r.n_classes)
                .f64("auc_mean", r.auc_mean)
                .f64("auc_std", r.auc_std)
                .f64("accuracy", r.accuracy);
        })
    }
}

/// Intervention results: `model, strategy, draw, k, layers (comma-separated, 1-based), accuracy,
/// p_correct, p_correct_se`. No rows give an empty frame.
impl ToFrame for [InterventionRow] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |r, row| {
            let layers: Vec<String> = r.layers.iter().map(usize::to_string).collect();
            row.str("model", &r.model)
                .str("strategy", &r.strategy)
                .usize("draw", r.draw)
                .usize("k", r.k)
                .str("layers", layers.join(","))
                .f64("accuracy", r.accuracy)
                .f64("p_correct", r.p_correct)
                .f64("p_correct_se", r.p_correct_se);
        })
    }
}

/// The generated texts: `experiment, model, sample, class_name, detail, text`, one row per
/// generation (the entropies are in [`Report::profiles_frame`]). No rows give an empty frame.
impl ToFrame for [Sample] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |s, row| {
            row.str("experiment", &s.experiment)
                .str("model", &s.model)
                .str("family", &s.family)
                .usize("sample", s.id)
                .str("class_name", &s.class_name)
                .str("detail", &s.detail)
                .str("text", &s.text);
        })
    }
}

impl Report {
    /// Held-out families (Shannon, the largest `k` per model and rescaling) and the Shannon
    /// distances between mean profiles under linear rescaling; empty without such rows.
    fn families_markdown(&self) -> String {
        let mut s = String::new();
        let shannon = |a: f32| (a - 1.0).abs() < 1e-6;
        let mut best: Vec<&HeldOutRow> = Vec::new();
        for r in self.held_out.iter().filter(|r| shannon(r.alpha)) {
            match best
                .iter_mut()
                .find(|b| b.model == r.model && b.rescale == r.rescale)
            {
                Some(b) if b.k < r.k => *b = r,
                Some(_) => {}
                None => best.push(r),
            }
        }
        if !best.is_empty() {
            s += "\nFamilies, each model held out (Shannon; a kNN trained on the other models \
                  classifies its samples by family):\n\n| held-out model | family | rescaling | kNN k | \
                  in its family % | chance % |\n|---|---|---|---|---|---|\n";
            for r in best {
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    short_name(&r.model),
                    r.family,
                    r.rescale,
                    r.k,
                    pct(r.accuracy),
                    pct(r.chance)
                );
            }
        }
        let d: Vec<&DistanceRow> = self
            .distances
            .iter()
            .filter(|r| shannon(r.alpha) && r.rescale.starts_with("linear"))
            .collect();
        if !d.is_empty() {
            s += "\nDistances between mean Shannon profiles (linear depth rescaling, nats; the \
                  diagonal is each model's spread, the mean distance of its samples to their mean):\n\n";
            let mut names: Vec<&str> = Vec::new();
            for r in &d {
                for m in [r.model_a.as_str(), r.model_b.as_str()] {
                    if !names.contains(&m) {
                        names.push(m);
                    }
                }
            }
            s += &format!(
                "| | {} |\n|---|{}\n",
                names
                    .iter()
                    .map(|m| short_name(m))
                    .collect::<Vec<_>>()
                    .join(" | "),
                "---|".repeat(names.len())
            );
            for a in &names {
                let cells: Vec<String> = names
                    .iter()
                    .map(|b| {
                        d.iter()
                            .find(|r| {
                                (r.model_a == *a && r.model_b == *b)
                                    || (r.model_a == *b && r.model_b == *a)
                            })
                            .map_or(String::new(), |r| format!("{:.2}", r.distance))
                    })
                    .collect();
                s += &format!("| {} | {} |\n", short_name(a), cells.join(" | "));
            }
        }
        s
    }

    /// Profiles in long form: `experiment, model, sample, class, class_name, detail, alpha,
    /// window (−1 = mean over all steps), layer (1..=L), depth, entropy`. No samples give an
    /// empty frame.
    pub fn profiles_frame(&self) -> Result<DataFrame> {
        let cells = self.samples.iter().flat_map(|s| {
            self.alphas.iter().enumerate().flat_map(move |(mi, &a)| {
                let mean = s.means.get(mi).map(|m| (-1i64, m.as_slice()));
                let windows = s.windows.get(mi).into_iter().flat_map(move |w| {
                    w.chunks(s.n_layers.max(1))
                        .enumerate()
                        .map(|(wi, c)| (wi as i64, c))
                });
                mean.into_iter().chain(windows).flat_map(move |(wi, vals)| {
                    vals.iter()
                        .enumerate()
                        .map(move |(l, &v)| (s, a, wi, l + 1, v))
                })
            })
        });
        frame::from_rows(cells, |(s, alpha, window, layer, v), row| {
            row.str("experiment", &s.experiment)
                .str("model", &s.model)
                .usize("sample", s.id)
                .usize("class", s.class)
                .str("class_name", &s.class_name)
                .str("detail", &s.detail)
                .f64("alpha", alpha)
                .i64("window", window)
                .usize("layer", layer)
                .f64("depth", layer as f64 / s.n_layers.max(1) as f64)
                .f64("entropy", v);
        })
    }

    /// The kNN row at the headline `k` (the largest available `k` ≤ `want`, else the smallest)
    /// and the dummy row of one experiment / model (or `pooled`) / α / rescaling, on the
    /// generation's features.
    pub fn headline(
        &self,
        experiment: &str,
        model: &str,
        alpha: f32,
        rescale: &str,
        want: usize,
    ) -> Option<(&ClassRow, Option<&ClassRow>)> {
        self.headline_of(experiment, model, alpha, rescale, GENERATION, want)
    }

    /// [`Report::headline`] on the features of `features` ([`GENERATION`] or [`STEP0`]).
    pub fn headline_of(
        &self,
        experiment: &str,
        model: &str,
        alpha: f32,
        rescale: &str,
        features: &str,
        want: usize,
    ) -> Option<(&ClassRow, Option<&ClassRow>)> {
        let group: Vec<&ClassRow> = self
            .classification
            .iter()
            .filter(|r| {
                r.experiment == experiment
                    && r.model == model
                    && r.alpha == alpha
                    && r.rescale == rescale
                    && r.features == features
            })
            .collect();
        let knn: Vec<&ClassRow> = group
            .iter()
            .copied()
            .filter(|r| r.classifier == "knn")
            .collect();
        let best = knn
            .iter()
            .copied()
            .filter(|r| r.k <= want)
            .max_by_key(|r| r.k)
            .or_else(|| knn.iter().copied().min_by_key(|r| r.k))?;
        let dummy = group.iter().copied().find(|r| r.classifier == "dummy");
        Some((best, dummy))
    }

    /// What skipping `k` blocks did, per model and strategy (random = mean over draws).
    pub fn drops(&self, k: usize) -> Vec<SkipEffect> {
        let mut out = Vec::new();
        for m in self.intervention_models() {
            let Some(base) = self
                .interventions
                .iter()
                .find(|r| r.model == m && r.strategy == "none")
            else {
                continue;
            };
            for st in ["expansion", "pruning", "random"] {
                let v: Vec<&InterventionRow> = self
                    .interventions
                    .iter()
                    .filter(|r| r.model == m && r.strategy == st && r.k == k)
                    .collect();
                if v.is_empty() {
                    continue;
                }
                out.push(SkipEffect {
                    model: m.to_string(),
                    strategy: st.to_string(),
                    k,
                    base_accuracy: base.accuracy,
                    accuracy: mean_std(v.iter().map(|r| r.accuracy)).0,
                    base_p_correct: base.p_correct,
                    p_correct: mean_std(v.iter().map(|r| r.p_correct)).0,
                    base_p_correct_se: base.p_correct_se,
                    p_correct_se: mean_std(v.iter().map(|r| r.p_correct_se)).0,
                });
            }
        }
        out
    }

    /// The models of the intervention rows, in order of appearance (consecutive repeats
    /// merged).
    pub(super) fn intervention_models(&self) -> Vec<&str> {
        let mut models: Vec<&str> = self
            .interventions
            .iter()
            .map(|r| r.model.as_str())
            .collect();
        models.dedup();
        models
    }

    /// The `(experiment, model, rescaling)` groups of kNN rows that [`Report::auc_chart`] plots,
    /// in order of appearance: tasks and formats per model without rescaling, families (pooled)
    /// under linear rescaling.
    pub(super) fn auc_groups(&self) -> Vec<(&str, &str, &str)> {
        let mut groups: Vec<(&str, &str, &str)> = Vec::new();
        for r in self.classification.iter().filter(|r| r.classifier == "knn") {
            let g = (r.experiment.as_str(), r.model.as_str(), r.rescale.as_str());
            if !groups.contains(&g)
                && (r.rescale == "none"
                    || r.experiment == Experiment::Families.name()
                        && r.rescale.starts_with("linear"))
            {
                groups.push(g);
            }
        }
        groups
    }

    /// The finding of one classification group of [`Report::auc_groups`] (Shannon, headline k;
    /// figure `auc_vs_alpha`).
    fn classification_finding(&self, experiment: &str, model: &str, rescale: &str) -> Finding {
        let (want, paper) = Self::headline_k(experiment);
        let (source, claim) = match experiment {
            "families" => (
                "Key results; the abstract's kNN AUC > 90 %",
                "entropy profiles are family-specific: a kNN on them identifies the model \
                 family well above chance (kNN ROC AUC > 90 %), also across depths after rescaling; \
                 judged here against chance and the dummy."
                    .to_string(),
            ),
            "tasks" => (
                "Key results (task classification)",
                format!(
                    "a kNN on entropy profiles identifies the task a prompt asks for, well \
                     above chance (kNN ROC AUC {paper} %); judged here against chance and the \
                     dummy."
                ),
            ),
            _ => (
                "Key results (output-format classification)",
                format!(
                    "a kNN on entropy profiles identifies the output format being written, \
                     well above chance (kNN ROC AUC {paper} %); judged here against chance and \
                     the dummy."
                ),
            ),
        };
        let label = format!("{}, {experiment}, {rescale}, Shannon", model_label(model));
        let Some((k, dummy)) = self.headline(experiment, model, 1.0, rescale, want) else {
            return Finding {
                figure: "auc_vs_alpha",
                source,
                claim,
                measured: format!("{label}: no Shannon kNN row"),
                verdict: Verdict::NotMeasured,
            };
        };
        let (se, se_text) = fold_se(k);
        let floor = dummy.map_or(0.5, |d| d.auc_mean.max(0.5));
        let what = if experiment == "families" {
            "generations"
        } else {
            "prompts"
        };
        let mut measured =
            format!(
            "{label}: kNN AUC {} ± {} % at k = {} (mean ± std over folds; {se_text} {} points; \
             n = {} {what}, {} classes; accuracy {} %), dummy AUC {}",
            pct(k.auc_mean),
            pct(k.auc_std),
            k.k,
            pct(se),
            k.n_samples,
            k.n_classes,
            pct(k.accuracy),
            dummy.map_or("n/a (chance 50 % used)".into(), |d| format!("{} %", pct(d.auc_mean))),
        );
        if let Some((s0, _)) = self
            .headline_of(experiment, model, 1.0, rescale, STEP0, k.k)
            .filter(|(s0, _)| s0.k == k.k)
        {
            measured += &format!(", step-0 control AUC {} %", pct(s0.auc_mean));
            // the caveat matters only where the profile classifies at all
            let shows = Verdict::of_difference(k.auc_mean - floor, se) == Verdict::Shows;
            if shows && s0.auc_mean >= k.auc_mean - 2.0 * se.hypot(fold_se(s0).0) {
                measured += " — the prompt alone (step 0) classifies as well as the generated \
                              profile, so this run cannot tell what the generated tokens add";
            }
        }
        if experiment == "families" {
            let fam: Vec<&Sample> = self
                .samples
                .iter()
                .filter(|s| s.experiment == experiment)
                .collect();
            let count = |f: fn(&Sample) -> &str| {
                let mut v: Vec<&str> = fam.iter().map(|s| f(s)).collect();
                v.sort_unstable();
                v.dedup();
                v.len()
            };
            let (models, families) = (count(|s| &s.model), count(|s| &s.family));
            if families > 0 && models == families {
                measured += " — one model per family here, so the family is the model's \
                              identity (the held-out-model table tests the claim)";
            }
        }
        Finding {
            figure: "auc_vs_alpha",
            source,
            claim,
            measured,
            verdict: Verdict::of_difference(k.auc_mean - floor, se),
        }
    }

    /// The intervention finding of one model (figure `interventions`): at the largest k with
    /// both expansion and pruning rows, the drop in p(correct letter) under expansion minus that
    /// under pruning (= p under pruning − p under expansion), standard error the hypot of theirs.
    fn intervention_finding(&self, model: &str) -> Finding {
        let claim = "skipping the expansion blocks (largest entropy increase) hurts downstream \
                     performance more than skipping the pruning blocks (largest decrease): \
                     expansion is generally the more critical."
            .to_string();
        let source = "Key results (layer-skip interventions)";
        let mut ks: Vec<usize> = self
            .interventions
            .iter()
            .filter(|r| r.model == model && r.k > 0)
            .map(|r| r.k)
            .collect();
        ks.sort_unstable();
        ks.dedup();
        let pair = ks.iter().rev().find_map(|&k| {
            let d = self.drops(k);
            let of = |st: &str| {
                d.iter()
                    .find(|e| e.model == model && e.strategy == st)
                    .cloned()
            };
            Some((of("expansion")?, of("pruning")?, of("random")))
        });
        let Some((ex, pr, rnd)) = pair else {
            return Finding {
                figure: "interventions",
                source,
                claim,
                measured: format!(
                    "{}: no expansion and pruning rows at a common k beside an unskipped row",
                    short_name(model)
                ),
                verdict: Verdict::NotMeasured,
            };
        };
        let n = self
            .interventions
            .iter()
            .filter(|r| r.model == model && r.strategy == "random" && r.k == ex.k)
            .count();
        let random = rnd.map_or(String::new(), |r| {
            format!(
                "; random (mean of {n} draws) {} ± {} % (accuracy {} %)",
                pct(r.p_correct),
                pct(r.p_correct_se),
                pct(r.accuracy)
            )
        });
        let diff = pr.p_correct - ex.p_correct;
        let se = ex.p_correct_se.hypot(pr.p_correct_se);
        Finding {
            figure: "interventions",
            source,
            claim,
            measured: format!(
                "{}, k = {} blocks skipped: p(correct letter) {} ± {} % unskipped (accuracy {} \
                 %) → expansion {} ± {} % (accuracy {} %), pruning {} ± {} % (accuracy {} %){random}; \
                 drop under expansion − drop under pruning = {} ± {} points (± standard error \
                 over the questions; chance 25 %)",
                short_name(model),
                ex.k,
                pct(ex.base_p_correct),
                pct(ex.base_p_correct_se),
                pct(ex.base_accuracy),
                pct(ex.p_correct),
                pct(ex.p_correct_se),
                pct(ex.accuracy),
                pct(pr.p_correct),
                pct(pr.p_correct_se),
                pct(pr.accuracy),
                pct(diff),
                pct(se),
            ),
            verdict: Verdict::of_difference(diff, se),
        }
    }

    /// The headline `k` and the paper's AUC (text) of one experiment's classification rows.
    pub(super) fn headline_k(experiment: &str) -> (usize, String) {
        match experiment {
            "families" => (3, "> 90 (families)".to_string()),
            "tasks" => (29, format!("{}–{}", PAPER_TASK_AUC.0, PAPER_TASK_AUC.1)),
            _ => (5, format!("{}–{}", PAPER_FORMAT_AUC.0, PAPER_FORMAT_AUC.1)),
        }
    }
}

/// A label for a model column: the short model name, `all models (pooled)` for the pooled rows.
fn model_label(m: &str) -> String {
    if m == "pooled" {
        "all models (pooled)".to_string()
    } else {
        short_name(m)
    }
}

/// The standard error of a row's fold-mean AUC and how it was taken: the fold std (ddof = 0,
/// made ddof = 1) / √folds — a lower bound, as the folds share training data — or the fold std
/// itself when the number of folds is unknown (0) or one.
fn fold_se(r: &ClassRow) -> (f64, String) {
    if r.folds > 1 {
        let f = r.folds as f64;
        (
            r.auc_std * (f / (f - 1.0)).sqrt() / f.sqrt(),
            format!("standard error = sample std / √{} =", r.folds),
        )
    } else {
        (
            r.auc_std,
            "standard error taken as the fold std (folds unknown) =".to_string(),
        )
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}", 100.0 * x)
    } else {
        "n/a".into()
    }
}

fn alpha_label(a: f32) -> String {
    if a == 1.0 {
        "1 (Shannon)".into()
    } else {
        format!("{a}")
    }
}

impl papers::Report for Report {
    /// Per classified experiment and model: the Shannon kNN AUC at the headline k, the dummy's
    /// and the step-0 diagnostic's.
    fn headline(&self) -> String {
        let mut out = Vec::new();
        let mut groups: Vec<(&str, &str, &str)> = Vec::new();
        for r in &self.classification {
            let g = (r.experiment.as_str(), r.model.as_str(), r.rescale.as_str());
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        for (e, m, rs) in groups {
            let (want, paper) = Self::headline_k(e);
            if let Some((k, d)) = self.headline(e, m, 1.0, rs, want) {
                let step0 = self
                    .headline_of(e, m, 1.0, rs, STEP0, k.k)
                    .map_or("n/a".into(), |(s, _)| pct(s.auc_mean));
                out.push(format!(
                    "{e} {} ({rs}): AUC {} % at k = {} (dummy {}, step 0 {step0}; paper {paper})",
                    model_label(m),
                    pct(k.auc_mean),
                    k.k,
                    d.map_or("n/a".into(), |d| pct(d.auc_mean)),
                ));
            }
        }
        out.join("\n")
    }

    /// `classification.parquet` and `.csv`, `families_held_out.csv`, `families_distances.csv`,
    /// `profiles.parquet`, `generations.parquet`, `interventions.parquet`: those the report has
    /// rows for.
    fn frames(&self) -> Result<Vec<(String, DataFrame)>> {
        let mut out = Vec::new();
        if !self.classification.is_empty() {
            let df = self.classification.to_frame()?;
            out.push(("classification.parquet".into(), df.clone()));
            out.push(("classification.csv".into(), df));
        }
        if !self.held_out.is_empty() {
            out.push(("families_held_out.csv".into(), self.held_out.to_frame()?));
        }
        if !self.distances.is_empty() {
            out.push(("families_distances.csv".into(), self.distances.to_frame()?));
        }
        if !self.samples.is_empty() {
            out.push(("profiles.parquet".into(), self.profiles_frame()?));
            out.push(("generations.parquet".into(), self.samples.to_frame()?));
        }
        if !self.interventions.is_empty() {
            out.push((
                "interventions.parquet".into(),
                self.interventions.to_frame()?,
            ));
        }
        Ok(out)
    }

    /// Per group the AUC chart plots (tasks and formats per model, families pooled), the
    /// Shannon kNN AUC at the headline k against max(0.5, dummy AUC); per intervention model,
    /// expansion against pruning at the largest k. Figure keys: `auc_vs_alpha`
    /// (`auc_vs_alpha.png`) and `interventions` (`interventions_<model>.png`).
    fn findings(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .auc_groups()
            .into_iter()
            .map(|(e, m, rs)| self.classification_finding(e, m, rs))
            .collect();
        out.extend(
            self.intervention_models()
                .into_iter()
                .map(|m| self.intervention_finding(m)),
        );
        out
    }

    /// `families_profiles.png`, `families_pca.png`, `tasks_profiles.png`, `formats_profiles.png`,
    /// `auc_vs_alpha.png`, `interventions_<model>.png`: those the report has data for.
    fn charts(&self) -> Result<Vec<(String, Chart)>> {
        let mut out = Vec::new();
        if let Some(c) = self.profile_chart(Experiment::Families, ProfileLines::Model)? {
            out.push(("families_profiles.png".into(), c));
        }
        if let Some(c) = self.family_scatter(SCATTER_DEPTH_POINTS)? {
            out.push(("families_pca.png".into(), c));
        }
        for e in [Experiment::Tasks, Experiment::Formats] {
            if let Some(c) = self.profile_chart(e, ProfileLines::ModelAndClass)? {
                out.push((format!("{e}_profiles.png"), c));
            }
        }
        if let Some(c) = self.auc_chart()? {
            out.push(("auc_vs_alpha.png".into(), c));
        }
        for (m, c) in self.intervention_charts()? {
            out.push((format!("interventions_{}.png", slug(&short_name(&m))), c));
        }
        Ok(out)
    }

    /// Classification AUC (%) per experiment, model and α with the dummy and the paper's
    /// ranges; intervention accuracy drops at k = 4 (else k = 1); wall times; notes. The
    /// findings come first.
    fn markdown(&self) -> String {
        let mut s = papers::finding::section(&papers::Report::findings(self));
        if !self.classification.is_empty() {
            s += "| experiment | model | rescaling | α | kNN k | AUC % (mean ± std over folds) | accuracy % | dummy AUC % | step-0 AUC % | paper AUC % |\n|---|---|---|---|---|---|---|---|---|---|\n";
        }
        let mut groups: Vec<(&str, &str, &str)> = Vec::new();
        for r in &self.classification {
            let g = (r.experiment.as_str(), r.model.as_str(), r.rescale.as_str());
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        for &(e, m, rs) in &groups {
            let (want, paper) = Self::headline_k(e);
            for &a in &self.alphas {
                if let Some((k, d)) = self.headline(e, m, a, rs, want) {
                    let step0 = self
                        .headline_of(e, m, a, rs, STEP0, k.k)
                        .filter(|(s0, _)| s0.k == k.k)
                        .map_or("n/a".into(), |(s0, _)| pct(s0.auc_mean));
                    s += &format!(
                        "| {e} | {} | {rs} | {} | {} | {} ± {} | {} | {} | {step0} | {paper} |\n",
                        model_label(m),
                        alpha_label(a),
                        k.k,
                        pct(k.auc_mean),
                        pct(k.auc_std),
                        pct(k.accuracy),
                        d.map_or("n/a".into(), |d| pct(d.auc_mean)),
                    );
                }
            }
        }
        s += &self.families_markdown();
        for k in [4usize, 1] {
            let drops = self.drops(k);
            if drops.is_empty() {
                continue;
            }
            s += &format!(
                "\nLayer-skip interventions, TruthfulQA MC1 (A–D, chance 25 %), k = {k} blocks skipped:\n\n| model | strategy | accuracy %, no skip → k = {k} | drop (points) | p(correct letter) % ± s.e., no skip → k = {k} | drop (points) |\n|---|---|---|---|---|---|\n"
            );
            for d in drops {
                s += &format!(
                    "| {} | {} | {} → {} | {} | {} ± {} → {} ± {} | {} |\n",
                    short_name(&d.model),
                    d.strategy,
                    pct(d.base_accuracy),
                    pct(d.accuracy),
                    pct(d.base_accuracy - d.accuracy),
                    pct(d.base_p_correct),
                    pct(d.base_p_correct_se),
                    pct(d.p_correct),
                    pct(d.p_correct_se),
                    pct(d.base_p_correct - d.p_correct),
                );
            }
            break;
        }
        if !self.timings.is_empty() {
            s += "\n| experiment | model | seconds |\n|---|---|---|\n";
            for (e, m, t) in &self.timings {
                s += &format!("| {e} | {} | {t:.1} |\n", short_name(m));
            }
        }
        for n in &self.notes {
            s += &format!("\nNote: {n}\n");
        }
        s
    }

    /// Appends another run's results (e.g. one experiment per notebook cell): samples,
    /// classification rows, interventions, profiles, timings, notes; parameters and α once.
    fn merge(&mut self, other: Self) {
        self.samples.extend(other.samples);
        self.classification.extend(other.classification);
        self.held_out.extend(other.held_out);
        self.distances.extend(other.distances);
        self.interventions.extend(other.interventions);
        self.mc_profiles.extend(other.mc_profiles);
        for p in other.params {
            if !self.params.contains(&p) {
                self.params.push(p);
            }
        }
        self.timings.extend(other.timings);
        self.notes.extend(other.notes);
        if self.alphas.is_empty() {
            self.alphas = other.alphas;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::papers::finding::figure_verdicts;
    use crate::papers::Report as _;

    fn class_row(
        experiment: &str,
        model: &str,
        rescale: &str,
        features: &str,
        classifier: &str,
        (k, folds): (usize, usize),
        (auc_mean, auc_std): (f64, f64),
    ) -> ClassRow {
        ClassRow {
            experiment: experiment.into(),
            model: model.into(),
            alpha: 1.0,
            rescale: rescale.into(),
            features: features.into(),
            classifier: classifier.into(),
            k,
            folds,
            n_samples: 60,
            n_classes: 3,
            auc_mean,
            auc_std,
            accuracy: 0.5,
        }
    }

    fn iv(model: &str, strategy: &str, draw: usize, k: usize, p: f64, se: f64) -> InterventionRow {
        InterventionRow {
            model: model.into(),
            strategy: strategy.into(),
            draw,
            k,
            layers: (1..=k).collect(),
            accuracy: p,
            p_correct: p,
            p_correct_se: se,
        }
    }

    /// Tasks: AUC 0.90, std 0.05 over 10 folds (se 0.0158) against a dummy at 0.5: shows, but
    /// step 0 (0.95) is as high. Formats: 0.52 ± 0.1 over 4 folds (se 0.05) against a dummy at
    /// 0.55: absent. Families (pooled, linear; folds unknown, se = std 0.02): 0.30 < 0.5:
    /// reversed. Interventions, model a at k = 4: expansion 0.30 ± 0.03 vs pruning 0.55 ± 0.04
    /// (diff 0.25, se 0.05): shows, though k = 1 has it reversed; model b has no expansion or
    /// pruning rows: not measured.
    fn report() -> Report {
        let (m, g) = ("models/SmolLM2-135M-Instruct.Q8_0.gguf", GENERATION);
        Report {
            alphas: vec![1.0],
            classification: vec![
                class_row("tasks", m, "none", g, "knn", (29, 10), (0.90, 0.05)),
                class_row("tasks", m, "none", g, "knn", (5, 10), (0.40, 0.05)),
                class_row("tasks", m, "none", g, "dummy", (0, 10), (0.50, 0.01)),
                class_row("tasks", m, "none", STEP0, "knn", (29, 10), (0.95, 0.05)),
                class_row(
                    "tasks",
                    "pooled",
                    "zero-pad",
                    g,
                    "knn",
                    (29, 10),
                    (0.2, 0.0),
                ),
                class_row("formats", m, "none", g, "knn", (5, 4), (0.52, 0.10)),
                class_row("formats", m, "none", g, "dummy", (0, 4), (0.55, 0.01)),
                class_row("formats", m, "none", STEP0, "knn", (5, 4), (0.30, 0.10)),
                class_row(
                    "families",
                    "pooled",
                    "linear(32)",
                    g,
                    "knn",
                    (3, 0),
                    (0.30, 0.02),
                ),
            ],
            interventions: vec![
                iv("a", "none", 0, 0, 0.60, 0.02),
                iv("a", "expansion", 0, 1, 0.60, 0.03),
                iv("a", "pruning", 0, 1, 0.30, 0.04),
                iv("a", "expansion", 0, 4, 0.30, 0.03),
                iv("a", "pruning", 0, 4, 0.55, 0.04),
                iv("a", "random", 0, 4, 0.50, 0.03),
                iv("a", "random", 1, 4, 0.40, 0.03),
                iv("b", "none", 0, 0, 0.60, 0.02),
                iv("b", "random", 0, 4, 0.50, 0.03),
            ],
            ..Report::default()
        }
    }

    #[test]
    fn findings_have_the_hand_derived_verdicts() {
        let f = report().findings();
        let got = figure_verdicts(&f);
        assert_eq!(
            got,
            vec![
                ("auc_vs_alpha", Verdict::Shows),
                ("auc_vs_alpha", Verdict::Absent),
                ("auc_vs_alpha", Verdict::Reversed),
                ("interventions", Verdict::Shows),
                ("interventions", Verdict::NotMeasured),
            ]
        );
        // the headline k (29 for tasks), the short model name, the step-0 caveat
        assert!(f[0]
            .measured
            .starts_with("SmolLM2-135M-Instruct, tasks, none, Shannon:"));
        assert!(f[0].measured.contains("AUC 90.0 ± 5.0 % at k = 29"));
        assert!(f[0].measured.contains("step-0 control AUC 95.0 %"));
        assert!(f[0]
            .measured
            .contains("cannot tell what the generated tokens add"));
        assert!(f[0].measured.contains("std / √10"));
        assert!(!f[1].measured.contains("cannot tell"), "{}", f[1].measured);
        assert!(f[2].measured.contains("folds unknown"));
        assert!(f[2].measured.contains("dummy AUC n/a (chance 50 % used)"));
        assert!(f[2].measured.starts_with("all models (pooled)"));
        assert!(f[3].measured.contains("k = 4 blocks skipped"));
        assert!(f[3]
            .measured
            .contains("drop under pruning = 25.0 ± 5.0 points"));
        assert!(f[3].measured.contains("mean of 2 draws"));
    }

    #[test]
    fn every_finding_names_a_chart_and_leads_the_markdown() {
        let r = report();
        let charts: Vec<String> = r.charts().unwrap().into_iter().map(|(n, _)| n).collect(); // ok: test-only
        for f in r.findings() {
            assert!(
                charts.iter().any(|c| c == &format!("{}.png", f.figure)
                    || c.starts_with(&format!("{}_", f.figure)) && c.ends_with(".png")),
                "{} not among {charts:?}",
                f.figure
            );
        }
        assert_eq!(r.findings_of("interventions").len(), 2);
        assert!(r
            .markdown()
            .starts_with("## Against the paper\n\n- **The paper**"));
        assert!(Report::default().findings().is_empty());
    }
}
