//! `nmt heatmap` and the gallery of `nmt translate --heatmaps`: attention pictures of sentences translated
//! by the engine, or of records saved as JSON lines.

use super::args::{HeatmapArgs, ImageFormat};
use super::load_engine;
use nmt::attention_json::{read_jsonl, AttentionRecord};
use nmt::error::{Error, Result};
use nmt::fsutil;
use nmt::heatmap::{self, Font, Format, GalleryEntry, Style};
use std::path::Path;
use tch::Device;

/// One image per non-empty record (`NNNN.png`, numbered by input line) and `index.html`, in place of the
/// gallery a previous run wrote into `dir` (other files stay). → the number of images drawn.
pub fn draw_gallery(dir: &Path, records: &[AttentionRecord], style: &Style) -> Result<usize> {
    fsutil::create_dir(dir, "a directory for the heatmap gallery")?;
    heatmap::clear_gallery(dir)?;
    let mut entries = Vec::new();
    for r in records.iter().filter(|r| !r.source.is_empty()) {
        let name = heatmap::image_name(r.line, style.format);
        heatmap::render(r, style, &dir.join(&name))?;
        entries.push(GalleryEntry {
            line: r.line,
            source_text: r.source_text.clone(),
            translation: r.translation.clone(),
            image: name,
        });
    }
    heatmap::write_gallery(dir, &entries)?;
    Ok(entries.len())
}

fn style(a: &HeatmapArgs, out: Option<&Path>) -> Result<Style> {
    let format = match a.format {
        Some(ImageFormat::Png) => Format::Png,
        Some(ImageFormat::Svg) => Format::Svg,
        None => out.and_then(Format::from_path).unwrap_or(Format::Png),
    };
    let font = match &a.font {
        Some(p) => Font::from_file(p)?,
        None => Font::embedded(),
    };
    Ok(Style { words: a.words, head: a.head, format, font, alignments: a.alignments })
}

pub fn heatmap(a: HeatmapArgs, device: Device) -> Result<()> {
    if let Some(json) = &a.from_json {
        let dir = a.out_dir.as_ref().ok_or_else(|| Error::Usage("--from-json needs --out-dir DIR".into()))?;
        let style = style(&a, None)?;
        let records = read_jsonl(json)?;
        let drawn = draw_gallery(dir, &records, &style)?;
        let skipped = match records.len() - drawn {
            0 => String::new(),
            1 => "; 1 empty line has no image".into(),
            n => format!("; {n} empty lines have no image"),
        };
        eprintln!("drew {drawn} images into {}{skipped}", dir.display());
        return Ok(());
    }
    let (text, out) = match (&a.text, &a.out, a.model.is_empty()) {
        (Some(t), Some(o), false) => (t, o),
        _ => {
            return Err(Error::Usage(
                "heatmap needs either --model DIR [--model DIR ...] --text SENTENCE --out FILE, or --from-json FILE --out-dir DIR"
                    .into(),
            ))
        }
    };
    let style = style(&a, Some(out))?;
    let mut panels = Vec::new();
    for spec in &a.model {
        let (engine, d) = load_engine(spec, &a.decode, None, device)?;
        let t = engine.translate_with(std::slice::from_ref(text), &d)?;
        panels.push((heatmap::panel_title(&engine.config().model, &engine.info().members), t[0].record(0)));
    }
    if panels.len() == 1 {
        heatmap::render(&panels[0].1, &style, out)?;
    } else {
        heatmap::render_panels(&panels, &style, out)?;
    }
    eprintln!("{}", out.display());
    Ok(())
}
