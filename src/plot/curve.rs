//! What charts are made of: [`Curve`] (one named line of x/y points) with its constructors from a
//! [`LayerProfile`] and from ROC scores, [`trapezoid_area`], and the enums that choose how curves
//! are drawn ([`Band`], [`Legend`], [`Markers`], [`Heights`]).

use crate::error::{Error, Result};
use crate::profile::LayerProfile;
use crate::stats::roc::roc_curve;
use crate::stats::summary::nan_mean;

/// One named line: `y[i]` at `x[i]`. Points need not be sorted for scatter-like uses, but lines
/// are drawn in the given order (sort by x for a function of x).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Curve {
    /// Legend label.
    pub name: String,
    /// x coordinates, one per point.
    pub x: Vec<f64>,
    /// y coordinates, one per point (as many as `x`).
    pub y: Vec<f64>,
    /// An interval shaded around the line in its colour, `(low[i], high[i])` at `x[i]`: the
    /// quartiles around a median, ± one standard error around a mean where n is small.
    pub interval: Option<(Vec<f64>, Vec<f64>)>,
    /// A reference level (chance, a dummy baseline), not a result: drawn grey and dashed, with
    /// a legend entry but no colour of the palette.
    pub reference: bool,
}

impl Curve {
    /// A series from its name and coordinates (same length; checked when charted).
    pub fn new(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Curve {
            name: name.into(),
            x,
            y,
            interval: None,
            reference: false,
        }
    }

    /// This curve under another legend name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// This curve as a reference level ([`Curve::reference`]).
    pub fn as_reference(mut self) -> Self {
        self.reference = true;
        self
    }

    /// This curve with an interval shaded around it ([`Curve::interval`]; as many values as
    /// `y` in each bound, checked when charted).
    pub fn with_interval(mut self, low: Vec<f64>, high: Vec<f64>) -> Self {
        self.interval = Some((low, high));
        self
    }

    /// This curve with ± `err[i]` shaded around it (a standard error, a standard deviation).
    pub fn with_error(self, err: &[f64]) -> Self {
        let low = self.y.iter().zip(err).map(|(y, e)| y - e).collect();
        let high = self.y.iter().zip(err).map(|(y, e)| y + e).collect();
        self.with_interval(low, high)
    }

    /// `y` against `0, 1, 2, …` (e.g. a value per layer, per step).
    pub fn from_y(name: impl Into<String>, y: Vec<f64>) -> Self {
        let x = (0..y.len()).map(|i| i as f64).collect();
        Curve::new(name, x, y)
    }

    /// A profile against relative depth `layer / n_layers` (`n_layers + 1` points in [0, 1]):
    /// `column = Some(j)` takes position column `j` (`profile.positions[j]`), `None` the mean over
    /// all positions (NaN values skipped). Named `"{short model name} #{prompt_id}"` (rename
    /// with [`Curve::named`] for a legend).
    ///
    /// Errors: [`Error::InvalidParameter`] when `j` is out of range or the profile is
    /// inconsistent; [`Error::NotEnoughData`] when it has no positions.
    pub fn from_profile(profile: &LayerProfile, column: Option<usize>) -> Result<Self> {
        let n_pos = profile.positions.len();
        let rows = profile.n_layers + 1;
        if profile.n_layers == 0 || profile.values.len() != rows * n_pos {
            return Err(Error::invalid(
                "profile",
                format!(
                    "n_layers = {}, {} positions, {} values",
                    profile.n_layers,
                    n_pos,
                    profile.values.len()
                ),
                "n_layers ≥ 1 and (n_layers + 1) × positions values",
            ));
        }
        if n_pos == 0 {
            return Err(Error::NotEnoughData("the profile has no positions".into()));
        }
        if let Some(j) = column {
            if j >= n_pos {
                return Err(Error::invalid(
                    "column",
                    j,
                    format!("a position column below {n_pos}"),
                ));
            }
        }
        let x = (0..rows)
            .map(|l| l as f64 / profile.n_layers as f64)
            .collect();
        let y = (0..rows)
            .map(|l| {
                let row = &profile.values[l * n_pos..(l + 1) * n_pos];
                match column {
                    Some(j) => f64::from(row[j]),
                    None => nan_mean(row.iter().map(|&v| f64::from(v))),
                }
            })
            .collect();
        Ok(Curve::new(
            format!(
                "{} #{}",
                crate::model::short_name(&profile.model),
                profile.prompt_id
            ),
            x,
            y,
        ))
    }

    /// The ROC curve of binary `labels` (true = positive) ranked by `scores` (higher = more
    /// positive): false-positive rate on x, true-positive rate on y, from (0, 0) to (1, 1), tied
    /// scores stepping together (so the trapezoid area equals the Mann–Whitney AUC with ties
    /// counted ½). The points are [`roc_curve`]'s; ±inf scores rank first or last (as ±`f64::MAX`,
    /// so they tie with a score of exactly ±`f64::MAX`).
    ///
    /// Errors: [`Error::InvalidParameter`] for different lengths or a NaN score,
    /// [`Error::NotEnoughData`] without at least one positive and one negative.
    pub fn roc(name: impl Into<String>, scores: &[f64], labels: &[bool]) -> Result<Self> {
        if scores.len() != labels.len() {
            return Err(Error::invalid(
                "labels",
                format!("{} labels", labels.len()),
                format!("one label per score ({})", scores.len()),
            ));
        }
        if scores.iter().any(|s| s.is_nan()) {
            return Err(Error::invalid("scores", "NaN", "finite or ±inf scores"));
        }
        let p = labels.iter().filter(|&&l| l).count();
        let n = labels.len() - p;
        if p == 0 || n == 0 {
            return Err(Error::NotEnoughData(format!(
                "a ROC curve needs positives and negatives; got {p} positive and {n} negative"
            )));
        }
        // The one ROC computation is `stats::roc`, which takes finite scores: ±inf keep their
        // place at the ends of the ranking as ±f64::MAX.
        let finite: Vec<f64> = scores.iter().map(|s| s.clamp(f64::MIN, f64::MAX)).collect();
        let curve = roc_curve(labels, &finite)?;
        Ok(Curve::new(name, curve.fpr, curve.tpr))
    }

    /// Errors: [`Error::InvalidParameter`] when `x` and `y` differ in length.
    pub(super) fn check(&self) -> Result<()> {
        if self.x.len() != self.y.len() {
            return Err(Error::invalid(
                "series",
                format!(
                    "`{}` with {} x and {} y values",
                    self.name,
                    self.x.len(),
                    self.y.len()
                ),
                "as many x as y values",
            ));
        }
        if let Some((low, high)) = &self.interval {
            if low.len() != self.y.len() || high.len() != self.y.len() {
                return Err(Error::invalid(
                    "interval",
                    format!(
                        "`{}` with {} y values and bounds of {} and {}",
                        self.name,
                        self.y.len(),
                        low.len(),
                        high.len()
                    ),
                    "one low and one high bound per y value",
                ));
            }
        }
        Ok(())
    }

    /// The interval's finite `(x, low, high)` triples, in order (none without an interval).
    pub(super) fn interval_points(&self) -> Vec<(f64, f64, f64)> {
        let Some((low, high)) = &self.interval else {
            return Vec::new();
        };
        self.x
            .iter()
            .zip(low.iter().zip(high))
            .filter(|(x, (l, h))| x.is_finite() && l.is_finite() && h.is_finite())
            .map(|(&x, (&l, &h))| (x, l, h))
            .collect()
    }

    /// The finite points, in order.
    pub(super) fn points(&self) -> Vec<(f64, f64)> {
        self.x
            .iter()
            .zip(&self.y)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(&x, &y)| (x, y))
            .collect()
    }
}

/// Area under a curve by the trapezoid rule over its finite points sorted by x (for a ROC
/// curve from (0, 0) to (1, 1), the AUC).
///
/// ```
/// # use entroscope::plot::{trapezoid_area, Curve};
/// // the diagonal of the unit square: area ½
/// assert_eq!(trapezoid_area(&Curve::new("chance", vec![0.0, 1.0], vec![0.0, 1.0])), 0.5);
/// ```
pub fn trapezoid_area(s: &Curve) -> f64 {
    let mut pts = s.points();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pts.windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum()
}

/// The spread drawn around the mean (or median) line of
/// [`entropy_vs_depth`](super::entropy_vs_depth) and [`lines`](super::lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Band {
    /// No summary line.
    #[default]
    None,
    /// Mean ± one sample standard deviation (ddof = 1) across series.
    Std,
    /// Median with the interquartile range (25th–75th percentile, linear interpolation as
    /// numpy's default) across series.
    Iqr,
}

/// Where the legend goes. `Auto` picks the corner of the plot that covers the fewest data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Legend {
    /// The corner that hides the fewest drawn points (ties: upper right, upper left, lower
    /// right, lower left); line charts put the legend beside the plot when every corner would
    /// hide some.
    #[default]
    Auto,
    /// Upper left corner of the plot.
    UpperLeft,
    /// Upper right corner of the plot.
    UpperRight,
    /// Lower left corner of the plot.
    LowerLeft,
    /// Lower right corner of the plot.
    LowerRight,
    /// Beside the plot, on the right (line charts; other kinds use the upper right corner).
    Beside,
    /// No legend.
    Hidden,
}

/// Whether line charts mark every data point ([`Chart::markers`](super::Chart::markers)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Markers {
    /// Lines only.
    #[default]
    None,
    /// A filled dot (radius 4 px) at every finite point, in the line's colour — for few,
    /// unevenly spaced points (AUC per layer, a sweep).
    Dots,
}

/// What the bars of a histogram measure ([`Chart::heights`](super::Chart::heights)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Heights {
    /// Probability density: count / (group size × bin width), so groups of different sizes
    /// compare; y axis "density".
    #[default]
    Density,
    /// Raw counts per bin; y axis "count".
    Count,
}
