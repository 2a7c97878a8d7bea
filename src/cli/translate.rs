//! `nmt translate`: lines in (a file, a pipe or a terminal), translations out — either all at the end
//! of the input in batches, optionally with the attention as JSON lines and a heatmap gallery, or
//! streamed, each line's translation flushed as soon as the line is read (`--stream`, and a terminal).

use super::args::TranslateArgs;
use super::show::draw_gallery;
use super::{load_engine, read_stdin_lines, write_lines};
use nmt::attention_json::AttentionRecord;
use nmt::data::corpus::{read_text_lines, LineReader};
use nmt::engine::{Decoding, Engine, Translation};
use nmt::error::{Error, Result};
use nmt::heatmap::Style;
use std::io::{IsTerminal, Write};
use tch::Device;

/// The output line of a translation: the best text, or with n-best the N texts and scores tab-separated.
fn output_line(t: &Translation, d: &Decoding) -> String {
    if d.n_best <= 1 {
        return t.best_text().to_string();
    }
    t.outputs.iter().map(|o| format!("{}\t{:.4}", o.text, o.score)).collect::<Vec<_>>().join("\t")
}

pub fn translate(a: TranslateArgs, device: Device) -> Result<()> {
    let (engine, d) = load_engine(&a.model, &a.decode, a.n_best, device)?;
    let rule = a.align_rule.as_deref().map_or(Ok(nmt::align::DEFAULT_RULE), str::parse)?;
    let stdout_only =
        a.output.is_none() && a.attention_json.is_none() && a.heatmaps.is_none() && a.alignments.is_none();
    // A person typing at a terminal is served like a co-process (clap refuses --stream with the file
    // outputs, which are written only once the input has ended).
    if a.stream || (stdout_only && a.input.is_none() && std::io::stdin().is_terminal()) {
        let lines = match &a.input {
            Some(p) => LineReader::open(p)?,
            None => LineReader::from_reader("<stdin>", std::io::stdin()),
        };
        return stream(&engine, &d, lines);
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
    let records: Vec<AttentionRecord> = results.iter().enumerate().map(|(i, t)| t.record_by(i, rule)).collect();
    if let Some(path) = &a.alignments {
        let lines: Vec<String> =
            records.iter().map(|r| nmt::align::to_pharaoh(r.alignment.as_deref().unwrap_or_default())).collect();
        write_lines(Some(path), &lines)?;
    }
    if let Some(path) = &a.attention_json {
        let json: Vec<String> = records.iter().map(|r| r.to_json_line()).collect();
        write_lines(Some(path), &json)?;
    }
    if let Some(dir) = &a.heatmaps {
        draw_gallery(dir, &records, &Style { alignments: a.alignments.is_some(), ..Style::default() })?;
        eprintln!("heatmaps: {}", dir.join("index.html").display());
    }
    Ok(())
}

/// Translates lines as they arrive and flushes the translations: one line at a time, or together the
/// lines already read in whole (at most a batch), so a line never waits for input that has not come.
/// A read error is returned after the lines before it are translated.
fn stream(engine: &Engine, d: &Decoding, mut lines: LineReader) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let mut group = Vec::with_capacity(d.batch_size);
    let mut read_error = None;
    while let Some(first) = lines.next_line()? {
        group.clear();
        group.push(first);
        while group.len() < d.batch_size && lines.line_buffered() {
            match lines.next_line() {
                Ok(Some(line)) => group.push(line),
                Ok(None) => break,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        for t in engine.translate_with(&group, d)? {
            writeln!(out, "{}", output_line(&t, d)).map_err(|e| Error::io("<stdout>", e))?;
        }
        out.flush().map_err(|e| Error::io("<stdout>", e))?;
        if let Some(e) = read_error {
            return Err(e);
        }
    }
    Ok(())
}
