//! Classification of entropy profiles: a k-nearest-neighbour classifier, stratified k-fold
//! cross-validation, ROC AUC, and a stratified dummy baseline — the machinery behind the
//! Entropy-Lens paper's "kNN AUC > 90 %" results (kNN with k = 3 or 11, Euclidean distance,
//! 10-fold cross-validation). Nothing here knows about models: the inputs are a feature matrix
//! `[n_samples, n_features]` (`ndarray::Array2<f64>`, e.g. one flattened or depth-rescaled entropy
//! profile per row) and one class index per row (`&[usize]`, classes `0..n_classes`).
//!
//! * [`KnnParams`] → [`CheckedKnnParams`] → [`KnnModel`]: linfa's parameter pattern
//!   ([`ParamGuard`]); the neighbour search is [`linfa_nn`] (a k-d tree by default) with the
//!   Euclidean distance ([`linfa_nn::distance::L2Dist`]). linfa itself has no kNN classifier.
//! * [`StratifiedKFold`] → [`Fold`]s: scikit-learn's `StratifiedKFold` allocation, shuffled with a
//!   fixed seed.
//! * [`cross_validate`] runs any [`CvClassifier`] (a [`KnnParams`] or the [`StratifiedDummy`]
//!   baseline) through the folds and returns a [`CvReport`] (per-fold and mean ± std accuracy and
//!   ROC AUC, plus the out-of-fold predictions).
//! * [`roc_auc`], [`roc_auc_ovr`], [`roc_curve`], [`roc_curve_ovr`]: ROC AUC written by hand (see
//!   below why not linfa's `BinaryClassification::roc`).
//!
//! Every result is a plain struct with public fields and a `Display`; converting them to polars
//! frames or charts is the job of `frame.rs` / `plot.rs`.
//!
//! # Conventions (the choices a reader of the numbers needs to know)
//! * **Neighbours.** The `k` training rows with the smallest Euclidean distance to the query. When
//!   several training rows sit at exactly the k-th distance, the ones with the smaller training
//!   index win, so the result never depends on the search structure (scikit-learn leaves this
//!   case implementation-defined).
//! * **Vote.** Each of the `k` neighbours has one vote (uniform weights). A tie between classes is
//!   broken as [`VoteTieBreak`] says: by default the smallest class index (what scikit-learn's
//!   `KNeighborsClassifier` does), so the prediction is always the arg-max of the probabilities.
//! * **Class probabilities** ("scores" for the ROC) are the fraction of the `k` neighbours in each
//!   class: multiples of `1/k`, hence many ties — which is why the AUC treats ties exactly.
//! * **ROC AUC** is the Mann–Whitney statistic: the fraction of (positive, negative) pairs whose
//!   positive scores higher, a tie counting 1/2 — the same number as scikit-learn's
//!   `roc_auc_score` (trapezoidal area under the ROC curve). Multi-class AUC is one-vs-rest,
//!   macro-averaged, like `roc_auc_score(y, proba, multi_class="ovr", average="macro")`; with two
//!   classes it equals the binary AUC of class 1's score.
//! * **A class absent from `y_true`** (no positives, so its one-vs-rest AUC is undefined):
//!   scikit-learn raises; [`roc_auc_ovr`] *skips* that class, reports it as `None` in
//!   [`OvrAuc::per_class`] and averages over the classes present. Stratified folds with
//!   `n_folds <=` the smallest class count (which [`StratifiedKFold::split`] enforces) put every
//!   class in every test fold, so inside [`cross_validate`] this never happens.
//! * **Standard deviations** over folds are population standard deviations (divide by the number
//!   of folds, numpy's default `ddof = 0`).
//! * **Seeds.** Shuffling and the dummy baseline use `rand`'s `StdRng::seed_from_u64`: the same
//!   seed gives the same folds and predictions on every platform for a given `rand` release
//!   (0.9.x); `rand` does not promise the same stream across major releases.
//!
//! # Why not linfa's ROC
//! `linfa::metrics::BinaryClassification::roc` (linfa 0.8) was checked and not used: it takes
//! `f32` probabilities (`Pr`), silently drops negative scores, merges scores closer than `1e-10`
//! instead of treating only equal scores as ties, panics on NaN, returns NaN when one class is
//! missing, and its thresholds run upwards rather than scikit-learn's downwards. Its area *does*
//! count exact ties as 1/2 (trapezoid over tie groups), and `tests/knn.rs` checks that it agrees
//! with [`roc_auc`] on an example, but `f64`, typed errors and scikit-learn's curve layout
//! decided for our own.
//!
//! # Example
//! ```
//! use entroscope::stats::knn::{cross_validate, KnnParams, StratifiedDummy, StratifiedKFold};
//! use ndarray::Array2;
//!
//! // Two well separated clusters of 10 profiles each (2 features).
//! let mut x = Array2::<f64>::zeros((20, 2));
//! let mut y = vec![0usize; 20];
//! for i in 0..20 {
//!     let c = i / 10;
//!     y[i] = c;
//!     x[[i, 0]] = 10.0 * c as f64 + 0.1 * (i % 10) as f64;
//!     x[[i, 1]] = 0.05 * (i % 3) as f64;
//! }
//! let cv = StratifiedKFold::new(5).seed(42);
//! let knn = cross_validate(&KnnParams::new(3), &x, &y, &cv)?;
//! assert_eq!(knn.accuracy_mean, 1.0);
//! assert_eq!(knn.auc_mean, 1.0);
//! let dummy = cross_validate(&StratifiedDummy::new(7), &x, &y, &cv)?;
//! println!("{knn}\n{dummy}");
//! # Ok::<(), entroscope::stats::knn::KnnError>(())
//! ```

mod cv;
mod model;

pub use cv::{
    cross_validate, CvClassifier, CvReport, Fold, FoldScore, StratifiedDummy, StratifiedKFold,
};
pub use linfa::ParamGuard;
pub use linfa_nn::CommonNearestNeighbour;
pub use model::{CheckedKnnParams, KnnModel, KnnParams, Neighbour, VoteTieBreak};

/// Result alias of this module: every fallible function here returns a typed [`KnnError`]
/// (which converts into the crate-wide [`crate::Error::Knn`] with `?`).
pub type Result<T> = std::result::Result<T, KnnError>;

/// Everything that can go wrong in classification, one variant per misuse; each message says what
/// to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KnnError {
    /// `k = 0`.
    #[error("k = 0: a kNN vote needs at least one neighbour; use k >= 1 (the Entropy-Lens paper uses k = 3 or 11)")]
    ZeroK,
    /// `leaf_size = 0` for the search tree.
    #[error(
        "leaf_size = 0: a search-tree leaf must hold at least one point; use the default (16)"
    )]
    ZeroLeafSize,
    /// `k` exceeds the number of training samples (in cross-validation: of a training fold).
    #[error("k = {k} but only {n_train} training samples; use k <= {n_train} (in cross-validation a training fold holds about (n_folds - 1) / n_folds of the data)")]
    KTooLarge { k: usize, n_train: usize },
    /// No rows (or no scores) where some are needed.
    #[error("{what} is empty; give at least one sample")]
    Empty { what: &'static str },
    /// A feature matrix with zero columns.
    #[error("{what} has 0 feature columns; each sample needs at least one feature")]
    ZeroFeatures { what: &'static str },
    /// Rows of features (or scores) and labels disagree in number.
    #[error("{what}: {rows} rows but {labels} labels; give exactly one label per row")]
    LengthMismatch {
        what: &'static str,
        rows: usize,
        labels: usize,
    },
    /// A query's feature count differs from the training data's.
    #[error("query has {got} features but the model was fit on {expected}; use the same feature layout (e.g. the same depth grid) for training and queries")]
    DimensionMismatch { expected: usize, got: usize },
    /// NaN or ±inf in features or scores.
    #[error("non-finite value (NaN or inf) in {what} at row {row}, column {col}; drop or repair that sample")]
    NonFinite {
        what: &'static str,
        row: usize,
        col: usize,
    },
    /// A label outside `0..n_classes`.
    #[error("label {label} of sample {index} is out of range: labels must be class indices 0..{n_classes}")]
    LabelOutOfRange {
        label: usize,
        index: usize,
        n_classes: usize,
    },
    /// `n_classes = 0` given explicitly.
    #[error("n_classes = 0: there must be at least one class")]
    ZeroClasses,
    /// Fewer than two folds requested.
    #[error("n_folds = {n_folds}: cross-validation needs at least 2 folds (the Entropy-Lens paper uses 10)")]
    TooFewFolds { n_folds: usize },
    /// Fewer than two classes in the labels given to cross-validation.
    #[error("the labels hold {n_classes} class(es); classification needs at least 2")]
    TooFewClasses { n_classes: usize },
    /// More folds than samples in some class (a class index below the largest label with no
    /// samples at all is reported with `count = 0`).
    #[error("n_folds = {n_folds} but class {class} has only {count} samples, so some test fold would miss it; use n_folds <= {count}, merge rare classes, or collect more samples (labels must be dense class indices 0..n_classes)")]
    FoldsExceedClass {
        n_folds: usize,
        class: usize,
        count: usize,
    },
    /// Binary ROC AUC with only positives or only negatives.
    #[error("ROC AUC is undefined with {positives} positives and {negatives} negatives; both classes must be present")]
    AucUndefined { positives: usize, negatives: usize },
    /// One-vs-rest ROC AUC where fewer than two classes occur in `y_true`.
    #[error("one-vs-rest ROC AUC is undefined: y_true holds {n_present} distinct class(es), at least 2 are needed")]
    OvrUndefined { n_present: usize },
    /// Score matrix with a wrong number of columns.
    #[error("scores have {got} columns but {expected} classes were expected; pass one probability column per class")]
    ScoreShape { expected: usize, got: usize },
    /// An error reported by `linfa-nn` that the checks above did not anticipate.
    #[error("nearest-neighbour index: {0}")]
    Index(String),
}

/// Check a feature matrix: non-empty, at least one column, all finite.
pub(crate) fn check_features<S: ndarray::Data<Elem = f64>>(
    x: &ndarray::ArrayBase<S, ndarray::Ix2>,
    what: &'static str,
) -> Result<()> {
    if x.nrows() == 0 {
        return Err(KnnError::Empty { what });
    }
    if x.ncols() == 0 {
        return Err(KnnError::ZeroFeatures { what });
    }
    for ((row, col), v) in x.indexed_iter() {
        if !v.is_finite() {
            return Err(KnnError::NonFinite { what, row, col });
        }
    }
    Ok(())
}

/// Check labels against a class count.
pub(crate) fn check_labels(labels: &[usize], n_classes: usize) -> Result<()> {
    match labels.iter().position(|&l| l >= n_classes) {
        Some(index) => Err(KnnError::LabelOutOfRange {
            label: labels[index],
            index,
            n_classes,
        }),
        None => Ok(()),
    }
}

/// Mean and population standard deviation (ddof = 0) of a non-empty slice.
pub(crate) fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}
