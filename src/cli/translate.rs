//! `nmt translate`: lines in (a file, a pipe or a terminal), translations out, optionally with the
//! attention as JSON lines and a heatmap gallery.

use super::args::TranslateArgs;
use super::show::draw_gallery;
use super::{decode_options, flag, load_engine, read_stdin_lines, write_lines};
use nmt::attention_json::AttentionRecord;
use nmt::data::corpus::read_text_lines;
use nmt::engine::{Decoding, Translation};
use nmt::error::{Error, Result};
use nmt::heatmap::Style;
use std::io::{BufRead, IsTerminal, Write};
use tch::Device;

/// The output line of a translation: the best text, or with n-best the N texts and scores tab-separated.
fn output_line(t: &Translation, d: &Decoding) -> String {
    if d.n_best <= 1 {
        return t.best_text().to_string();
    }
    t.outputs.iter().map(|o| format!("{}\t{:.4}", o.text, o.score)).collect::<Vec<_>>().join("\t")
}

pub fn translate(a: TranslateArgs, device: Device) -> Result<()> {
    let d = decode_options(&a.decode, a.n_best)?.resolve(flag)?;
    let engine = load_engine(&a.model, &a.decode, device)?;
    let interactive = a.input.is_none() && std::io::stdin().is_terminal();
    if interactive && a.output.is_none() && a.attention_json.is_none() && a.heatmaps.is_none() {
        // A person typing: translate and flush each line as soon as it is read.
        let mut out = std::io::stdout();
        for (i, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.map_err(|e| Error::data("<stdin>", i + 1, e.to_string()))?;
            let t = engine.translate_with(&[line], &d)?;
            writeln!(out, "{}", output_line(&t[0], &d))
                .and_then(|_| out.flush())
                .map_err(|e| Error::io("<stdout>", e))?;
        }
        return Ok(());
    }
    let lines = match &a.input {
        Some(p) => read_text_lines(p)?,
        None => read_stdin_lines()?,
    };
    let bar = indicatif::ProgressBar::new(lines.len() as u64);
    let mut results = Vec::with_capacity(lines.len());
    for chunk in lines.chunks(d.batch_size * 8) {
        results.extend(engine.translate_with(chunk, &d)?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let text: Vec<String> = results.iter().map(|t| output_line(t, &d)).collect();
    write_lines(a.output.as_deref(), &text)?;
    let records: Vec<AttentionRecord> = results.iter().enumerate().map(|(i, t)| t.record(i)).collect();
    if let Some(path) = &a.attention_json {
        let json: Vec<String> = records.iter().map(|r| r.to_json_line()).collect();
        write_lines(Some(path), &json)?;
    }
    if let Some(dir) = &a.heatmaps {
        draw_gallery(dir, &records, &Style::default())?;
        eprintln!("heatmaps: {}", dir.join("index.html").display());
    }
    Ok(())
}
