//! Painting a planned picture with plotters, and encoding it as PNG or SVG bytes.

use super::colormap::{level, level_rgb, text_on, LEVELS};
use super::font::Font;
use super::layout::{Plan, LABEL_GAP, LABEL_SIZE, TICKS, TICK_GAP, TICK_LEN, TICK_SIZE, VALUE_SIZE};
use crate::render::encode_png;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;

const TEXT: RGBColor = RGBColor(34, 34, 34);
const MUTED: RGBColor = RGBColor(90, 90, 90);
const FRAME: RGBColor = RGBColor(160, 160, 160);
/// The frame of an aligned cell (`--alignments`): red, which viridis never takes.
const MARK: RGBColor = RGBColor(228, 26, 28);
/// Length of the tick between a token label and its cell row or column.
const AXIS_TICK: i32 = 4;

/// What is being drawn on: PNG text is rasterized by [`Font::rasterize`], SVG text is written as
/// `<text>` for the viewer to typeset.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    Bitmap,
    Svg,
}

/// plotters' SVG backend writes `font-size` as its size unit divided by 1.24.
const SVG_SIZE_UNIT: f64 = 1.24;

struct Painter<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    font: &'a Font,
    target: Target,
}

impl<DB: DrawingBackend> Painter<'_, DB> {
    /// Draws `text` at `size` px with its left end, centre or right end (`h`) at `(x, y)`,
    /// capital letters vertically centred on `y`. Rotated text reads upwards from `(x, y)` and
    /// is centred on `x`.
    fn text(
        &self,
        text: &str,
        size: f64,
        color: &RGBColor,
        h: HPos,
        (x, y): (i32, i32),
        rotated: bool,
    ) -> Result<(), String> {
        match self.target {
            Target::Svg => {
                let style = TextStyle::from((FontFamily::Name(self.font.family()), size * SVG_SIZE_UNIT))
                    .color(color)
                    .pos(Pos::new(h, VPos::Center))
                    .transform(if rotated { FontTransform::Rotate270 } else { FontTransform::None });
                self.area.draw_text(text, &style, (x, y)).map_err(|e| e.to_string())
            }
            Target::Bitmap => {
                let width = self.font.width(size, text);
                // Offsets along the text (u) and across it, downwards (v), of its start and
                // baseline relative to the anchor.
                let u0 = match h {
                    HPos::Left => 0.0,
                    HPos::Center => -width / 2.0,
                    HPos::Right => -width,
                };
                let v0 = self.font.cap_height(size) / 2.0;
                let (u0, v0) = (u0.round() as i32, v0.round() as i32);
                let mut result = Ok(());
                self.font.rasterize(size, text, |u, v, coverage| {
                    let (u, v) = (u0 + u, v0 + v);
                    let at = if rotated { (x + v, y - u) } else { (x + u, y + v) };
                    if result.is_ok() && coverage > 0.0 {
                        result = self.area.draw_pixel(at, &color.mix(f64::from(coverage.min(1.0))));
                    }
                });
                result.map_err(|e| e.to_string())
            }
        }
    }

    fn rect(&self, [x0, y0, x1, y1]: [i32; 4], color: RGBColor, filled: bool) -> Result<(), String> {
        let style = if filled { color.filled() } else { color.stroke_width(1) };
        self.area.draw(&Rectangle::new([(x0, y0), (x1, y1)], style)).map_err(|e| e.to_string())
    }
}

fn rgb([r, g, b]: [u8; 3]) -> RGBColor {
    RGBColor(r, g, b)
}

/// Paints `plan` on `area`.
pub(crate) fn paint<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plan: &Plan,
    font: &Font,
    target: Target,
) -> Result<(), String> {
    let p = Painter { area, font, target };
    area.fill(&WHITE).map_err(|e| e.to_string())?;
    let lines = plan.header.iter().chain(plan.panels.iter().flat_map(|p| &p.title));
    for line in lines {
        let colour = if line.muted { &MUTED } else { &TEXT };
        p.text(&line.text, line.size, colour, HPos::Left, (line.x, line.y), false)?;
    }
    for panel in &plan.panels {
        if let Some((msg, rect)) = &panel.empty {
            p.rect(*rect, FRAME, false)?;
            let centre = ((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2);
            p.text(msg, LABEL_SIZE, &MUTED, HPos::Center, centre, false)?;
            continue;
        }
        let g = &panel.grid;
        // Cells: equal colours next to each other in a row are one rectangle, which keeps the
        // SVG of a long sentence (mostly near-zero weights) small.
        for (i, row) in panel.weights.iter().enumerate() {
            let mut j = 0;
            while j < row.len() {
                let lv = level(row[j]);
                let mut end = j + 1;
                while end < row.len() && level(row[end]) == lv {
                    end += 1;
                }
                let rect = [g.cols[j], g.rows[i], g.cols[end], g.rows[i + 1]];
                if rect[0] < rect[2] && rect[1] < rect[3] {
                    p.rect(rect, rgb(level_rgb(lv)), true)?;
                }
                j = end;
            }
        }
        // Alignment marks: a two-pixel frame inside each aligned cell, in a colour viridis never takes.
        for &(i, j) in &panel.marks {
            if i + 1 < g.rows.len() && j + 1 < g.cols.len() {
                let (x0, y0, x1, y1) = (g.cols[j], g.rows[i], g.cols[j + 1] - 1, g.rows[i + 1] - 1);
                p.rect([x0, y0, x1, y1], MARK, false)?;
                p.rect([x0 + 1, y0 + 1, x1 - 1, y1 - 1], MARK, false)?;
            }
        }
        if panel.values {
            for (i, row) in panel.weights.iter().enumerate() {
                for (j, &w) in row.iter().enumerate() {
                    if let Some(text) = value_text(w) {
                        let colour = rgb(text_on(level_rgb(level(w))));
                        let centre = (g.col_mid(j), g.row_mid(i));
                        p.text(&text, VALUE_SIZE, &colour, HPos::Center, centre, false)?;
                    }
                }
            }
        }
        // Ticks tie each label to its column or row, which matters once only every k-th
        // token of a long sentence is labelled.
        for label in &panel.x_labels {
            let x = g.col_mid(label.index);
            p.rect([x, g.top() - AXIS_TICK, x, g.top() - 1], FRAME, false)?;
            let at = (x, g.top() - LABEL_GAP);
            p.text(&label.text, LABEL_SIZE, &TEXT, HPos::Left, at, true)?;
        }
        for label in &panel.y_labels {
            let y = g.row_mid(label.index);
            p.rect([g.left() - AXIS_TICK, y, g.left() - 1, y], FRAME, false)?;
            let at = (g.left() - LABEL_GAP, y);
            p.text(&label.text, LABEL_SIZE, &TEXT, HPos::Right, at, false)?;
        }
    }
    paint_bar(&p, plan)
}

/// The printed value of a cell: two decimals without the leading zero (".83", "1.00"); none for
/// weights that round to zero, so the few cells that matter stand out.
fn value_text(w: f32) -> Option<String> {
    if w.is_nan() {
        return Some("NaN".into());
    }
    let s = format!("{:.2}", w.clamp(0.0, 1.0));
    match s.as_str() {
        "0.00" => None,
        _ => Some(s.strip_prefix('0').unwrap_or(&s).to_string()),
    }
}

fn paint_bar<DB: DrawingBackend>(p: &Painter<'_, DB>, plan: &Plan) -> Result<(), String> {
    let b = &plan.bar;
    // One band per colour level, level 0 at the bottom.
    for lv in 0..LEVELS {
        let y1 = b.y + b.h - (lv as i64 * b.h as i64 / LEVELS as i64) as i32;
        let y0 = b.y + b.h - ((lv as i64 + 1) * b.h as i64 / LEVELS as i64) as i32;
        if y0 < y1 {
            p.rect([b.x, y0, b.x + b.w, y1], rgb(level_rgb(lv)), true)?;
        }
    }
    p.rect([b.x, b.y, b.x + b.w, b.y + b.h], FRAME, false)?;
    for t in TICKS {
        let y = b.y + b.h - (f64::from(t) * f64::from(b.h)).round() as i32;
        p.rect([b.x + b.w, y, b.x + b.w + TICK_LEN, y], FRAME, false)?;
        let at = (b.x + b.w + TICK_LEN + TICK_GAP, y);
        p.text(&format!("{t:.1}"), TICK_SIZE, &MUTED, HPos::Left, at, false)?;
    }
    Ok(())
}

/// Renders `plan` into PNG bytes.
pub(crate) fn png(plan: &Plan, font: &Font) -> Result<Vec<u8>, String> {
    let (w, h) = (plan.width, plan.height);
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        paint(&area, plan, font, Target::Bitmap)?;
        area.present().map_err(|e| e.to_string())?;
    }
    encode_png(&rgb, w, h)
}

/// Renders `plan` into an SVG document.
pub(crate) fn svg(plan: &Plan, font: &Font) -> Result<String, String> {
    let mut doc = String::new();
    {
        let area = SVGBackend::with_string(&mut doc, (plan.width, plan.height)).into_drawing_area();
        paint(&area, plan, font, Target::Svg)?;
        area.present().map_err(|e| e.to_string())?;
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_two_decimals_without_leading_zero_and_hide_zeros() {
        assert_eq!(value_text(0.834).as_deref(), Some(".83"));
        assert_eq!(value_text(1.0).as_deref(), Some("1.00"));
        assert_eq!(value_text(0.004), None);
        assert_eq!(value_text(f32::NAN).as_deref(), Some("NaN"));
    }
}
