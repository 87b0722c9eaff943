//! Summary statistics of plain samples, one copy each: mean and standard deviation, quantiles.

/// Mean and population standard deviation (ddof = 0, numpy's default), accumulated in f64.
/// `(NaN, NaN)` for an empty sample.
///
/// ```
/// // x = [1, 2, 3, 4]: mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25
/// let (m, s) = entroscope::stats::summary::mean_std([1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(m, 2.5);
/// assert!((s - 1.25f64.sqrt()).abs() < 1e-15);
/// ```
pub fn mean_std<I>(values: I) -> (f64, f64)
where
    I: IntoIterator,
    I::Item: Into<f64>,
{
    let v: Vec<f64> = values.into_iter().map(Into::into).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Mean and its standard error `s / √n` with the sample standard deviation (ddof = 1); the
/// error is 0 for one value, and both are NaN for none.
///
/// ```
/// // x = [1, 2, 3, 4]: sample variance 5/3, standard error √(5/3) / 2
/// let (m, se) = entroscope::stats::summary::mean_se([1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(m, 2.5);
/// assert!((se - (5.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-15);
/// ```
pub fn mean_se<I>(values: I) -> (f64, f64)
where
    I: IntoIterator,
    I::Item: Into<f64>,
{
    let v: Vec<f64> = values.into_iter().map(Into::into).collect();
    let (mean, std) = mean_std(v.iter().copied());
    let n = v.len() as f64;
    let se = match v.len() {
        0 => f64::NAN,
        1 => 0.0,
        _ => std * (n / (n - 1.0)).sqrt() / n.sqrt(),
    };
    (mean, se)
}

/// Mean of the non-NaN values; NaN when there are none.
pub fn nan_mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (s, n) = values
        .into_iter()
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// The `q`-quantile (`0 ≤ q ≤ 1`) of an ascending sample, interpolated linearly between order
/// statistics (numpy's default `method="linear"`); NaN for an empty sample.
///
/// ```
/// use entroscope::stats::summary::quantile;
/// // numpy.quantile([1, 2, 4, 8], 0.25) = 1 + 0.75 * (2 - 1) = 1.75
/// assert_eq!(quantile(&[1.0, 2.0, 4.0, 8.0], 0.25), 1.75);
/// assert!(quantile(&[], 0.5).is_nan());
/// ```
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Median and interquartile range per column of ragged rows (`rows[i][column]`), over the finite
/// values of each column: `(median, q25, q75)`, one entry per column.
pub fn median_iqr(rows: &[&[f32]]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n_columns = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for c in 0..n_columns {
        let mut v: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.get(c).map(|&x| f64::from(x)))
            .filter(|x| x.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        out.0.push(quantile(&v, 0.5));
        out.1.push(quantile(&v, 0.25));
        out.2.push(quantile(&v, 0.75));
    }
    out
}
