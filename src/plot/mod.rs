//! Charts of entroscope's statistics, drawn with plotters on any backend (PNG, SVG, or a panel
//! of a larger figure), and shown inline in evcxr notebooks.
//!
//! Every chart function takes plain data (slices, [`Curve`], a [`LayerProfile`]), checks it, and
//! returns a [`Chart`]: the data plus labels and a size. A `Chart` then
//! - draws itself on any plotters area: [`Chart::draw`] (generic over the backend, so a figure
//!   with several panels is `save_png(path, w, h, |root| { let (a, b) = root.split_horizontally(w / 2); c1.draw(&a)?; c2.draw(&b) })`);
//! - saves itself: [`Chart::save`] (`.png` or `.svg` by extension), [`Chart::png`] bytes,
//!   [`Chart::svg`] text;
//! - shows itself in a notebook when it is a cell's last expression (feature `evcxr`:
//!   `Chart::evcxr_display` prints the PNG between evcxr's `EVCXR_BEGIN_CONTENT` markers).
//!
//! Empty or all-NaN inputs give [`Error::NotEnoughData`], mismatched lengths
//! [`Error::InvalidParameter`]; nothing here panics on user data. NaN / infinite points are
//! skipped when drawing.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (`assets/DejaVuSans.ttf`, Bitstream Vera
//! licence in `assets/DejaVuSans-LICENSE`) and registered with plotters' `ab_glyph` font table as
//! `"sans-serif"`, so charts render identically without any system font library. SVG output
//! names the family `sans-serif` in `<text>` elements and lets the viewer pick the font.
//!
//! ```no_run
//! use entroscope::plot::{self, Band, Curve};
//! let a = Curve::new("prompt 0", vec![0.0, 0.5, 1.0], vec![9.1, 6.3, 2.0]);
//! let b = Curve::new("prompt 1", vec![0.0, 0.5, 1.0], vec![8.7, 5.9, 2.4]);
//! let chart = plot::entropy_vs_depth(&[a, b], Band::Std)?
//!     .title("Entropy across depth")
//!     .y_label("Shannon entropy (nats)");
//! chart.save("figures/entropy_depth.png")?;
//! # Ok::<(), entroscope::Error>(())
//! ```

use std::path::Path;
use std::sync::Once;

use plotters::coord::ranged1d::{BoldPoints, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle, FontTransform};

use crate::error::{Error, Result};
use crate::profile::LayerProfile;

// ---------------------------------------------------------------------------------------------
// Font
// ---------------------------------------------------------------------------------------------

static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static FONT_ONCE: Once = Once::new();
static FONT_OK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Font family used for every text of every chart (the embedded DejaVu Sans).
pub const FONT: &str = "sans-serif";

/// Register the embedded DejaVu Sans as plotters' `"sans-serif"` (all styles) once per process.
/// Chart functions call it; call it yourself before drawing text with plotters directly.
pub fn ensure_font() -> Result<()> {
    FONT_ONCE.call_once(|| {
        let ok = [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ]
        .into_iter()
        .all(|s| register_font(FONT, s, FONT_BYTES).is_ok());
        FONT_OK.store(ok, std::sync::atomic::Ordering::SeqCst);
    });
    if FONT_OK.load(std::sync::atomic::Ordering::SeqCst) {
        Ok(())
    } else {
        Err(Error::Plot(
            "the embedded font assets/DejaVuSans.ttf could not be parsed; rebuild entroscope"
                .into(),
        ))
    }
}

fn perr(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Text rendering for bitmaps
// ---------------------------------------------------------------------------------------------

pub use crisp::CrispText;

/// [`CrispText`] lives apart so that plotters-backend's `BackendStyle` trait (whose methods clash
/// with plotters' `Color`) is in scope only here.
mod crisp {
    use super::{HPos, VPos, FONT_BYTES};
    use plotters::prelude::DrawingBackend;
    use plotters_backend::{
        BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
    };

    /// The embedded font, parsed once for [`CrispText`].
    fn font_ref() -> Option<&'static ab_glyph::FontRef<'static>> {
        static F: std::sync::OnceLock<Option<ab_glyph::FontRef<'static>>> =
            std::sync::OnceLock::new();
        F.get_or_init(|| ab_glyph::FontRef::try_from_slice(FONT_BYTES).ok())
            .as_ref()
    }

    /// A bitmap backend wrapper that draws text correctly.
    ///
    /// plotters 0.3.7 rasterises `ab_glyph` text glyph by glyph at the pen position but forgets
    /// each glyph's left side bearing (`px_bounds().min.x`), so letters sit unevenly ("Sm olLM 2");
    /// it also puts the baseline at half the font size, which draws labels high. `CrispText`
    /// forwards every drawing call to the inner backend except text, which it renders itself with
    /// the embedded DejaVu Sans: glyphs at sub-pixel pen positions with kerning, capitals centred
    /// in the layout box plotters computes (so anchors and label areas are unchanged). All PNG
    /// output of this module (`png_bytes`, `save_png`, `Chart::png`, notebook display) goes
    /// through it; SVG needs no fix since the viewer lays out `<text>` itself.
    pub struct CrispText<B>(pub B);

    impl<B: DrawingBackend> DrawingBackend for CrispText<B> {
        type ErrorType = B::ErrorType;

        fn get_size(&self) -> (u32, u32) {
            self.0.get_size()
        }
        fn ensure_prepared(&mut self) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            self.0.ensure_prepared()
        }
        fn present(&mut self) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            self.0.present()
        }
        fn draw_pixel(
            &mut self,
            point: BackendCoord,
            color: BackendColor,
        ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            self.0.draw_pixel(point, color)
        }
        fn draw_line<S: BackendStyle>(
            &mut self,
            from: BackendCoord,
            to: BackendCoord,
            style: &S,
        ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            self.0.draw_line(from, to, style)
        }
        fn draw_rect<S: BackendStyle>(
            &mut self,
            upper_left: BackendCoord,
            bottom_right: BackendCoord,
            style: &S,
            fill: bool,
        ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            self.0.draw_rect(upper_left, bottom_right, style, fill)
        }
        fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
            &mut self,
            path: I,
            style: &S,
        ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            self.0.draw_path(path, style)
        }
        fn draw_circle<S: BackendStyle>(
            &mut self,
            center: BackendCoord,
            radius: u32,
            style: &S,
            fill: bool,
        ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            self.0.draw_circle(center, radius, style, fill)
        }
        fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
            &mut self,
            vert: I,
            style: &S,
        ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            self.0.fill_polygon(vert, style)
        }
        fn estimate_text_size<S: BackendTextStyle>(
            &self,
            text: &str,
            style: &S,
        ) -> std::result::Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
            self.0.estimate_text_size(text, style)
        }
        fn blit_bitmap(
            &mut self,
            pos: BackendCoord,
            size: (u32, u32),
            src: &[u8],
        ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            self.0.blit_bitmap(pos, size, src)
        }

        fn draw_text<S: BackendTextStyle>(
            &mut self,
            text: &str,
            style: &S,
            pos: BackendCoord,
        ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
            use ab_glyph::{Font, ScaleFont};
            let color = style.color();
            if color.alpha == 0.0 {
                return Ok(());
            }
            let Some(font) = font_ref() else {
                return self.0.draw_text(text, style, pos);
            };
            let ((min_x, min_y), (max_x, max_y)) = style
                .layout_box(text)
                .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
            let (width, height) = (max_x - min_x, max_y - min_y);
            let dx = match style.anchor().h_pos {
                HPos::Left => 0,
                HPos::Right => -width,
                HPos::Center => -width / 2,
            };
            let dy = match style.anchor().v_pos {
                VPos::Top => 0,
                VPos::Center => -height / 2,
                VPos::Bottom => -height,
            };
            let size = style.size() as f32;
            let scaled = font.as_scaled(size);
            // capital height in pixels, to centre capitals and digits in the layout box
            let cap = font
                .outline_glyph(scaled.scaled_glyph('H'))
                .map_or(size * 0.63, |g| g.px_bounds().height());
            let baseline = height as f32 / 2.0 + cap / 2.0;
            let trans = style.transform();
            let (w, h) = self.0.get_size();
            let mut pen = 0.0f32;
            let mut prev: Option<ab_glyph::GlyphId> = None;
            let mut pixels: Vec<(i32, i32, f32)> = Vec::new();
            for c in text.chars() {
                let id = scaled.glyph_id(c);
                if let Some(p) = prev {
                    pen += scaled.kern(p, id);
                }
                let glyph = id.with_scale_and_position(size, ab_glyph::point(pen, baseline));
                if let Some(outline) = font.outline_glyph(glyph) {
                    let b = outline.px_bounds();
                    outline.draw(|x, y, cov| {
                        if cov > 0.0 {
                            pixels.push((
                                b.min.x as i32 + x as i32,
                                b.min.y as i32 + y as i32,
                                cov,
                            ));
                        }
                    });
                }
                pen += scaled.h_advance(id);
                prev = Some(id);
            }
            for (x, y, cov) in pixels {
                let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && y >= 0 && x < w as i32 && y < h as i32 {
                    let c = BackendColor {
                        alpha: color.alpha * f64::from(cov.min(1.0)),
                        rgb: color.rgb,
                    };
                    self.0.draw_pixel((x, y), c)?;
                }
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// One named line: `y[i]` at `x[i]`. Points need not be sorted for scatter-like uses, but lines
/// are drawn in the given order (sort by x for a function of x).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Curve {
    pub name: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

impl Curve {
    /// A series from its name and coordinates (same length; checked when charted).
    pub fn new(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Curve {
            name: name.into(),
            x,
            y,
        }
    }

    /// `y` against `0, 1, 2, …` (e.g. a value per layer, per step).
    pub fn from_y(name: impl Into<String>, y: Vec<f64>) -> Self {
        let x = (0..y.len()).map(|i| i as f64).collect();
        Curve::new(name, x, y)
    }

    /// A profile against relative depth `layer / n_layers` (`n_layers + 1` points in [0, 1]):
    /// `column = Some(j)` takes position column `j` (`profile.positions[j]`), `None` the mean over
    /// all positions (NaN values skipped). Named `"{model} #{prompt_id}"`.
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
                    None => mean(row.iter().map(|&v| f64::from(v))),
                }
            })
            .collect();
        Ok(Curve::new(
            format!("{} #{}", profile.model, profile.prompt_id),
            x,
            y,
        ))
    }

    /// The ROC curve of binary `labels` (true = positive) ranked by `scores` (higher = more
    /// positive): false-positive rate on x, true-positive rate on y, from (0, 0) to (1, 1), tied
    /// scores stepping together (so the trapezoid area equals the Mann–Whitney AUC with ties
    /// counted ½).
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
        let mut idx: Vec<usize> = (0..scores.len()).collect();
        idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let (mut tp, mut fp) = (0usize, 0usize);
        let (mut x, mut y) = (vec![0.0], vec![0.0]);
        let mut i = 0;
        while i < idx.len() {
            let s = scores[idx[i]];
            while i < idx.len() && scores[idx[i]] == s {
                if labels[idx[i]] {
                    tp += 1;
                } else {
                    fp += 1;
                }
                i += 1;
            }
            x.push(fp as f64 / n as f64);
            y.push(tp as f64 / p as f64);
        }
        Ok(Curve::new(name, x, y))
    }

    fn check(&self) -> Result<()> {
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
        Ok(())
    }

    /// The finite points, in order.
    fn points(&self) -> Vec<(f64, f64)> {
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

/// The spread drawn around the mean (or median) line of [`entropy_vs_depth`] and [`lines`].
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
    #[default]
    Auto,
    UpperLeft,
    UpperRight,
    LowerLeft,
    LowerRight,
    Hidden,
}

// ---------------------------------------------------------------------------------------------
// The Chart
// ---------------------------------------------------------------------------------------------

/// Default chart size in pixels (width, height).
pub const DEFAULT_SIZE: (u32, u32) = (800, 500);

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Lines {
        series: Vec<Curve>,
        band: Band,
        markers: bool,
        roc: bool,
    },
    Heatmap {
        values: Vec<f64>,
        n_rows: usize,
        col_labels: Vec<String>,
        row_labels: Vec<String>,
        value_label: String,
    },
    Histogram {
        groups: Vec<(String, Vec<f64>)>,
        bins: usize,
        density: bool,
    },
    Scatter {
        x: Vec<f64>,
        y: Vec<f64>,
        class: Vec<String>,
        size: Option<Vec<f64>>,
    },
}

/// A chart: validated data, labels and a size. Build one with [`entropy_vs_depth`],
/// [`profiles_vs_depth`], [`lines`], [`heatmap`], [`heatmap_matrix`], [`histogram`], [`roc`] or
/// [`scatter`]; adjust it with the builder methods; then [`draw`](Chart::draw) it on any
/// plotters area, [`save`](Chart::save) it, or let evcxr display it.
#[derive(Clone, PartialEq)]
pub struct Chart {
    kind: Kind,
    title: Option<String>,
    x_label: String,
    y_label: String,
    width: u32,
    height: u32,
    legend: Legend,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
}

/// A one-line summary (not the data), e.g. `Chart(lines: 3 series, 800×500, "Entropy")`, so that
/// a notebook without the `evcxr` feature does not print every point.
impl std::fmt::Debug for Chart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.kind {
            Kind::Lines { series, roc, .. } => {
                let k = if *roc { "roc" } else { "lines" };
                format!("{k}: {} series", series.len())
            }
            Kind::Heatmap { values, n_rows, .. } => {
                format!("heatmap: {} × {}", n_rows, values.len() / (*n_rows).max(1))
            }
            Kind::Histogram { groups, bins, .. } => {
                format!("histogram: {} groups, {bins} bins", groups.len())
            }
            Kind::Scatter { x, .. } => format!("scatter: {} points", x.len()),
        };
        write!(f, "Chart({what}, {}×{}", self.width, self.height)?;
        if let Some(t) = &self.title {
            write!(f, ", {t:?}")?;
        }
        f.write_str(")")
    }
}

impl Chart {
    fn new(kind: Kind, x_label: &str, y_label: &str) -> Self {
        Chart {
            kind,
            title: None,
            x_label: x_label.into(),
            y_label: y_label.into(),
            width: DEFAULT_SIZE.0,
            height: DEFAULT_SIZE.1,
            legend: Legend::Auto,
            x_range: None,
            y_range: None,
        }
    }

    /// Title drawn above the plot.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
    /// x-axis description.
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }
    /// y-axis description (for a heatmap: the colour bar's description).
    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        match &mut self.kind {
            Kind::Heatmap { value_label, .. } => *value_label = label.into(),
            _ => self.y_label = label.into(),
        }
        self
    }
    /// Size in pixels used by [`save`](Chart::save), [`png`](Chart::png), [`svg`](Chart::svg)
    /// and the notebook display (default 800 × 500).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }
    /// Legend placement (default [`Legend::Auto`]).
    pub fn legend(mut self, legend: Legend) -> Self {
        self.legend = legend;
        self
    }
    /// Fix the x range instead of fitting the data (for a heatmap: ignored).
    pub fn x_range(mut self, min: f64, max: f64) -> Self {
        self.x_range = Some((min, max));
        self
    }
    /// Fix the y range (for a heatmap: the colour scale's range).
    pub fn y_range(mut self, min: f64, max: f64) -> Self {
        self.y_range = Some((min, max));
        self
    }
    /// Summary band for line charts (ignored by other kinds).
    pub fn band(mut self, band: Band) -> Self {
        if let Kind::Lines { band: b, .. } = &mut self.kind {
            *b = band;
        }
        self
    }
    /// Draw a marker at every point of line charts (ignored by other kinds).
    pub fn markers(mut self, on: bool) -> Self {
        if let Kind::Lines { markers, .. } = &mut self.kind {
            *markers = on;
        }
        self
    }
    /// Histogram y axis: probability density (true, the default, comparable between groups of
    /// different sizes) or counts (false). Ignored by other kinds.
    pub fn density(mut self, on: bool) -> Self {
        if let Kind::Histogram { density, .. } = &mut self.kind {
            *density = on;
            self.y_label = if on { "density" } else { "count" }.into();
        }
        self
    }

    /// The size set with [`size`](Chart::size).
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Draw on any plotters drawing area (the whole area is filled white first).
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        ensure_font()?;
        area.fill(&WHITE).map_err(perr)?;
        let area = match &self.title {
            Some(t) => area
                .titled(t, (FONT, 22).into_font().style(FontStyle::Bold))
                .map_err(perr)?,
            None => area.clone(),
        };
        check_range("x_range", self.x_range)?;
        check_range("y_range", self.y_range)?;
        match &self.kind {
            Kind::Lines {
                series,
                band,
                markers,
                roc,
            } => self.draw_lines(&area, series, *band, *markers, *roc),
            Kind::Heatmap {
                values,
                n_rows,
                col_labels,
                row_labels,
                value_label,
            } => self.draw_heatmap(&area, values, *n_rows, col_labels, row_labels, value_label),
            Kind::Histogram {
                groups,
                bins,
                density,
            } => self.draw_histogram(&area, groups, *bins, *density),
            Kind::Scatter { x, y, class, size } => {
                self.draw_scatter(&area, x, y, class, size.as_deref())
            }
        }
    }

    /// The chart as PNG bytes at its [`size`](Chart::size).
    pub fn png(&self) -> Result<Vec<u8>> {
        png_bytes(self.width, self.height, |a| self.draw(a))
    }

    /// The chart as an SVG document at its [`size`](Chart::size).
    pub fn svg(&self) -> Result<String> {
        svg_string(self.width, self.height, |a| self.draw(a))
    }

    /// Save as PNG or SVG, chosen by the extension (`.png` / `.svg`, any case); another
    /// extension gives [`Error::InvalidParameter`], an unwritable path [`Error::Unwritable`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => write_file(path, &self.png()?),
            Some("svg") => write_file(path, self.svg()?.as_bytes()),
            _ => Err(Error::invalid(
                "path",
                path.display(),
                "a file name ending in .png or .svg",
            )),
        }
    }

    /// What `evcxr_display` (feature `evcxr`) prints: the PNG, base64-encoded, between
    /// evcxr's `EVCXR_BEGIN_CONTENT image/png` and `EVCXR_END_CONTENT` markers (or the error as
    /// `text/plain` when the chart cannot be drawn).
    pub fn evcxr_content(&self) -> String {
        match self.png() {
            Ok(bytes) => format!(
                "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT",
                base64(&bytes)
            ),
            Err(e) => {
                format!("EVCXR_BEGIN_CONTENT text/plain\nchart error: {e}\nEVCXR_END_CONTENT")
            }
        }
    }

    /// Show the chart inline in an evcxr (Rust Jupyter) notebook (feature `evcxr`). evcxr calls
    /// this method on the value of a cell's last expression; call it yourself to show a chart
    /// mid-cell.
    ///
    /// ```text
    /// :dep entroscope = { path = "..", features = ["evcxr"] }
    /// use entroscope::plot::{self, Band};
    /// plot::entropy_vs_depth(&series, Band::Std)?   // shown below the cell
    /// ```
    #[cfg(feature = "evcxr")]
    pub fn evcxr_display(&self) {
        println!("{}", self.evcxr_content());
    }
}

fn check_range(name: &'static str, r: Option<(f64, f64)>) -> Result<()> {
    match r {
        Some((a, b)) if !(a.is_finite() && b.is_finite() && a < b) => Err(Error::invalid(
            name,
            format!("({a}, {b})"),
            "finite min < max",
        )),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering to files and bytes
// ---------------------------------------------------------------------------------------------

const MAX_SIDE: u32 = 10_000;

fn check_size(w: u32, h: u32) -> Result<()> {
    if !(16..=MAX_SIDE).contains(&w) || !(16..=MAX_SIDE).contains(&h) {
        return Err(Error::invalid(
            "size",
            format!("{w} × {h}"),
            format!("width and height between 16 and {MAX_SIDE} pixels"),
        ));
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(Error::Unwritable {
                path: path.to_path_buf(),
                detail: format!("directory {} does not exist", dir.display()),
            });
        }
    }
    std::fs::write(path, bytes).map_err(|e| Error::Unwritable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// The backend of every PNG this module renders: plotters' RGB bitmap with [`CrispText`].
pub type PngBackend<'a> = CrispText<BitMapBackend<'a>>;

/// Draw with `f` on a white `width × height` bitmap and return it PNG-encoded (RGB, 8 bit).
pub fn png_bytes(
    width: u32,
    height: u32,
    f: impl FnOnce(&DrawingArea<PngBackend<'_>, Shift>) -> Result<()>,
) -> Result<Vec<u8>> {
    check_size(width, height)?;
    ensure_font()?;
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root =
            CrispText(BitMapBackend::with_buffer(&mut rgb, (width, height))).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        f(&root)?;
        root.present().map_err(perr)?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut w = enc.write_header().map_err(perr)?;
        w.write_image_data(&rgb).map_err(perr)?;
        w.finish().map_err(perr)?;
    }
    Ok(out)
}

/// Draw with `f` on a white `width × height` SVG canvas and return the document.
pub fn svg_string(
    width: u32,
    height: u32,
    f: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<String> {
    check_size(width, height)?;
    ensure_font()?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        f(&root)?;
        root.present().map_err(perr)?;
    }
    Ok(s)
}

/// Draw with `f` on a `width × height` bitmap and save it as PNG — for custom figures, e.g.
/// several charts side by side:
///
/// ```no_run
/// # use entroscope::plot::{self, Chart};
/// # fn demo(c1: &Chart, c2: &Chart) -> entroscope::Result<()> {
/// plot::save_png("figures/panels.png", 1200, 450, |root| {
///     let (left, right) = root.split_horizontally(600);
///     c1.draw(&left)?;
///     c2.draw(&right)
/// })?;
/// # Ok(()) }
/// ```
/// An unwritable path gives [`Error::Unwritable`].
pub fn save_png(
    path: impl AsRef<Path>,
    width: u32,
    height: u32,
    f: impl FnOnce(&DrawingArea<PngBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    let bytes = png_bytes(width, height, f)?;
    write_file(path.as_ref(), &bytes)
}

/// Draw with `f` on a `width × height` SVG canvas and save it (see [`save_png`]).
pub fn save_svg(
    path: impl AsRef<Path>,
    width: u32,
    height: u32,
    f: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    let s = svg_string(width, height, f)?;
    write_file(path.as_ref(), s.as_bytes())
}

/// Standard base64 (RFC 4648, with padding), for evcxr's inline images.
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Chart constructors
// ---------------------------------------------------------------------------------------------

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
            markers: false,
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
        Some(p) => chart.y_label(metric_label(&p.metric.to_string(), &p.units.to_string())),
        None => chart,
    })
}

/// A readable axis label for a metric's `Display` name and units.
pub fn metric_label(metric: &str, units: &str) -> String {
    let (name, with_units) = match metric {
        "shannon" => ("Shannon entropy".to_string(), true),
        "cross-entropy" => ("cross-entropy".to_string(), true),
        "kl-final" => ("KL to final layer".to_string(), true),
        "target-rank" => ("rank of target token".to_string(), false),
        "target-prob" => ("p(target token)".to_string(), false),
        m => match m.strip_prefix("renyi:") {
            Some(a) => (format!("Rényi entropy (α = {a})"), true),
            None => (m.to_string(), true),
        },
    };
    if with_units && !units.is_empty() {
        format!("{name} ({units})")
    } else {
        name
    }
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
            markers: false,
            roc: false,
        },
        "x",
        "y",
    ))
}

/// ROC curves (x = false-positive rate, y = true-positive rate, both [0, 1]), each labelled with
/// its AUC ([`trapezoid_area`]) in the legend, over the dashed chance diagonal. Build the curves
/// with [`Curve::roc`] or pass (FPR, TPR) points running from (0, 0) to (1, 1).
pub fn roc(curves: &[Curve]) -> Result<Chart> {
    check_series(curves)?;
    Ok(Chart::new(
        Kind::Lines {
            series: curves.to_vec(),
            band: Band::None,
            markers: false,
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
/// the metric and units. [`Chart::y_range`] fixes the colour range (to compare heatmaps).
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
    Ok(chart.y_label(metric_label(
        &profile.metric.to_string(),
        &profile.units.to_string(),
    )))
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
        },
        "token (position →)",
        "layer",
    )
    .size(900, 560))
}

/// Histograms of one or more groups of values overlaid (e.g. `&[("correct", &c), ("incorrect",
/// &w)]`), sharing `bins` equal-width bins over the finite values of all groups, as densities
/// (switch to counts with [`Chart::density`]`(false)`). The legend gives each group's size.
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
            density: true,
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

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

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
const GRID: RGBColor = RGBColor(225, 225, 225);
const TEXT: RGBColor = RGBColor(30, 30, 30);
const MAX_LEGEND_SERIES: usize = 10;

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = it
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// numpy's default (linear) quantile of sorted data.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
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

fn shorten(s: &str, max: usize) -> String {
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
        h: (labels.len() as f64 * font_size * 1.25) as i32 + 20,
    }
}

/// The corner where the legend box hides the fewest of the sampled pixel points (ties: upper
/// right, upper left, lower right, lower left).
fn pick_corner(
    fit: &LegendFit,
    plot_dim: (u32, u32),
    pixels: &[(i32, i32)],
    preferred: Legend,
) -> SeriesLabelPosition {
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
        return corners
            .iter()
            .find(|c| c.0 == preferred)
            .map_or(SeriesLabelPosition::UpperRight, |c| c.1.clone());
    }
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (_, pos, x0, y0) in corners {
        let hidden = pixels
            .iter()
            .filter(|(x, y)| {
                *x >= x0 - 4 && *x <= x0 + fit.w + 4 && *y >= y0 - 4 && *y <= y0 + fit.h + 4
            })
            .count();
        if hidden < best.0 {
            best = (hidden, pos);
        }
    }
    best.1
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

macro_rules! mesh_defaults {
    ($mesh:expr, $xl:expr, $yl:expr) => {
        $mesh
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(RGBColor(90, 90, 90))
            .x_desc($xl)
            .y_desc($yl)
            .label_style((FONT, 14).into_font().color(&TEXT))
            .axis_desc_style((FONT, 16).into_font().color(&TEXT))
    };
}

impl Chart {
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
        let fit = legend_fit(&plot, labels, 14.0);
        let (bx, by) = plot.get_base_pixel();
        let local: Vec<(i32, i32)> = pixels.iter().map(|(x, y)| (x - bx, y - by)).collect();
        let pos = pick_corner(&fit, plot.dim_in_pixel(), &local, self.legend);
        chart
            .configure_series_labels()
            .position(pos)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT, 14).into_font().color(&TEXT))
            .draw()
            .map_err(perr)
    }

    fn draw_lines<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        series: &[Curve],
        band: Band,
        markers: bool,
        roc: bool,
    ) -> Result<()> {
        let pts: Vec<Vec<(f64, f64)>> = series.iter().map(Curve::points).collect();
        let summary = if band == Band::None {
            Vec::new()
        } else {
            summarize(series, band)
        };
        let xr = match self.x_range {
            Some(r) => r,
            None => fit_range(pts.iter().flatten().map(|p| p.0), 0.0)
                .ok_or_else(|| Error::NotEnoughData("no finite points".into()))?,
        };
        let yr = match self.y_range {
            Some(r) => r,
            None => fit_range(
                pts.iter()
                    .flatten()
                    .map(|p| p.1)
                    .chain(summary.iter().flat_map(|s| [s.2, s.3])),
                0.05,
            )
            .ok_or_else(|| Error::NotEnoughData("no finite points".into()))?,
        };
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(perr)?;
        let (fx, fy) = (tick_formatter(xr, 10), tick_formatter(yr, 8));
        mesh_defaults!(chart.configure_mesh(), &self.x_label, &self.y_label)
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .draw()
            .map_err(perr)?;

        let mut legend_labels = Vec::new();
        let mut pixels = Vec::new();
        if roc {
            let diag = DashedLineSeries::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                6,
                5,
                RGBColor(150, 150, 150).stroke_width(1),
            );
            chart
                .draw_series(diag)
                .map_err(perr)?
                .label("chance (AUC = 0.5)")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(150, 150, 150))
                });
            legend_labels.push("chance (AUC = 0.5)".to_string());
        }

        let many = series.len() > MAX_LEGEND_SERIES;
        let faint = many || (band != Band::None && series.len() > 3);
        for (i, (s, p)) in series.iter().zip(&pts).enumerate() {
            if p.is_empty() {
                continue;
            }
            let c = color(i);
            let style = if faint && band != Band::None {
                c.mix(0.35).stroke_width(1)
            } else if many {
                c.mix(0.6).stroke_width(1)
            } else {
                c.stroke_width(2)
            };
            let label = if roc {
                format!("{} (AUC = {:.3})", shorten(&s.name, 32), trapezoid_area(s))
            } else {
                shorten(&s.name, 40)
            };
            let drawn = chart
                .draw_series(LineSeries::new(p.iter().copied(), style))
                .map_err(perr)?;
            if !many {
                drawn.label(label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
                legend_labels.push(label);
            }
            if markers {
                chart
                    .draw_series(p.iter().map(|&(x, y)| Circle::new((x, y), 4, c.filled())))
                    .map_err(perr)?;
            }
            let px: Vec<(i32, i32)> = p.iter().map(|q| chart.backend_coord(q)).collect();
            sample_polyline(&px, &mut pixels);
        }

        if !summary.is_empty() {
            let n = summary.iter().map(|s| s.4).max().unwrap_or(0);
            let (centre, spread) = match band {
                Band::Iqr => ("median", "+ IQR"),
                _ => ("mean", "± std"),
            };
            let mut poly: Vec<(f64, f64)> = summary.iter().map(|s| (s.0, s.3)).collect();
            poly.extend(summary.iter().rev().map(|s| (s.0, s.2)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    BLACK.mix(0.12).filled(),
                )))
                .map_err(perr)?;
            let label = format!("{centre} {spread} (n = {n})");
            chart
                .draw_series(LineSeries::new(
                    summary.iter().map(|s| (s.0, s.1)),
                    BLACK.stroke_width(3),
                ))
                .map_err(perr)?
                .label(label.clone())
                .legend(|(x, y)| {
                    EmptyElement::at((x, y))
                        + Rectangle::new([(0, -6), (20, 6)], BLACK.mix(0.15).filled())
                        + PathElement::new(vec![(0, 0), (20, 0)], BLACK.stroke_width(3))
                });
            legend_labels.push(label);
            for s in &summary {
                for y in [s.1, s.2, s.3] {
                    pixels.push(chart.backend_coord(&(s.0, y)));
                }
            }
            let px: Vec<(i32, i32)> = summary
                .iter()
                .map(|s| chart.backend_coord(&(s.0, s.1)))
                .collect();
            sample_polyline(&px, &mut pixels);
        }
        self.draw_legend(&mut chart, &legend_labels, &pixels)
    }

    #[allow(clippy::too_many_arguments)]
    fn draw_heatmap<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        values: &[f64],
        n_rows: usize,
        col_labels: &[String],
        row_labels: &[String],
        value_label: &str,
    ) -> Result<()> {
        let n_cols = col_labels.len();
        let (vmin, vmax) = match self.y_range {
            Some(r) => r,
            None => fit_range(values.iter().copied(), 0.0)
                .ok_or_else(|| Error::NotEnoughData("no finite cell".into()))?,
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
        mesh_defaults!(chart.configure_mesh(), &self.x_label, &self.y_label)
            .disable_mesh()
            .x_labels(0)
            .y_labels(n_rows.min(plot_h / 22).max(2))
            .y_label_formatter(&row_fmt)
            .draw()
            .map_err(perr)?;

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
        let step = (16.0 / cell_w).ceil().max(1.0) as usize;
        let (bx, by) = main.get_base_pixel();
        let style = label_font
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for c in (0..n_cols).step_by(step) {
            let (px, py) = chart.backend_coord(&(c as f64, -0.5));
            main.draw(&PathElement::new(
                vec![(px - bx, py - by), (px - bx, py - by + 4)],
                RGBColor(90, 90, 90),
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
        let axis = RGBColor(90, 90, 90);
        cbar.draw(&Rectangle::new([(x0, y0), (x1, y1)], axis))
            .map_err(perr)?;
        let label_style = tick_font.pos(Pos::new(HPos::Left, VPos::Center));
        for t in &cb_ticks {
            let frac = if vmax > vmin {
                (t - vmin) / (vmax - vmin)
            } else {
                0.5
            };
            let y = y1 - (frac * span as f64).round() as i32;
            cbar.draw(&PathElement::new(vec![(x1, y), (x1 + 4, y)], axis))
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

    fn draw_histogram<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        groups: &[(String, Vec<f64>)],
        bins: usize,
        density: bool,
    ) -> Result<()> {
        let (lo, hi) = match self.x_range {
            Some(r) => r,
            None => fit_range(groups.iter().flat_map(|g| g.1.iter().copied()), 0.0)
                .ok_or_else(|| Error::NotEnoughData("no finite values".into()))?,
        };
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
                        if density && n > 0 {
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
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, yr.0..yr.1)
            .map_err(perr)?;
        let (fx, fy) = (tick_formatter((lo, hi), 10), tick_formatter(yr, 8));
        mesh_defaults!(chart.configure_mesh(), &self.x_label, &self.y_label)
            .disable_x_mesh()
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .draw()
            .map_err(perr)?;
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

    fn draw_scatter<DB: DrawingBackend>(
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
        let xr = match self.x_range {
            Some(r) => r,
            None => fit_range(ok.iter().map(|&i| x[i]), 0.05)
                .ok_or_else(|| Error::NotEnoughData("no finite points".into()))?,
        };
        let yr = match self.y_range {
            Some(r) => r,
            None => fit_range(ok.iter().map(|&i| y[i]), 0.05)
                .ok_or_else(|| Error::NotEnoughData("no finite points".into()))?,
        };
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
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(perr)?;
        let (fx, fy) = (tick_formatter(xr, 8), tick_formatter(yr, 8));
        mesh_defaults!(chart.configure_mesh(), &self.x_label, &self.y_label)
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .draw()
            .map_err(perr)?;
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
    fn base64_rfc4648_vectors() {
        // RFC 4648 §10 test vectors.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn evcxr_content_is_a_base64_png() {
        let c = lines(&[Curve::from_y("a", vec![1.0, 2.0])])
            .unwrap() // ok: test-only
            .size(100, 80);
        let out = c.evcxr_content();
        let body = out
            .strip_prefix("EVCXR_BEGIN_CONTENT image/png\n")
            .and_then(|s| s.strip_suffix("\nEVCXR_END_CONTENT"))
            .unwrap(); // ok: test-only
                       // the PNG signature 89 50 4E 47 0D 0A 1A 0A in base64
        assert!(body.starts_with("iVBORw0KGgo"), "{}", &body[..20]);
        assert_eq!(body, base64(&c.png().unwrap())); // ok: test-only
        let bad = c.x_range(2.0, 1.0).evcxr_content();
        assert!(bad.starts_with("EVCXR_BEGIN_CONTENT text/plain\nchart error"));
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
    fn token_labels_are_visible() {
        assert_eq!(token_label(" the", 12), "␣the");
        assert_eq!(token_label("Ġthe\n", 12), "␣the↵");
        assert_eq!(token_label("abcdefghijklmnop", 6), "abcde…");
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
