//! kNN cross-validation of profile features, with the stratified dummy beside it.

use ndarray::Array2;

use crate::stats::knn::{cross_validate, KnnParams, StratifiedDummy, StratifiedKFold};
use crate::Result;

use super::features::Rescale;

/// One cross-validated classifier on one feature set.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassRow {
    /// `families`, `tasks` or `formats`.
    pub experiment: String,
    /// Model name, or `pooled` for both models' profiles together.
    pub model: String,
    /// Rényi order of the entropy (1 = Shannon).
    pub alpha: f32,
    /// Depth rescaling of the features.
    pub rescale: String,
    /// Which steps the features come from: [`GENERATION`] (the whole generation, the paper's
    /// features) or [`STEP0`] (the first step alone, which sees only the prompt).
    pub features: String,
    /// `knn` or `dummy`.
    pub classifier: String,
    /// Neighbours (0 for the dummy).
    pub k: usize,
    /// Folds actually used.
    pub folds: usize,
    /// Samples.
    pub n_samples: usize,
    /// Classes.
    pub n_classes: usize,
    /// Mean over folds of the one-vs-rest macro ROC AUC.
    pub auc_mean: f64,
    /// Population std over folds.
    pub auc_std: f64,
    /// Mean accuracy over folds.
    pub accuracy: f64,
}

/// Features from every step of the generation (the paper's).
pub const GENERATION: &str = "generation";
/// Features from the first step alone: the profile of the prompt's last position. When these
/// classify as well as [`GENERATION`], the classes differ in their prompts, not in what the
/// model generates.
pub const STEP0: &str = "step 0";

/// Smallest training-fold size of a split.
fn min_train(cv: &StratifiedKFold, y: &[usize]) -> Result<usize> {
    Ok(cv
        .split(y)?
        .iter()
        .map(|f| f.train.len())
        .min()
        .unwrap_or(0))
}

/// What one evaluation describes (everything but the numbers).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSpec<'a> {
    /// Experiment name.
    pub experiment: &'a str,
    /// Model name or `pooled`.
    pub model: &'a str,
    /// Rényi order.
    pub alpha: f32,
    /// Rescaling used to build `x`.
    pub rescale: Rescale,
    /// [`GENERATION`] or [`STEP0`].
    pub features: &'a str,
    /// Neighbour counts to try; those larger than the smallest training fold are left out.
    pub ks: &'a [usize],
    /// Folds wanted (clamped to the smallest class count, at least 2).
    pub folds: usize,
    /// Seed of the fold shuffle and the dummy.
    pub seed: u64,
}

/// Stratified k-fold CV of a kNN for every usable `k` of `spec.ks`, plus the stratified dummy:
/// one [`ClassRow`] each (dummy last).
///
/// Errors: those of [`cross_validate`] (a single class, NaN features, too few samples per class
/// for 2 folds, …) converted into [`crate::Error::Knn`].
pub fn evaluate(spec: &EvalSpec<'_>, x: &Array2<f64>, y: &[usize]) -> Result<Vec<ClassRow>> {
    let n_classes = y.iter().max().map_or(0, |m| m + 1);
    let smallest = (0..n_classes)
        .map(|c| y.iter().filter(|&&l| l == c).count())
        .min()
        .unwrap_or(0);
    let folds = spec.folds.min(smallest).max(2);
    let cv = StratifiedKFold::new(folds).seed(spec.seed);
    let max_k = min_train(&cv, y)?;
    let mut rows = Vec::new();
    let mut push = |classifier: &str, k: usize, r: crate::stats::knn::CvReport| {
        rows.push(ClassRow {
            experiment: spec.experiment.into(),
            model: spec.model.into(),
            alpha: spec.alpha,
            rescale: spec.rescale.to_string(),
            features: spec.features.into(),
            classifier: classifier.into(),
            k,
            folds,
            n_samples: y.len(),
            n_classes,
            auc_mean: r.auc_mean,
            auc_std: r.auc_std,
            accuracy: r.accuracy_mean,
        })
    };
    for &k in spec.ks.iter().filter(|&&k| k <= max_k) {
        let r = cross_validate(&KnnParams::new(k), x, y, &cv)?;
        push("knn", k, r);
    }
    let r = cross_validate(&StratifiedDummy::new(spec.seed), x, y, &cv)?;
    push("dummy", 0, r);
    Ok(rows)
}
