//! BPE-dropout (Provilkov, Emelianenko & Voita, 2020): training pairs re-encoded each epoch with every
//! merge skipped with probability `p`, so the model sees a word in many segmentations and learns its
//! pieces' composition; the saved tokenizer keeps no dropout, and translation encodes as before.
//!
//! Written out here rather than taken from the `tokenizers` crate, whose BPE has a `dropout` setting:
//! the crate draws it from `rand::rng()`, a thread-local generator seeded by the OS, so a run could not
//! be repeated nor resumed exactly (`nmt train --resume` redoes the interrupted epoch batch for batch).
//! Here the draws come from a `SplitMix64` (`rng.rs`) seeded by the run's seed and the epoch. The merge loop is
//! the crate's (lowest rank first, the leftmost among equals; a skipped merge stays skipped until the
//! next merge happens, and when every candidate is skipped the word is done), and with `p = 0` the ids
//! equal [`Tokenizer::encode`]'s — a test checks it on whole corpora.

use crate::data::rng::SplitMix64;
use crate::data::tokenizer::{end_source, Tokenizer, UNK};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// A BPE tokenizer's vocabulary and merges, ready to encode with dropout.
pub(crate) struct BpeDropout {
    /// Piece → id.
    vocab: HashMap<String, i64>,
    /// (left id, right id) → (the merge's rank, lower merges first; the merged piece's id).
    merges: HashMap<(i64, i64), (usize, i64)>,
}

/// The parts of the `tokenizers` JSON this encoder reads.
#[derive(serde::Deserialize)]
struct TokenizerJson {
    model: ModelJson,
}

/// Every field but the type defaults, so that a word-level model is refused by its type, not by serde.
#[derive(serde::Deserialize)]
#[serde(default)]
struct ModelJson {
    #[serde(rename = "type")]
    kind: String,
    vocab: HashMap<String, i64>,
    merges: Vec<(String, String)>,
    fuse_unk: bool,
    ignore_merges: bool,
    continuing_subword_prefix: Option<String>,
    end_of_word_suffix: Option<String>,
}

impl Default for ModelJson {
    fn default() -> Self {
        ModelJson {
            kind: String::new(),
            vocab: HashMap::new(),
            merges: Vec::new(),
            fuse_unk: true,
            ignore_merges: false,
            continuing_subword_prefix: None,
            end_of_word_suffix: None,
        }
    }
}

impl BpeDropout {
    /// The encoder of `tok`; an error for a word-level tokenizer or a BPE set up otherwise than
    /// [`Tokenizer::train`] sets it up (unknown pieces fused, merges applied to every word, no affixes).
    pub(crate) fn new(tok: &Tokenizer) -> Result<BpeDropout> {
        let json: TokenizerJson = serde_json::from_str(&tok.to_json()?)
            .map_err(|e| Error::Tokenizer(format!("BPE-dropout: reading the tokenizer's model: {e}")))?;
        let m = json.model;
        if m.kind != "BPE" {
            return Err(Error::Tokenizer(format!("BPE-dropout needs a BPE tokenizer, not {}", m.kind)));
        }
        if !m.fuse_unk || m.ignore_merges || m.continuing_subword_prefix.is_some() || m.end_of_word_suffix.is_some() {
            return Err(Error::Tokenizer(
                "BPE-dropout: the tokenizer's BPE options differ from those nmt trains with".into(),
            ));
        }
        let id = |piece: &str| {
            m.vocab.get(piece).copied().ok_or_else(|| {
                Error::Tokenizer(format!("BPE-dropout: the tokenizer's merges name {piece:?}, not in its vocabulary"))
            })
        };
        let mut merges = HashMap::with_capacity(m.merges.len());
        for (rank, (a, b)) in m.merges.iter().enumerate() {
            merges.insert((id(a)?, id(b)?), (rank, id(&format!("{a}{b}"))?));
        }
        Ok(BpeDropout { vocab: m.vocab, merges })
    }

    /// The ids of `text` as [`Tokenizer::encode`] gives them, but with each merge skipped with probability
    /// `p` (drawn from `rng`).
    pub(crate) fn encode(&self, tok: &Tokenizer, text: &str, p: f64, rng: &mut SplitMix64) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        for word in tok.pre_tokenized(text)? {
            for piece in self.merge(&word, p, rng) {
                let id = piece.unwrap_or(UNK);
                // Unknown characters in a row are one `<unk>` (the crate's `fuse_unk`).
                if id != UNK || ids.last() != Some(&UNK) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// [`Self::encode`] for a source sentence: EOS appended to a non-empty one.
    pub(crate) fn encode_source(&self, tok: &Tokenizer, text: &str, p: f64, rng: &mut SplitMix64) -> Result<Vec<i64>> {
        let mut ids = self.encode(tok, text, p, rng)?;
        end_source(&mut ids);
        Ok(ids)
    }

    /// The piece ids of one pre-tokenized word; `None` for a character outside the vocabulary (it takes
    /// part in no merge).
    fn merge(&self, word: &str, p: f64, rng: &mut SplitMix64) -> Vec<Option<i64>> {
        let mut pieces: Vec<Option<i64>> =
            word.chars().map(|c| self.vocab.get(c.encode_utf8(&mut [0; 4])).copied()).collect();
        loop {
            // Candidates: every adjacent pair with a merge, best (lowest rank, then leftmost) first.
            let mut candidates: Vec<(usize, usize, i64)> = pieces
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| Some((i, self.merges.get(&(w[0]?, w[1]?))?)))
                .map(|(i, &(rank, merged))| (rank, i, merged))
                .collect();
            candidates.sort_unstable();
            let Some(&(_, at, merged)) = candidates.iter().find(|_| p <= 0.0 || rng.unit() >= p) else {
                return pieces;
            };
            pieces[at] = Some(merged);
            pieces.remove(at + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tokenizer::{Kind, Spec};

    fn tokenizer() -> Tokenizer {
        let lines = ["the cat sat on the mat", "the hat is flat", "that cat is fat", "a rat and a cat"];
        let spec = Spec { kind: Kind::Bpe, vocab_size: 40, min_frequency: 1, lowercase: false };
        Tokenizer::train(&lines, &spec).unwrap()
    }

    #[test]
    fn without_dropout_the_ids_are_the_tokenizers_own() {
        let tok = tokenizer();
        let bpe = BpeDropout::new(&tok).unwrap();
        let mut rng = SplitMix64(1);
        for text in ["the cat sat on the mat", "that flat rat", "xyz cat ☃☃ at", "", "  "] {
            assert_eq!(bpe.encode(&tok, text, 0.0, &mut rng).unwrap(), tok.encode(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn full_dropout_gives_characters_and_the_same_seed_the_same_pieces() {
        let tok = tokenizer();
        let bpe = BpeDropout::new(&tok).unwrap();
        let all_dropped = bpe.encode(&tok, "the cat", 1.0, &mut SplitMix64(7)).unwrap();
        assert_eq!(all_dropped.len(), "▁the▁cat".chars().count(), "p = 1: one id per character");
        assert_eq!(tok.decode(&all_dropped).unwrap(), "the cat");
        let draw = |seed| bpe.encode(&tok, "the cat sat on the mat that flat rat", 0.5, &mut SplitMix64(seed)).unwrap();
        assert_eq!(draw(3), draw(3), "the same seed gives the same segmentation");
        let plain = tok.encode("the cat sat on the mat that flat rat").unwrap();
        assert!((0..20).any(|s| draw(s) != plain), "p = 0.5 changes some segmentation over 20 seeds");
        for seed in 0..20 {
            assert_eq!(tok.decode(&draw(seed)).unwrap(), "the cat sat on the mat that flat rat", "seed {seed}");
        }
    }

    #[test]
    fn a_word_level_tokenizer_is_refused() {
        let spec = Spec { kind: Kind::Word, vocab_size: 40, min_frequency: 1, lowercase: false };
        let tok = Tokenizer::train(&["a b c"], &spec).unwrap();
        let err = BpeDropout::new(&tok).err().expect("word level refused").to_string();
        assert!(err.contains("needs a BPE tokenizer"), "{err}");
    }
}
