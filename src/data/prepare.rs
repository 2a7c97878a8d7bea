//! Data preparation for training: the corpora read and filtered, the tokenizers trained on the training
//! side, and the pairs encoded as ids (with BPE-dropout, again each epoch).

use crate::data::batch::Example;
use crate::data::bpe_dropout::BpeDropout;
use crate::data::corpus::{filter_pairs, Pair, PairReader, Source};
use crate::data::rng::SplitMix64;
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
    Ok(assemble(s, t, pairs, max_len))
}

/// Training pairs re-encoded with BPE-dropout: each merge of either side skipped with probability `p`,
/// the draws from a generator seeded with `seed` (the same seed, the same ids) → as [`encode_pairs`].
pub struct DropoutEncoder {
    src: (Tokenizer, BpeDropout),
    tgt: (Tokenizer, BpeDropout),
    p: f64,
}

impl DropoutEncoder {
    /// An encoder for BPE tokenizers `src` and `tgt`; an error for a word-level one.
    pub fn new(src: &Tokenizer, tgt: &Tokenizer, p: f64) -> Result<DropoutEncoder> {
        Ok(DropoutEncoder { src: (src.clone(), BpeDropout::new(src)?), tgt: (tgt.clone(), BpeDropout::new(tgt)?), p })
    }

    /// `pairs` encoded with dropout drawn from `seed`, as [`encode_pairs`] encodes them without.
    pub fn encode(&self, pairs: &[Pair], max_len: usize, seed: u64) -> Result<(Vec<Example>, Vec<Pair>, usize)> {
        let mut rng = SplitMix64(seed);
        let (mut s, mut t) = (Vec::with_capacity(pairs.len()), Vec::with_capacity(pairs.len()));
        for pair in pairs {
            s.push(self.src.1.encode_source(&self.src.0, &pair.src, self.p, &mut rng)?);
            t.push(self.tgt.1.encode(&self.tgt.0, &pair.tgt, self.p, &mut rng)?);
        }
        Ok(assemble(s, t, pairs, max_len))
    }
}

/// Examples of the encoded sides `s` (EOS ended) and `t` of `pairs`, without an empty side or over
/// `max_len` tokens → (examples, the pairs kept, the count dropped as too long).
fn assemble(s: Vec<Vec<i64>>, t: Vec<Vec<i64>>, pairs: &[Pair], max_len: usize) -> (Vec<Example>, Vec<Pair>, usize) {
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
    (examples, kept, long)
}
