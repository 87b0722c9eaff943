//! The kNN classifier: parameters (linfa's params → checked-params pattern) and the fitted model.

use std::fmt;

use linfa::ParamGuard;
use linfa_nn::distance::{Distance, L2Dist};
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour, NearestNeighbourIndex};
use ndarray::{Array1, Array2, ArrayBase, ArrayView1, Data, Ix2};

use super::{check_features, check_labels, KnnError, Result};

/// How a tie in the neighbour vote (two or more classes with the same, largest number of the `k`
/// votes) is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VoteTieBreak {
    /// The smallest class index among the tied classes — scikit-learn's `KNeighborsClassifier`
    /// (uniform weights) behaviour; the prediction is then always the arg-max (first maximum) of
    /// [`KnnModel::predict_proba`].
    #[default]
    SmallestClass,
    /// The tied class whose neighbours have the smallest summed Euclidean distance to the query
    /// (the "closer" class); if that is tied too, the smallest class index.
    SmallestDistanceSum,
}

/// Validated kNN parameters; obtained from [`KnnParams`] through [`ParamGuard::check`] (or
/// `check_ref`), and the only thing that can [`fit`](CheckedKnnParams::fit) a [`KnnModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedKnnParams {
    k: usize,
    algorithm: CommonNearestNeighbour,
    leaf_size: usize,
    tie_break: VoteTieBreak,
}

/// Unchecked kNN parameters (builder). Defaults: `k = 3` (as in the Entropy-Lens paper),
/// k-d tree search with leaf size 16, Euclidean distance, ties broken by
/// [`VoteTieBreak::SmallestClass`].
///
/// ```
/// use entroscope::stats::knn::{KnnError, KnnParams, ParamGuard};
/// let checked = KnnParams::new(11).check()?;
/// assert_eq!(checked.k(), 11);
/// assert_eq!(KnnParams::new(0).check().unwrap_err(), KnnError::ZeroK);
/// # Ok::<(), KnnError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct KnnParams(CheckedKnnParams);

impl Default for KnnParams {
    fn default() -> Self {
        Self::new(3)
    }
}

impl KnnParams {
    /// Parameters for a `k`-nearest-neighbour vote, other settings at their defaults.
    pub fn new(k: usize) -> Self {
        KnnParams(CheckedKnnParams {
            k,
            algorithm: CommonNearestNeighbour::KdTree,
            leaf_size: 16,
            tie_break: VoteTieBreak::SmallestClass,
        })
    }

    /// Number of neighbours that vote (≥ 1, and ≤ the number of training samples at fit time).
    pub fn k(mut self, k: usize) -> Self {
        self.0.k = k;
        self
    }

    /// The `linfa-nn` search structure (k-d tree, ball tree or linear scan). It only changes speed:
    /// the neighbours, and so the predictions, are the same for all three.
    pub fn algorithm(mut self, algorithm: CommonNearestNeighbour) -> Self {
        self.0.algorithm = algorithm;
        self
    }

    /// Points per leaf of the search tree (≥ 1; speed only).
    pub fn leaf_size(mut self, leaf_size: usize) -> Self {
        self.0.leaf_size = leaf_size;
        self
    }

    /// How a tied vote is broken.
    pub fn tie_break(mut self, tie_break: VoteTieBreak) -> Self {
        self.0.tie_break = tie_break;
        self
    }

    /// Check the parameters, then [`CheckedKnnParams::fit`].
    pub fn fit<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>, y: &[usize]) -> Result<KnnModel> {
        self.check_ref()?.fit(x, y)
    }
}

impl ParamGuard for KnnParams {
    type Checked = CheckedKnnParams;
    type Error = KnnError;

    fn check_ref(&self) -> Result<&CheckedKnnParams> {
        if self.0.k == 0 {
            return Err(KnnError::ZeroK);
        }
        if self.0.leaf_size == 0 {
            return Err(KnnError::ZeroLeafSize);
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<CheckedKnnParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl CheckedKnnParams {
    /// Number of voting neighbours.
    pub fn k(&self) -> usize {
        self.k
    }
    /// The `linfa-nn` search structure.
    pub fn algorithm(&self) -> &CommonNearestNeighbour {
        &self.algorithm
    }
    /// Leaf size of the search tree.
    pub fn leaf_size(&self) -> usize {
        self.leaf_size
    }
    /// Vote tie-break rule.
    pub fn tie_break(&self) -> VoteTieBreak {
        self.tie_break
    }

    /// Fit on features `x` (`[n_train, n_features]`) and labels `y` (`[n_train]`, class indices);
    /// the number of classes is `max(y) + 1`. "Fitting" a kNN stores a copy of the data.
    ///
    /// Errors: empty or zero-column `x`, non-finite features, `y.len() != x.nrows()`,
    /// `k > n_train` ([`KnnError::KTooLarge`]).
    pub fn fit<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>, y: &[usize]) -> Result<KnnModel> {
        let n_classes = y.iter().max().map_or(0, |m| m + 1);
        self.fit_with_classes(x, y, n_classes)
    }

    /// Like [`fit`](Self::fit) with an explicit class count, so that probability columns are
    /// `0..n_classes` even when the training data lacks the highest classes (as in a training
    /// fold of a larger dataset). Errors also when a label is `>= n_classes`.
    pub fn fit_with_classes<S: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &[usize],
        n_classes: usize,
    ) -> Result<KnnModel> {
        check_features(x, "training features")?;
        if y.len() != x.nrows() {
            return Err(KnnError::LengthMismatch {
                what: "training data",
                rows: x.nrows(),
                labels: y.len(),
            });
        }
        if n_classes == 0 {
            return Err(KnnError::ZeroClasses);
        }
        check_labels(y, n_classes)?;
        if self.k > x.nrows() {
            return Err(KnnError::KTooLarge {
                k: self.k,
                n_train: x.nrows(),
            });
        }
        Ok(KnnModel {
            params: self.clone(),
            x: x.to_owned(),
            y: y.to_vec(),
            n_classes,
        })
    }
}

/// One neighbour of a query: its row in the training data, its label and its Euclidean distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Row index in the training features.
    pub index: usize,
    /// Class of that training row.
    pub label: usize,
    /// Euclidean distance to the query.
    pub distance: f64,
}

/// A fitted kNN classifier: owns a copy of the training data `[n_train, n_features]`.
///
/// The `linfa-nn` index borrows its points, so it is (re)built at each prediction call — once per
/// batch of queries, `O(n_train log n_train)`, small next to the queries themselves.
#[derive(Debug, Clone)]
pub struct KnnModel {
    params: CheckedKnnParams,
    x: Array2<f64>,
    y: Vec<usize>,
    n_classes: usize,
}

impl KnnModel {
    /// The parameters it was fit with.
    pub fn params(&self) -> &CheckedKnnParams {
        &self.params
    }
    /// Number of voting neighbours.
    pub fn k(&self) -> usize {
        self.params.k
    }
    /// Number of classes (columns of [`predict_proba`](Self::predict_proba)).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }
    /// Number of training samples.
    pub fn n_train(&self) -> usize {
        self.x.nrows()
    }
    /// Number of features per sample.
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// The `k` nearest training rows of every query row of `x` (`[n_query, n_features]`), sorted
    /// by distance, then by training index (which also decides which rows at exactly the k-th
    /// distance are kept).
    pub fn neighbours<S: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
    ) -> Result<Vec<Vec<Neighbour>>> {
        self.check_query(x)?;
        let index = self
            .params
            .algorithm
            .from_batch_with_leaf_size(&self.x, self.params.leaf_size, L2Dist)
            .map_err(|e| KnnError::Index(e.to_string()))?;
        x.rows()
            .into_iter()
            .map(|q| self.query(index.as_ref(), q))
            .collect()
    }

    /// Class probabilities `[n_query, n_classes]`: the fraction of the `k` neighbours in each
    /// class (each row sums to 1; values are multiples of `1/k`).
    pub fn predict_proba<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array2<f64>> {
        Ok(self.predict_with_proba(x)?.1)
    }

    /// Predicted class of every query row, `[n_query]` (majority vote, ties per [`VoteTieBreak`]).
    pub fn predict<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array1<usize>> {
        Ok(self.predict_with_proba(x)?.0)
    }

    /// Predictions `[n_query]` and class probabilities `[n_query, n_classes]` from one neighbour
    /// search.
    pub fn predict_with_proba<S: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
    ) -> Result<(Array1<usize>, Array2<f64>)> {
        let neigh = self.neighbours(x)?;
        let k = self.params.k as f64;
        let mut proba = Array2::<f64>::zeros((neigh.len(), self.n_classes));
        let mut pred = Array1::<usize>::zeros(neigh.len());
        let mut counts = vec![0usize; self.n_classes];
        let mut dist_sum = vec![0.0f64; self.n_classes];
        for (i, nb) in neigh.iter().enumerate() {
            counts.iter_mut().for_each(|c| *c = 0);
            dist_sum.iter_mut().for_each(|d| *d = 0.0);
            for n in nb {
                counts[n.label] += 1;
                dist_sum[n.label] += n.distance;
            }
            for (c, &count) in counts.iter().enumerate() {
                proba[[i, c]] = count as f64 / k;
            }
            pred[i] = vote(&counts, &dist_sum, self.params.tie_break);
        }
        Ok((pred, proba))
    }

    fn check_query<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<()> {
        if x.ncols() != self.x.ncols() {
            return Err(KnnError::DimensionMismatch {
                expected: self.x.ncols(),
                got: x.ncols(),
            });
        }
        if x.nrows() == 0 {
            return Ok(());
        }
        check_features(x, "query features")
    }

    /// Exactly the `k` nearest rows, ties at the k-th distance resolved by training index.
    fn query(
        &self,
        index: &(dyn NearestNeighbourIndex<f64> + Send + Sync),
        q: ArrayView1<'_, f64>,
    ) -> Result<Vec<Neighbour>> {
        let k = self.params.k;
        let sq = |i: usize| L2Dist.rdistance(q, self.x.row(i));
        let by_dist_then_index =
            |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        // One extra neighbour tells whether rows outside the returned set tie with the k-th.
        let mut cand: Vec<(f64, usize)> = index
            .k_nearest(q, k + 1)
            .map_err(|e| KnnError::Index(e.to_string()))?
            .into_iter()
            .map(|(_, i)| (sq(i), i))
            .collect();
        cand.sort_by(by_dist_then_index);
        if cand.len() > k && cand[k].0 <= cand[k - 1].0 {
            // Gather every row at the k-th distance (`within_range` is strict, so widen a little;
            // the exact cut is made on our own squared distances).
            let dk = cand[k - 1].0;
            let radius = dk.sqrt() * (1.0 + 1e-9) + 1e-150;
            cand = index
                .within_range(q, radius)
                .map_err(|e| KnnError::Index(e.to_string()))?
                .into_iter()
                .map(|(_, i)| (sq(i), i))
                .filter(|&(d, _)| d <= dk)
                .collect();
            cand.sort_by(by_dist_then_index);
        }
        cand.truncate(k);
        Ok(cand
            .into_iter()
            .map(|(d, i)| Neighbour {
                index: i,
                label: self.y[i],
                distance: d.sqrt(),
            })
            .collect())
    }
}

/// Majority vote with the given tie-break.
fn vote(counts: &[usize], dist_sum: &[f64], tie_break: VoteTieBreak) -> usize {
    let max = counts.iter().copied().max().unwrap_or(0);
    let mut tied = (0..counts.len()).filter(|&c| counts[c] == max);
    let first = tied.next().unwrap_or(0);
    match tie_break {
        VoteTieBreak::SmallestClass => first,
        // `min_by` keeps the first of equal elements, i.e. the smallest class index.
        VoteTieBreak::SmallestDistanceSum => std::iter::once(first)
            .chain(tied)
            .min_by(|&a, &b| dist_sum[a].total_cmp(&dist_sum[b]))
            .unwrap_or(first),
    }
}

impl fmt::Display for VoteTieBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VoteTieBreak::SmallestClass => write!(f, "smallest class index"),
            VoteTieBreak::SmallestDistanceSum => write!(f, "smallest summed distance"),
        }
    }
}

impl fmt::Display for CheckedKnnParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kNN (k = {}, Euclidean, ties: {})",
            self.k, self.tie_break
        )
    }
}

impl fmt::Display for KnnModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} fit on {} samples × {} features, {} classes",
            self.params,
            self.n_train(),
            self.n_features(),
            self.n_classes
        )
    }
}
