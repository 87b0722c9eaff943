//! Classification of entropy profiles: a k-nearest-neighbour classifier, stratified k-fold
//! cross-validation and a stratified dummy baseline (kNN with a chosen `k`, Euclidean distance,
//! k-fold cross-validation, as the Entropy-Lens paper evaluates its profiles). Nothing here knows
//! about models: the inputs are a feature matrix `[n_samples, n_features]`
//! (`ndarray::Array2<f64>`, e.g. one flattened or depth-rescaled entropy profile per row) and one
//! class index per row (`&[usize]`, classes `0..n_classes`).
//!
//! * [`KnnParams`] → [`CheckedKnnParams`] → [`KnnModel`]: linfa's parameter pattern
//!   ([`ParamGuard`]); the neighbour search is [`linfa_nn`] (a k-d tree by default) with the
//!   Euclidean distance ([`linfa_nn::distance::L2Dist`]). linfa itself has no kNN classifier.
//! * [`StratifiedKFold`] → [`Fold`]s: scikit-learn's `StratifiedKFold` allocation, shuffled with a
//!   fixed seed.
//! * [`cross_validate`] runs any [`CvClassifier`] (a [`KnnParams`] or the [`StratifiedDummy`]
//!   baseline) through the folds and returns a [`CvReport`] (per-fold and mean ± std accuracy and
//!   ROC AUC, plus the out-of-fold predictions). The AUC is [`crate::stats::roc`]'s.
//! * [`KnnError`]: the typed misuse errors of this module and of [`crate::stats::roc`].
//!
//! Every result is a plain struct with public fields and a `Display`; converting them to polars
//! frames or charts is the job of [`crate::frame`] / [`crate::plot`].
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
//! * **ROC AUC** per fold is the one-vs-rest macro average of
//!   [`roc_auc_ovr`](crate::stats::roc::roc_auc_ovr). Stratified folds with `n_folds <=` the smallest class count (which
//!   [`StratifiedKFold::split`] enforces) put every class in every test fold, so no class is ever
//!   skipped inside [`cross_validate`].
//! * **Standard deviations** over folds are population standard deviations (divide by the number
//!   of folds, numpy's default `ddof = 0`; [`crate::stats::summary::mean_std`]).
//! * **Seeds.** Shuffling and the dummy baseline use `rand`'s `StdRng::seed_from_u64`: the same
//!   seed gives the same folds and predictions on every platform for a given `rand` release
//!   (0.9.x); `rand` does not promise the same stream across major releases.
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
    KTooLarge {
        /// The number of neighbours asked for.
        k: usize,
        /// Training samples available.
        n_train: usize,
    },
    /// No rows (or no scores) where some are needed.
    #[error("{what} is empty; give at least one sample")]
    Empty {
        /// Which input was empty.
        what: &'static str,
    },
    /// A feature matrix with zero columns.
    #[error("{what} has 0 feature columns; each sample needs at least one feature")]
    ZeroFeatures {
        /// Which matrix has no columns.
        what: &'static str,
    },
    /// Rows of features (or scores) and labels disagree in number.
    #[error("{what}: {rows} rows but {labels} labels; give exactly one label per row")]
    LengthMismatch {
        /// Which input pair disagrees.
        what: &'static str,
        /// Rows of features or scores.
        rows: usize,
        /// Labels given.
        labels: usize,
    },
    /// A query's feature count differs from the training data's.
    #[error("query has {got} features but the model was fit on {expected}; use the same feature layout (e.g. the same depth grid) for training and queries")]
    DimensionMismatch {
        /// Features of the training data.
        expected: usize,
        /// Features of the query.
        got: usize,
    },
    /// NaN or ±inf in features or scores.
    #[error("non-finite value (NaN or inf) in {what} at row {row}, column {col}; drop or repair that sample")]
    NonFinite {
        /// Which input holds the value.
        what: &'static str,
        /// Row (sample) of the value.
        row: usize,
        /// Column (feature or class) of the value.
        col: usize,
    },
    /// A label outside `0..n_classes`.
    #[error("label {label} of sample {index} is out of range: labels must be class indices 0..{n_classes}")]
    LabelOutOfRange {
        /// The offending label.
        label: usize,
        /// Index of the sample carrying it.
        index: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// `n_classes = 0` given explicitly.
    #[error("n_classes = 0: there must be at least one class")]
    ZeroClasses,
    /// Fewer than two folds requested.
    #[error("n_folds = {n_folds}: cross-validation needs at least 2 folds (the Entropy-Lens paper uses 10)")]
    TooFewFolds {
        /// Folds requested.
        n_folds: usize,
    },
    /// Fewer than two classes in the labels given to cross-validation.
    #[error("the labels hold {n_classes} class(es); classification needs at least 2")]
    TooFewClasses {
        /// Distinct classes in the labels.
        n_classes: usize,
    },
    /// More folds than samples in some class (a class index below the largest label with no
    /// samples at all is reported with `count = 0`).
    #[error("n_folds = {n_folds} but class {class} has only {count} samples, so some test fold would miss it; use n_folds <= {count}, merge rare classes, or collect more samples (labels must be dense class indices 0..n_classes)")]
    FoldsExceedClass {
        /// Folds requested.
        n_folds: usize,
        /// The class with too few samples.
        class: usize,
        /// Its number of samples.
        count: usize,
    },
    /// Binary ROC AUC with only positives or only negatives.
    #[error("ROC AUC is undefined with {positives} positives and {negatives} negatives; both classes must be present")]
    AucUndefined {
        /// Positive samples.
        positives: usize,
        /// Negative samples.
        negatives: usize,
    },
    /// One-vs-rest ROC AUC where fewer than two classes occur in `y_true`.
    #[error("one-vs-rest ROC AUC is undefined: y_true holds {n_present} distinct class(es), at least 2 are needed")]
    OvrUndefined {
        /// Distinct classes present in `y_true`.
        n_present: usize,
    },
    /// Score matrix with a wrong number of columns.
    #[error("scores have {got} columns but {expected} classes were expected; pass one probability column per class")]
    ScoreShape {
        /// Number of classes.
        expected: usize,
        /// Columns of the score matrix.
        got: usize,
    },
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
