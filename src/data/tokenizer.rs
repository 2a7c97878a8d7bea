//! Text ↔ token ids: trains, saves, loads and applies a subword (BPE) or word-level model built
//! on the `tokenizers` crate, with the four special tokens at fixed ids.
//!
//! Pipeline, identical at training and at use (it is stored in the JSON file):
//! 1. normalize: Unicode NFC, optional lowercasing, removal of control characters (C0/C1
//!    controls other than whitespace: they carry no meaning and would otherwise become `<unk>`),
//!    every run of whitespace collapsed to one space, ends stripped;
//! 2. pre-tokenize: BPE marks word starts with `▁` (Metaspace), so decoding restores the spaces
//!    exactly and `decode(encode(x)) == normalize(x)` for text whose characters were seen in
//!    training; word-level mode splits into the matches of `\w+|[^\w\s]`;
//! 3. model: BPE or word-level, unknown pieces map to `<unk>`.
//!
//! The special tokens live in the model's vocabulary only, not as "added tokens": a literal
//! `<s>` in user text is therefore ordinary text, never a sentence boundary.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::models::wordlevel::{WordLevel, WordLevelTrainer};
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::{Lowercase, NormalizerWrapper, Replace, Sequence, Strip, NFC};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    AddedToken, AddedVocabulary, NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString,
    PreTokenizer, SplitDelimiterBehavior,
};

/// Padding id.
pub const PAD: i64 = 0;
/// Unknown-token id.
pub const UNK: i64 = 1;
/// Beginning-of-sentence id.
pub const BOS: i64 = 2;
/// End-of-sentence id.
pub const EOS: i64 = 3;
/// The spelling of the special tokens, indexed by their id.
pub const SPECIAL_TOKENS: [&str; 4] = ["<pad>", "<unk>", "<s>", "</s>"];

/// Word-start marker of the BPE pre-tokenizer (U+2581). A literal `▁` in input text decodes
/// as a space.
const METASPACE: char = '▁';
/// Control characters removed by the normalizer: C0 and C1 controls except the whitespace ones
/// (TAB, LF, VT, FF, CR, NEL), which the whitespace rule turns into spaces.
const CONTROL_CHARS: &str = r"[\x{00}-\x{08}\x{0E}-\x{1F}\x{7F}-\x{84}\x{86}-\x{9F}]";
/// Whitespace to turn into one space: runs of two or more, and single non-space characters
/// (tab, NBSP, ...). A lone space already is what we want, and rewriting it costs time.
const WHITESPACE_RUNS: &str = r"\s{2,}|[\s&&[^ ]]";
/// Word-level tokens: runs of word characters, and each other non-space character alone.
const WORD_TOKENS: &str = r"\w+|[^\w\s]";

/// The kind of model.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Byte-pair-encoding subwords; decoding is exact for normalized text.
    Bpe,
    /// Whole words and single punctuation marks. Word-level mode may lose spacing around
    /// punctuation: decoding joins tokens with spaces (`"Hi, you."` → `"Hi , you ."`).
    Word,
}

/// What to train.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// BPE or word-level.
    pub kind: Kind,
    /// Upper bound on the vocabulary size, special tokens included (must exceed 4).
    pub vocab_size: usize,
    /// BPE: minimum count of a merge; word-level: minimum count of a word.
    pub min_frequency: u64,
    /// Lowercase all text before anything else.
    pub lowercase: bool,
}

/// A trained tokenizer (see the module documentation for its pipeline).
#[derive(Clone, Debug)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

fn tk_error(what: &str) -> impl Fn(tokenizers::Error) -> Error + '_ {
    move |source| Error::TokenizerLibrary { what: what.to_string(), source }
}

fn normalizer(lowercase: bool) -> Result<NormalizerWrapper> {
    let regex = |pattern: &str, content: &str| {
        Replace::new(ReplacePattern::Regex(pattern.to_owned()), content)
            .map(NormalizerWrapper::from)
            .map_err(tk_error("building the normalizer"))
    };
    let mut steps = vec![NormalizerWrapper::from(NFC)];
    if lowercase {
        steps.push(Lowercase.into());
    }
    steps.push(regex(CONTROL_CHARS, "")?);
    steps.push(regex(WHITESPACE_RUNS, " ")?);
    steps.push(Strip::new(true, true).into());
    Ok(Sequence::new(steps).into())
}

impl Tokenizer {
    /// Trains a tokenizer on `lines` (one sentence each). BPE keeps at most `vocab_size - 4`
    /// distinct characters (the most frequent; rarer ones become `<unk>`), so the vocabulary
    /// never exceeds `spec.vocab_size`.
    pub fn train<S: AsRef<str> + Sync>(lines: &[S], spec: &Spec) -> Result<Tokenizer> {
        let room = spec.vocab_size.checked_sub(SPECIAL_TOKENS.len()).filter(|&n| n > 0).ok_or_else(|| {
            Error::Tokenizer(format!(
                "vocabulary size {} leaves no room beyond the {} special tokens",
                spec.vocab_size,
                SPECIAL_TOKENS.len()
            ))
        })?;
        let specials: Vec<AddedToken> = SPECIAL_TOKENS.iter().map(|t| AddedToken::from(*t, true)).collect();
        let unk = SPECIAL_TOKENS[UNK as usize].to_owned();
        let (model, mut trainer): (ModelWrapper, TrainerWrapper) = match spec.kind {
            Kind::Bpe => (
                BPE::builder().unk_token(unk).fuse_unk(true).build().map_err(tk_error("building BPE"))?.into(),
                BpeTrainer::builder()
                    .vocab_size(spec.vocab_size)
                    .min_frequency(spec.min_frequency)
                    .limit_alphabet(room)
                    .special_tokens(specials)
                    .show_progress(false)
                    .build()
                    .into(),
            ),
            Kind::Word => (
                WordLevel::builder().unk_token(unk).build().map_err(tk_error("building the word model"))?.into(),
                WordLevelTrainer::builder()
                    .vocab_size(spec.vocab_size)
                    .min_frequency(spec.min_frequency)
                    .special_tokens(specials)
                    .show_progress(false)
                    .build()
                    .map_err(|e| tk_error("building the word trainer")(e.into()))?
                    .into(),
            ),
        };
        let mut inner = tokenizers::Tokenizer::new(model);
        inner.with_normalizer(Some(normalizer(spec.lowercase)?)).map_err(tk_error("setting the normalizer"))?;
        match spec.kind {
            Kind::Bpe => {
                let metaspace = Metaspace::new(METASPACE, PrependScheme::Always, true);
                inner.with_pre_tokenizer(Some(metaspace.clone()));
                inner.with_decoder(Some(metaspace));
            }
            Kind::Word => {
                let split =
                    Split::new(SplitPattern::Regex(WORD_TOKENS.to_owned()), SplitDelimiterBehavior::Removed, true)
                        .map_err(tk_error("building the word splitter"))?;
                inner.with_pre_tokenizer(Some(split));
            }
        }
        inner.train(&mut trainer, lines.iter().map(|l| l.as_ref())).map_err(tk_error("training"))?;
        // Training registers the specials as added tokens, which would turn a literal "<s>" in
        // user text into BOS; they stay in the model vocabulary at ids 0..3, which is all we need.
        inner.with_added_vocabulary(AddedVocabulary::new());
        let tokenizer = Tokenizer::checked(inner, Path::new("(trained)"))?;
        if tokenizer.vocab_size() == SPECIAL_TOKENS.len() {
            return Err(Error::Tokenizer("no text to train on: every training line is empty".into()));
        }
        Ok(tokenizer)
    }

    /// Validates a tokenizer: a BPE or word-level model with `<unk>` as its unknown token and
    /// the special tokens at their fixed ids.
    fn checked(inner: tokenizers::Tokenizer, origin: &Path) -> Result<Tokenizer> {
        let bad = |msg: String| Error::data(origin, 0, msg);
        let unk = match inner.get_model() {
            ModelWrapper::BPE(m) => m.unk_token.clone().unwrap_or_default(),
            ModelWrapper::WordLevel(m) => m.unk_token.clone(),
            _ => return Err(bad("unsupported tokenizer model: expected BPE or word-level".into())),
        };
        if unk != SPECIAL_TOKENS[UNK as usize] {
            return Err(bad(format!("unknown token is {unk:?}, expected \"<unk>\"")));
        }
        for (id, token) in SPECIAL_TOKENS.iter().enumerate() {
            let found = inner.token_to_id(token);
            if found != Some(id as u32) {
                let at = found.map_or("absent".to_owned(), |f| format!("at id {f}"));
                return Err(bad(format!(
                    "special token {token} is {at}, expected at id {id}: not a tokenizer of this toolkit"
                )));
            }
        }
        Ok(Tokenizer { inner })
    }

    /// Parses a tokenizer from its JSON text; `origin` names the file in errors.
    pub fn from_json(json: &str, origin: &Path) -> Result<Tokenizer> {
        let inner = tokenizers::Tokenizer::from_bytes(json.as_bytes())
            .map_err(|e| Error::data(origin, 0, format!("not a valid tokenizer file: {e}")))?;
        Tokenizer::checked(inner, origin)
    }

    /// Loads a tokenizer saved by [`Tokenizer::save`].
    pub fn load(path: &Path) -> Result<Tokenizer> {
        let json = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Tokenizer::from_json(&json, path)
    }

    /// The tokenizer as compact JSON (the `tokenizers` crate's format).
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(false).map_err(tk_error("serializing"))
    }

    /// Writes the tokenizer atomically to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsutil::write_atomic(path, self.to_json()?.as_bytes())
    }

    /// Number of ids, special tokens included; valid ids are `0..vocab_size()`.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The text as the tokenizer sees it before splitting (see the module documentation).
    pub fn normalize(&self, text: &str) -> Result<String> {
        let mut normalized = NormalizedString::from(text);
        if let Some(n) = self.inner.get_normalizer() {
            n.normalize(&mut normalized).map_err(tk_error("normalizing"))?;
        }
        Ok(normalized.get().to_owned())
    }

    /// The words the model segments: `text` normalized and pre-tokenized (BPE: `▁`-prefixed words).
    pub(crate) fn pre_tokenized(&self, text: &str) -> Result<Vec<String>> {
        let mut normalized = NormalizedString::from(text);
        if let Some(n) = self.inner.get_normalizer() {
            n.normalize(&mut normalized).map_err(tk_error("normalizing"))?;
        }
        let mut words = PreTokenizedString::from(normalized);
        if let Some(p) = self.inner.get_pre_tokenizer() {
            p.pre_tokenize(&mut words).map_err(tk_error("pre-tokenizing"))?;
        }
        let splits = words.get_splits(OffsetReferential::Normalized, OffsetType::Byte);
        Ok(splits.into_iter().map(|(word, _, _)| word.to_owned()).filter(|w| !w.is_empty()).collect())
    }

    /// Token ids of `text`, without BOS/EOS. Empty or whitespace-only text gives no ids.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        Ok(self.encode_with_tokens(text)?.0)
    }

    /// Token ids of `text` and the tokens as the model spells them (e.g. `▁la`, `▁voit`, `ure`).
    pub fn encode_with_tokens(&self, text: &str) -> Result<(Vec<i64>, Vec<String>)> {
        let encoding = self.inner.encode(text, false).map_err(tk_error("encoding"))?;
        Ok((to_i64(encoding.get_ids()), encoding.get_tokens().to_vec()))
    }

    /// A source sentence as the encoder sees it: ids and tokens, then EOS (nothing for an empty text).
    pub fn encode_source(&self, text: &str) -> Result<(Vec<i64>, Vec<String>)> {
        let (mut ids, mut tokens) = self.encode_with_tokens(text)?;
        if end_source(&mut ids) {
            tokens.push(self.token(EOS));
        }
        Ok((ids, tokens))
    }

    /// [`Tokenizer::encode_source`] plus, for each token before EOS, the index of the whitespace-separated
    /// word of `text` it comes from (through the token's byte offsets into `text`; a token between words,
    /// such as a lone `▁`, counts to the next word): what word alignments are indexed by.
    pub fn encode_source_words(&self, text: &str) -> Result<(Vec<i64>, Vec<String>, Vec<usize>)> {
        let encoding = self.inner.encode(text, false).map_err(tk_error("encoding"))?;
        let ends: Vec<usize> =
            text.split_whitespace().map(|w| w.as_ptr() as usize - text.as_ptr() as usize + w.len()).collect();
        let last = ends.len().saturating_sub(1);
        let words = encoding
            .get_offsets()
            .iter()
            .map(|&(start, _)| ends.iter().position(|&end| end > start).unwrap_or(last))
            .collect();
        let (mut ids, mut tokens) = (to_i64(encoding.get_ids()), encoding.get_tokens().to_vec());
        if end_source(&mut ids) {
            tokens.push(self.token(EOS));
        }
        Ok((ids, tokens, words))
    }

    /// For each of `ids` (an emitted target sequence), the 0-based whitespace-separated word of
    /// `decode(ids)` it writes into: the word count of the text decoded up to and including it, less one;
    /// `None` for a token that writes nothing (EOS, UNK, or a piece before any text). What word
    /// alignments are indexed by on the target side, whatever the tokenizer.
    pub fn target_words(&self, ids: &[i64]) -> Result<Vec<Option<usize>>> {
        let mut words = Vec::with_capacity(ids.len());
        for end in 1..=ids.len() {
            let count = self.decode(&ids[..end])?.split_whitespace().count();
            let writes = ids[end - 1] >= SPECIAL_TOKENS.len() as i64 && count > 0;
            words.push(writes.then(|| count - 1));
        }
        Ok(words)
    }

    /// [`Tokenizer::encode_source`]'s ids for many texts, in parallel.
    pub fn encode_source_batch(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>> {
        let mut all = self.encode_batch(texts)?;
        for ids in &mut all {
            end_source(ids);
        }
        Ok(all)
    }

    /// [`Tokenizer::encode`] for many texts, in parallel.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>> {
        let encodings = self.inner.encode_batch(texts.to_vec(), false).map_err(tk_error("encoding"))?;
        Ok(encodings.iter().map(|e| to_i64(e.get_ids())).collect())
    }

    /// The text of `ids`, special tokens (PAD, UNK, BOS, EOS) skipped. An id outside the
    /// vocabulary is an error.
    pub fn decode(&self, ids: &[i64]) -> Result<String> {
        let size = self.vocab_size();
        let mut kept = Vec::with_capacity(ids.len());
        for &id in ids {
            let Some(id) = u32::try_from(id).ok().filter(|&i| (i as usize) < size) else {
                return Err(Error::Tokenizer(format!("token id {id} is outside the vocabulary (size {size})")));
            };
            if id as usize >= SPECIAL_TOKENS.len() {
                kept.push(id);
            }
        }
        self.inner.decode(&kept, false).map_err(tk_error("decoding"))
    }

    /// The spelling of token `id`, for display; `<unk>` for an id outside the vocabulary.
    pub fn token(&self, id: i64) -> String {
        u32::try_from(id)
            .ok()
            .and_then(|i| self.inner.id_to_token(i))
            .unwrap_or_else(|| SPECIAL_TOKENS[UNK as usize].to_owned())
    }
}

/// Appends EOS to a non-empty source; → whether it did. The one place the source EOS is added.
pub(crate) fn end_source(ids: &mut Vec<i64>) -> bool {
    if !ids.is_empty() {
        ids.push(EOS);
    }
    !ids.is_empty()
}

fn to_i64(ids: &[u32]) -> Vec<i64> {
    ids.iter().map(|&i| i64::from(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: Kind) -> Spec {
        Spec { kind, vocab_size: 200, min_frequency: 1, lowercase: false }
    }

    const LINES: [&str; 3] = ["the cat sat on the mat.", "the dog sat, too!", "a cat and a dog"];

    #[test]
    fn normalizer_collapses_whitespace_and_removes_controls() {
        let t = Tokenizer::train(&LINES, &spec(Kind::Bpe)).unwrap();
        assert_eq!(t.normalize("  a\t\tb \u{a0}\u{3000}c\r\n").unwrap(), "a b c");
        assert_eq!(t.normalize("a \t b\u{85}c\u{2003}d\u{2028}e\u{b}f").unwrap(), "a b c d e f");
        assert_eq!(t.normalize("a\u{1}b \u{7f}\u{9f} c\u{0}").unwrap(), "ab c");
        // NFC: e + combining acute becomes é.
        assert_eq!(t.normalize("e\u{301}").unwrap(), "\u{e9}");
    }

    #[test]
    fn literal_special_token_text_is_not_a_special_id() {
        for kind in [Kind::Bpe, Kind::Word] {
            let t = Tokenizer::train(&LINES, &spec(kind)).unwrap();
            let ids = t.encode("<s> </s> <pad>").unwrap();
            assert!(!ids.iter().any(|&i| i == PAD || i == BOS || i == EOS), "{kind:?}: {ids:?}");
        }
    }

    #[test]
    fn source_tokens_know_their_whitespace_word() {
        for kind in [Kind::Bpe, Kind::Word] {
            let t = Tokenizer::train(&LINES, &spec(kind)).unwrap();
            let text = "  the  dog sat,\ttoo! zebra";
            let (ids, tokens, words) = t.encode_source_words(text).unwrap();
            assert_eq!((ids.len(), tokens.len(), words.len() + 1), (tokens.len(), ids.len(), ids.len()), "{kind:?}");
            assert_eq!(words.first(), Some(&0));
            assert_eq!(words.last(), Some(&4), "{kind:?}: {tokens:?} {words:?}");
            assert!(words.windows(2).all(|w| w[0] <= w[1] && w[1] <= w[0] + 1), "{kind:?}: {tokens:?} {words:?}");
            // "sat," is one word: its comma is a token of word 2.
            let comma = tokens.iter().position(|t| t.ends_with(',')).unwrap();
            assert_eq!(words[comma], 2, "{kind:?}: {tokens:?} {words:?}");
        }
    }

    #[test]
    fn target_tokens_know_the_word_of_the_decoded_text_they_write_into() {
        for kind in [Kind::Bpe, Kind::Word] {
            let t = Tokenizer::train(&LINES, &spec(kind)).unwrap();
            let mut ids = t.encode("the cat sat, too!").unwrap();
            ids.push(EOS);
            let words = t.target_words(&ids).unwrap();
            let text = t.decode(&ids).unwrap();
            assert_eq!(words.last(), Some(&None), "EOS writes nothing");
            let n = text.split_whitespace().count();
            assert_eq!(words[words.len() - 2], Some(n - 1), "{kind:?}: {text:?} {words:?}");
            assert_eq!(words[0], Some(0));
        }
        // Pieces without a word-start marker glue into one word.
        let t = Tokenizer::train(&LINES, &spec(Kind::Bpe)).unwrap();
        let glued: Vec<i64> = ["s", "a", "t"].iter().map(|p| t.inner.token_to_id(p).unwrap() as i64).collect();
        assert_eq!(t.target_words(&glued).unwrap(), [Some(0), Some(0), Some(0)]);
    }

    #[test]
    fn vocab_size_without_room_for_text_is_an_error() {
        let s = Spec { vocab_size: 4, ..spec(Kind::Bpe) };
        let msg = Tokenizer::train(&LINES, &s).unwrap_err().to_string();
        assert!(msg.contains("vocabulary size 4"), "{msg}");
    }

    #[test]
    fn training_on_empty_lines_is_an_error() {
        let msg = Tokenizer::train(&["", "  "], &spec(Kind::Word)).unwrap_err().to_string();
        assert!(msg.contains("no text to train on"), "{msg}");
    }
}
