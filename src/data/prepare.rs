//! Data preparation for training: the corpora read and filtered, the tokenizers trained on the training
//! side, and the pairs encoded as ids.

use crate::data::batch::Example;
use crate::data::corpus::{filter_pairs, Pair, PairReader, Source};
use crate::data::tokenizer::{Spec, Tokenizer};
use crate::error::Result;
use std::path::Path;

/// Lines longer than this many characters are skipped before tokenization (counted as over-long).
const MAX_LINE_CHARS: usize = 20_000;

/// The pairs of the corpus at `prefix` (files `PREFIX.SRC_LANG` and `PREFIX.TGT_LANG`, or a `.tsv`),
/// without those with an empty side or an over-long line (counted on stderr under `what`).
pub fn read_filtered(prefix: &Path, src_lang: &str, tgt_lang: &str, what: &str) -> Result<Vec<Pair>> {
    let source = Source::from_prefix(prefix, src_lang, tgt_lang);
    let (pairs, stats) = filter_pairs(PairReader::open(&source)?, MAX_LINE_CHARS)?;
    if stats.empty + stats.too_long > 0 {
        eprintln!(
            "{what}: skipped {} pairs with an empty side and {} over {MAX_LINE_CHARS} characters",
            stats.empty, stats.too_long
        );
    }
    Ok(pairs)
}

/// Trains the tokenizers on the training pairs: one per side, or with `joint` one for both.
pub fn train_tokenizers(pairs: &[Pair], spec: &Spec, joint: bool) -> Result<(Tokenizer, Tokenizer)> {
    let src: Vec<&str> = pairs.iter().map(|p| p.src.as_str()).collect();
    let tgt: Vec<&str> = pairs.iter().map(|p| p.tgt.as_str()).collect();
    if joint {
        let both: Vec<&str> = src.iter().chain(tgt.iter()).copied().collect();
        let tok = Tokenizer::train(&both, spec)?;
        Ok((tok.clone(), tok))
    } else {
        Ok((Tokenizer::train(&src, spec)?, Tokenizer::train(&tgt, spec)?))
    }
}

/// Encodes pairs, dropping (and counting) those over `max_len` tokens on either side (EOS included)
/// → (examples, the pairs kept, the count dropped as too long).
pub fn encode_pairs(
    pairs: &[Pair],
    src: &Tokenizer,
    tgt: &Tokenizer,
    max_len: usize,
) -> Result<(Vec<Example>, Vec<Pair>, usize)> {
    let s = src.encode_source_batch(&pairs.iter().map(|p| p.src.as_str()).collect::<Vec<_>>())?;
    let t = tgt.encode_batch(&pairs.iter().map(|p| p.tgt.as_str()).collect::<Vec<_>>())?;
    let (mut examples, mut kept, mut long) = (Vec::new(), Vec::new(), 0);
    for ((s, t), p) in s.into_iter().zip(t).zip(pairs) {
        if s.is_empty() || t.is_empty() {
            continue;
        }
        if s.len() > max_len || t.len() + 1 > max_len {
            long += 1;
            continue;
        }
        examples.push(Example { src: s, tgt: t });
        kept.push(p.clone());
    }
    Ok((examples, kept, long))
}
