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
//! Choices are enums, not strings or flags: [`Band`], [`Legend`], [`Markers`], [`Heights`].
//! Empty or all-NaN inputs give [`Error::NotEnoughData`], mismatched lengths
//! [`Error::InvalidParameter`]; nothing here panics on user data. NaN / infinite points are
//! skipped when drawing.
//!
//! The code is split by concern; everything public is re-exported here:
//! - `font`: the embedded DejaVu Sans ([`FONT`], [`ensure_font`]) and [`CrispText`], the bitmap
//!   backend wrapper that draws its text;
//! - `curve`: the inputs ([`Curve`], [`trapezoid_area`]) and the option enums;
//! - `chart`: the [`Chart`] type, its builder methods and rendering ([`png_bytes`],
//!   [`svg_string`], [`save_png`], [`save_svg`]);
//! - `charts`: the constructors ([`entropy_vs_depth`], [`profiles_vs_depth`], [`lines`], [`roc`],
//!   [`heatmap`], [`heatmap_matrix`], [`histogram`], [`scatter`]) and label helpers
//!   ([`metric_label`], [`token_label`]);
//! - `draw`: one draw routine per chart kind and the layout they share (plot frame and mesh,
//!   tick labels, legend placement).
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
//!
//! [`LayerProfile`]: crate::profile::LayerProfile
//! [`Error::NotEnoughData`]: crate::Error::NotEnoughData
//! [`Error::InvalidParameter`]: crate::Error::InvalidParameter

mod chart;
mod charts;
mod curve;
mod draw;
mod font;

pub use chart::{png_bytes, save_png, save_svg, svg_string, Chart, PngBackend, DEFAULT_SIZE};
pub use charts::{
    entropy_vs_depth, heatmap, heatmap_matrix, histogram, lines, metric_label, profiles_vs_depth,
    roc, scatter, token_label,
};
pub use curve::{trapezoid_area, Band, Curve, Heights, Legend, Markers};
pub use font::{ensure_font, CrispText, FONT};
