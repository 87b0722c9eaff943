//! From entropy profiles to kNN feature rows: layer selection, depth rescaling, step windows,
//! and a 2-D PCA for the family scatter.

use ndarray::Array2;

use crate::profile::{pad_zeros, rescale_linear, LayerProfile, LayerSet};
use crate::{Error, Result};

/// How profiles of models with different depth get one feature length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rescale {
    /// No rescaling: every profile must already have the same length (else an error).
    None,
    /// Linear interpolation onto `n` equally spaced relative depths `0..=1`
    /// ([`rescale_linear`]; our default, `n = 32`).
    Linear(usize),
    /// Append zeros up to the longest profile, as the reference code does ([`pad_zeros`]).
    #[default]
    PadZeros,
}

impl std::fmt::Display for Rescale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rescale::None => write!(f, "none"),
            Rescale::Linear(n) => write!(f, "linear({n})"),
            Rescale::PadZeros => write!(f, "zero-pad"),
        }
    }
}

/// The per-block profile of one generation: the mean over steps of every block's entropy,
/// `[L]` (embeddings excluded, as the reference code's `hook_resid_post` of each block).
///
/// Errors: a malformed profile or one without steps.
pub fn block_means(p: &LayerProfile) -> Result<Vec<f32>> {
    p.validate()?;
    if p.n_positions() == 0 {
        return Err(Error::NotEnoughData(format!(
            "profile of prompt {} has no generation steps",
            p.prompt_id
        )));
    }
    Ok(p.mean_over_positions()[1..].to_vec())
}

/// The window features of one generation: `n_windows` consecutive windows of steps, each
/// averaged per block, concatenated window by window (`[n_windows × L]`, embeddings excluded).
pub fn block_windows(p: &LayerProfile, n_windows: usize) -> Result<Vec<f32>> {
    p.window_means(n_windows, LayerSet::BlocksOnly)
}

/// Put per-layer vectors (one per sample; a window feature counts as `windows` consecutive
/// per-layer vectors of length `L`) onto one length and stack them into `[n_samples, n_features]`.
///
/// `windows` splits each row into that many equal per-layer segments that are rescaled one by
/// one (1 for mean profiles). With [`Rescale::None`] all rows must have the same length.
///
/// Errors: no rows; a row not divisible into `windows` segments; unequal lengths with
/// [`Rescale::None`] ([`Error::InvalidParameter`] naming the two lengths); a segment of one
/// layer with [`Rescale::Linear`]; NaN / inf values ([`Error::NonFinite`]).
///
/// ```
/// use entroscope::papers::entropy_lens::features::{feature_matrix, Rescale};
/// let x = feature_matrix(&[vec![1.0, 3.0], vec![2.0, 4.0, 6.0]], 1, Rescale::Linear(3))?;
/// assert_eq!(x.row(0).to_vec(), vec![1.0, 2.0, 3.0]);
/// assert_eq!(x.row(1).to_vec(), vec![2.0, 4.0, 6.0]);
/// let x = feature_matrix(&[vec![1.0, 3.0], vec![2.0, 4.0, 6.0]], 1, Rescale::PadZeros)?;
/// assert_eq!(x.row(0).to_vec(), vec![1.0, 3.0, 0.0]);
/// assert!(feature_matrix(&[vec![1.0, 3.0], vec![2.0, 4.0, 6.0]], 1, Rescale::None).is_err());
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn feature_matrix(rows: &[Vec<f32>], windows: usize, rescale: Rescale) -> Result<Array2<f64>> {
    if rows.is_empty() {
        return Err(Error::NotEnoughData(
            "no profiles to build features from".into(),
        ));
    }
    if windows == 0 {
        return Err(Error::invalid("windows", 0, "at least one window per row"));
    }
    for (i, r) in rows.iter().enumerate() {
        if r.is_empty() || r.len() % windows != 0 {
            return Err(Error::invalid(
                "profile",
                format!("row {i} of length {}", r.len()),
                format!("a non-empty row made of {windows} equal per-layer windows"),
            ));
        }
        if let Some(j) = r.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: format!("entropy profile {i} at feature {j}"),
            });
        }
    }
    let max_seg = rows.iter().map(|r| r.len() / windows).max().unwrap_or(0);
    let seg_out = match rescale {
        Rescale::None => {
            let first = rows[0].len();
            if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != first) {
                return Err(Error::invalid(
                    "profiles",
                    format!("row 0 has {first} values, row {i} has {}", r.len()),
                    "profiles of equal length; pass Rescale::Linear(n) or Rescale::PadZeros to \
                     compare models of different depth",
                ));
            }
            max_seg
        }
        Rescale::Linear(n) => n,
        Rescale::PadZeros => max_seg,
    };
    let mut x = Array2::<f64>::zeros((rows.len(), seg_out * windows));
    for (i, r) in rows.iter().enumerate() {
        let seg = r.len() / windows;
        for w in 0..windows {
            let part = &r[w * seg..(w + 1) * seg];
            let v = match rescale {
                Rescale::None => part.to_vec(),
                Rescale::Linear(n) => rescale_linear(part, n)?,
                Rescale::PadZeros => pad_zeros(part, seg_out)?,
            };
            for (j, &val) in v.iter().enumerate() {
                x[[i, w * seg_out + j]] = f64::from(val);
            }
        }
    }
    Ok(x)
}

/// Standardize columns to zero mean and unit (population) variance; constant columns become 0.
pub fn standardize(x: &Array2<f64>) -> Array2<f64> {
    let mut out = x.clone();
    let n = x.nrows().max(1) as f64;
    for mut col in out.columns_mut() {
        let mean = col.sum() / n;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let sd = var.sqrt();
        col.mapv_inplace(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 });
    }
    out
}

/// The first two principal components of the rows of `x` (`[n, f]`, centred here): scores
/// `[n, 2]` and the fraction of variance each explains. Power iteration with deflation on the
/// `[f, f]` covariance (f is small: a profile's layers); deterministic start vector.
///
/// Errors: fewer than 2 rows or 1 column.
pub fn pca_2d(x: &Array2<f64>) -> Result<(Array2<f64>, [f64; 2])> {
    let (n, f) = x.dim();
    if n < 2 || f == 0 {
        return Err(Error::NotEnoughData(format!(
            "PCA needs at least 2 samples and 1 feature (got {n} × {f})"
        )));
    }
    let mean = x.sum_axis(ndarray::Axis(0)) / n as f64;
    let xc = x - &mean;
    let mut cov = xc.t().dot(&xc) / (n as f64 - 1.0);
    let total: f64 = (0..f).map(|i| cov[[i, i]]).sum();
    let mut scores = Array2::<f64>::zeros((n, 2));
    let mut explained = [0.0; 2];
    for (c, ev) in explained.iter_mut().enumerate().take(f) {
        let mut v = ndarray::Array1::<f64>::from_iter((0..f).map(|i| 1.0 + (i as f64) * 0.01));
        let mut lambda = 0.0;
        for _ in 0..500 {
            let w = cov.dot(&v);
            let norm = w.dot(&w).sqrt();
            if norm <= f64::MIN_POSITIVE {
                break;
            }
            let next = w / norm;
            let diff = (&next - &v).mapv(f64::abs).sum();
            v = next;
            lambda = norm;
            if diff < 1e-12 {
                break;
            }
        }
        // Sign convention: the largest-magnitude loading is positive.
        let (imax, _) =
            v.iter().enumerate().fold(
                (0, 0.0f64),
                |a, (i, &x)| if x.abs() > a.1 { (i, x.abs()) } else { a },
            );
        if v[imax] < 0.0 {
            v.mapv_inplace(|x| -x);
        }
        scores.column_mut(c).assign(&xc.dot(&v));
        *ev = if total > 0.0 { lambda / total } else { 0.0 };
        let outer = v
            .view()
            .insert_axis(ndarray::Axis(1))
            .dot(&v.view().insert_axis(ndarray::Axis(0)));
        cov = cov - outer * lambda;
    }
    Ok((scores, explained))
}
