//! Are entropy profiles family-specific across sizes? Two checks on the families experiment's
//! depth-rescaled profiles beside its cross-validation: a kNN trained on every *other* model
//! classifies a held-out model's samples by family ([`HeldOutRow`]), and the distances between
//! models' mean profiles ([`DistanceRow`]).

use ndarray::{Array2, Axis};

use crate::stats::knn::KnnParams;
use crate::Result;

/// A model whose family has another model in the run, classified by a kNN that never saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOutRow {
    /// The held-out model.
    pub model: String,
    /// Its family (the architecture, as [`crate::model::ArchSpec::family`] names it).
    pub family: String,
    /// Rényi order (1 = Shannon).
    pub alpha: f32,
    /// Depth rescaling of the features.
    pub rescale: String,
    /// Neighbours.
    pub k: usize,
    /// The held-out model's samples.
    pub n_samples: usize,
    /// Fraction of them the kNN puts in their own family.
    pub accuracy: f64,
    /// Fraction a classifier guessing families in proportion to the training set would get.
    pub chance: f64,
}

/// The Euclidean distance between two models' mean feature rows; for a model with itself, the
/// mean distance of its samples to their mean (the spread a between-model distance compares with).
#[derive(Debug, Clone, PartialEq)]
pub struct DistanceRow {
    /// Rényi order (1 = Shannon).
    pub alpha: f32,
    /// Depth rescaling of the features.
    pub rescale: String,
    /// First model.
    pub model_a: String,
    /// Second model (equal to `model_a` for the spread).
    pub model_b: String,
    /// Distance in the features' unit (nats per depth point).
    pub distance: f64,
}

/// What the two checks need of each sample: its model and its family label.
pub(super) struct Labels<'a> {
    /// Per sample: model name.
    pub models: Vec<&'a str>,
    /// Per sample: family index into `families`.
    pub y: Vec<usize>,
    /// Family names, in order of first appearance.
    pub families: Vec<String>,
}

impl<'a> Labels<'a> {
    /// Labels from `(model, family)` per sample.
    pub fn new(samples: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut out = Labels {
            models: Vec::new(),
            y: Vec::new(),
            families: Vec::new(),
        };
        for (m, f) in samples {
            let c = match out.families.iter().position(|g| g == f) {
                Some(c) => c,
                None => {
                    out.families.push(f.to_string());
                    out.families.len() - 1
                }
            };
            out.models.push(m);
            out.y.push(c);
        }
        out
    }

    /// Model names in order of first appearance.
    fn model_names(&self) -> Vec<&'a str> {
        let mut m: Vec<&str> = Vec::new();
        for &s in &self.models {
            if !m.contains(&s) {
                m.push(s);
            }
        }
        m
    }

    fn rows_of(&self, model: &str, keep: bool) -> Vec<usize> {
        (0..self.models.len())
            .filter(|&i| (self.models[i] == model) == keep)
            .collect()
    }
}

/// For every model whose family has another model: fit a kNN (each `k` of `ks` no larger than
/// the training set) on the other models' rows of `x`, and count how many of the held-out
/// model's rows it puts in their family.
pub(super) fn held_out(
    x: &Array2<f64>,
    labels: &Labels<'_>,
    ks: &[usize],
    alpha: f32,
    rescale: &str,
) -> Result<Vec<HeldOutRow>> {
    let mut out = Vec::new();
    for model in labels.model_names() {
        let test = labels.rows_of(model, true);
        let train = labels.rows_of(model, false);
        let Some(&family) = test.first().map(|&i| &labels.y[i]) else {
            continue;
        };
        if !train.iter().any(|&i| labels.y[i] == family) {
            continue;
        }
        let y_train: Vec<usize> = train.iter().map(|&i| labels.y[i]).collect();
        let x_train = x.select(Axis(0), &train);
        let x_test = x.select(Axis(0), &test);
        let chance = y_train.iter().filter(|&&c| c == family).count() as f64 / train.len() as f64;
        for &k in ks.iter().filter(|&&k| k <= train.len()) {
            let knn = KnnParams::new(k).fit(&x_train, &y_train)?;
            let hits = knn
                .predict(&x_test)?
                .iter()
                .filter(|&&c| c == family)
                .count();
            out.push(HeldOutRow {
                model: model.to_string(),
                family: labels.families[family].clone(),
                alpha,
                rescale: rescale.to_string(),
                k,
                n_samples: test.len(),
                accuracy: hits as f64 / test.len() as f64,
                chance,
            });
        }
    }
    Ok(out)
}

/// Distances between every pair of models' mean rows of `x` (and each model's spread).
pub(super) fn distances(
    x: &Array2<f64>,
    labels: &Labels<'_>,
    alpha: f32,
    rescale: &str,
) -> Vec<DistanceRow> {
    let names = labels.model_names();
    let rows: Vec<Array2<f64>> = names
        .iter()
        .map(|m| x.select(Axis(0), &labels.rows_of(m, true)))
        .collect();
    let centroids: Vec<_> = rows.iter().filter_map(|r| r.mean_axis(Axis(0))).collect();
    if centroids.len() != names.len() {
        return Vec::new();
    }
    let dist = |a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>| {
        a.iter()
            .zip(b.iter())
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            .sqrt()
    };
    let mut out = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for (j, b) in names.iter().enumerate().skip(i) {
            let distance = if i == j {
                let r = &rows[i];
                r.rows()
                    .into_iter()
                    .map(|s| dist(s, centroids[i].view()))
                    .sum::<f64>()
                    / r.nrows() as f64
            } else {
                dist(centroids[i].view(), centroids[j].view())
            };
            out.push(DistanceRow {
                alpha,
                rescale: rescale.to_string(),
                model_a: a.to_string(),
                model_b: b.to_string(),
                distance,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-made: two families, family "a" with two models whose rows sit near 0, family "b"
    // near 10. Held out, each "a" model must land in "a"; "b" has one model, so no row.
    #[test]
    fn held_out_model_lands_in_its_family() -> Result<()> {
        let pairs = [
            ("a1", "a"),
            ("a1", "a"),
            ("a2", "a"),
            ("a2", "a"),
            ("b1", "b"),
            ("b1", "b"),
        ];
        let labels = Labels::new(pairs);
        let x = ndarray::array![[0.0], [0.2], [0.5], [0.7], [10.0], [10.2]];
        let rows = held_out(&x, &labels, &[1, 3], 1.0, "linear")?;
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| r.family == "a"));
        let k1: Vec<f64> = rows
            .iter()
            .filter(|r| r.k == 1)
            .map(|r| r.accuracy)
            .collect();
        assert_eq!(k1, vec![1.0, 1.0]);
        // trained on a2 and b1 (2 of 4 rows in "a")
        assert!((rows[0].chance - 0.5).abs() < 1e-12);
        let d = distances(&x, &labels, 1.0, "linear");
        // a1 centroid 0.1, a2 0.6, b1 10.1; spreads 0.1
        let get = |a: &str, b: &str| {
            d.iter()
                .find(|r| r.model_a == a && r.model_b == b)
                .map(|r| r.distance)
        };
        assert!((get("a1", "a2").unwrap_or(f64::NAN) - 0.5).abs() < 1e-12);
        assert!((get("a1", "b1").unwrap_or(f64::NAN) - 10.0).abs() < 1e-12);
        assert!((get("a1", "a1").unwrap_or(f64::NAN) - 0.1).abs() < 1e-12);
        Ok(())
    }
}
