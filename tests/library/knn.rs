//! Golden values and invariants for `entroscope::stats::knn`: kNN, stratified folds, ROC AUC, the dummy
//! baseline. Hand-derived numbers carry their derivation; scikit-learn numbers carry the script
//! that produced them (scikit-learn 1.9.1, numpy 2.4.6, in a throwaway venv:
//! `python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn`).

use entroscope::stats::knn::{
    cross_validate, CommonNearestNeighbour, CvReport, KnnError, KnnParams, ParamGuard,
    StratifiedDummy, StratifiedKFold, VoteTieBreak,
};
use entroscope::stats::{roc_auc, roc_auc_ovr, roc_curve, roc_curve_ovr};
use ndarray::{array, Array2, Axis};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12
}

fn assert_all_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(close(*g, *w), "{got:?} vs {want:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// ROC AUC
// ---------------------------------------------------------------------------------------------

/// Binary AUC with ties, counted by hand.
///
/// y      = [1,   0,   1,   0,   1,   0  ]
/// scores = [0.8, 0.8, 0.6, 0.4, 0.4, 0.2]
/// positives 0.8, 0.6, 0.4 against negatives 0.8, 0.4, 0.2 (3 × 3 = 9 pairs; win 1, tie ½):
///   p = 0.8: vs 0.8 ½, vs 0.4 1, vs 0.2 1  → 2.5
///   p = 0.6: vs 0.8 0, vs 0.4 1, vs 0.2 1  → 2
///   p = 0.4: vs 0.8 0, vs 0.4 ½, vs 0.2 1  → 1.5
///   total 6 / 9 = 2/3        (scikit-learn: roc_auc_score(y, s) = 0.6666666666666666)
#[test]
fn binary_auc_with_ties_by_hand() {
    let y = [true, false, true, false, true, false];
    let s = [0.8, 0.8, 0.6, 0.4, 0.4, 0.2];
    let auc = roc_auc(&y, &s).unwrap();
    assert!(close(auc, 2.0 / 3.0), "{auc}");
    assert_eq!(auc, 0.6666666666666666);
    // Order of samples does not matter.
    let (yr, sr): (Vec<bool>, Vec<f64>) = y.iter().zip(&s).rev().map(|(a, b)| (*a, *b)).unzip();
    assert_eq!(roc_auc(&yr, &sr).unwrap(), auc);
}

/// The ROC curve of the example above, point by point (threshold t: predict positive if s >= t):
///   t = inf : tp 0 fp 0 → (0, 0)
///   t = 0.8 : tp 1 fp 1 → (1/3, 1/3)
///   t = 0.6 : tp 2 fp 1 → (1/3, 2/3)
///   t = 0.4 : tp 3 fp 2 → (2/3, 1)
///   t = 0.2 : tp 3 fp 3 → (1, 1)
/// scikit-learn `roc_curve(y, s, drop_intermediate=False)` gives exactly these:
///   fpr [0.0, 0.333.., 0.333.., 0.666.., 1.0], tpr [0.0, 0.333.., 0.666.., 1.0, 1.0],
///   thresholds [inf, 0.8, 0.6, 0.4, 0.2]
/// Trapezoids: (1/3)(0+1/3)/2 + 0 + (1/3)(2/3+1)/2 + (1/3)(1+1)/2 = 1/18 + 5/18 + 6/18 = 2/3.
#[test]
fn roc_curve_matches_hand_and_sklearn() {
    let y = [true, false, true, false, true, false];
    let s = [0.8, 0.8, 0.6, 0.4, 0.4, 0.2];
    let c = roc_curve(&y, &s).unwrap();
    let t = 1.0 / 3.0;
    assert_all_close(&c.fpr, &[0.0, t, t, 2.0 * t, 1.0]);
    assert_all_close(&c.tpr, &[0.0, t, 2.0 * t, 1.0, 1.0]);
    assert_eq!(c.thresholds[0], f64::INFINITY);
    assert_eq!(&c.thresholds[1..], &[0.8, 0.6, 0.4, 0.2]);
    assert!(close(c.auc(), 2.0 / 3.0));
    assert!(close(c.auc(), roc_auc(&y, &s).unwrap()));
    assert!(c.to_string().contains("5 points"));
}

#[test]
fn binary_auc_extremes() {
    let y = [true, true, false, false];
    assert_eq!(roc_auc(&y, &[0.9, 0.8, 0.2, 0.1]).unwrap(), 1.0);
    assert_eq!(roc_auc(&y, &[0.1, 0.2, 0.8, 0.9]).unwrap(), 0.0);
    // All scores equal: every pair ties → ½.
    assert_eq!(roc_auc(&y, &[0.5; 4]).unwrap(), 0.5);
    // Scores need not be probabilities (negative, large).
    assert_eq!(roc_auc(&y, &[-1.0, 1e9, -3.0, -2.0]).unwrap(), 1.0);
}

#[test]
fn binary_auc_errors() {
    assert_eq!(
        roc_auc(&[true, true], &[0.1, 0.2]).unwrap_err(),
        KnnError::AucUndefined {
            positives: 2,
            negatives: 0
        }
    );
    assert!(matches!(
        roc_auc(&[true, false], &[0.1]),
        Err(KnnError::LengthMismatch { .. })
    ));
    assert!(matches!(roc_auc(&[], &[]), Err(KnnError::Empty { .. })));
    assert_eq!(
        roc_auc(&[true, false], &[0.1, f64::NAN]).unwrap_err(),
        KnnError::NonFinite {
            what: "ROC scores",
            row: 1,
            col: 0
        }
    );
    assert!(matches!(
        roc_curve(&[false, false], &[0.1, 0.2]),
        Err(KnnError::AucUndefined { .. })
    ));
}

/// linfa's `BinaryClassification::roc` (f32, `Pr` probabilities) agrees with ours on the area, both
/// on the tie example (ties are grouped there too) and on a tie-free one; it is not used because
/// of its f32 / silent-filtering / panicking behaviour (see the `knn` module docs).
#[test]
fn linfa_roc_area_agrees() {
    use linfa::prelude::{BinaryClassification, Pr};
    let cases: [(&[bool], &[f64]); 2] = [
        (
            &[true, false, true, false, true, false],
            &[0.8, 0.8, 0.6, 0.4, 0.4, 0.2],
        ),
        (
            &[true, false, false, true, true, false, true],
            &[0.95, 0.9, 0.7, 0.65, 0.3, 0.2, 0.1],
        ),
    ];
    for (y, s) in cases {
        let pr: Vec<Pr> = s.iter().map(|&v| Pr::new(v as f32)).collect();
        let linfa_auc = pr.as_slice().roc(y).unwrap().area_under_curve() as f64;
        let ours = roc_auc(y, s).unwrap();
        assert!(
            (linfa_auc - ours).abs() < 1e-6,
            "linfa {linfa_auc} vs ours {ours}"
        );
    }
}

/// One-vs-rest macro AUC, counted by hand (kNN-like scores in thirds; each row sums to 1).
///
/// labels = [0, 0, 1, 1, 2, 2]
/// proba  = [[1,   0,   0  ],      s0
///           [1/3, 2/3, 0  ],      s1
///           [1/3, 2/3, 0  ],      s2
///           [0,   1/3, 2/3],      s3
///           [0,   1/3, 2/3],      s4
///           [1/3, 0,   2/3]]      s5
/// class 0: pos s0 (1), s1 (1/3); neg s2 (1/3), s3 (0), s4 (0), s5 (1/3); 2 × 4 = 8 pairs
///   s0 beats all 4 → 4; s1: ½ + 1 + 1 + ½ = 3          → 7/8 = 0.875
/// class 1: pos s2 (2/3), s3 (1/3); neg s0 (0), s1 (2/3), s4 (1/3), s5 (0)
///   s2: 1 + ½ + 1 + 1 = 3.5; s3: 1 + 0 + ½ + 1 = 2.5   → 6/8 = 0.75
/// class 2: pos s4 (2/3), s5 (2/3); neg s0, s1, s2 (0), s3 (2/3)
///   each: 1 + 1 + 1 + ½ = 3.5                          → 7/8 = 0.875
/// macro = (0.875 + 0.75 + 0.875) / 3 = 5/6
/// scikit-learn: roc_auc_score(labels, proba, multi_class="ovr", average="macro")
///   = 0.8333333333333334, per class [0.875, 0.75, 0.875].
#[test]
fn ovr_macro_auc_by_hand() {
    let t = 1.0 / 3.0;
    let labels = [0, 0, 1, 1, 2, 2];
    let proba = array![
        [1.0, 0.0, 0.0],
        [t, 2.0 * t, 0.0],
        [t, 2.0 * t, 0.0],
        [0.0, t, 2.0 * t],
        [0.0, t, 2.0 * t],
        [t, 0.0, 2.0 * t]
    ];
    let auc = roc_auc_ovr(&labels, &proba).unwrap();
    assert_eq!(auc.per_class, vec![Some(0.875), Some(0.75), Some(0.875)]);
    assert!(close(auc.macro_auc, 5.0 / 6.0));
    assert!(auc.skipped().is_empty());
    assert!(auc.to_string().contains("0.8333"));
    // Per-class curve for plotting: class 1's area is its AUC.
    assert!(close(
        roc_curve_ovr(&labels, &proba, 1).unwrap().auc(),
        0.75
    ));
}

/// With two classes the OvR macro average equals the binary AUC of column 1 (class 0's ROC is the
/// mirror image of class 1's), as scikit-learn's binary case.
#[test]
fn ovr_with_two_classes_is_binary_auc() {
    let labels = [1, 0, 1, 0, 1, 0];
    let p1 = [0.8, 0.8, 0.6, 0.4, 0.4, 0.2];
    let proba = Array2::from_shape_fn((6, 2), |(i, c)| if c == 1 { p1[i] } else { 1.0 - p1[i] });
    let y: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
    let ovr = roc_auc_ovr(&labels, &proba).unwrap();
    assert!(close(ovr.macro_auc, roc_auc(&y, &p1).unwrap()));
    assert!(close(ovr.macro_auc, 2.0 / 3.0));
}

/// A class absent from y_true is skipped (scikit-learn raises instead) and left out of the mean.
#[test]
fn ovr_skips_absent_class() {
    let labels = [0, 0, 1, 1];
    let proba = array![
        [0.6, 0.2, 0.2],
        [0.2, 0.5, 0.3],
        [0.3, 0.4, 0.3],
        [0.1, 0.8, 0.1]
    ];
    // class 0: pos 0.6, 0.2 vs neg 0.3, 0.1 → 1 + 1 + 0 + 1 = 3/4
    // class 1: pos 0.4, 0.8 vs neg 0.2, 0.5 → 1 + 0 + 1 + 1 = 3/4
    let auc = roc_auc_ovr(&labels, &proba).unwrap();
    assert_eq!(auc.per_class, vec![Some(0.75), Some(0.75), None]);
    assert_eq!(auc.skipped(), vec![2]);
    assert_eq!(auc.macro_auc, 0.75);
    assert!(auc.to_string().contains("2: absent"));
}

#[test]
fn ovr_errors() {
    let proba = array![[0.5, 0.5], [0.4, 0.6]];
    assert_eq!(
        roc_auc_ovr(&[1, 1], &proba).unwrap_err(),
        KnnError::OvrUndefined { n_present: 1 }
    );
    assert_eq!(
        roc_auc_ovr(&[0, 2], &proba).unwrap_err(),
        KnnError::LabelOutOfRange {
            label: 2,
            index: 1,
            n_classes: 2
        }
    );
    assert!(matches!(
        roc_auc_ovr(&[0, 1, 0], &proba),
        Err(KnnError::LengthMismatch { .. })
    ));
    let bad = array![[0.5, f64::NAN], [0.4, 0.6]];
    assert!(matches!(
        roc_auc_ovr(&[0, 1], &bad),
        Err(KnnError::NonFinite { row: 0, col: 1, .. })
    ));
    assert!(matches!(
        roc_curve_ovr(&[0, 1], &proba, 5),
        Err(KnnError::ScoreShape { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// kNN against scikit-learn
// ---------------------------------------------------------------------------------------------

/// Toy dataset: 24 samples, 3 overlapping classes (10 / 8 / 6), 2 features, no two training points
/// at the same distance from any sample (smallest gap between sorted distances 2e-4), so neighbour
/// sets are unambiguous. Produced by
/// ```python
/// import numpy as np
/// rng = np.random.default_rng(20250216)
/// y = np.array([0]*10 + [1]*8 + [2]*6); rng.shuffle(y)
/// centers = np.array([[0.0, 0.0], [1.5, 0.0], [0.75, 1.3]])
/// X = np.round(centers[y] + rng.normal(scale=0.8, size=(24, 2)), 3)
/// ```
fn toy() -> (Array2<f64>, Vec<usize>) {
    let y = vec![
        2, 0, 0, 2, 1, 0, 2, 1, 0, 2, 1, 1, 1, 0, 1, 0, 0, 2, 1, 1, 0, 0, 0, 2,
    ];
    let x = array![
        [1.301, 1.751],
        [-1.224, -0.706],
        [0.002, 0.31],
        [2.363, 0.723],
        [1.069, -1.195],
        [-1.433, 0.79],
        [1.208, 0.237],
        [1.252, 0.078],
        [-0.351, 0.433],
        [0.538, 1.716],
        [0.413, -0.251],
        [0.061, -0.406],
        [2.184, -0.55],
        [0.862, 0.067],
        [1.633, -0.047],
        [-0.104, 0.347],
        [0.539, -0.278],
        [1.05, 1.858],
        [1.778, 0.179],
        [1.771, -0.484],
        [-0.606, -0.081],
        [0.912, 1.151],
        [-0.903, -0.662],
        [0.576, 0.949]
    ];
    (x, y)
}

// The reference numbers below come from (same X, y as `toy()`):
// ```python
// from sklearn.model_selection import StratifiedKFold
// from sklearn.neighbors import KNeighborsClassifier
// from sklearn.metrics import roc_auc_score, accuracy_score
// folds = list(StratifiedKFold(n_splits=4).split(X, y))          # unshuffled
// print([te.tolist() for _, te in folds])
// for k in (3, 5):
//     acc, auc = [], []
//     for tr, te in folds:
//         m = KNeighborsClassifier(n_neighbors=k).fit(X[tr], y[tr])
//         acc.append(accuracy_score(y[te], m.predict(X[te])))
//         auc.append(roc_auc_score(y[te], m.predict_proba(X[te]), multi_class="ovr", average="macro"))
//     print(k, acc, np.mean(acc), np.std(acc), auc, np.mean(auc), np.std(auc))
// m = KNeighborsClassifier(n_neighbors=5).fit(X, y)
// Q = np.array([[0.0, 0.0], [1.5, 0.0], [0.75, 1.3], [1.0, 0.5]])
// print(m.predict_proba(Q), m.predict(Q), m.kneighbors(Q[3:4]))
// ```

#[test]
fn unshuffled_folds_equal_sklearn() {
    let (_, y) = toy();
    let folds = StratifiedKFold::new(4).shuffle(false).split(&y).unwrap();
    let want: [&[usize]; 4] = [
        &[0, 1, 2, 3, 4, 7],
        &[5, 6, 8, 9, 10, 11],
        &[12, 13, 14, 15, 16, 17],
        &[18, 19, 20, 21, 22, 23],
    ];
    for (f, w) in folds.iter().zip(want) {
        assert_eq!(f.test, w);
        assert_eq!(f.train.len() + f.test.len(), 24);
    }
}

#[test]
fn cv_matches_sklearn_knn() {
    let (x, y) = toy();
    let cv = StratifiedKFold::new(4).shuffle(false);
    struct Want {
        k: usize,
        acc: [f64; 4],
        acc_mean: f64,
        acc_std: f64,
        auc: [f64; 4],
        auc_mean: f64,
        auc_std: f64,
    }
    let wants = [
        Want {
            k: 3,
            acc: [
                0.6666666666666666,
                0.5,
                0.6666666666666666,
                0.6666666666666666,
            ],
            acc_mean: 0.6249999999999999,
            acc_std: 0.07216878364870322,
            auc: [0.875, 0.625, 0.9074074074074074, 0.8074074074074075],
            auc_mean: 0.8037037037037037,
            auc_std: 0.10930044735267647,
        },
        Want {
            k: 5,
            acc: [
                0.8333333333333334,
                0.5,
                0.6666666666666666,
                0.6666666666666666,
            ],
            acc_mean: 0.6666666666666666,
            acc_std: 0.11785113019775793,
            auc: [
                0.8958333333333334,
                0.6666666666666666,
                0.8796296296296297,
                0.8629629629629628,
            ],
            auc_mean: 0.8262731481481481,
            auc_std: 0.09287882552165057,
        },
    ];
    for w in wants {
        for algo in [
            CommonNearestNeighbour::KdTree,
            CommonNearestNeighbour::BallTree,
            CommonNearestNeighbour::LinearSearch,
        ] {
            let r = cross_validate(&KnnParams::new(w.k).algorithm(algo), &x, &y, &cv).unwrap();
            assert_eq!(r.k, Some(w.k));
            assert_eq!(
                (r.folds, r.n_samples, r.n_classes, r.seed),
                (4, 24, 3, None)
            );
            let acc: Vec<f64> = r.per_fold.iter().map(|s| s.accuracy).collect();
            let auc: Vec<f64> = r.per_fold.iter().map(|s| s.auc).collect();
            assert_all_close(&acc, &w.acc);
            assert_all_close(&auc, &w.auc);
            assert_all_close(
                &[r.accuracy_mean, r.accuracy_std, r.auc_mean, r.auc_std],
                &[w.acc_mean, w.acc_std, w.auc_mean, w.auc_std],
            );
        }
    }
}

#[test]
fn proba_prediction_and_tie_break_match_sklearn() {
    let (x, y) = toy();
    let q = array![[0.0, 0.0], [1.5, 0.0], [0.75, 1.3], [1.0, 0.5]];
    let model = KnnParams::new(5).fit(&x, &y).unwrap();
    let (pred, proba) = model.predict_with_proba(&q).unwrap();
    let want = array![
        [0.6, 0.4, 0.0],
        [0.0, 0.8, 0.2],
        [0.2, 0.0, 0.8],
        [0.4, 0.2, 0.4]
    ];
    assert_eq!(proba, want);
    for r in proba.axis_iter(Axis(0)) {
        assert!(close(r.sum(), 1.0));
    }
    // Last query: classes 0 and 2 tie with 2 votes each; scikit-learn and our default take the
    // smallest class index, 0.
    assert_eq!(pred.to_vec(), vec![0, 1, 2, 0]);
    assert_eq!(model.predict(&q).unwrap(), pred);
    // sklearn kneighbors([1.0, 0.5]): indices [6, 13, 7, 23, 21], labels [2, 0, 1, 2, 0],
    // distances [0.33531.., 0.45445.., 0.49151.., 0.61755.., 0.65692..].
    let nb = &model.neighbours(&q.slice(ndarray::s![3..4, ..])).unwrap()[0];
    assert_eq!(
        nb.iter().map(|n| n.index).collect::<Vec<_>>(),
        vec![6, 13, 7, 23, 21]
    );
    assert_eq!(
        nb.iter().map(|n| n.label).collect::<Vec<_>>(),
        vec![2, 0, 1, 2, 0]
    );
    assert_all_close(
        &nb.iter().map(|n| n.distance).collect::<Vec<_>>(),
        &[
            0.3353103040468634,
            0.45445901905452374,
            0.4915160221193201,
            0.6175572847922692,
            0.6569208475912452,
        ],
    );
    // Summed distances: class 0: 0.45446 + 0.65692 = 1.11138; class 2: 0.33531 + 0.61756 = 0.95287
    // → the distance-sum tie-break picks class 2.
    let by_dist = KnnParams::new(5)
        .tie_break(VoteTieBreak::SmallestDistanceSum)
        .fit(&x, &y)
        .unwrap();
    assert_eq!(by_dist.predict(&q).unwrap().to_vec(), vec![0, 1, 2, 2]);
}

// ---------------------------------------------------------------------------------------------
// kNN behaviour
// ---------------------------------------------------------------------------------------------

/// Three tight clusters far apart (distance between centres 100, spread < 1).
fn clusters(per_class: usize) -> (Array2<f64>, Vec<usize>) {
    let n = 3 * per_class;
    let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let x = Array2::from_shape_fn((n, 3), |(i, j)| {
        let c = (i % 3) as f64;
        100.0 * c * (j as f64 + 1.0) + 0.01 * ((i * 7 + j * 13) % 50) as f64
    });
    (x, y)
}

#[test]
fn separated_clusters_are_classified_perfectly() {
    let (x, y) = clusters(20);
    for k in [1, 3, 11] {
        let r = cross_validate(
            &KnnParams::new(k),
            &x,
            &y,
            &StratifiedKFold::new(10).seed(3),
        )
        .unwrap();
        assert_eq!(r.accuracy_mean, 1.0, "k = {k}");
        assert_eq!(r.auc_mean, 1.0, "k = {k}");
        assert_eq!((r.accuracy_std, r.auc_std), (0.0, 0.0));
        assert_eq!(r.predictions, y);
        assert!(r
            .per_fold
            .iter()
            .all(|s| s.auc_per_class.iter().all(|a| *a == Some(1.0))));
    }
    // A fitted model on all data predicts fresh points near each centre.
    let model = KnnParams::new(3).fit(&x, &y).unwrap();
    let q = array![
        [0.2, 0.1, 0.3],
        [100.1, 200.2, 300.0],
        [200.0, 400.0, 600.3]
    ];
    assert_eq!(model.predict(&q).unwrap().to_vec(), vec![0, 1, 2]);
    assert_eq!(
        (
            model.n_classes(),
            model.n_train(),
            model.n_features(),
            model.k()
        ),
        (3, 60, 3, 3)
    );
}

/// Points on an integer lattice sit at many exactly equal distances; the k nearest must be the
/// same for every search structure: sorted by distance, then by training index (checked against
/// a brute-force sort).
#[test]
fn equal_distances_resolved_by_training_index() {
    let pts: Vec<(f64, f64)> = (-3..=3)
        .flat_map(|a| (-3..=3).map(move |b| (a as f64, b as f64)))
        .collect();
    let x = Array2::from_shape_fn(
        (pts.len(), 2),
        |(i, j)| if j == 0 { pts[i].0 } else { pts[i].1 },
    );
    let y: Vec<usize> = (0..pts.len()).map(|i| i % 4).collect();
    let queries = array![
        [0.0, 0.0],
        [0.5, 0.5],
        [0.5, 0.0],
        [3.0, 3.0],
        [-1.5, 2.5],
        [10.0, 0.0]
    ];
    for algo in [
        CommonNearestNeighbour::KdTree,
        CommonNearestNeighbour::BallTree,
        CommonNearestNeighbour::LinearSearch,
    ] {
        for leaf in [1, 2, 16] {
            for k in [1, 2, 3, 4, 5, 8, 9, 13, 49] {
                let model = KnnParams::new(k)
                    .algorithm(algo.clone())
                    .leaf_size(leaf)
                    .fit(&x, &y)
                    .unwrap();
                let got = model.neighbours(&queries).unwrap();
                for (qi, q) in queries.axis_iter(Axis(0)).enumerate() {
                    let mut brute: Vec<(f64, usize)> = (0..pts.len())
                        .map(|i| ((x[[i, 0]] - q[0]).powi(2) + (x[[i, 1]] - q[1]).powi(2), i))
                        .collect();
                    brute.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    let want: Vec<usize> = brute[..k].iter().map(|p| p.1).collect();
                    let idx: Vec<usize> = got[qi].iter().map(|n| n.index).collect();
                    assert_eq!(idx, want, "{algo:?} leaf {leaf} k {k} query {qi}");
                }
            }
        }
    }
}

#[test]
fn knn_errors_are_typed() {
    let (x, y) = toy();
    assert_eq!(KnnParams::new(0).check().unwrap_err(), KnnError::ZeroK);
    assert_eq!(
        KnnParams::new(3).leaf_size(0).check().unwrap_err(),
        KnnError::ZeroLeafSize
    );
    assert_eq!(KnnParams::new(0).fit(&x, &y).unwrap_err(), KnnError::ZeroK);
    // k > n: a typed error at fit time, not a panic.
    assert_eq!(
        KnnParams::new(25).fit(&x, &y).unwrap_err(),
        KnnError::KTooLarge { k: 25, n_train: 24 }
    );
    assert!(KnnParams::new(24).fit(&x, &y).is_ok());
    // ... and in cross-validation, where a training fold holds 18 of the 24 samples.
    let cv = StratifiedKFold::new(4);
    assert_eq!(
        cross_validate(&KnnParams::new(19), &x, &y, &cv).unwrap_err(),
        KnnError::KTooLarge { k: 19, n_train: 18 }
    );
    assert!(cross_validate(&KnnParams::new(18), &x, &y, &cv).is_ok());
    assert_eq!(
        cross_validate(&KnnParams::new(0), &x, &y, &cv).unwrap_err(),
        KnnError::ZeroK
    );

    assert_eq!(
        KnnParams::new(3).fit(&x, &y[..10]).unwrap_err(),
        KnnError::LengthMismatch {
            what: "training data",
            rows: 24,
            labels: 10
        }
    );
    let model = KnnParams::new(3).fit(&x, &y).unwrap();
    assert_eq!(
        model.predict(&Array2::<f64>::zeros((2, 3))).unwrap_err(),
        KnnError::DimensionMismatch {
            expected: 2,
            got: 3
        }
    );
    assert_eq!(
        model.predict(&Array2::<f64>::zeros((0, 2))).unwrap().len(),
        0
    );
    let mut bad = x.clone();
    bad[[5, 1]] = f64::NAN;
    assert_eq!(
        KnnParams::new(3).fit(&bad, &y).unwrap_err(),
        KnnError::NonFinite {
            what: "training features",
            row: 5,
            col: 1
        }
    );
    assert!(matches!(
        model.predict(&array![[f64::INFINITY, 0.0]]),
        Err(KnnError::NonFinite { .. })
    ));
    assert!(matches!(
        KnnParams::new(1).fit(&Array2::<f64>::zeros((0, 2)), &[]),
        Err(KnnError::Empty { .. })
    ));
    assert!(matches!(
        KnnParams::new(1).fit(&Array2::<f64>::zeros((2, 0)), &[0, 1]),
        Err(KnnError::ZeroFeatures { .. })
    ));
    let checked = KnnParams::new(1).check().unwrap();
    assert_eq!(
        checked.fit_with_classes(&x, &y, 2).unwrap_err(),
        KnnError::LabelOutOfRange {
            label: 2,
            index: 0,
            n_classes: 2
        }
    );
    // Probability columns follow the explicit class count.
    assert_eq!(
        checked
            .fit_with_classes(&x, &y, 5)
            .unwrap()
            .predict_proba(&x)
            .unwrap()
            .ncols(),
        5
    );
}

#[test]
fn errors_convert_into_crate_error() {
    fn fails() -> entroscope::Result<()> {
        KnnParams::new(0).check()?;
        Ok(())
    }
    let e = fails().unwrap_err();
    assert!(matches!(e, entroscope::Error::Knn(KnnError::ZeroK)), "{e}");
    let e: entroscope::Error = KnnError::FoldsExceedClass {
        n_folds: 10,
        class: 2,
        count: 6,
    }
    .into();
    assert!(e.to_string().contains("class 2 has only 6 samples"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Stratified folds
// ---------------------------------------------------------------------------------------------

fn class_counts(idx: &[usize], y: &[usize], n_classes: usize) -> Vec<usize> {
    let mut c = vec![0; n_classes];
    idx.iter().for_each(|&i| c[y[i]] += 1);
    c
}

#[test]
fn stratified_folds_keep_class_proportions() {
    // 30 / 20 / 10 samples, interleaved; 5 folds → every test fold has exactly 6 / 4 / 2.
    let y: Vec<usize> = (0..60)
        .map(|i| {
            if i % 6 < 3 {
                0
            } else if i % 6 < 5 {
                1
            } else {
                2
            }
        })
        .collect();
    assert_eq!(
        class_counts(&(0..60).collect::<Vec<_>>(), &y, 3),
        vec![30, 20, 10]
    );
    for cv in [
        StratifiedKFold::new(5).seed(11),
        StratifiedKFold::new(5).shuffle(false),
    ] {
        let folds = cv.split(&y).unwrap();
        let mut tested = vec![0; 60];
        for f in &folds {
            assert_eq!(class_counts(&f.test, &y, 3), vec![6, 4, 2]);
            assert_eq!(class_counts(&f.train, &y, 3), vec![24, 16, 8]);
            f.test.iter().for_each(|&i| tested[i] += 1);
            // train and test are disjoint, ascending, and cover everything.
            assert!(
                f.test.windows(2).all(|w| w[0] < w[1]) && f.train.windows(2).all(|w| w[0] < w[1])
            );
            let mut all: Vec<usize> = f.train.iter().chain(&f.test).copied().collect();
            all.sort();
            assert_eq!(all, (0..60).collect::<Vec<_>>());
        }
        assert!(
            tested.iter().all(|&t| t == 1),
            "each sample is tested exactly once"
        );
    }
    // Uneven counts (10 / 8 / 6 over 4 folds): per fold within one of n_c / 4, fold sizes 6 each.
    let (_, y) = toy();
    for f in StratifiedKFold::new(4).seed(5).split(&y).unwrap() {
        let c = class_counts(&f.test, &y, 3);
        assert!(
            (2..=3).contains(&c[0]) && c[1] == 2 && (1..=2).contains(&c[2]),
            "{c:?}"
        );
        assert_eq!(f.test.len(), 6);
    }
}

#[test]
fn same_seed_same_folds() {
    let (x, y) = toy();
    let a = StratifiedKFold::new(4).seed(42).split(&y).unwrap();
    let b = StratifiedKFold::new(4).seed(42).split(&y).unwrap();
    let c = StratifiedKFold::new(4).seed(43).split(&y).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c, "another seed shuffles differently");
    assert_ne!(a, StratifiedKFold::new(4).shuffle(false).split(&y).unwrap());
    // And so the same report.
    let cv = StratifiedKFold::new(4).seed(42);
    let r1 = cross_validate(&KnnParams::new(3), &x, &y, &cv).unwrap();
    let r2 = cross_validate(&KnnParams::new(3), &x, &y, &cv).unwrap();
    assert_eq!(r1, r2);
    assert_eq!(r1.seed, Some(42));
}

#[test]
fn fold_count_is_validated() {
    let (_, y) = toy(); // class 2 is the smallest, with 6 samples
    assert_eq!(
        StratifiedKFold::new(1).split(&y).unwrap_err(),
        KnnError::TooFewFolds { n_folds: 1 }
    );
    assert_eq!(
        StratifiedKFold::new(7).split(&y).unwrap_err(),
        KnnError::FoldsExceedClass {
            n_folds: 7,
            class: 2,
            count: 6
        }
    );
    assert!(StratifiedKFold::new(6).split(&y).is_ok());
    // A gap in the labels (no class 1) is a class with 0 samples.
    assert_eq!(
        StratifiedKFold::new(2).split(&[0, 0, 2, 2]).unwrap_err(),
        KnnError::FoldsExceedClass {
            n_folds: 2,
            class: 1,
            count: 0
        }
    );
    assert_eq!(
        StratifiedKFold::new(2).split(&[1, 1, 1]).unwrap_err(),
        KnnError::TooFewClasses { n_classes: 1 }
    );
    assert!(matches!(
        StratifiedKFold::new(2).split(&[]),
        Err(KnnError::Empty { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Dummy baseline and report
// ---------------------------------------------------------------------------------------------

#[test]
fn stratified_dummy_is_seeded_chance() {
    let (x, y) = clusters(100);
    let cv = StratifiedKFold::new(10).seed(1);
    let d1 = cross_validate(&StratifiedDummy::new(7), &x, &y, &cv).unwrap();
    let d2 = cross_validate(&StratifiedDummy::new(7), &x, &y, &cv).unwrap();
    let d3 = cross_validate(&StratifiedDummy::new(8), &x, &y, &cv).unwrap();
    assert_eq!(d1, d2, "same seed, same predictions");
    assert_ne!(d1.predictions, d3.predictions);
    assert_eq!(d1.k, None);
    // Chance level: 3 balanced classes → accuracy ≈ 1/3, AUC ≈ 1/2 (300 samples).
    assert!((d1.accuracy_mean - 1.0 / 3.0).abs() < 0.1, "{d1}");
    assert!((d1.auc_mean - 0.5).abs() < 0.1, "{d1}");
    // Scores are one-hot of the prediction.
    for (i, row) in d1.proba.axis_iter(Axis(0)).enumerate() {
        assert_eq!(row.sum(), 1.0);
        assert_eq!(row[d1.predictions[i]], 1.0);
    }
    // The kNN beside it is far better.
    let knn = cross_validate(&KnnParams::new(3), &x, &y, &cv).unwrap();
    assert!(knn.auc_mean > d1.auc_mean + 0.4);
}

#[test]
fn dummy_draws_with_training_frequencies() {
    // 3 : 1 training labels, class 2 absent → drawn ≈ 75 % / 25 % / 0 %.
    let y_train = [0, 0, 0, 1];
    let (pred, proba) = StratifiedDummy::new(3)
        .draw(&y_train, 20_000, 3, 0)
        .unwrap();
    let frac0 = pred.iter().filter(|&&c| c == 0).count() as f64 / 20_000.0;
    assert!((frac0 - 0.75).abs() < 0.02, "{frac0}");
    assert!(pred.iter().all(|&c| c < 2));
    assert_eq!(proba.column(2).sum(), 0.0);
    // Different folds draw from different streams.
    let (p1, _) = StratifiedDummy::new(3).draw(&y_train, 50, 3, 1).unwrap();
    assert_ne!(pred[..50], p1[..]);
}

#[test]
fn report_display_and_population_std() {
    let (x, y) = toy();
    let r: CvReport = cross_validate(
        &KnnParams::new(3),
        &x,
        &y,
        &StratifiedKFold::new(4).shuffle(false),
    )
    .unwrap();
    let text = r.to_string();
    assert!(text.contains("kNN (k = 3"), "{text}");
    assert!(text.contains("stratified 4-fold CV (unshuffled)"), "{text}");
    assert!(text.contains("accuracy 0.6250 ± 0.0722"), "{text}");
    assert_eq!(text.lines().count(), 3 + 4);
    // Population std by hand: accuracies 2/3, 1/2, 2/3, 2/3, mean 5/8; deviations 1/24 (×3) and
    // -1/8 → variance (3/576 + 9/576) / 4 = 12/2304 → std = sqrt(1/192) = 0.0721687836...
    assert!(close(r.accuracy_std, (1.0f64 / 192.0).sqrt()));
    // Out-of-fold scores cover every sample with a probability row.
    assert_eq!(r.proba.dim(), (24, 3));
    assert!(r.proba.axis_iter(Axis(0)).all(|row| close(row.sum(), 1.0)));
    // A pooled ROC curve from the out-of-fold scores, ready for plotting.
    let curve = roc_curve_ovr(&y, &r.proba, 2).unwrap();
    assert_eq!(curve.fpr[0], 0.0);
    assert_eq!(*curve.tpr.last().unwrap(), 1.0);
}
