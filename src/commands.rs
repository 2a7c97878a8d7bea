//! What each subcommand does, on top of the library. `main` parses arguments and calls [`run`].

use crate::attention_json::{read_jsonl, AttentionRecord};
use crate::checkpoint::{self, Which};
use crate::cli::*;
use crate::config::Config;
use crate::data::corpus::read_text_lines;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic_with;
use crate::heatmap::{self, Font, Format, GalleryEntry, Style};
use crate::search::{length_penalty, MaxLen};
use crate::translate::{Options, Translation, Translator};
use crate::{metrics, train};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tch::Device;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let threads = crate::runtime::threads(cli.threads);
    tch::set_num_threads(threads as i32);
    let device = match cli.device {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Cuda if !tch::Cuda::is_available() => {
            return Err(Error::Usage("--device cuda: libtorch sees no CUDA device".into()))
        }
        DeviceArg::Cuda => Device::Cuda(0),
        DeviceArg::Auto => Device::cuda_if_available(),
    };
    match cli.command {
        Command::Train(a) => train_cmd(a, device),
        Command::Translate(a) => translate_cmd(a, device),
        Command::Eval(a) => eval_cmd(a, device),
        Command::Score(a) => score_cmd(a),
        Command::Heatmap(a) => heatmap_cmd(a, device),
        Command::Info(a) => info_cmd(a),
        Command::Average(a) => average_cmd(a),
        Command::Bench(a) => crate::bench::run(&a, threads, device),
        Command::Corpus(CorpusCommand::Toy { out, seed }) => {
            crate::data::toy::write(&out, seed)?;
            eprintln!("wrote the toy corpus (seed {seed}) to {}", out.display());
            Ok(())
        }
    }
}

fn train_cmd(a: TrainArgs, device: Device) -> Result<()> {
    let config = if a.resume {
        let (saved, _, _) = checkpoint::read_dir_meta(&a.out)?;
        let origin = a.out.join(checkpoint::CONFIG_FILE).display().to_string();
        // Re-running the original command with --resume is fine: its --config and its data.* or model.*
        // values may be given again, only not changed (the weights and tokenizers were built from them).
        let (wanted, given) = match &a.config {
            Some(path) => (Config::load(path, &a.set)?, format!("--config {}", path.display())),
            None => (saved.with_overrides(&a.set, &origin)?, "--set".to_string()),
        };
        let changed = saved.changed_fields(&wanted);
        if !changed.is_empty() {
            return Err(Error::Usage(format!(
                "--resume: only train.* fields can change, but {given} changes the saved {origin}: {}",
                changed.join(", ")
            )));
        }
        Config { train: wanted.train, ..saved }
    } else {
        match &a.config {
            Some(path) => Config::load(path, &a.set)?,
            None => Config::from_overrides(&a.set)?,
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks for a clean stop (save `last`); a second one, while that is under way, exits
        // at once (every file is written atomically, so nothing is left half-written).
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .map_err(|e| Error::io("signal handler", e))?;
    }
    let opts = train::RunOptions { out: a.out.clone(), resume: a.resume, device, log_every: a.log_every, stop };
    let summary = train::train(config, &opts)?;
    let s = &summary.state;
    match summary.reason {
        train::StopReason::Interrupted => eprintln!(
            "interrupted at step {}: saved {}/last.safetensors; continue with: nmt train --out {} --resume",
            s.step,
            a.out.display(),
            a.out.display()
        ),
        reason => eprintln!(
            "done ({reason:?}) after {} steps, {} epochs, {:.1} min; best dev BLEU {:.2} at step {} → {}",
            s.step,
            s.epoch,
            s.minutes,
            s.best_bleu.unwrap_or(0.0),
            s.best_step,
            a.out.join(checkpoint::BEST).display()
        ),
    }
    Ok(())
}

fn decode_options(d: &DecodeArgs, n_best: usize) -> Result<Options> {
    if d.beam == 0 {
        return Err(Error::Usage("--beam must be ≥ 1".into()));
    }
    if n_best == 0 || n_best > d.beam {
        return Err(Error::Usage(format!("--n-best {n_best} needs 1 ≤ N ≤ --beam (now {})", d.beam)));
    }
    if d.batch_size == 0 || d.max_len == 0 {
        return Err(Error::Usage("--batch-size and --max-len must be ≥ 1".into()));
    }
    if !d.length_penalty.is_finite() || d.length_penalty < 0.0 {
        return Err(Error::Usage("--length-penalty must be a number ≥ 0".into()));
    }
    Ok(Options {
        beam: d.beam,
        n_best,
        length_penalty: d.length_penalty,
        batch_size: d.batch_size,
        max_len: MaxLen { cap: d.max_len, ..MaxLen::default() },
    })
}

/// The output line of a translation: the best text, or with n-best the N texts and scores tab-separated.
fn output_line(t: &Translation, opts: &Options) -> String {
    if opts.n_best <= 1 {
        return t.best_text().to_string();
    }
    t.outputs
        .iter()
        .map(|o| {
            let lp = length_penalty(o.hypothesis.tokens.len(), opts.length_penalty);
            format!("{}\t{:.4}", o.text, o.hypothesis.score / lp)
        })
        .collect::<Vec<_>>()
        .join("\t")
}

fn translate_cmd(a: TranslateArgs, device: Device) -> Result<()> {
    let opts = decode_options(&a.decode, a.n_best)?;
    let loaded = checkpoint::load(&a.model, a.decode.checkpoint, device)?;
    let tr = Translator { model: &loaded.model, src_tok: &loaded.src_tok, tgt_tok: &loaded.tgt_tok, device };
    let interactive = a.input.is_none() && std::io::stdin().is_terminal();
    if interactive && a.output.is_none() && a.attention_json.is_none() && a.heatmaps.is_none() {
        // A person typing: translate and flush each line as soon as it is read.
        let mut out = std::io::stdout();
        for (i, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.map_err(|e| Error::data("<stdin>", i + 1, e.to_string()))?;
            let t = tr.translate(&[line], &opts)?;
            writeln!(out, "{}", output_line(&t[0], &opts))
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
    for chunk in lines.chunks(opts.batch_size * 8) {
        results.extend(tr.translate(chunk, &opts)?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let text: Vec<String> = results.iter().map(|t| output_line(t, &opts)).collect();
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

/// Standard input read by the same reader as `--input` files, so both accept and refuse the same bytes
/// (and an error names the line).
fn read_stdin_lines() -> Result<Vec<String>> {
    read_text_lines(Path::new("/dev/stdin"))
}

/// Writes lines to `path` atomically, or to stdout.
fn write_lines(path: Option<&Path>, lines: &[String]) -> Result<()> {
    match path {
        Some(p) => write_atomic_with(p, |w| lines.iter().try_for_each(|l| writeln!(w, "{l}"))),
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            lines
                .iter()
                .try_for_each(|l| writeln!(out, "{l}"))
                .and_then(|_| out.flush())
                .map_err(|e| Error::io("<stdout>", e))
        }
    }
}

/// One image per non-empty record (`NNNN.png`, numbered by input line) and `index.html`.
fn draw_gallery(dir: &Path, records: &[AttentionRecord], style: &Style) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut entries = Vec::new();
    for r in records.iter().filter(|r| !r.source.is_empty()) {
        let name = format!("{:04}.{}", r.line + 1, style.format.extension());
        heatmap::render(r, style, &dir.join(&name))?;
        entries.push(GalleryEntry {
            line: r.line,
            source_text: r.source_text.clone(),
            translation: r.translation.clone(),
            image: name,
        });
    }
    heatmap::write_gallery(dir, &entries)
}

fn eval_cmd(a: EvalArgs, device: Device) -> Result<()> {
    let opts = decode_options(&a.decode, 1)?;
    let srcs = read_text_lines(&a.src)?;
    let refs = read_text_lines(&a.reference)?;
    if srcs.len() != refs.len() {
        return Err(Error::Usage(format!(
            "{} has {} lines but {} has {}",
            a.src.display(),
            srcs.len(),
            a.reference.display(),
            refs.len()
        )));
    }
    let loaded = checkpoint::load(&a.model, a.decode.checkpoint, device)?;
    let tr = Translator { model: &loaded.model, src_tok: &loaded.src_tok, tgt_tok: &loaded.tgt_tok, device };
    let bar = indicatif::ProgressBar::new(srcs.len() as u64);
    let mut hyps = Vec::with_capacity(srcs.len());
    for chunk in srcs.chunks(opts.batch_size * 8) {
        hyps.extend(tr.translate(chunk, &opts)?.iter().map(|t| t.best_text().to_string()));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if let Some(out) = &a.output {
        write_lines(Some(out), &hyps)?;
    }
    print_scores(&hyps, &refs, a.lowercase, false)
}

fn print_scores(hyps: &[String], refs: &[String], lowercase: bool, json: bool) -> Result<()> {
    let bleu = metrics::bleu(hyps, refs, lowercase)?;
    let chrf = metrics::chrf(hyps, refs, lowercase)?;
    if json {
        println!(
            "{}",
            serde_json::json!({"bleu": bleu.score, "chrf": chrf.score, "lowercase": lowercase,
                "precisions": bleu.precisions, "bp": bleu.bp, "sys_len": bleu.sys_len, "ref_len": bleu.ref_len})
        );
    } else {
        println!("{bleu}{}", if lowercase { " (lowercased)" } else { "" });
        println!("{chrf}");
    }
    Ok(())
}

fn score_cmd(a: ScoreArgs) -> Result<()> {
    let hyps = read_text_lines(&a.hyp)?;
    let refs = read_text_lines(&a.reference)?;
    if hyps.len() != refs.len() {
        return Err(Error::Usage(format!(
            "{} has {} lines but {} has {}",
            a.hyp.display(),
            hyps.len(),
            a.reference.display(),
            refs.len()
        )));
    }
    print_scores(&hyps, &refs, a.lowercase, a.json)
}

fn heatmap_style(a: &HeatmapArgs, out: Option<&Path>) -> Result<Style> {
    let format = match a.format {
        Some(ImageFormat::Png) => Format::Png,
        Some(ImageFormat::Svg) => Format::Svg,
        None => out.and_then(Format::from_path).unwrap_or(Format::Png),
    };
    let font = match &a.font {
        Some(p) => Font::from_file(p)?,
        None => Font::embedded(),
    };
    Ok(Style { words: a.words, head: a.head, format, font })
}

fn heatmap_cmd(a: HeatmapArgs, device: Device) -> Result<()> {
    if let Some(json) = &a.from_json {
        let dir = a.out_dir.as_ref().ok_or_else(|| Error::Usage("--from-json needs --out-dir DIR".into()))?;
        let style = heatmap_style(&a, None)?;
        let records = read_jsonl(json)?;
        draw_gallery(dir, &records, &style)?;
        eprintln!("drew {} records into {}", records.len(), dir.display());
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
    let opts = decode_options(&a.decode, 1)?;
    let style = heatmap_style(&a, Some(out))?;
    let mut panels = Vec::new();
    for dir in &a.model {
        let loaded = checkpoint::load(dir, a.decode.checkpoint, device)?;
        let tr = Translator { model: &loaded.model, src_tok: &loaded.src_tok, tgt_tok: &loaded.tgt_tok, device };
        let t = tr.translate(std::slice::from_ref(text), &opts)?;
        let m = &loaded.config.model;
        let title = format!("{} attention · {} decoder", m.attention.name(), m.decoder.name());
        panels.push((title, t[0].record(0)));
    }
    if panels.len() == 1 {
        heatmap::render(&panels[0].1, &style, out)?;
    } else {
        heatmap::render_panels(&panels, &style, out)?;
    }
    eprintln!("{}", out.display());
    Ok(())
}

fn average_cmd(a: AverageArgs) -> Result<()> {
    let files = match a.from.is_empty() {
        true => crate::average::newest_snapshots(&a.model, a.last.map(|n| n as usize))?,
        false => a.from,
    };
    crate::average::average(&a.model, &files)?;
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "averaged {} weights files ({}) into {}",
        files.len(),
        names.join(", "),
        a.model.join(checkpoint::AVERAGED).display()
    );
    Ok(())
}

fn info_cmd(a: InfoArgs) -> Result<()> {
    // Both checkpoints are loaded, so that a broken one is reported even when the other one is shown.
    let (mut loaded, mut problems) = (None, Vec::new());
    for which in [Which::Best, Which::Last] {
        match checkpoint::load(&a.model, which, Device::Cpu) {
            Ok(l) => loaded = loaded.or(Some(l)),
            Err(e) => problems.push(e),
        }
    }
    let Some(loaded) = loaded else { return Err(problems.remove(0)) };
    for e in &problems {
        println!("unusable checkpoint: {e}");
    }
    let params: i64 = loaded.vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
    println!("model directory: {}", a.model.display());
    println!("parameters: {params} ({:.2} M)", params as f64 / 1e6);
    println!(
        "vocabulary: source {} tokens, target {} tokens",
        loaded.src_tok.vocab_size(),
        loaded.tgt_tok.vocab_size()
    );
    let last = a.model.join(checkpoint::LAST);
    if let Ok(bytes) = std::fs::read(&last) {
        if let Ok((_, meta)) = safetensors::SafeTensors::read_metadata(&bytes) {
            if let Some(state) = meta.metadata().as_ref().and_then(|m| m.get(checkpoint::STATE_KEY)) {
                println!("training state: {state}");
            }
        }
    }
    let snapshots = crate::average::snapshots(&a.model)?;
    if !snapshots.is_empty() {
        let steps: Vec<String> = snapshots.iter().map(|(s, _)| s.to_string()).collect();
        println!("weight snapshots (for nmt average): steps {}", steps.join(", "));
    }
    println!("\n# config.toml\n{}", loaded.config.to_toml_string()?);
    Ok(())
}
