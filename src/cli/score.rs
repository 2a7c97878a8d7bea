//! `nmt eval` (translate a test set and score it) and `nmt score` (score a hypothesis file): BLEU and
//! chrF against references, sacreBLEU-compatible; `nmt aer`: word alignments against gold ones.

use super::args::{AerArgs, EvalArgs, ScoreArgs};
use super::{load_engine, write_lines};
use nmt::data::corpus::{read_pairs, read_text_lines, Source};
use nmt::error::{Error, Result};
use nmt::metrics;
use std::path::Path;
use tch::Device;

pub fn eval(a: EvalArgs, device: Device) -> Result<()> {
    let (engine, d) = load_engine(&a.model, &a.decode, None, device)?;
    let (srcs, refs) = match (&a.src, &a.reference) {
        (Some(src), Some(reference)) => read_aligned(src, reference)?,
        (None, None) => {
            let data = &engine.config().data;
            if data.test.as_os_str().is_empty() {
                return Err(Error::Usage(format!(
                    "eval: give --src FILE --ref FILE; the config of {} sets no data.test to evaluate on",
                    engine.info().dir.as_deref().unwrap_or(Path::new(&a.model)).display()
                )));
            }
            let source = Source::from_prefix(&data.test, &data.src_lang, &data.tgt_lang);
            eprintln!("eval: data.test of the model's config: {}", source_name(&source));
            read_pairs(&source)?.into_iter().map(|p| (p.src, p.tgt)).unzip()
        }
        _ => return Err(Error::Usage("eval: --src and --ref go together (or give neither to use data.test)".into())),
    };
    let bar = indicatif::ProgressBar::new(srcs.len() as u64);
    let mut hyps = Vec::with_capacity(srcs.len());
    for chunk in srcs.chunks(d.batch_size * 8) {
        hyps.extend(engine.translate_with(chunk, &d)?.iter().map(|t| t.best_text().to_string()));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if let Some(out) = &a.output {
        write_lines(Some(out), &hyps)?;
    }
    if a.lowercase {
        print_scores(&hyps, &refs, false, false, Some("cased"))?;
        return print_scores(&hyps, &refs, true, false, Some("lowercased"));
    }
    print_scores(&hyps, &refs, false, false, None)
}

/// How an error or a log line names a corpus.
fn source_name(source: &Source) -> String {
    match source {
        Source::Aligned { src, tgt } => format!("{} / {}", src.display(), tgt.display()),
        Source::Tsv(path) => path.display().to_string(),
    }
}

/// Two files of the same number of lines.
fn read_aligned(a: &Path, b: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let (first, second) = (read_text_lines(a)?, read_text_lines(b)?);
    if first.len() != second.len() {
        return Err(Error::Usage(format!(
            "{} has {} lines but {} has {}",
            a.display(),
            first.len(),
            b.display(),
            second.len()
        )));
    }
    Ok((first, second))
}

/// Prints BLEU and chrF (as text, each line followed by `label` when given, or as one JSON object).
fn print_scores(hyps: &[String], refs: &[String], lowercase: bool, json: bool, label: Option<&str>) -> Result<()> {
    let bleu = metrics::bleu(hyps, refs, lowercase)?;
    let chrf = metrics::chrf(hyps, refs, lowercase)?;
    let lines = if json {
        vec![serde_json::json!({"bleu": bleu.score, "chrf": chrf.score, "lowercase": lowercase,
                "precisions": bleu.precisions, "bp": bleu.bp, "sys_len": bleu.sys_len, "ref_len": bleu.ref_len})
        .to_string()]
    } else {
        let label = label.map(|l| format!(" ({l})")).unwrap_or_default();
        vec![format!("{bleu}{label}"), format!("{chrf}{label}")]
    };
    write_lines(None, &lines)
}

pub fn score(a: ScoreArgs) -> Result<()> {
    let (hyps, refs) = read_aligned(&a.hyp, &a.reference)?;
    print_scores(&hyps, &refs, a.lowercase, a.json, a.lowercase.then_some("lowercased"))
}

pub fn aer(a: AerArgs) -> Result<()> {
    let (hyp, gold) = (nmt::align::read_pharaoh(&a.hyp)?, nmt::align::read_pharaoh(&a.gold)?);
    if hyp.len() != gold.len() {
        return Err(Error::Usage(format!(
            "{} has {} lines but {} has {}",
            a.hyp.display(),
            hyp.len(),
            a.gold.display(),
            gold.len()
        )));
    }
    let r = nmt::align::aer(&hyp, &gold);
    let line = if a.json {
        serde_json::to_string(&r).map_err(|e| Error::Serialize { what: "the AER", source: e.into() })?
    } else {
        format!(
            "AER = {:.4} (precision {:.4}, recall {:.4}; {} hypothesis links, {} gold, {} in both; sure links only)",
            r.aer, r.precision, r.recall, r.hyp_links, r.gold_links, r.common
        )
    };
    write_lines(None, &[line])
}
