//! The one font of every chart: DejaVu Sans embedded in the binary and registered with plotters'
//! `ab_glyph` font table as `"sans-serif"`, and [`CrispText`], the bitmap backend wrapper that
//! rasterises that font's text itself.
//!
//! The font ships with the crate (`assets/DejaVuSans.ttf`, Bitstream Vera licence in
//! `assets/DejaVuSans-LICENSE`) so that charts render identically without any system font
//! library. SVG output names the family `sans-serif` in `<text>` elements and lets the viewer
//! pick the font. This file imports plotters-backend's `BackendStyle` trait, whose methods clash
//! with plotters' `Color`, so it keeps away from plotters' prelude.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, OnceLock};

use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{register_font, FontStyle};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use crate::error::{Error, Result};

static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static FONT_ONCE: Once = Once::new();
static FONT_OK: AtomicBool = AtomicBool::new(false);

/// Font family used for every text of every chart (the embedded DejaVu Sans).
pub const FONT: &str = "sans-serif";

/// Register the embedded DejaVu Sans as plotters' `"sans-serif"` (all styles) once per process.
/// Chart functions call it; call it yourself before drawing text with plotters directly.
///
/// Errors: [`Error::Plot`] when the embedded font cannot be parsed (a broken build).
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
        FONT_OK.store(ok, Ordering::SeqCst);
    });
    if FONT_OK.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(Error::Plot(
            "the embedded font assets/DejaVuSans.ttf could not be parsed; rebuild entroscope"
                .into(),
        ))
    }
}

/// The embedded font, parsed once for [`CrispText`].
fn font_ref() -> Option<&'static ab_glyph::FontRef<'static>> {
    static F: OnceLock<Option<ab_glyph::FontRef<'static>>> = OnceLock::new();
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
                        pixels.push((b.min.x as i32 + x as i32, b.min.y as i32 + y as i32, cov));
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
