//! Fonts for the heatmaps: DejaVu Sans compiled into the binary (so rendering needs no system
//! fonts), or a TrueType/OpenType file the user brings for scripts DejaVu lacks (e.g. CJK); text
//! measurement and glyph rasterization with `ab_glyph`.
//!
//! PNG text is rasterized here rather than by plotters' `ab_glyph` text backend, which drops each
//! glyph's left side bearing and rounds the pen position per glyph, so letters visibly wobble
//! ("ro uge"). SVG text is left to the viewer, with the family name below as `font-family`.

use crate::error::{Error, Result};
use ab_glyph::{Font as _, FontArc, GlyphId, PxScale, ScaleFont};
use std::path::Path;
use std::sync::OnceLock;

use crate::render::DEJAVU_SANS;

/// CSS `font-family` of SVG text drawn with the embedded font; the generic fallback after the
/// comma serves viewers without DejaVu Sans.
const EMBEDDED_FAMILY: &str = "DejaVu Sans, sans-serif";

/// A font to draw text with; cheap to clone.
#[derive(Clone)]
pub struct Font {
    family: String,
    face: FontArc,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font").field("family", &self.family).finish_non_exhaustive()
    }
}

impl Font {
    /// DejaVu Sans (Latin with accents, Greek, Cyrillic), embedded in the binary.
    pub fn embedded() -> Font {
        static FACE: OnceLock<FontArc> = OnceLock::new();
        let face = FACE.get_or_init(|| {
            FontArc::try_from_slice(DEJAVU_SANS).unwrap_or_else(|_| {
                // The bytes are a fixed asset; `embedded_font_is_valid` below guards them.
                unreachable!("the embedded DejaVuSans.ttf is not a valid font")
            })
        });
        Font { family: EMBEDDED_FAMILY.to_string(), face: face.clone() }
    }

    /// Loads a TrueType/OpenType font (`.ttf`, `.otf`, or the first face of a `.ttc`). SVG
    /// output names it by its file stem, which the viewer resolves among its own fonts.
    pub fn from_file(path: &Path) -> Result<Font> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let face = FontArc::try_from_vec(bytes)
            .map_err(|_| Error::Usage(format!("--font {}: not a TrueType/OpenType font", path.display())))?;
        Ok(Font { family: format!("{}, sans-serif", css_family_name(path)), face })
    }

    /// The CSS `font-family` list of SVG text.
    pub(crate) fn family(&self) -> &str {
        &self.family
    }

    fn scale(&self, em: f64) -> PxScale {
        // ab_glyph scales by ascent - descent; `em` is the font size in CSS px (one em).
        let height = self.face.height_unscaled();
        let per_em = self.face.units_per_em().unwrap_or(height);
        PxScale::from((em as f32) * height / per_em)
    }

    /// Pen positions of the glyphs of `text` (kerning applied) and the total advance, px.
    fn shape(&self, em: f64, text: &str) -> (Vec<(GlyphId, f32)>, f32) {
        let font = self.face.as_scaled(self.scale(em));
        let mut pen = 0.0;
        let mut prev: Option<GlyphId> = None;
        let mut glyphs = Vec::with_capacity(text.len());
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                pen += font.kern(p, id);
            }
            glyphs.push((id, pen));
            pen += font.h_advance(id);
            prev = Some(id);
        }
        (glyphs, pen)
    }

    /// Advance width of `text` at `em` px, px.
    pub(crate) fn width(&self, em: f64, text: &str) -> f64 {
        f64::from(self.shape(em, text).1)
    }

    /// Height of a capital letter above the baseline at `em` px, px.
    pub(crate) fn cap_height(&self, em: f64) -> f64 {
        let scale = self.scale(em);
        let glyph = self.face.glyph_id('H').with_scale(scale);
        match self.face.outline_glyph(glyph) {
            Some(g) => f64::from(-g.px_bounds().min.y),
            None => 0.7 * em,
        }
    }

    /// Rasterizes `text` at `em` px: calls `put(x, y, coverage)` for every touched pixel, with
    /// `(x, y)` relative to the start of the text on its baseline (y grows downwards).
    pub(crate) fn rasterize(&self, em: f64, text: &str, mut put: impl FnMut(i32, i32, f32)) {
        let scale = self.scale(em);
        let (glyphs, _) = self.shape(em, text);
        for (id, pen) in glyphs {
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, 0.0));
            if let Some(outlined) = self.face.outline_glyph(glyph) {
                let b = outlined.px_bounds();
                let (x0, y0) = (b.min.x as i32, b.min.y as i32);
                outlined.draw(|x, y, c| put(x0 + x as i32, y0 + y as i32, c));
            }
        }
    }
}

/// The file stem reduced to characters that are valid unquoted in a CSS `font-family` list.
fn css_family_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String = stem.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    match name.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => name,
        _ => format!("user-font-{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_is_valid_and_covers_accented_latin() {
        let font = Font::embedded();
        for c in "éçœßüÉÇŒÜ".chars() {
            assert_ne!(font.face.glyph_id(c), GlyphId(0), "no glyph for {c}");
        }
        let w = font.width(20.0, "Hello");
        assert!(w > 40.0 && w < 70.0, "{w}");
        let cap = font.cap_height(20.0);
        assert!((13.0..16.0).contains(&cap), "{cap}");
    }

    #[test]
    fn rasterized_text_covers_pixels_above_the_baseline() {
        let mut ys = Vec::new();
        Font::embedded().rasterize(20.0, "H", |_, y, c| {
            if c > 0.5 {
                ys.push(y)
            }
        });
        assert!(!ys.is_empty());
        assert!(ys.iter().all(|&y| (-16..=0).contains(&y)), "{ys:?}");
    }

    #[test]
    fn family_names_from_file_stems_are_css_identifiers() {
        assert_eq!(css_family_name(Path::new("/x/NotoSansCJK-Regular.ttc")), "NotoSansCJK-Regular");
        assert_eq!(css_family_name(Path::new("9 fonts\".ttf")), "user-font-9fonts");
    }

    #[test]
    fn a_file_that_is_not_a_font_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.ttf");
        std::fs::write(&path, b"\x89PNG\r\n\x1a\n").unwrap();
        let err = Font::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("not a TrueType/OpenType font"), "{err}");
        let copy = dir.path().join("DejaVu Copy.ttf");
        std::fs::write(&copy, DEJAVU_SANS).unwrap();
        let font = Font::from_file(&copy).unwrap();
        assert_eq!(font.family(), "DejaVuCopy, sans-serif");
    }
}
