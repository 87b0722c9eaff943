//! Stratified k-fold cross-validation, the stratified dummy baseline and the report they produce.

use std::fmt;

use linfa::ParamGuard;
use ndarray::{Array2, ArrayBase, ArrayView2, Axis, Data, Ix2};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::model::{CheckedKnnParams, KnnParams};
use super::{check_features, KnnError, Result};
use crate::stats::roc::roc_auc_ovr;
use crate::stats::summary::mean_std;

/// Stratified k-fold splitter: every fold's test set holds each class in (as nearly as possible)
/// the same proportion as the whole data.
///
/// The allocation is scikit-learn's `StratifiedKFold` (≥ 0.22): number the classes by order of
/// first appearance, sort the samples by that number and deal them round-robin to the folds to
/// get how many samples of each class each fold tests, then give each class's samples (in data
/// order) their fold numbers — shuffled per class when `shuffle` is on.
/// With `shuffle(false)` the folds are exactly scikit-learn's `StratifiedKFold(n_folds)`; with
/// shuffling they have the same sizes but a different (seeded, reproducible) random assignment.
///
/// Defaults: 10 folds (as in the Entropy-Lens paper), shuffled with seed 0.
///
/// ```
/// use entroscope::stats::knn::StratifiedKFold;
/// let y = [0, 0, 0, 1, 1, 1, 1, 1, 1];
/// let folds = StratifiedKFold::new(3).seed(1).split(&y)?;
/// for f in &folds {
///     assert_eq!(f.test.iter().filter(|&&i| y[i] == 0).count(), 1);
///     assert_eq!(f.test.iter().filter(|&&i| y[i] == 1).count(), 2);
/// }
/// # Ok::<(), entroscope::stats::knn::KnnError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StratifiedKFold {
    n_folds: usize,
    shuffle: bool,
    seed: u64,
}

impl Default for StratifiedKFold {
    fn default() -> Self {
        Self::new(10)
    }
}

impl StratifiedKFold {
    /// `n_folds` folds (≥ 2, ≤ the smallest class count — checked by [`split`](Self::split)),
    /// shuffled with seed 0.
    pub fn new(n_folds: usize) -> Self {
        StratifiedKFold {
            n_folds,
            shuffle: true,
            seed: 0,
        }
    }

    /// Shuffle with this seed (turns shuffling on).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.shuffle = true;
        self
    }

    /// Turn shuffling on or off (off: scikit-learn's unshuffled `StratifiedKFold` folds).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Number of folds.
    pub fn n_folds(&self) -> usize {
        self.n_folds
    }

    /// The shuffle seed, `None` when not shuffling.
    pub fn shuffle_seed(&self) -> Option<u64> {
        self.shuffle.then_some(self.seed)
    }

    /// Split sample indices `0..labels.len()` into `n_folds` folds. `labels` are class indices
    /// `0..n_classes` with `n_classes = max + 1`; every class in that range must have at least
    /// `n_folds` samples, so that every test fold holds every class.
    ///
    /// Errors: [`KnnError::TooFewFolds`] (`n_folds < 2`), [`KnnError::Empty`],
    /// [`KnnError::TooFewClasses`] (one class), [`KnnError::FoldsExceedClass`] (the smallest
    /// class, or a label gap with `count = 0`).
    pub fn split(&self, labels: &[usize]) -> Result<Vec<Fold>> {
        let n_folds = self.n_folds;
        if n_folds < 2 {
            return Err(KnnError::TooFewFolds { n_folds });
        }
        if labels.is_empty() {
            return Err(KnnError::Empty { what: "labels" });
        }
        let n_classes = labels.iter().max().map_or(0, |m| m + 1);
        let mut counts = vec![0usize; n_classes];
        labels.iter().for_each(|&l| counts[l] += 1);
        if counts.iter().filter(|&&c| c > 0).count() < 2 {
            return Err(KnnError::TooFewClasses {
                n_classes: counts.iter().filter(|&&c| c > 0).count(),
            });
        }
        // The smallest class (first one on equal counts) decides.
        let smallest = counts.iter().enumerate().min_by_key(|&(_, &c)| c);
        if let Some((class, &count)) = smallest.filter(|&(_, &c)| c < n_folds) {
            return Err(KnnError::FoldsExceedClass {
                n_folds,
                class,
                count,
            });
        }

        // scikit-learn numbers the classes by order of first appearance in `labels` (its
        // `y_encoded`), which decides the round-robin below; do the same so that unshuffled folds
        // are identical to its `StratifiedKFold`.
        let mut appearance: Vec<usize> = Vec::with_capacity(n_classes);
        let mut rank = vec![usize::MAX; n_classes];
        for &l in labels {
            if rank[l] == usize::MAX {
                rank[l] = appearance.len();
                appearance.push(l);
            }
        }
        // allocation[f][r]: how many samples of the class ranked r fold f tests = count of r in
        // sorted_ranks[f], sorted_ranks[f + n_folds], … (scikit-learn's `y_order[i::n_splits]`).
        let mut sorted: Vec<usize> = labels.iter().map(|&l| rank[l]).collect();
        sorted.sort_unstable();
        let mut allocation = vec![vec![0usize; n_classes]; n_folds];
        for (j, &r) in sorted.iter().enumerate() {
            allocation[j % n_folds][r] += 1;
        }

        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut test_fold = vec![0usize; labels.len()];
        for (r, &c) in appearance.iter().enumerate() {
            let mut folds_for_class: Vec<usize> = (0..n_folds)
                .flat_map(|f| std::iter::repeat_n(f, allocation[f][r]))
                .collect();
            if self.shuffle {
                folds_for_class.shuffle(&mut rng);
            }
            let members = labels
                .iter()
                .enumerate()
                .filter(|&(_, &l)| l == c)
                .map(|(i, _)| i);
            for (i, f) in members.zip(folds_for_class) {
                test_fold[i] = f;
            }
        }

        Ok((0..n_folds)
            .map(|f| {
                let (test, train) = (0..labels.len()).partition(|&i| test_fold[i] == f);
                Fold {
                    index: f,
                    train,
                    test,
                }
            })
            .collect())
    }
}

/// One cross-validation fold: sample indices (ascending) to train on and to test on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Fold number, `0..n_folds`.
    pub index: usize,
    /// Training sample indices, ascending.
    pub train: Vec<usize>,
    /// Test sample indices, ascending.
    pub test: Vec<usize>,
}

impl fmt::Display for Fold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fold {}: {} train, {} test",
            self.index,
            self.train.len(),
            self.test.len()
        )
    }
}

/// Something [`cross_validate`] can evaluate: fit on a training fold, score its test fold.
pub trait CvClassifier {
    /// Short description for reports, e.g. `kNN (k = 3, Euclidean, …)`.
    fn describe(&self) -> String;

    /// Number of neighbours, for kNN classifiers (`None` otherwise).
    fn n_neighbours(&self) -> Option<usize> {
        None
    }

    /// Fit on `x_train` (`[n_train, n_features]`) / `y_train` and predict `x_test`
    /// (`[n_test, n_features]`): predicted classes `[n_test]` and class scores
    /// `[n_test, n_classes]`. `fold` is the fold number (e.g. to derive a per-fold seed).
    fn fit_predict(
        &self,
        x_train: ArrayView2<'_, f64>,
        y_train: &[usize],
        x_test: ArrayView2<'_, f64>,
        n_classes: usize,
        fold: usize,
    ) -> Result<(Vec<usize>, Array2<f64>)>;
}

impl CvClassifier for CheckedKnnParams {
    fn describe(&self) -> String {
        self.to_string()
    }
    fn n_neighbours(&self) -> Option<usize> {
        Some(self.k())
    }
    fn fit_predict(
        &self,
        x_train: ArrayView2<'_, f64>,
        y_train: &[usize],
        x_test: ArrayView2<'_, f64>,
        n_classes: usize,
        _fold: usize,
    ) -> Result<(Vec<usize>, Array2<f64>)> {
        let (pred, proba) = self
            .fit_with_classes(&x_train, y_train, n_classes)?
            .predict_with_proba(&x_test)?;
        Ok((pred.to_vec(), proba))
    }
}

impl CvClassifier for KnnParams {
    fn describe(&self) -> String {
        self.check_ref()
            .map_or_else(|e| format!("kNN (invalid: {e})"), |p| p.describe())
    }
    fn n_neighbours(&self) -> Option<usize> {
        self.check_ref().ok().map(|p| p.k())
    }
    fn fit_predict(
        &self,
        x_train: ArrayView2<'_, f64>,
        y_train: &[usize],
        x_test: ArrayView2<'_, f64>,
        n_classes: usize,
        fold: usize,
    ) -> Result<(Vec<usize>, Array2<f64>)> {
        self.check_ref()?
            .fit_predict(x_train, y_train, x_test, n_classes, fold)
    }
}

/// The chance baseline to report beside the kNN: ignores the features and predicts each test
/// sample's class at random, drawn with the training fold's class frequencies — scikit-learn's
/// `DummyClassifier(strategy="stratified")`. As there, the class "probabilities" are the one-hot
/// vector of the drawn class (so prediction and scores agree); its AUC is therefore 0.5 plus
/// sampling noise (constant prior scores would give exactly 0.5 and no spread).
///
/// Seeded: fold `f` draws from `StdRng::seed_from_u64(seed + f · 0x9E3779B97F4A7C15)`, so the
/// same seed and folds give the same predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StratifiedDummy {
    seed: u64,
}

impl StratifiedDummy {
    /// A dummy drawing with this seed.
    pub fn new(seed: u64) -> Self {
        StratifiedDummy { seed }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Draw `n_test` classes with the class frequencies of `y_train` (labels `< n_classes`),
    /// using the given fold number's stream. Returns predictions `[n_test]` and one-hot scores
    /// `[n_test, n_classes]`.
    pub fn draw(
        &self,
        y_train: &[usize],
        n_test: usize,
        n_classes: usize,
        fold: usize,
    ) -> Result<(Vec<usize>, Array2<f64>)> {
        if y_train.is_empty() {
            return Err(KnnError::Empty {
                what: "training labels",
            });
        }
        if n_classes == 0 {
            return Err(KnnError::ZeroClasses);
        }
        super::check_labels(y_train, n_classes)?;
        let mut counts = vec![0usize; n_classes];
        y_train.iter().for_each(|&l| counts[l] += 1);
        // Cumulative counts; draw u in [0, n_train) and take the first class whose cumulative
        // count exceeds it (classes absent from training are never drawn).
        let cum: Vec<usize> = counts
            .iter()
            .scan(0usize, |acc, &c| {
                *acc += c;
                Some(*acc)
            })
            .collect();
        let mut rng = StdRng::seed_from_u64(
            self.seed
                .wrapping_add((fold as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        );
        let mut pred = Vec::with_capacity(n_test);
        let mut proba = Array2::<f64>::zeros((n_test, n_classes));
        for i in 0..n_test {
            let u = rng.random_range(0..y_train.len());
            let c = cum.partition_point(|&s| s <= u);
            pred.push(c);
            proba[[i, c]] = 1.0;
        }
        Ok((pred, proba))
    }
}

impl CvClassifier for StratifiedDummy {
    fn describe(&self) -> String {
        format!("stratified dummy (seed {})", self.seed)
    }
    fn fit_predict(
        &self,
        _x_train: ArrayView2<'_, f64>,
        y_train: &[usize],
        x_test: ArrayView2<'_, f64>,
        n_classes: usize,
        fold: usize,
    ) -> Result<(Vec<usize>, Array2<f64>)> {
        self.draw(y_train, x_test.nrows(), n_classes, fold)
    }
}

/// Scores of one fold.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldScore {
    /// Fold number.
    pub fold: usize,
    /// Training samples in this fold.
    pub n_train: usize,
    /// Test samples in this fold.
    pub n_test: usize,
    /// Fraction of test samples classified correctly.
    pub accuracy: f64,
    /// ROC AUC on the test samples: one-vs-rest macro (= binary AUC with two classes).
    pub auc: f64,
    /// One-vs-rest AUC of each class, `[n_classes]` (`None`: class absent from this test fold —
    /// cannot happen with [`StratifiedKFold`]'s checks, kept for other splitters).
    pub auc_per_class: Vec<Option<f64>>,
}

impl fmt::Display for FoldScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>4} {:>8} {:>7} {:>9.4} {:>8.4}",
            self.fold, self.n_train, self.n_test, self.accuracy, self.auc
        )
    }
}

/// Result of [`cross_validate`]: per-fold and summary scores plus out-of-fold predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct CvReport {
    /// What was evaluated ([`CvClassifier::describe`]).
    pub model: String,
    /// Number of neighbours (kNN), `None` for the dummy.
    pub k: Option<usize>,
    /// Number of folds.
    pub folds: usize,
    /// Shuffle seed of the folds (`None`: unshuffled).
    pub seed: Option<u64>,
    /// Number of samples.
    pub n_samples: usize,
    /// Number of classes (`max label + 1`).
    pub n_classes: usize,
    /// Mean accuracy over folds.
    pub accuracy_mean: f64,
    /// Population standard deviation (ddof = 0) of the fold accuracies.
    pub accuracy_std: f64,
    /// Mean ROC AUC (one-vs-rest macro) over folds.
    pub auc_mean: f64,
    /// Population standard deviation (ddof = 0) of the fold AUCs.
    pub auc_std: f64,
    /// Scores of each fold, in fold order.
    pub per_fold: Vec<FoldScore>,
    /// Out-of-fold predicted class of every sample `[n_samples]` (from the fold that tested it).
    pub predictions: Vec<usize>,
    /// Out-of-fold class scores `[n_samples, n_classes]`; feed a column to
    /// [`roc_curve_ovr`](super::roc_curve_ovr) for a pooled ROC curve to plot.
    pub proba: Array2<f64>,
}

impl fmt::Display for CvReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shuffle = match self.seed {
            Some(s) => format!("shuffled, seed {s}"),
            None => "unshuffled".to_string(),
        };
        writeln!(
            f,
            "{}: stratified {}-fold CV ({shuffle}), {} samples, {} classes",
            self.model, self.folds, self.n_samples, self.n_classes
        )?;
        writeln!(
            f,
            "  accuracy {:.4} ± {:.4}   ROC AUC (OvR macro) {:.4} ± {:.4}",
            self.accuracy_mean, self.accuracy_std, self.auc_mean, self.auc_std
        )?;
        writeln!(
            f,
            "{:>4} {:>8} {:>7} {:>9} {:>8}",
            "fold", "n_train", "n_test", "accuracy", "auc"
        )?;
        for s in &self.per_fold {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }
}

/// Cross-validate `clf` on features `x` (`[n_samples, n_features]`) and labels `y` (`[n_samples]`,
/// class indices `0..n_classes`) with stratified folds from `cv`: for each fold, fit on the
/// training part, predict the test part, score accuracy and one-vs-rest macro ROC AUC (from the
/// class scores). Summary: mean and population std over folds.
///
/// Errors: bad features (empty, non-finite), `y.len() != x.nrows()`, any [`StratifiedKFold::split`]
/// error, and the classifier's own (e.g. [`KnnError::KTooLarge`] when `k` exceeds a training fold).
pub fn cross_validate<C, S>(
    clf: &C,
    x: &ArrayBase<S, Ix2>,
    y: &[usize],
    cv: &StratifiedKFold,
) -> Result<CvReport>
where
    C: CvClassifier + ?Sized,
    S: Data<Elem = f64>,
{
    check_features(x, "features")?;
    if y.len() != x.nrows() {
        return Err(KnnError::LengthMismatch {
            what: "cross-validation data",
            rows: x.nrows(),
            labels: y.len(),
        });
    }
    let folds = cv.split(y)?;
    let n_classes = y.iter().max().map_or(0, |m| m + 1);
    let mut predictions = vec![0usize; y.len()];
    let mut proba = Array2::<f64>::zeros((y.len(), n_classes));
    let mut per_fold = Vec::with_capacity(folds.len());
    for fold in &folds {
        let x_train = x.select(Axis(0), &fold.train);
        let x_test = x.select(Axis(0), &fold.test);
        let y_train: Vec<usize> = fold.train.iter().map(|&i| y[i]).collect();
        let y_test: Vec<usize> = fold.test.iter().map(|&i| y[i]).collect();
        let (pred, scores) = clf.fit_predict(
            x_train.view(),
            &y_train,
            x_test.view(),
            n_classes,
            fold.index,
        )?;
        if scores.dim() != (fold.test.len(), n_classes) || pred.len() != fold.test.len() {
            return Err(KnnError::ScoreShape {
                expected: n_classes,
                got: scores.ncols(),
            });
        }
        let correct = pred.iter().zip(&y_test).filter(|(p, t)| p == t).count();
        let auc = roc_auc_ovr(&y_test, &scores)?;
        for (j, &i) in fold.test.iter().enumerate() {
            predictions[i] = pred[j];
            proba.row_mut(i).assign(&scores.row(j));
        }
        per_fold.push(FoldScore {
            fold: fold.index,
            n_train: fold.train.len(),
            n_test: fold.test.len(),
            accuracy: correct as f64 / fold.test.len() as f64,
            auc: auc.macro_auc,
            auc_per_class: auc.per_class,
        });
    }
    let (accuracy_mean, accuracy_std) = mean_std(per_fold.iter().map(|s| s.accuracy));
    let (auc_mean, auc_std) = mean_std(per_fold.iter().map(|s| s.auc));
    Ok(CvReport {
        model: clf.describe(),
        k: clf.n_neighbours(),
        folds: folds.len(),
        seed: cv.shuffle_seed(),
        n_samples: y.len(),
        n_classes,
        accuracy_mean,
        accuracy_std,
        auc_mean,
        auc_std,
        per_fold,
        predictions,
        proba,
    })
}
