//! Attention heatmaps: the renderer behind `nmt heatmap` and `nmt translate --heatmaps`.
//!
//! A picture shows source tokens along the top (labels rotated), output tokens down the left in
//! decoding order (EOS included), one cell per weight coloured with viridis on a fixed 0–1 scale,
//! a colour bar, the weights printed in the cells when the matrix is small, and a title with the
//! sentence and its translation. Several models' attention for one sentence can be drawn side by
//! side ([`render_panels`]); a test set gets a gallery page ([`write_gallery`]).
//!
//! Files: `colormap` (viridis), `font` (embedded DejaVu Sans, `--font`), `words` (`--words`),
//! `layout` (geometry), `draw` (plotters, PNG/SVG bytes), `gallery` (index.html).

mod colormap;
mod draw;
mod font;
mod gallery;
mod layout;
mod words;

pub use colormap::{text_on, viridis};
pub use font::Font;
pub use gallery::{clear_gallery, image_name, write_gallery, GalleryEntry, GALLERY_PAGE};
pub use layout::{CAP, CELL};
pub use words::{merge_matrix, merge_words, text_word_of_words, text_words};

use crate::attention_json::AttentionRecord;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use layout::{Item, PanelInput};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Image file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// 8-bit RGB PNG.
    Png,
    /// SVG with text as `<text>` elements (searchable, scalable; typeset by the viewer).
    Svg,
}

impl Format {
    /// The format a file name asks for by its extension (`.png`, `.svg`, any case).
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()?.to_str()?.parse().ok()
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }
}

impl FromStr for Format {
    type Err = Error;

    /// `png` or `svg`, any case.
    fn from_str(s: &str) -> Result<Format> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Ok(Format::Png),
            "svg" => Ok(Format::Svg),
            _ => Err(Error::Usage(format!("unknown image format {s:?}: expected png or svg"))),
        }
    }
}

/// How to draw.
#[derive(Debug, Clone)]
pub struct Style {
    /// Merge subword pieces into words ([`merge_words`]); otherwise draw the tokens exactly as
    /// the model saw them.
    pub words: bool,
    /// Draw this head (0-based) of `head_weights` instead of the combined `weights`.
    pub head: Option<usize>,
    /// PNG or SVG.
    pub format: Format,
    /// The font of every text; [`Font::embedded`] unless the user brought one.
    pub font: Font,
    /// Frame the cells of the record's word alignment (its `alignment`; none without one).
    pub alignments: bool,
}

impl Default for Style {
    /// Subword pieces, combined weights, PNG, DejaVu Sans.
    fn default() -> Style {
        Style { words: false, head: None, format: Format::Png, font: Font::embedded(), alignments: false }
    }
}

/// Where the cells of a rendered picture are, in image pixels (origin top left).
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Image width, px.
    pub width: u32,
    /// Image height, px.
    pub height: u32,
    grids: Vec<layout::Grid>,
}

/// A cell's rectangle: `x..x + w`, `y..y + h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRect {
    /// Left edge, px.
    pub x: i32,
    /// Top edge, px.
    pub y: i32,
    /// Width, px.
    pub w: u32,
    /// Height, px.
    pub h: u32,
}

impl Layout {
    /// The cell of output token `row` and source token `col` in panel `panel` (0 for [`render`]),
    /// counted after `--words` merging; `None` outside the matrix.
    pub fn cell_rect(&self, panel: usize, row: usize, col: usize) -> Option<CellRect> {
        let g = self.grids.get(panel)?;
        let (x0, x1) = (*g.cols.get(col)?, *g.cols.get(col + 1)?);
        let (y0, y1) = (*g.rows.get(row)?, *g.rows.get(row + 1)?);
        Some(CellRect { x: x0, y: y0, w: (x1 - x0) as u32, h: (y1 - y0) as u32 })
    }
}

/// A header value, with a visible placeholder for empty text.
fn shown(text: &str) -> String {
    if text.trim().is_empty() {
        "(empty)".into()
    } else {
        text.to_string()
    }
}

/// For each token (or with `words` each merged word) of `tokens`, the whitespace-separated word of the
/// text it belongs to ([`text_words`]; `None` for special tokens). For a BPE source this is the word the
/// alignment's offsets found; a word-level source may split a text word in more words than this counts.
fn text_word_positions(tokens: &[String], words: bool) -> Vec<Option<usize>> {
    if words {
        return text_word_of_words(tokens);
    }
    let mut of = vec![None; tokens.len()];
    for (k, pieces) in text_words(tokens).into_iter().enumerate() {
        for t in pieces {
            of[t] = Some(k);
        }
    }
    of
}

/// The cells (row, column) of `record`'s alignment in the matrix drawn with or without `words`.
fn alignment_cells(record: &AttentionRecord, words: bool) -> Vec<(usize, usize)> {
    let Some(links) = &record.alignment else { return Vec::new() };
    let links: std::collections::HashSet<&(usize, usize)> = links.iter().collect();
    let cols = text_word_positions(&record.source, words);
    let rows = text_word_positions(&record.target, words);
    let mut cells = Vec::new();
    for (r, tw) in rows.iter().enumerate() {
        for (c, sw) in cols.iter().enumerate() {
            if let (Some(sw), Some(tw)) = (sw, tw) {
                if links.contains(&(*sw, *tw)) {
                    cells.push((r, c));
                }
            }
        }
    }
    cells
}

/// The matrix `style` asks for (validated, head picked, words merged) and the cells to frame.
fn select_marked(record: &AttentionRecord, style: &Style) -> Result<(AttentionRecord, Vec<(usize, usize)>)> {
    let r = select(record, style)?;
    let marks = if style.alignments { alignment_cells(record, style.words) } else { Vec::new() };
    Ok((r, marks))
}

/// The matrix `style` asks for: validated, head picked, words merged.
fn select(record: &AttentionRecord, style: &Style) -> Result<AttentionRecord> {
    record.validate().map_err(|msg| Error::Usage(format!("attention record of line {}: {msg}", record.line)))?;
    let mut chosen = record.clone();
    if let Some(h) = style.head {
        let heads = record.head_weights.as_ref().ok_or_else(|| {
            Error::Usage(format!(
                "--head {h}: line {} has no per-head weights (only a multihead model has them, not an ensemble)",
                record.line
            ))
        })?;
        chosen.weights = heads.get(h).cloned().ok_or_else(|| {
            Error::Usage(format!("--head {h}: the model has {} heads, numbered 0 to {}", heads.len(), heads.len() - 1))
        })?;
    }
    chosen.head_weights = None;
    Ok(if style.words { merge_words(&chosen) } else { chosen })
}

fn single_plan(record: &AttentionRecord, style: &Style) -> Result<layout::Plan> {
    let (r, marks) = select_marked(record, style)?;
    let header = [
        Item { key: Some("source:".into()), value: shown(&r.source_text) },
        Item { key: Some("translation:".into()), value: shown(&r.translation) },
    ];
    let panel = PanelInput { title: Vec::new(), source: r.source, target: r.target, weights: r.weights, marks };
    Ok(layout::plan(&style.font, &header, &[panel]))
}

fn panels_plan(panels: &[(String, AttentionRecord)], style: &Style) -> Result<layout::Plan> {
    let source_text = panels.first().map(|(_, r)| r.source_text.clone()).unwrap_or_default();
    let inputs = panels
        .iter()
        .map(|(title, record)| {
            let (r, marks) = select_marked(record, style)?;
            Ok(PanelInput {
                marks,
                title: vec![
                    Item { key: None, value: title.clone() },
                    Item { key: Some("→".into()), value: shown(&r.translation) },
                ],
                source: r.source,
                target: r.target,
                weights: r.weights,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let header = [Item { key: Some("source:".into()), value: shown(&source_text) }];
    Ok(layout::plan(&style.font, &header, &inputs))
}

/// Where [`render`] puts the cells of `record`.
pub fn layout(record: &AttentionRecord, style: &Style) -> Result<Layout> {
    Ok(to_layout(single_plan(record, style)?))
}

/// Where [`render_panels`] puts the cells of each panel.
pub fn layout_panels(panels: &[(String, AttentionRecord)], style: &Style) -> Result<Layout> {
    Ok(to_layout(panels_plan(panels, style)?))
}

fn to_layout(plan: layout::Plan) -> Layout {
    Layout { width: plan.width, height: plan.height, grids: plan.panels.into_iter().map(|p| p.grid).collect() }
}

/// Draws the attention of one sentence to `out` (written atomically) in `style.format`.
///
/// Never panics on odd input: empty sides draw a captioned empty box, NaN weights are coloured
/// as 0 and printed as "NaN", weights outside 0–1 are clamped. Errors: an inconsistent record or
/// a `--head` the record lacks ([`Error::Usage`]), drawing ([`Error::Render`]), writing
/// ([`Error::Io`]).
pub fn render(record: &AttentionRecord, style: &Style, out: &Path) -> Result<()> {
    write(&single_plan(record, style)?, style, out)
}

/// Draws several models' attention for the same sentence side by side in one picture, each panel
/// with its own axes and title (e.g. "bahdanau attention · bahdanau decoder", [`panel_title`]) and
/// translation, one shared colour bar, the source sentence on top.
pub fn render_panels(panels: &[(String, AttentionRecord)], style: &Style, out: &Path) -> Result<()> {
    write(&panels_plan(panels, style)?, style, out)
}

/// [`render`]'s picture as the bytes of a PNG or SVG file, for a caller that sends it rather than
/// writing it (the server's `/v1/heatmap`). A drawing error names `<image in memory>` as its path.
pub fn image(record: &AttentionRecord, style: &Style) -> Result<Vec<u8>> {
    encode(&single_plan(record, style)?, style).map_err(|msg| Error::Render { path: IN_MEMORY.into(), msg })
}

/// [`render_panels`]'s picture as the bytes of a PNG or SVG file.
pub fn image_panels(panels: &[(String, AttentionRecord)], style: &Style) -> Result<Vec<u8>> {
    encode(&panels_plan(panels, style)?, style).map_err(|msg| Error::Render { path: IN_MEMORY.into(), msg })
}

/// The title of a model's panel in a side-by-side picture: its scorer and decoder wiring, or for an
/// ensemble (`members`: its directories, when more than one) the members' names joined by " + ".
pub fn panel_title(model: &ModelConfig, members: &[PathBuf]) -> String {
    if members.len() > 1 {
        let names: Vec<String> = members
            .iter()
            .map(|m| m.file_name().map_or_else(|| m.display().to_string(), |n| n.to_string_lossy().into_owned()))
            .collect();
        return format!("ensemble {}", names.join(" + "));
    }
    format!("{} attention · {} decoder", model.attention.name(), model.decoder.name())
}

/// The path a drawing error of [`image`] names.
const IN_MEMORY: &str = "<image in memory>";

/// The file bytes of a planned picture; `Err` is the drawing library's message.
fn encode(plan: &layout::Plan, style: &Style) -> std::result::Result<Vec<u8>, String> {
    match style.format {
        Format::Png => draw::png(plan, &style.font),
        Format::Svg => draw::svg(plan, &style.font).map(String::into_bytes),
    }
}

fn write(plan: &layout::Plan, style: &Style, out: &Path) -> Result<()> {
    let bytes = encode(plan, style).map_err(|msg| Error::Render { path: out.to_path_buf(), msg })?;
    write_atomic(out, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AttentionRecord {
        AttentionRecord {
            line: 2,
            source_text: "a b".into(),
            translation: "x".into(),
            source: vec!["▁a".into(), "b".into()],
            target: vec!["▁x".into(), "</s>".into()],
            weights: vec![vec![0.5, 0.5], vec![0.0, 1.0]],
            head_weights: Some(vec![vec![vec![1.0, 0.0], vec![0.0, 1.0]]; 4]),
            alignment: None,
        }
    }

    #[test]
    fn formats_parse_from_names_and_extensions() {
        assert_eq!("SVG".parse::<Format>().unwrap(), Format::Svg);
        assert!("jpg".parse::<Format>().is_err());
        assert_eq!(Format::from_path(Path::new("a/b.PNG")), Some(Format::Png));
        assert_eq!(Format::from_path(Path::new("a/b")), None);
    }

    #[test]
    fn a_missing_head_is_refused_naming_the_head_count() {
        let style = Style { head: Some(4), ..Style::default() };
        let err = select(&record(), &style).unwrap_err().to_string();
        assert!(err.contains("4 heads, numbered 0 to 3"), "{err}");
        let mut r = record();
        r.head_weights = None;
        let style = Style { head: Some(0), ..Style::default() };
        let err = select(&r, &style).unwrap_err().to_string();
        assert!(err.contains("no per-head weights"), "{err}");
    }

    #[test]
    fn a_head_is_selected_before_words_are_merged() {
        let style = Style { head: Some(1), words: true, ..Style::default() };
        let r = select(&record(), &style).unwrap();
        assert_eq!(r.source, ["ab"]);
        assert_eq!(r.weights, vec![vec![1.0], vec![1.0]]);
        assert!(r.head_weights.is_none());
    }

    #[test]
    fn image_bytes_are_the_file_render_writes() {
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Png, Format::Svg] {
            let style = Style { format, ..Style::default() };
            let path = dir.path().join(format!("x.{}", format.extension()));
            render(&record(), &style, &path).unwrap();
            assert_eq!(image(&record(), &style).unwrap(), std::fs::read(&path).unwrap(), "{format:?}");
            let panels = [("a".to_string(), record()), ("b".to_string(), record())];
            render_panels(&panels, &style, &path).unwrap();
            assert_eq!(image_panels(&panels, &style).unwrap(), std::fs::read(&path).unwrap(), "{format:?}");
        }
    }

    #[test]
    fn alignment_marks_fall_on_the_cells_of_the_linked_words() {
        // Source words: "ab" (▁a b), target words: "x"; </s> on both sides is no word.
        let mut r = record();
        r.source.push("</s>".into());
        r.weights = vec![vec![0.4, 0.4, 0.2], vec![0.0, 0.0, 1.0]];
        r.head_weights = None;
        r.alignment = Some(vec![(0, 0)]);
        assert_eq!(alignment_cells(&r, false), [(0, 0), (0, 1)]);
        assert_eq!(alignment_cells(&r, true), [(0, 0)]);
        r.alignment = None;
        assert!(alignment_cells(&r, false).is_empty());
    }

    #[test]
    fn an_inconsistent_record_is_an_error_not_a_panic() {
        let mut r = record();
        r.weights.pop();
        let dir = tempfile::tempdir().unwrap();
        let err = render(&r, &Style::default(), &dir.path().join("x.png")).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
