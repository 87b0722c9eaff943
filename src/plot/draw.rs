//! The draw routines behind [`Chart::draw`](super::Chart::draw), one per chart kind, and the
//! layout helpers they share: one plot frame with its mesh ([`Chart::cartesian`],
//! [`Chart::draw_mesh`]), fitted axis ranges, tick labels with just enough decimals, the summary
//! band across curves, and a legend placed in the corner that hides the fewest drawn points
//! (found by sampling every drawn line and bar in pixels).
//!
//! Only finite points are drawn; NaN or infinite values are skipped.

use plotters::coord::ranged1d::{BoldPoints, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;

use super::chart::{perr, Chart};
use super::charts::{shorten, token_label};
use super::curve::{trapezoid_area, Band, Curve, Heights, Legend, Markers};
use super::font::FONT;
use crate::error::{Error, Result};
use crate::stats::summary::quantile;

/// matplotlib's tab10: distinguishable, familiar from papers.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Grid lines: light enough to stay behind the data.
const GRID: RGBColor = RGBColor(225, 225, 225);
/// Text: near-black.
const TEXT: RGBColor = RGBColor(30, 30, 30);
/// Axis lines and tick marks.
const AXIS: RGBColor = RGBColor(90, 90, 90);
/// Reference levels (chance, a dummy baseline): grey, dashed.
const REFERENCE: RGBColor = RGBColor(120, 120, 120);
/// The opacity of a curve's shaded interval.
const SHADE: f64 = 0.18;
/// Legend text size (px) and row height (in text sizes).
const LEGEND_FONT: f64 = 14.0;
const LEGEND_ROW: f64 = 1.25;
/// More curves than this are drawn faint and left out of the legend.
const MAX_LEGEND_SERIES: usize = 10;

/// Each curve's place in the palette: the curves take the colours in order, a reference level
/// none (it is grey).
fn palette_ranks(series: &[Curve]) -> Vec<usize> {
    series
        .iter()
        .scan(0, |n, s| {
            let r = *n;
            *n += usize::from(!s.reference);
            Some(r)
        })
        .collect()
}

/// The `i`-th colour of [`PALETTE`], cycling.
fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Linear interpolation of a series (sorted by x) at `x`, `None` outside its range.
fn interp(pts: &[(f64, f64)], x: f64) -> Option<f64> {
    let first = pts.first()?;
    let last = pts.last()?;
    if x < first.0 || x > last.0 {
        return None;
    }
    let i = pts.partition_point(|p| p.0 < x);
    if i < pts.len() && pts[i].0 == x {
        return Some(pts[i].1);
    }
    let (a, b) = (pts[i - 1], pts[i]);
    Some(a.1 + (x - a.0) / (b.0 - a.0) * (b.1 - a.1))
}

/// Summary across series on the union grid: (x, centre, low, high, n).
fn summarize(series: &[Curve], band: Band) -> Vec<(f64, f64, f64, f64, usize)> {
    let sorted: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            let mut p = s.points();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            p.dedup_by(|a, b| a.0 == b.0);
            p
        })
        .collect();
    let mut grid: Vec<f64> = sorted.iter().flatten().map(|p| p.0).collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup_by(|a, b| (*a - *b).abs() <= 1e-9 * (1.0 + b.abs()));
    grid.into_iter()
        .filter_map(|x| {
            let mut v: Vec<f64> = sorted.iter().filter_map(|p| interp(p, x)).collect();
            if v.is_empty() {
                return None;
            }
            let n = v.len();
            match band {
                Band::Iqr => {
                    v.sort_by(f64::total_cmp);
                    Some((
                        x,
                        quantile(&v, 0.5),
                        quantile(&v, 0.25),
                        quantile(&v, 0.75),
                        n,
                    ))
                }
                _ => {
                    let m = v.iter().sum::<f64>() / n as f64;
                    let sd = if n > 1 {
                        (v.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (n - 1) as f64).sqrt()
                    } else {
                        0.0
                    };
                    Some((x, m, m - sd, m + sd, n))
                }
            }
        })
        .collect()
}

/// `fixed` when set, else the range of the finite `values` padded by `pad` ([`fit_range`]);
/// [`Error::NotEnoughData`] with `empty` when there is no finite value.
fn axis_range(
    fixed: Option<(f64, f64)>,
    values: impl Iterator<Item = f64>,
    pad: f64,
    empty: &str,
) -> Result<(f64, f64)> {
    match fixed {
        Some(r) => Ok(r),
        None => fit_range(values, pad).ok_or_else(|| Error::NotEnoughData(empty.into())),
    }
}

/// (min, max) of finite values, padded by `pad` of the span (or ±0.5 for a single value).
fn fit_range(values: impl Iterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return None;
    }
    if hi - lo <= 1e-12 * (1.0 + lo.abs()) {
        let d = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        return Some((lo - d, hi + d));
    }
    let d = (hi - lo) * pad;
    Some((lo - d, hi + d))
}

/// The tick values plotters' mesh draws for `n` labels on `range` (its own key-point rule).
fn key_points(range: (f64, f64), n: usize) -> Vec<f64> {
    RangedCoordf64::from(range.0..range.1).key_points(BoldPoints(n))
}

/// Fewest decimals (≤ 10) that write every tick of the axis exactly.
fn decimals_for(ticks: &[f64]) -> usize {
    (0..=10)
        .find(|&d| {
            let m = 10f64.powi(d as i32);
            ticks.iter().all(|t| {
                let s = t * m;
                (s - s.round()).abs() <= 1e-6 * s.abs().max(1.0)
            })
        })
        .unwrap_or(10)
}

/// Tick labels with the same, smallest sufficient number of decimals for every tick of an
/// axis with `n` labels on `range` ("0.0 0.5 1.0", "0.05 0.10", "10 20"), never
/// "0.30000000000000004" or "-0".
fn tick_formatter(range: (f64, f64), n: usize) -> impl Fn(&f64) -> String {
    let decimals = decimals_for(&key_points(range, n));
    move |v: &f64| {
        let s = format!("{:.*}", decimals, v);
        if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_string()
        } else {
            s
        }
    }
}

/// What a heatmap draws (the fields of its chart kind).
#[derive(Clone, Copy)]
pub(super) struct Heat<'a> {
    pub values: &'a [f64],
    pub n_rows: usize,
    pub col_labels: &'a [String],
    pub row_labels: &'a [String],
    pub value_label: &'a str,
    pub cell_labels: &'a [String],
}

/// Estimated pixel size of the legend box (plotters: text + 30 px sample + 2 × 10 px margin).
struct LegendFit {
    w: i32,
    h: i32,
}

fn legend_fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[String],
    font_size: f64,
) -> LegendFit {
    let style: TextStyle = (FONT, font_size).into_font().into();
    let w = labels
        .iter()
        .map(|l| {
            area.estimate_text_size(l, &style)
                .map(|(w, _)| w as i32)
                .unwrap_or((l.chars().count() as f64 * font_size * 0.6) as i32)
        })
        .max()
        .unwrap_or(0);
    LegendFit {
        w: w + 30 + 20,
        h: (labels.len() as f64 * font_size * LEGEND_ROW) as i32 + 20,
    }
}

/// Where a line chart's legend is drawn.
#[derive(Clone, Copy)]
enum LegendPlace {
    /// No legend.
    None,
    /// In a corner of the plot, its upper left at these pixels from the plot's.
    Corner(i32, i32),
    /// Beside the plot, on the right, in a column of this width (pixels).
    Beside(i32),
    /// Below the plot and its x axis, in a box of this height (pixels).
    Below(i32),
}

impl LegendPlace {
    /// The pixels the plot leaves free on its right and below it for the legend.
    fn room(self) -> (i32, i32) {
        match self {
            LegendPlace::Beside(w) => (w + 12, 0),
            LegendPlace::Below(h) => (0, h + 8),
            _ => (0, 0),
        }
    }
}

/// One row of a line chart's legend: a line sample (dashed for a reference level) over a
/// shaded swatch when the curve has an interval, and its label.
struct Entry {
    label: String,
    color: RGBColor,
    width: u32,
    dashed: bool,
    shaded: bool,
}

impl Entry {
    /// A reference level's row (grey, dashed).
    fn reference(label: &str, width: u32) -> Self {
        Entry {
            label: label.to_string(),
            color: REFERENCE,
            width,
            dashed: true,
            shaded: false,
        }
    }
}

/// The legend box of `entries` with its upper left corner at `at` (pixels of `area`), in the
/// size [`legend_fit`] estimates.
fn draw_entries<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    entries: &[Entry],
) -> Result<()> {
    let labels: Vec<String> = entries.iter().map(|e| e.label.clone()).collect();
    let fit = legend_fit(area, &labels, LEGEND_FONT);
    let (x, y) = at;
    area.draw(&Rectangle::new(
        [(x, y), (x + fit.w, y + fit.h)],
        WHITE.mix(0.9).filled(),
    ))
    .map_err(perr)?;
    area.draw(&Rectangle::new(
        [(x, y), (x + fit.w, y + fit.h)],
        RGBColor(180, 180, 180),
    ))
    .map_err(perr)?;
    let row = LEGEND_FONT * LEGEND_ROW;
    let font = (FONT, LEGEND_FONT)
        .into_font()
        .color(&TEXT)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let cy = y + 10 + (row * (i as f64 + 0.5)) as i32;
        let sx = x + 10;
        if e.shaded {
            area.draw(&Rectangle::new(
                [(sx, cy - 6), (sx + 20, cy + 6)],
                e.color.mix(SHADE).filled(),
            ))
            .map_err(perr)?;
        }
        let stroke = e.color.stroke_width(e.width);
        if e.dashed {
            for (a, b) in [(0, 8), (12, 20)] {
                area.draw(&PathElement::new(vec![(sx + a, cy), (sx + b, cy)], stroke))
                    .map_err(perr)?;
            }
        } else {
            area.draw(&PathElement::new(vec![(sx, cy), (sx + 20, cy)], stroke))
                .map_err(perr)?;
        }
        area.draw(&Text::new(e.label.clone(), (sx + 30, cy), font.clone()))
            .map_err(perr)?;
    }
    Ok(())
}

/// The corner where the legend box hides the fewest of the sampled pixel points (ties: upper
/// right, upper left, lower right, lower left): its position, the box's upper left corner in
/// the plot's pixels, and how many points it hides there.
fn pick_corner(
    fit: &LegendFit,
    plot_dim: (u32, u32),
    pixels: &[(i32, i32)],
    preferred: Legend,
) -> (SeriesLabelPosition, (i32, i32), usize) {
    let (aw, ah) = (plot_dim.0 as i32, plot_dim.1 as i32);
    let corners = [
        (
            Legend::UpperRight,
            SeriesLabelPosition::UpperRight,
            aw - fit.w - 5,
            5,
        ),
        (Legend::UpperLeft, SeriesLabelPosition::UpperLeft, 5, 5),
        (
            Legend::LowerRight,
            SeriesLabelPosition::LowerRight,
            aw - fit.w - 5,
            ah - fit.h - 5,
        ),
        (
            Legend::LowerLeft,
            SeriesLabelPosition::LowerLeft,
            5,
            ah - fit.h - 5,
        ),
    ];
    if preferred != Legend::Auto {
        let c = corners
            .iter()
            .find(|c| c.0 == preferred)
            .unwrap_or(&corners[0]);
        return (c.1.clone(), (c.2, c.3), 0);
    }
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight, (0, 0));
    for (_, pos, x0, y0) in corners {
        let hidden = pixels
            .iter()
            .filter(|(x, y)| {
                *x >= x0 - 4 && *x <= x0 + fit.w + 4 && *y >= y0 - 4 && *y <= y0 + fit.h + 4
            })
            .count();
        if hidden < best.0 {
            best = (hidden, pos, (x0, y0));
        }
    }
    (best.1, best.2, best.0)
}

/// Points every ~3 px along a polyline given in pixels.
fn sample_polyline(px: &[(i32, i32)], out: &mut Vec<(i32, i32)>) {
    if px.len() == 1 {
        out.push(px[0]);
    }
    for w in px.windows(2) {
        let (dx, dy) = ((w[1].0 - w[0].0) as f64, (w[1].1 - w[0].1) as f64);
        let steps = ((dx.abs().max(dy.abs()) / 3.0).ceil() as usize).clamp(1, 2000);
        for k in 0..=steps {
            let t = k as f64 / steps as f64;
            out.push((
                w[0].0 + (dx * t).round() as i32,
                w[0].1 + (dy * t).round() as i32,
            ));
        }
    }
}

/// The plot of every chart: f64 data coordinates on both axes.
type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Which grid lines a mesh draws at the tick positions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grid {
    /// Vertical and horizontal.
    Both,
    /// Horizontal only (histograms: bars mark the x positions).
    Horizontal,
    /// None (heatmaps: the cells fill the plot).
    None,
}

/// The tick labels and grid of one chart's mesh.
struct Mesh<'f> {
    /// How many tick labels plotters aims at on x and y.
    labels: (usize, usize),
    /// x tick text (`None`: plotters' own).
    x_fmt: Option<&'f dyn Fn(&f64) -> String>,
    /// y tick text.
    y_fmt: &'f dyn Fn(&f64) -> String,
    /// Grid lines drawn.
    grid: Grid,
}

impl Chart {
    /// The plot frame of the line, histogram and scatter charts on `area`: the same margins and
    /// label areas, data ranges `x × y`, and a mesh with `labels` tick labels written by
    /// [`tick_formatter`].
    fn cartesian<'a, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        x: (f64, f64),
        y: (f64, f64),
        labels: (usize, usize),
        grid: Grid,
    ) -> Result<Plot<'a, DB>> {
        let mut chart = Self::frame(area, x, y, (0, 0))?;
        self.mesh(&mut chart, x, y, labels, grid)?;
        Ok(chart)
    }

    /// The plot frame alone, nothing drawn yet, with room for a legend outside the plot.
    fn frame<'a, DB: DrawingBackend>(
        area: &'a DrawingArea<DB, Shift>,
        x: (f64, f64),
        y: (f64, f64),
        (right, below): (i32, i32),
    ) -> Result<Plot<'a, DB>> {
        ChartBuilder::on(area)
            .margin(12)
            .margin_right(24 + right)
            .margin_bottom(12 + below)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(perr)
    }

    /// The mesh of [`Chart::cartesian`] on a frame.
    fn mesh<DB: DrawingBackend>(
        &self,
        chart: &mut Plot<'_, DB>,
        x: (f64, f64),
        y: (f64, f64),
        labels: (usize, usize),
        grid: Grid,
    ) -> Result<()> {
        let (fx, fy) = (tick_formatter(x, labels.0), tick_formatter(y, labels.1));
        let mesh = Mesh {
            labels,
            x_fmt: Some(&fx),
            y_fmt: &fy,
            grid,
        };
        self.draw_mesh(chart, &mesh)
    }

    /// Axes, grid, tick labels and axis descriptions in the house style.
    fn draw_mesh<DB: DrawingBackend>(
        &self,
        chart: &mut Plot<'_, DB>,
        mesh: &Mesh<'_>,
    ) -> Result<()> {
        let mut style = chart.configure_mesh();
        style
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS)
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FONT, 14).into_font().color(&TEXT))
            .axis_desc_style((FONT, 16).into_font().color(&TEXT))
            .x_labels(mesh.labels.0)
            .y_labels(mesh.labels.1)
            .y_label_formatter(mesh.y_fmt);
        if let Some(f) = mesh.x_fmt {
            style.x_label_formatter(f);
        }
        match mesh.grid {
            Grid::Both => {}
            Grid::Horizontal => {
                style.disable_x_mesh();
            }
            Grid::None => {
                style.disable_mesh();
            }
        }
        style.draw().map_err(perr)
    }

    /// The legend of `labels` (already attached to the drawn series), in the corner chosen by
    /// [`Chart::legend`](super::Chart::legend) or, for [`Legend::Auto`], the one that hides the
    /// fewest of the drawn `pixels`.
    fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
        &self,
        chart: &mut ChartContext<'a, DB, CT>,
        labels: &[String],
        pixels: &[(i32, i32)],
    ) -> Result<()> {
        if self.legend == Legend::Hidden || labels.is_empty() {
            return Ok(());
        }
        let plot = chart.plotting_area().strip_coord_spec();
        let fit = legend_fit(&plot, labels, LEGEND_FONT);
        let (bx, by) = plot.get_base_pixel();
        let local: Vec<(i32, i32)> = pixels.iter().map(|(x, y)| (x - bx, y - by)).collect();
        let (pos, _, _) = pick_corner(&fit, plot.dim_in_pixel(), &local, self.legend);
        Self::legend_box(chart, pos)
    }

    /// The series labels at `pos` (relative to the plot's upper left corner) in the house style.
    fn legend_box<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
        chart: &mut ChartContext<'a, DB, CT>,
        pos: SeriesLabelPosition,
    ) -> Result<()> {
        chart
            .configure_series_labels()
            .position(pos)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT, 14).into_font().color(&TEXT))
            .draw()
            .map_err(perr)
    }

    /// Line charts: one line per curve with its shaded interval, the optional summary band, the
    /// ROC chance diagonal; the legend in a corner where it hides no data, else outside the plot.
    pub(super) fn draw_lines<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        series: &[Curve],
        band: Band,
        markers: Markers,
        roc: bool,
    ) -> Result<()> {
        let pts: Vec<Vec<(f64, f64)>> = series.iter().map(Curve::points).collect();
        let intervals: Vec<Vec<(f64, f64, f64)>> =
            series.iter().map(Curve::interval_points).collect();
        let summary = if band == Band::None {
            Vec::new()
        } else {
            summarize(series, band)
        };
        let empty = "no finite points";
        let xr = axis_range(self.x_range, pts.iter().flatten().map(|p| p.0), 0.0, empty)?;
        let ys = pts.iter().flatten().map(|p| p.1);
        let interval_ys = intervals.iter().flatten().flat_map(|p| [p.1, p.2]);
        let band_ys = summary.iter().flat_map(|s| [s.2, s.3]);
        let yr = axis_range(
            self.y_range,
            ys.chain(interval_ys).chain(band_ys),
            0.05,
            empty,
        )?;

        // Every drawn line in data coordinates, for the legend's placement: a legend may cover
        // a light shaded interval, not a line.
        let mut drawn: Vec<Vec<(f64, f64)>> = pts.clone();
        drawn.push(summary.iter().map(|s| (s.0, s.1)).collect());
        let mut entries = Vec::new();
        if roc {
            drawn.push(vec![(0.0, 0.0), (1.0, 1.0)]);
            entries.push(Entry::reference("chance (AUC = 0.5)", 1));
        }
        let many = series.len() > MAX_LEGEND_SERIES;
        let faint = many || (band != Band::None && series.len() > 3);
        let rank = palette_ranks(series);
        for (i, s) in series.iter().enumerate() {
            if pts[i].is_empty() {
                continue;
            }
            if s.reference {
                entries.push(Entry::reference(&shorten(&s.name, 40), 2));
            } else if !many {
                let label = if roc {
                    format!("{} (AUC = {:.3})", shorten(&s.name, 32), trapezoid_area(s))
                } else {
                    shorten(&s.name, 40)
                };
                entries.push(Entry {
                    label,
                    color: color(rank[i]),
                    width: 2,
                    dashed: false,
                    shaded: !intervals[i].is_empty(),
                });
            }
        }
        if !summary.is_empty() {
            let n = summary.iter().map(|s| s.4).max().unwrap_or(0);
            let (centre, spread) = match band {
                Band::Iqr => ("median", "+ IQR"),
                _ => ("mean", "± std"),
            };
            entries.push(Entry {
                label: format!("{centre} {spread} (n = {n})"),
                color: BLACK,
                width: 3,
                dashed: false,
                shaded: true,
            });
        }
        let placement = self.place_legend(area, xr, yr, &drawn, &entries)?;

        let mut chart = Self::frame(area, xr, yr, placement.room())?;
        self.mesh(&mut chart, xr, yr, (10, 8), Grid::Both)?;
        if roc {
            let grey = RGBColor(150, 150, 150).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new([(0.0, 0.0), (1.0, 1.0)], 6, 5, grey))
                .map_err(perr)?;
        }
        // Intervals first, so that no shading covers a line.
        for (i, iv) in intervals.iter().enumerate() {
            if iv.is_empty() || series[i].reference {
                continue;
            }
            let mut poly: Vec<(f64, f64)> = iv.iter().map(|p| (p.0, p.2)).collect();
            poly.extend(iv.iter().rev().map(|p| (p.0, p.1)));
            let fill = color(rank[i]).mix(SHADE).filled();
            chart
                .draw_series(std::iter::once(Polygon::new(poly, fill)))
                .map_err(perr)?;
        }
        for (i, (s, p)) in series.iter().zip(&pts).enumerate() {
            if s.reference {
                let grey = REFERENCE.stroke_width(2);
                chart
                    .draw_series(DashedLineSeries::new(p.iter().copied(), 8, 5, grey))
                    .map_err(perr)?;
                continue;
            }
            let c = color(rank[i]);
            let style = if faint && band != Band::None {
                c.mix(0.35).stroke_width(1)
            } else if many {
                c.mix(0.6).stroke_width(1)
            } else {
                c.stroke_width(2)
            };
            chart
                .draw_series(LineSeries::new(p.iter().copied(), style))
                .map_err(perr)?;
            if markers == Markers::Dots {
                chart
                    .draw_series(p.iter().map(|&(x, y)| Circle::new((x, y), 4, c.filled())))
                    .map_err(perr)?;
            }
        }
        if !summary.is_empty() {
            let mut poly: Vec<(f64, f64)> = summary.iter().map(|s| (s.0, s.3)).collect();
            poly.extend(summary.iter().rev().map(|s| (s.0, s.2)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    BLACK.mix(0.12).filled(),
                )))
                .map_err(perr)?;
            chart
                .draw_series(LineSeries::new(
                    summary.iter().map(|s| (s.0, s.1)),
                    BLACK.stroke_width(3),
                ))
                .map_err(perr)?;
        }

        // The legend's upper left corner in `area`'s pixels.
        let plot = chart.plotting_area().strip_coord_spec();
        let (bx, by) = plot.get_base_pixel();
        let (ax, ay) = area.get_base_pixel();
        let (pw, ph) = plot.dim_in_pixel();
        let (x0, y0) = (bx - ax, by - ay);
        let at = match placement {
            LegendPlace::None => return Ok(()),
            LegendPlace::Corner(x, y) => (x0 + x, y0 + y),
            LegendPlace::Beside(_) => (x0 + pw as i32 + 12, y0),
            // under the x axis's tick labels and description (its 50-px label area)
            LegendPlace::Below(_) => (x0, y0 + ph as i32 + 54),
        };
        draw_entries(area, at, &entries)
    }

    /// Where the legend of `entries` goes on a plot of `x × y` drawing the polylines `drawn`
    /// (data coordinates): the chosen corner, the corner that hides none of them, or else
    /// outside the plot — beside it when the legend is narrow enough, below it otherwise.
    fn place_legend<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        x: (f64, f64),
        y: (f64, f64),
        drawn: &[Vec<(f64, f64)>],
        entries: &[Entry],
    ) -> Result<LegendPlace> {
        if self.legend == Legend::Hidden || entries.is_empty() {
            return Ok(LegendPlace::None);
        }
        let probe = Self::frame(area, x, y, (0, 0))?;
        let plot = probe.plotting_area().strip_coord_spec();
        let labels: Vec<String> = entries.iter().map(|e| e.label.clone()).collect();
        let fit = legend_fit(&plot, &labels, LEGEND_FONT);
        if self.legend == Legend::Beside {
            return Ok(LegendPlace::Beside(fit.w));
        }
        let (bx, by) = plot.get_base_pixel();
        let mut pixels = Vec::new();
        for line in drawn {
            let px: Vec<(i32, i32)> = line
                .iter()
                .map(|p| {
                    let (px, py) = probe.backend_coord(p);
                    (px - bx, py - by)
                })
                .collect();
            sample_polyline(&px, &mut pixels);
        }
        let (_, (cx, cy), hidden) = pick_corner(&fit, plot.dim_in_pixel(), &pixels, self.legend);
        let (w, _) = area.dim_in_pixel();
        Ok(if hidden == 0 || self.legend != Legend::Auto {
            LegendPlace::Corner(cx, cy)
        } else if f64::from(fit.w) < 0.4 * f64::from(w) {
            // beside the plot only while the plot keeps most of the width
            LegendPlace::Beside(fit.w)
        } else {
            LegendPlace::Below(fit.h)
        })
    }

    /// Heatmaps: one cell per value, token labels rotated under the x axis, a colour bar; the
    /// colour range is the 2nd–98th percentile of the cells unless fixed.
    pub(super) fn draw_heatmap<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        heat: &Heat<'_>,
    ) -> Result<()> {
        let Heat {
            values,
            n_rows,
            col_labels,
            row_labels,
            value_label,
            cell_labels,
        } = *heat;
        let n_cols = col_labels.len();
        let (vmin, vmax) = match self.y_range {
            Some(r) => r,
            None => {
                let mut finite: Vec<f64> =
                    values.iter().copied().filter(|v| v.is_finite()).collect();
                finite.sort_by(f64::total_cmp);
                let (lo, hi) = (quantile(&finite, 0.02), quantile(&finite, 0.98));
                axis_range(None, [lo, hi].into_iter(), 0.0, "no finite cell")?
            }
        };
        // Colour-bar ticks first: their width sets the width of the colour-bar panel.
        let cb_ticks = key_points((vmin, vmax), 6);
        let cb_fmt = tick_formatter((vmin, vmax), 6);
        let tick_font: TextStyle = (FONT, 13).into_font().color(&TEXT);
        let tick_w = cb_ticks
            .iter()
            .map(|t| {
                area.estimate_text_size(&cb_fmt(t), &tick_font)
                    .map_or(40, |(w, _)| w as i32)
            })
            .max()
            .unwrap_or(40);
        let (w, _h) = area.dim_in_pixel();
        // gap, bar (18), tick (4), gap, labels, gap, rotated description (≈ 18), margin
        let cb_w = ((8 + 18 + 4 + 4 + tick_w + 10 + 18 + 8) as u32).min(w / 3);
        let (main, cbar) = area.split_horizontally(w.saturating_sub(cb_w));

        // Token labels, rotated 90° below the x axis; room for the longest one shown.
        let label_font = (FONT, 13).into_font().color(&TEXT);
        let labels: Vec<String> = col_labels.iter().map(|t| token_label(t, 12)).collect();
        let label_len = labels
            .iter()
            .map(|l| {
                main.estimate_text_size(l, &label_font)
                    .map_or(80, |(w, _)| w as i32)
            })
            .max()
            .unwrap_or(0);
        let y_area = 60;
        let mut chart = ChartBuilder::on(&main)
            .margin(10)
            .margin_right(4)
            .x_label_area_size(label_len + 44)
            .y_label_area_size(y_area)
            .build_cartesian_2d(-0.5..(n_cols as f64 - 0.5), -0.5..(n_rows as f64 - 0.5))
            .map_err(perr)?;
        let row_fmt = |v: &f64| {
            let r = v.round();
            if (v - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < n_rows {
                row_labels[r as usize].clone()
            } else {
                String::new()
            }
        };
        let plot_h = chart.plotting_area().dim_in_pixel().1 as usize;
        let mesh = Mesh {
            labels: (0, n_rows.min(plot_h / 22).max(2)),
            x_fmt: None,
            y_fmt: &row_fmt,
            grid: Grid::None,
        };
        self.draw_mesh(&mut chart, &mesh)?;

        chart
            .draw_series((0..n_rows).flat_map(|r| {
                (0..n_cols).map(move |c| {
                    let v = values[r * n_cols + c];
                    let fill = if v.is_finite() {
                        let t = if vmax > vmin {
                            ((v - vmin) / (vmax - vmin)).clamp(0.0, 1.0)
                        } else {
                            0.5
                        };
                        ViridisRGB::get_color(t)
                    } else {
                        RGBColor(220, 220, 220)
                    };
                    Rectangle::new(
                        [
                            (c as f64 - 0.5, r as f64 - 0.5),
                            (c as f64 + 0.5, r as f64 + 0.5),
                        ],
                        fill.filled(),
                    )
                })
            }))
            .map_err(perr)?;

        // x tick labels: every `step`-th token so that rotated labels (≈ 15 px) do not overlap.
        let plot_w = chart.plotting_area().dim_in_pixel().0 as f64;
        let cell_w = plot_w / n_cols as f64;
        let cell_h = plot_h as f64 / n_rows as f64;
        if !cell_labels.is_empty() && cell_w >= 24.0 && cell_h >= 9.0 {
            let size = (cell_h * 0.75).min(13.0);
            let chars = ((cell_w - 4.0) / (size * 0.6)).floor().max(1.0) as usize;
            for r in 0..n_rows {
                for c in 0..n_cols {
                    let v = values[r * n_cols + c];
                    let t = if vmax > vmin {
                        (v - vmin) / (vmax - vmin)
                    } else {
                        0.5
                    };
                    let colour = if v.is_finite() && t < 0.6 {
                        WHITE
                    } else {
                        BLACK
                    };
                    let style = (FONT, size)
                        .into_font()
                        .color(&colour)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    chart
                        .draw_series(std::iter::once(Text::new(
                            token_label(&cell_labels[r * n_cols + c], chars),
                            (c as f64, r as f64),
                            style,
                        )))
                        .map_err(perr)?;
                }
            }
        }
        let step = (16.0 / cell_w).ceil().max(1.0) as usize;
        let (bx, by) = main.get_base_pixel();
        let style = label_font
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for c in (0..n_cols).step_by(step) {
            let (px, py) = chart.backend_coord(&(c as f64, -0.5));
            main.draw(&PathElement::new(
                vec![(px - bx, py - by), (px - bx, py - by + 4)],
                AXIS,
            ))
            .map_err(perr)?;
            main.draw_text(&labels[c], &style, (px - bx, py - by + 7))
                .map_err(perr)?;
        }

        // Colour bar, aligned with the plot's vertical extent.
        let plot = chart.plotting_area();
        let (_, top) = plot.get_base_pixel();
        let bottom = top + plot.dim_in_pixel().1 as i32;
        let (_, cb_top) = cbar.get_base_pixel();
        let (y0, y1) = (top - cb_top, bottom - cb_top);
        let (x0, x1) = (8, 8 + 18);
        let span = (y1 - y0).max(1);
        for k in 0..span {
            let t = 1.0 - (k as f64 + 0.5) / span as f64;
            cbar.draw(&Rectangle::new(
                [(x0, y0 + k), (x1, y0 + k + 1)],
                ViridisRGB::get_color(t).filled(),
            ))
            .map_err(perr)?;
        }
        cbar.draw(&Rectangle::new([(x0, y0), (x1, y1)], AXIS))
            .map_err(perr)?;
        let label_style = tick_font.pos(Pos::new(HPos::Left, VPos::Center));
        for t in &cb_ticks {
            let frac = if vmax > vmin {
                (t - vmin) / (vmax - vmin)
            } else {
                0.5
            };
            let y = y1 - (frac * span as f64).round() as i32;
            cbar.draw(&PathElement::new(vec![(x1, y), (x1 + 4, y)], AXIS))
                .map_err(perr)?;
            cbar.draw_text(&cb_fmt(t), &label_style, (x1 + 8, y))
                .map_err(perr)?;
        }
        let desc_style = (FONT, 16)
            .into_font()
            .color(&TEXT)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Center));
        cbar.draw_text(
            value_label,
            &desc_style,
            (x1 + 8 + tick_w + 10 + 9, (y0 + y1) / 2),
        )
        .map_err(perr)?;
        Ok(())
    }

    /// Histograms: each group's bars, translucent so that overlaps show.
    pub(super) fn draw_histogram<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        groups: &[(String, Vec<f64>)],
        bins: usize,
        heights: Heights,
    ) -> Result<()> {
        let values = groups.iter().flat_map(|g| g.1.iter().copied());
        let (lo, hi) = axis_range(self.x_range, values, 0.0, "no finite values")?;
        let width = (hi - lo) / bins as f64;
        let heights: Vec<Vec<f64>> = groups
            .iter()
            .map(|(_, v)| {
                let mut counts = vec![0usize; bins];
                let mut n = 0usize;
                for &x in v.iter().filter(|x| x.is_finite()) {
                    if x < lo || x > hi {
                        continue;
                    }
                    let b = (((x - lo) / width) as usize).min(bins - 1);
                    counts[b] += 1;
                    n += 1;
                }
                counts
                    .into_iter()
                    .map(|c| {
                        if heights == Heights::Density && n > 0 {
                            c as f64 / (n as f64 * width)
                        } else {
                            c as f64
                        }
                    })
                    .collect()
            })
            .collect();
        let ymax = heights.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
        let yr = self
            .y_range
            .unwrap_or((0.0, if ymax > 0.0 { ymax * 1.08 } else { 1.0 }));
        let mut chart = self.cartesian(area, (lo, hi), yr, (10, 8), Grid::Horizontal)?;
        let mut labels = Vec::new();
        let mut pixels = Vec::new();
        for (i, ((name, v), h)) in groups.iter().zip(&heights).enumerate() {
            let c = color(i);
            let n = v.iter().filter(|x| x.is_finite()).count();
            let rects = h.iter().enumerate().map(|(b, &y)| {
                let x0 = lo + b as f64 * width;
                [(x0, 0.0), (x0 + width, y)]
            });
            chart
                .draw_series(
                    rects
                        .clone()
                        .map(|r| Rectangle::new(r, c.mix(0.4).filled())),
                )
                .map_err(perr)?;
            let label = format!("{} (n = {n})", shorten(name, 36));
            chart
                .draw_series(rects.map(|r| Rectangle::new(r, c.stroke_width(1))))
                .map_err(perr)?
                .label(label.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 20, y + 5)], c.mix(0.5).filled())
                });
            labels.push(label);
            for (b, &y) in h.iter().enumerate() {
                let xc = lo + (b as f64 + 0.5) * width;
                // the bar's whole column counts as covered
                let steps = 6;
                for k in 0..=steps {
                    pixels.push(chart.backend_coord(&(xc, y * k as f64 / steps as f64)));
                }
            }
        }
        self.draw_legend(&mut chart, &labels, &pixels)
    }

    /// Scatter plots: one colour per class, marker radius from `size`.
    pub(super) fn draw_scatter<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        x: &[f64],
        y: &[f64],
        class: &[String],
        size: Option<&[f64]>,
    ) -> Result<()> {
        let ok: Vec<usize> = (0..x.len())
            .filter(|&i| x[i].is_finite() && y[i].is_finite())
            .collect();
        let empty = "no finite points";
        let xr = axis_range(self.x_range, ok.iter().map(|&i| x[i]), 0.05, empty)?;
        let yr = axis_range(self.y_range, ok.iter().map(|&i| y[i]), 0.05, empty)?;
        let radius = |i: usize| -> i32 {
            match size {
                None => 4,
                Some(s) => {
                    let (lo, hi) = s
                        .iter()
                        .filter(|v| v.is_finite())
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                            (a.min(v), b.max(v))
                        });
                    if !s[i].is_finite() || hi <= lo {
                        6
                    } else {
                        (3.0 + 9.0 * (s[i] - lo) / (hi - lo)).round() as i32
                    }
                }
            }
        };
        let mut classes: Vec<&str> = class.iter().map(String::as_str).collect();
        classes.sort_unstable();
        classes.dedup();
        let mut chart = self.cartesian(area, xr, yr, (8, 8), Grid::Both)?;
        let mut labels = Vec::new();
        let mut pixels = Vec::new();
        let show_legend = classes.len() <= 2 * MAX_LEGEND_SERIES;
        for (k, cl) in classes.iter().enumerate() {
            let c = color(k);
            let members: Vec<usize> = ok.iter().copied().filter(|&i| class[i] == *cl).collect();
            let drawn = chart
                .draw_series(members.iter().map(|&i| {
                    EmptyElement::at((x[i], y[i]))
                        + Circle::new((0, 0), radius(i), c.mix(0.7).filled())
                        + Circle::new((0, 0), radius(i), c.stroke_width(1))
                }))
                .map_err(perr)?;
            if show_legend {
                let label = format!("{} (n = {})", shorten(cl, 30), members.len());
                drawn
                    .label(label.clone())
                    .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
                labels.push(label);
            }
            pixels.extend(members.iter().map(|&i| chart.backend_coord(&(x[i], y[i]))));
        }
        self.draw_legend(&mut chart, &labels, &pixels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_levels_take_no_colour_of_the_palette() {
        let c = |n: &str| Curve::from_y(n, vec![1.0, 2.0]);
        let series = [c("a"), c("chance").as_reference(), c("b"), c("c")];
        // "b" takes the second colour, not the third: the reference did not use one
        assert_eq!(palette_ranks(&series)[2], 1);
        assert_eq!(palette_ranks(&series)[3], 2);
    }

    /// Where `place_legend` puts the legend of `series` on an 800 × 500 chart.
    fn placement(series: &[Curve]) -> LegendPlace {
        let chart = super::super::lines(series).unwrap_or_else(|e| panic!("{e}")); // ok: test-only
        let mut at = None;
        super::super::png_bytes(800, 500, |area| {
            let drawn: Vec<Vec<(f64, f64)>> = series.iter().map(Curve::points).collect();
            let entries: Vec<Entry> = series
                .iter()
                .map(|s| Entry::reference(&s.name, 2))
                .collect();
            at = Some(chart.place_legend(area, (0.0, 1.0), (0.0, 1.0), &drawn, &entries)?);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}")); // ok: test-only
        at.unwrap_or_else(|| panic!("not placed")) // ok: test-only
    }

    #[test]
    fn legend_goes_outside_only_when_every_corner_hides_data() {
        let flat = |n: &str, y: f64| Curve::new(n, vec![0.0, 1.0], vec![y, y]);
        // A line in the middle: the upper right corner is free.
        assert!(matches!(
            placement(&[flat("middle", 0.5)]),
            LegendPlace::Corner(_, _)
        ));
        // Lines along the top and the bottom: every corner would cover one, so the legend
        // goes beside the plot, which gives up the legend's width.
        let p = placement(&[flat("top", 0.97), flat("bottom", 0.03)]);
        assert!(
            matches!(p, LegendPlace::Beside(w) if w > 30),
            "{}",
            p.room().0
        );
        assert!(p.room().0 > 30);
    }

    #[test]
    fn intervals_by_hand_and_checked() {
        let c = Curve::new("a", vec![0.0, 1.0], vec![0.5, 0.75]).with_error(&[0.25, 0.25]);
        assert_eq!(
            c.interval_points(),
            vec![(0.0, 0.25, 0.75), (1.0, 0.5, 1.0)]
        );
        let chart = super::super::lines(std::slice::from_ref(&c)).unwrap_or_else(|e| panic!("{e}")); // ok: test-only
        assert!(chart.png().is_ok());
        // one bound per y value, or a typed error
        let bad = Curve::new("b", vec![0.0, 1.0], vec![0.5, 0.75]).with_error(&[0.25]);
        assert!(super::super::lines(&[bad]).is_err());
    }

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4], [0.25, 0.5, 0.75]) = [1.75, 2.5, 3.25]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((quantile(&v, 0.25) - 1.75).abs() < 1e-12);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!((quantile(&v, 0.75) - 3.25).abs() < 1e-12);
    }

    #[test]
    fn summary_mean_std_by_hand() {
        // at x = 0: values 1, 3 → mean 2, sample std √2; at x = 1: 3, 5 → 4, √2.
        let a = Curve::new("a", vec![0.0, 1.0], vec![1.0, 3.0]);
        let b = Curve::new("b", vec![0.0, 1.0], vec![3.0, 5.0]);
        let s = summarize(&[a, b], Band::Std);
        assert_eq!(s.len(), 2);
        assert!((s[0].1 - 2.0).abs() < 1e-12);
        assert!((s[0].3 - (2.0 + 2f64.sqrt())).abs() < 1e-12);
        assert!((s[1].1 - 4.0).abs() < 1e-12);
        // different grids: b2 only at 0 and 1, a2 at 0, 0.5, 1 → at 0.5, b2 interpolated to 4
        let a2 = Curve::new("a", vec![0.0, 0.5, 1.0], vec![0.0, 2.0, 0.0]);
        let b2 = Curve::new("b", vec![0.0, 1.0], vec![2.0, 6.0]);
        let s = summarize(&[a2, b2], Band::Std);
        assert_eq!(s.len(), 3);
        assert!((s[1].1 - 3.0).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn tick_labels_have_sane_decimals() {
        let f = tick_formatter((0.0, 1.0), 10);
        assert_eq!(f(&0.30000000000000004), "0.3");
        assert_eq!(f(&-0.0), "0.0");
        let f = tick_formatter((0.0, 100.0), 5);
        assert_eq!(f(&25.0), "25");
        assert_eq!(decimals_for(&[0.0, 0.25, 0.5]), 2);
        assert_eq!(decimals_for(&[10.0, 20.0]), 0);
        assert_eq!(decimals_for(&[0.05, 0.1, 0.15]), 2);
    }
}
