//! The chart constructors: each takes plain data (slices, [`Curve`]s, a [`LayerProfile`]),
//! checks it, and returns a [`Chart`] with the axis labels and size that suit it — plus the label
//! helpers they share ([`metric_label`], [`token_label`]).
//!
//! Empty or all-NaN inputs give [`Error::NotEnoughData`], mismatched lengths
//! [`Error::InvalidParameter`]; a constructor never panics on user data.

use super::chart::{Chart, Kind};
use super::curve::{Band, Curve, Heights, Markers};
use crate::entropy::{Metric, Units};
use crate::error::{Error, Result};
use crate::profile::LayerProfile;

/// At least one curve, each consistent, and some finite point among them.
fn check_series(series: &[Curve]) -> Result<()> {
    if series.is_empty() {
        return Err(Error::NotEnoughData("no series to plot".into()));
    }
    for s in series {
        s.check()?;
    }
    if series.iter().all(|s| s.points().is_empty()) {
        return Err(Error::NotEnoughData(
            "every series is empty or has only NaN/infinite values".into(),
        ));
    }
    Ok(())
}

/// A statistic (entropy or any other) against relative depth `layer / L` ∈ [0, 1], one line per
/// series (prompt or model), optionally with the mean ± std or median + IQR across series
/// (computed on the union of the series' x values, each series linearly interpolated inside
/// its own x range). With more than 10 series the single lines are drawn faint and left out of
/// the legend.
///
/// x axis: "relative depth (layer / L)", fixed to [0, 1]; y axis: "entropy (nats)" — change it
/// with [`Chart::y_label`] for another metric or units (or use [`profiles_vs_depth`], which
/// labels from the profiles).
pub fn entropy_vs_depth(series: &[Curve], band: Band) -> Result<Chart> {
    check_series(series)?;
    Ok(Chart::new(
        Kind::Lines {
            series: series.to_vec(),
            band,
            markers: Markers::None,
            roc: false,
        },
        "relative depth (layer / L)",
        "entropy (nats)",
    )
    .x_range(0.0, 1.0))
}

/// [`entropy_vs_depth`] straight from profiles: one line per profile
/// ([`Curve::from_profile`] with `column`: `None` = mean over positions, `Some(j)` = position
/// column `j`), y label from the metric and units (e.g. "Shannon entropy (nats)").
pub fn profiles_vs_depth(
    profiles: &[LayerProfile],
    column: Option<usize>,
    band: Band,
) -> Result<Chart> {
    let series = profiles
        .iter()
        .map(|p| Curve::from_profile(p, column))
        .collect::<Result<Vec<_>>>()?;
    let chart = entropy_vs_depth(&series, band)?;
    Ok(match profiles.first() {
        Some(p) => chart.y_label(metric_label(&p.metric, p.units)),
        None => chart,
    })
}

/// A readable axis label for a metric in `units`: the information quantities carry their units,
/// ranks and probabilities (unitless) do not.
///
/// ```
/// use entroscope::entropy::{Metric, Units};
/// use entroscope::plot::metric_label;
/// assert_eq!(metric_label(&Metric::Shannon, Units::Bits), "Shannon entropy (bits)");
/// assert_eq!(metric_label(&Metric::renyi(2.0)?, Units::Nats), "Rényi entropy (α = 2) (nats)");
/// assert_eq!(metric_label(&Metric::TargetRank, Units::Nats), "rank of target token");
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn metric_label(metric: &Metric, units: Units) -> String {
    let name = match metric {
        Metric::Shannon => "Shannon entropy".to_string(),
        Metric::CrossEntropy => "cross-entropy".to_string(),
        Metric::KlToFinal => "KL to final layer".to_string(),
        Metric::TargetRank => return "rank of target token".to_string(),
        Metric::TargetProb => return "p(target token)".to_string(),
        // the order as `Metric`'s `Display` writes it ("renyi:2", "renyi:inf")
        Metric::Renyi(_) => {
            let spelled = metric.to_string();
            let order = spelled.strip_prefix("renyi:").unwrap_or(&spelled);
            format!("Rényi entropy (α = {order})")
        }
    };
    format!("{name} ({units})")
}

/// A generic x/y chart, one line per series (AUC vs layer, a temperature trace, …), with an
/// optional summary band ([`Chart::band`]) and markers ([`Chart::markers`]). Axis labels default
/// to "x" and "y"; set them with [`Chart::x_label`] / [`Chart::y_label`].
pub fn lines(series: &[Curve]) -> Result<Chart> {
    check_series(series)?;
    Ok(Chart::new(
        Kind::Lines {
            series: series.to_vec(),
            band: Band::None,
            markers: Markers::None,
            roc: false,
        },
        "x",
        "y",
    ))
}

/// ROC curves (x = false-positive rate, y = true-positive rate, both [0, 1]), each labelled with
/// its AUC ([`trapezoid_area`](super::trapezoid_area)) in the legend, over the dashed chance diagonal. Build the curves
/// with [`Curve::roc`] or pass (FPR, TPR) points running from (0, 0) to (1, 1).
pub fn roc(curves: &[Curve]) -> Result<Chart> {
    check_series(curves)?;
    Ok(Chart::new(
        Kind::Lines {
            series: curves.to_vec(),
            band: Band::None,
            markers: Markers::None,
            roc: true,
        },
        "false positive rate",
        "true positive rate",
    )
    .x_range(0.0, 1.0)
    .y_range(0.0, 1.0)
    .size(560, 520))
}

/// Layer × position heatmap of a profile: layer 0 (embeddings) at the bottom, the token
/// strings on the x axis (spaces shown as `␣`, newlines as `↵`, long tokens cut with `…`,
/// thinned out when they would overlap), a viridis colour scale with a colour bar labelled with
/// the metric and units. The colour scale spans the 2nd–98th percentile of the cells, so one
/// extreme row or column (the embeddings, the first token) does not wash out the rest; cells
/// beyond take the end colours. [`Chart::y_range`] fixes the colour range (to compare heatmaps),
/// [`Chart::cell_labels`] writes each cell's top token (tuned-lens's picture).
pub fn heatmap(profile: &LayerProfile) -> Result<Chart> {
    let n_pos = profile.positions.len();
    if profile.tokens.len() != n_pos {
        return Err(Error::invalid(
            "profile.tokens",
            format!("{} tokens", profile.tokens.len()),
            format!("one token per position ({n_pos})"),
        ));
    }
    let values: Vec<f64> = profile.values.iter().map(|&v| f64::from(v)).collect();
    let chart = heatmap_matrix(&values, profile.n_layers + 1, &profile.tokens)?;
    Ok(chart.y_label(metric_label(&profile.metric, profile.units)))
}

/// Heatmap of a row-major `[n_rows, col_labels.len()]` matrix: row `r` drawn at height `r`
/// (row 0 at the bottom, labelled by its index, "layer" on the y axis), columns labelled with
/// `col_labels` (shown as for [`heatmap`]). Non-finite cells are drawn light grey.
pub fn heatmap_matrix<S: AsRef<str>>(
    values: &[f64],
    n_rows: usize,
    col_labels: &[S],
) -> Result<Chart> {
    let n_cols = col_labels.len();
    if n_rows == 0 || n_cols == 0 {
        return Err(Error::NotEnoughData(format!(
            "a heatmap needs at least one row and one column; got {n_rows} × {n_cols}"
        )));
    }
    if values.len() != n_rows * n_cols {
        return Err(Error::invalid(
            "values",
            format!("{} values", values.len()),
            format!(
                "n_rows × columns = {n_rows} × {n_cols} = {}",
                n_rows * n_cols
            ),
        ));
    }
    if !values.iter().any(|v| v.is_finite()) {
        return Err(Error::NotEnoughData(
            "every heatmap cell is NaN or infinite".into(),
        ));
    }
    Ok(Chart::new(
        Kind::Heatmap {
            values: values.to_vec(),
            n_rows,
            col_labels: col_labels.iter().map(|s| s.as_ref().to_owned()).collect(),
            row_labels: (0..n_rows).map(|r| r.to_string()).collect(),
            value_label: "value".into(),
            cell_labels: Vec::new(),
        },
        "token (position →)",
        "layer",
    )
    .size(900, 560))
}

/// Histograms of one or more groups of values overlaid (e.g. `&[("correct", &c), ("incorrect",
/// &w)]`), sharing `bins` equal-width bins over the finite values of all groups, as densities
/// (switch to counts with [`Chart::heights`]`(`[`Heights::Count`]`)`). The legend gives each
/// group's size.
pub fn histogram<S: AsRef<str>>(groups: &[(S, &[f64])], bins: usize) -> Result<Chart> {
    if bins == 0 || bins > 10_000 {
        return Err(Error::invalid("bins", bins, "between 1 and 10000"));
    }
    if groups.is_empty() {
        return Err(Error::NotEnoughData("no groups to plot".into()));
    }
    if !groups.iter().any(|(_, v)| v.iter().any(|x| x.is_finite())) {
        return Err(Error::NotEnoughData(
            "every group is empty or has only NaN/infinite values".into(),
        ));
    }
    Ok(Chart::new(
        Kind::Histogram {
            groups: groups
                .iter()
                .map(|(n, v)| (n.as_ref().to_owned(), v.to_vec()))
                .collect(),
            bins,
            heights: Heights::Density,
        },
        "value",
        "density",
    ))
}

/// A scatter plot (t-SNE / PCA of profiles, …) coloured by `class` (legend sorted by class
/// name), with optional marker `size`s mapped linearly onto radii 3–12 px.
pub fn scatter<S: AsRef<str>>(
    x: &[f64],
    y: &[f64],
    class: &[S],
    size: Option<&[f64]>,
) -> Result<Chart> {
    if x.len() != y.len() || x.len() != class.len() || size.is_some_and(|s| s.len() != x.len()) {
        return Err(Error::invalid(
            "scatter",
            format!(
                "{} x, {} y, {} classes, {} sizes",
                x.len(),
                y.len(),
                class.len(),
                size.map_or("no".into(), |s| s.len().to_string())
            ),
            "one x, y, class (and size) per point",
        ));
    }
    if !x.iter().zip(y).any(|(a, b)| a.is_finite() && b.is_finite()) {
        return Err(Error::NotEnoughData(
            "no point with finite coordinates to plot".into(),
        ));
    }
    Ok(Chart::new(
        Kind::Scatter {
            x: x.to_vec(),
            y: y.to_vec(),
            class: class.iter().map(|s| s.as_ref().to_owned()).collect(),
            size: size.map(<[f64]>::to_vec),
        },
        "x",
        "y",
    )
    .size(640, 560))
}

/// `s` cut to `max` characters, the last one replaced by `…` when cut.
pub(super) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A token made visible: spaces (and BPE space markers Ġ / ▁) as ␣, newlines (and Ċ) as ↵,
/// tabs as ⇥, other control characters as �; cut to `max` characters.
pub fn token_label(tok: &str, max: usize) -> String {
    let t: String = tok
        .chars()
        .map(|c| match c {
            ' ' | 'Ġ' | '▁' => '␣',
            '\n' | 'Ċ' => '↵',
            '\t' | 'ĉ' => '⇥',
            c if c.is_control() => '�',
            c => c,
        })
        .collect();
    shorten(&t, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_labels_are_visible() {
        assert_eq!(token_label(" the", 12), "␣the");
        assert_eq!(token_label("Ġthe\n", 12), "␣the↵");
        assert_eq!(token_label("abcdefghijklmnop", 6), "abcde…");
    }
}
