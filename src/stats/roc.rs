//! ROC curves and ROC AUC (binary, and one-vs-rest macro-averaged multi-class), written by hand in
//! `f64` with exact tie handling. Misuse is a typed [`KnnError`] (shared with
//! [`crate::stats::knn`]).
//!
//! # Conventions
//! * **ROC AUC** is the Mann–Whitney statistic: the fraction of (positive, negative) pairs whose
//!   positive scores higher, a tie counting 1/2 — the same number as scikit-learn's
//!   `roc_auc_score` (trapezoidal area under the ROC curve). Multi-class AUC is one-vs-rest,
//!   macro-averaged, like `roc_auc_score(y, proba, multi_class="ovr", average="macro")`; with two
//!   classes it equals the binary AUC of class 1's score.
//! * **A class absent from `y_true`** (no positives, so its one-vs-rest AUC is undefined):
//!   scikit-learn raises; [`roc_auc_ovr`] *skips* that class, reports it as `None` in
//!   [`OvrAuc::per_class`] and averages over the classes present.
//!
//! # Why not linfa's ROC
//! `linfa::metrics::BinaryClassification::roc` (linfa 0.8) was checked and not used: it takes
//! `f32` probabilities (`Pr`), silently drops negative scores, merges scores closer than `1e-10`
//! instead of treating only equal scores as ties, panics on NaN, returns NaN when one class is
//! missing, and its thresholds run upwards rather than scikit-learn's downwards. Its area *does*
//! count exact ties as 1/2 (trapezoid over tie groups), and `tests/library/knn.rs` checks that it
//! agrees with [`roc_auc`] on an example, but `f64`, typed errors and scikit-learn's curve layout
//! decided for our own.

use std::cmp::Ordering;
use std::fmt;

use ndarray::{ArrayBase, Data, Ix2};

use super::knn::{check_labels, KnnError, Result};

/// Check `y_true`/`scores` lengths, emptiness, finiteness; count positives and negatives.
fn check_binary(y_true: &[bool], scores: &[f64]) -> Result<(usize, usize)> {
    if y_true.len() != scores.len() {
        return Err(KnnError::LengthMismatch {
            what: "ROC scores",
            rows: scores.len(),
            labels: y_true.len(),
        });
    }
    if scores.is_empty() {
        return Err(KnnError::Empty { what: "ROC scores" });
    }
    if let Some(row) = scores.iter().position(|s| !s.is_finite()) {
        return Err(KnnError::NonFinite {
            what: "ROC scores",
            row,
            col: 0,
        });
    }
    let positives = y_true.iter().filter(|&&t| t).count();
    let negatives = y_true.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(KnnError::AucUndefined {
            positives,
            negatives,
        });
    }
    Ok((positives, negatives))
}

/// Sample order by score (finite, so `partial_cmp` is total), descending.
fn order_desc(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap_or(Ordering::Equal));
    order
}

/// Binary ROC AUC of `scores` (higher = more likely positive) against `y_true` (`true` =
/// positive), as the Mann–Whitney statistic:
///
/// `AUC = #{(p, n) : s_p > s_n} + ½ #{(p, n) : s_p = s_n}` over all `P · N` (positive, negative)
/// pairs, divided by `P · N`.
///
/// Equal to the trapezoidal area under [`roc_curve`], and to scikit-learn's
/// `roc_auc_score(y_true, scores)`. Counted exactly in integers (`2 ×` pair count), `O(n log n)`.
///
/// Errors: lengths differ, empty input, NaN/inf scores, or only one class present
/// ([`KnnError::AucUndefined`]; scikit-learn raises there too).
///
/// ```
/// use entroscope::stats::roc::roc_auc;
/// // positives scored 0.9 and 0.5, negatives 0.5 and 0.1: pairs (0.9,0.5) 1, (0.9,0.1) 1,
/// // (0.5,0.5) ½, (0.5,0.1) 1 → 3.5 / 4.
/// let auc = roc_auc(&[true, true, false, false], &[0.9, 0.5, 0.5, 0.1])?;
/// assert_eq!(auc, 0.875);
/// # Ok::<(), entroscope::stats::knn::KnnError>(())
/// ```
pub fn roc_auc(y_true: &[bool], scores: &[f64]) -> Result<f64> {
    let (positives, negatives) = check_binary(y_true, scores)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].partial_cmp(&scores[b]).unwrap_or(Ordering::Equal));
    // Walk groups of equal scores upwards; each positive in a group beats every negative below
    // the group and ties (½) with the group's negatives. Count twice the pairs to stay integral.
    let mut twice_pairs: u128 = 0;
    let mut neg_below: u128 = 0;
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        let (mut p, mut n) = (0u128, 0u128);
        while i < order.len() && scores[order[i]] == s {
            if y_true[order[i]] {
                p += 1;
            } else {
                n += 1;
            }
            i += 1;
        }
        twice_pairs += p * (2 * neg_below + n);
        neg_below += n;
    }
    Ok(twice_pairs as f64 / (2.0 * positives as f64 * negatives as f64))
}

/// The standard error of an AUC from `positives` and `negatives` (Hanley & McNeil, 1982):
/// `√((A(1−A) + (n₁−1)(Q₁−A²) + (n₂−1)(Q₂−A²)) / (n₁n₂))` with `Q₁ = A/(2−A)`,
/// `Q₂ = 2A²/(1+A)`. NaN with fewer than two positives or two negatives (no spread to judge).
///
/// ```
/// use entroscope::stats::roc::auc_standard_error;
/// // A = ½, n₁ = n₂ = 10: Q₁ = Q₂ = ⅓, variance (¼ + 9/12 + 9/12) / 100 = 0.0175
/// let se = auc_standard_error(0.5, 10, 10);
/// assert!((se - 0.0175f64.sqrt()).abs() < 1e-12);
/// assert!(auc_standard_error(0.9, 1, 10).is_nan());
/// ```
pub fn auc_standard_error(auc: f64, positives: usize, negatives: usize) -> f64 {
    if positives < 2 || negatives < 2 {
        return f64::NAN;
    }
    let (n1, n2) = (positives as f64, negatives as f64);
    let q1 = auc / (2.0 - auc);
    let q2 = 2.0 * auc * auc / (1.0 + auc);
    let a2 = auc * auc;
    ((auc * (1.0 - auc) + (n1 - 1.0) * (q1 - a2) + (n2 - 1.0) * (q2 - a2)) / (n1 * n2)).sqrt()
}

/// Points of a ROC curve, scikit-learn's `roc_curve(y_true, scores, drop_intermediate=False)`
/// layout: `thresholds` run downwards, starting at `+inf` (the point `(0, 0)`), then every
/// distinct score; point `i` is `fpr[i] = #{negatives with score >= thresholds[i]} / N` and
/// `tpr[i]` likewise over positives. The last point is `(1, 1)`. No intermediate (collinear)
/// points are dropped, so there is one point per distinct score.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// False-positive rate, non-decreasing, `[n_points]`.
    pub fpr: Vec<f64>,
    /// True-positive rate, non-decreasing, `[n_points]`.
    pub tpr: Vec<f64>,
    /// Score threshold of each point (predict positive when `score >= threshold`), decreasing.
    pub thresholds: Vec<f64>,
}

impl RocCurve {
    /// Trapezoidal area under the curve; equals [`roc_auc`] of the same data (up to rounding).
    pub fn auc(&self) -> f64 {
        self.fpr
            .windows(2)
            .zip(self.tpr.windows(2))
            .map(|(x, y)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
            .sum()
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.fpr.len()
    }

    /// Whether the curve has no points (never the case for a curve from [`roc_curve`]).
    pub fn is_empty(&self) -> bool {
        self.fpr.is_empty()
    }
}

impl fmt::Display for RocCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ROC curve, {} points, AUC {:.4}", self.len(), self.auc())?;
        writeln!(f, "{:>12} {:>8} {:>8}", "threshold", "fpr", "tpr")?;
        for i in 0..self.len() {
            writeln!(
                f,
                "{:>12.6} {:>8.4} {:>8.4}",
                self.thresholds[i], self.fpr[i], self.tpr[i]
            )?;
        }
        Ok(())
    }
}

/// The ROC curve of `scores` against `y_true` (see [`RocCurve`] for the layout). Same errors as
/// [`roc_auc`].
pub fn roc_curve(y_true: &[bool], scores: &[f64]) -> Result<RocCurve> {
    let (positives, negatives) = check_binary(y_true, scores)?;
    let order = order_desc(scores);
    let mut curve = RocCurve {
        fpr: vec![0.0],
        tpr: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            if y_true[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        curve.fpr.push(fp as f64 / negatives as f64);
        curve.tpr.push(tp as f64 / positives as f64);
        curve.thresholds.push(s);
    }
    Ok(curve)
}

/// Check a `[n, n_classes]` probability matrix against labels.
fn check_proba<S: Data<Elem = f64>>(labels: &[usize], proba: &ArrayBase<S, Ix2>) -> Result<()> {
    if labels.len() != proba.nrows() {
        return Err(KnnError::LengthMismatch {
            what: "class scores",
            rows: proba.nrows(),
            labels: labels.len(),
        });
    }
    if labels.is_empty() {
        return Err(KnnError::Empty {
            what: "class scores",
        });
    }
    if proba.ncols() == 0 {
        return Err(KnnError::ZeroFeatures {
            what: "class scores",
        });
    }
    check_labels(labels, proba.ncols())?;
    for ((row, col), v) in proba.indexed_iter() {
        if !v.is_finite() {
            return Err(KnnError::NonFinite {
                what: "class scores",
                row,
                col,
            });
        }
    }
    Ok(())
}

/// The one-vs-rest ROC curve of class `class`: positives are the samples labelled `class`,
/// scores are column `class` of `proba` (`[n, n_classes]`). For plotting one curve per class.
pub fn roc_curve_ovr<S: Data<Elem = f64>>(
    labels: &[usize],
    proba: &ArrayBase<S, Ix2>,
    class: usize,
) -> Result<RocCurve> {
    check_proba(labels, proba)?;
    if class >= proba.ncols() {
        return Err(KnnError::ScoreShape {
            expected: class + 1,
            got: proba.ncols(),
        });
    }
    let y: Vec<bool> = labels.iter().map(|&l| l == class).collect();
    roc_curve(&y, &proba.column(class).to_vec())
}

/// One-vs-rest ROC AUC: per class, and their unweighted (macro) mean.
#[derive(Debug, Clone, PartialEq)]
pub struct OvrAuc {
    /// Mean of the defined per-class AUCs.
    pub macro_auc: f64,
    /// AUC of class `c` against all others, `[n_classes]`; `None` where `c` does not occur in
    /// `y_true` (no positives: undefined, skipped from the mean; scikit-learn would raise).
    pub per_class: Vec<Option<f64>>,
}

impl OvrAuc {
    /// Classes skipped because they do not occur in `y_true`.
    pub fn skipped(&self) -> Vec<usize> {
        (0..self.per_class.len())
            .filter(|&c| self.per_class[c].is_none())
            .collect()
    }
}

impl fmt::Display for OvrAuc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ROC AUC (one-vs-rest, macro) {:.4} [", self.macro_auc)?;
        for (c, a) in self.per_class.iter().enumerate() {
            if c > 0 {
                write!(f, ", ")?;
            }
            match a {
                Some(a) => write!(f, "{c}: {a:.4}")?,
                None => write!(f, "{c}: absent")?,
            }
        }
        write!(f, "]")
    }
}

/// Multi-class ROC AUC from class-probability scores, one-vs-rest and macro-averaged:
/// for each class `c`, the binary [`roc_auc`] of `labels == c` against `proba[:, c]`; then the
/// plain mean over classes — scikit-learn's
/// `roc_auc_score(labels, proba, multi_class="ovr", average="macro")`.
///
/// `labels`: `[n]` class indices in `0..n_classes`; `proba`: `[n, n_classes]` scores (usually
/// probabilities; rows need not sum to 1 here). With two classes the result equals the binary
/// AUC of `proba[:, 1]` (class 0's curve is the mirror image of class 1's when the rows sum to 1).
///
/// A class that does not occur in `labels` is skipped (`None` in [`OvrAuc::per_class`]) and left
/// out of the mean. Errors: shape mismatch, empty input, non-finite scores, a label
/// `>= n_classes`, or fewer than two classes occurring in `labels` ([`KnnError::OvrUndefined`]).
pub fn roc_auc_ovr<S: Data<Elem = f64>>(
    labels: &[usize],
    proba: &ArrayBase<S, Ix2>,
) -> Result<OvrAuc> {
    check_proba(labels, proba)?;
    let n_classes = proba.ncols();
    let mut present = vec![false; n_classes];
    labels.iter().for_each(|&l| present[l] = true);
    let n_present = present.iter().filter(|&&p| p).count();
    if n_present < 2 {
        return Err(KnnError::OvrUndefined { n_present });
    }
    let mut per_class = vec![None; n_classes];
    for c in (0..n_classes).filter(|&c| present[c]) {
        let y: Vec<bool> = labels.iter().map(|&l| l == c).collect();
        per_class[c] = Some(roc_auc(&y, &proba.column(c).to_vec())?);
    }
    let defined: Vec<f64> = per_class.iter().flatten().copied().collect();
    Ok(OvrAuc {
        macro_auc: defined.iter().sum::<f64>() / defined.len() as f64,
        per_class,
    })
}
