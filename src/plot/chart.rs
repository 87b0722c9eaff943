//! [`Chart`]: a chart's validated data, labels and size; its builder methods; drawing on any
//! plotters area; and rendering to PNG bytes, SVG text, files and evcxr's inline display.
//!
//! The free functions [`png_bytes`], [`svg_string`], [`save_png`] and [`save_svg`] are the same
//! rendering path for custom figures (several charts on one canvas). Every PNG goes through
//! [`CrispText`] so that text looks the same in files and notebooks.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::curve::{Band, Curve, Heights, Legend, Markers};
use super::font::{ensure_font, CrispText, FONT};
use crate::error::{Error, Result};

/// plotters' errors as [`Error::Plot`].
pub(super) fn perr(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// Default chart size in pixels (width, height).
pub const DEFAULT_SIZE: (u32, u32) = (800, 500);

/// What a chart draws: its validated data and the options of its kind.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// Lines, one per curve; `roc` adds the chance diagonal and AUCs in the legend.
    Lines {
        series: Vec<Curve>,
        band: Band,
        markers: Markers,
        roc: bool,
    },
    /// A row-major `[n_rows, col_labels.len()]` matrix of colour cells.
    Heatmap {
        values: Vec<f64>,
        n_rows: usize,
        col_labels: Vec<String>,
        row_labels: Vec<String>,
        value_label: String,
        /// Text written in each cell (row-major like `values`; empty = none).
        cell_labels: Vec<String>,
    },
    /// Overlaid histograms of named groups over shared bins.
    Histogram {
        groups: Vec<(String, Vec<f64>)>,
        bins: usize,
        heights: Heights,
    },
    /// Points coloured by class, optionally sized.
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
///
/// [`entropy_vs_depth`]: super::entropy_vs_depth
/// [`profiles_vs_depth`]: super::profiles_vs_depth
/// [`lines`]: super::lines
/// [`heatmap`]: super::heatmap
/// [`heatmap_matrix`]: super::heatmap_matrix
/// [`histogram`]: super::histogram
/// [`roc`]: super::roc
/// [`scatter`]: super::scatter
#[derive(Clone, PartialEq)]
pub struct Chart {
    pub(super) kind: Kind,
    pub(super) title: Option<String>,
    pub(super) x_label: String,
    pub(super) y_label: String,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) legend: Legend,
    pub(super) x_range: Option<(f64, f64)>,
    pub(super) y_range: Option<(f64, f64)>,
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
    /// A chart of `kind` with axis descriptions, the default size and an automatic legend.
    pub(super) fn new(kind: Kind, x_label: &str, y_label: &str) -> Self {
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
    /// Heatmaps: text written in each cell, row-major like the values (e.g. each layer's top
    /// token at each position, [`crate::lens::TopTokens::grid`]); drawn where a cell is large
    /// enough to hold a few characters, in white on dark cells and black on light ones.
    ///
    /// Errors: not a heatmap, or not one label per cell ([`Error::InvalidParameter`]).
    pub fn cell_labels(mut self, labels: Vec<String>) -> Result<Self> {
        match &mut self.kind {
            Kind::Heatmap {
                values,
                cell_labels,
                ..
            } if values.len() == labels.len() => {
                *cell_labels = labels;
                Ok(self)
            }
            Kind::Heatmap { values, .. } => Err(Error::invalid(
                "cell labels",
                format!("{} labels", labels.len()),
                format!("one per cell ({})", values.len()),
            )),
            _ => Err(Error::invalid(
                "cell labels",
                "a chart that is not a heatmap",
                "a heatmap (plot::heatmap, plot::heatmap_matrix)",
            )),
        }
    }
    /// Summary band for line charts (ignored by other kinds).
    pub fn band(mut self, band: Band) -> Self {
        if let Kind::Lines { band: b, .. } = &mut self.kind {
            *b = band;
        }
        self
    }
    /// Point markers of line charts (default [`Markers::None`]; ignored by other kinds).
    pub fn markers(mut self, markers: Markers) -> Self {
        if let Kind::Lines { markers: m, .. } = &mut self.kind {
            *m = markers;
        }
        self
    }
    /// What histogram bars measure, and the matching y label: [`Heights::Density`] (the
    /// default, comparable between groups of different sizes) or [`Heights::Count`]. Ignored by
    /// other kinds.
    pub fn heights(mut self, heights: Heights) -> Self {
        if let Kind::Histogram { heights: h, .. } = &mut self.kind {
            *h = heights;
            self.y_label = match heights {
                Heights::Density => "density",
                Heights::Count => "count",
            }
            .into();
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
            Some(t) => {
                let size = title_size(area, t)?;
                area.titled(t, (FONT, size).into_font().style(FontStyle::Bold))
                    .map_err(perr)?
            }
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
                cell_labels,
            } => self.draw_heatmap(
                &area,
                &super::draw::Heat {
                    values,
                    n_rows: *n_rows,
                    col_labels,
                    row_labels,
                    value_label,
                    cell_labels,
                },
            ),
            Kind::Histogram {
                groups,
                bins,
                heights,
            } => self.draw_histogram(&area, groups, *bins, *heights),
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

/// The title's font size: 22 px, or smaller (down to 12) until the title fits the chart's width
/// with a margin, so a long title at notebook size is not clipped at both ends.
pub(super) fn title_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<f64> {
    let room = f64::from(area.dim_in_pixel().0) - 24.0;
    let mut size = 22.0;
    while size > 12.0 {
        let font = (FONT, size).into_font().style(FontStyle::Bold);
        let (w, _) = area.estimate_text_size(title, &font.into()).map_err(perr)?;
        if f64::from(w) <= room {
            break;
        }
        size -= 1.0;
    }
    Ok(size)
}

/// A fixed axis range must be finite and increasing.
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

/// Largest accepted side of a rendered image in pixels (a guard against typos like `size(80000, 500)`).
const MAX_SIDE: u32 = 10_000;

/// Rendered sizes must lie between 16 and [`MAX_SIDE`] pixels.
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

/// Write `bytes` to `path`, as [`Error::Unwritable`] when its folder is missing or the write fails.
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

/// Standard base64 (RFC 4648 alphabet, with padding), the encoding evcxr expects for inline
/// images.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::super::lines;
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
    fn long_titles_shrink_to_fit_short_ones_keep_their_size() {
        ensure_font().unwrap(); // ok: test-only
        let mut buf = vec![0u8; 560 * 350 * 3];
        let area = BitMapBackend::with_buffer(&mut buf, (560, 350)).into_drawing_area();
        assert_eq!(title_size(&area, "Entropy").unwrap(), 22.0); // ok: test-only
        let long = "SmolLM2-135M-Instruct: TruthfulQA MC1 accuracy under layer skips";
        let size = title_size(&area, long).unwrap(); // ok: test-only
        assert!((12.0..22.0).contains(&size), "{size}");
        let font = (FONT, size).into_font().style(FontStyle::Bold);
        let (w, _) = area.estimate_text_size(long, &font.into()).unwrap(); // ok: test-only
        assert!(w <= 560 - 24, "{w} px");
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
}
