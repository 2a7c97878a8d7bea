//! The benchmark's word-level vocabulary, built exactly like the reference peer's
//! (`../shared/bench/torch_ref.py`): lowercased text split into the matches of `\w+|[^\w\s]`, the four
//! special tokens at ids 0–3, then every word seen at least twice in sorted (code point) order.

use crate::data::tokenizer::{SPECIAL_TOKENS, UNK};
use crate::error::{Error, Result};
use regex::Regex;
use std::collections::HashMap;
use std::path::Path;

/// A word → id map and its size.
#[derive(Debug)]
pub struct Vocab {
    ids: HashMap<String, i64>,
    len: usize,
}

/// Minimum count of a word to enter the vocabulary.
const MIN_FREQ: usize = 2;

impl Vocab {
    /// The vocabulary of tokenized lines: specials, then the words seen at least `MIN_FREQ` times, sorted.
    pub fn build(lines: &[Vec<String>]) -> Vocab {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for w in lines.iter().flatten() {
            *counts.entry(w.as_str()).or_default() += 1;
        }
        let mut words: Vec<&str> = counts.into_iter().filter(|&(_, n)| n >= MIN_FREQ).map(|(w, _)| w).collect();
        words.sort_unstable();
        let itos = SPECIAL_TOKENS.iter().copied().chain(words);
        let ids: HashMap<String, i64> = itos.enumerate().map(|(i, w)| (w.to_string(), i as i64)).collect();
        let len = ids.len();
        Vocab { ids, len }
    }

    /// Number of entries, specials included.
    pub fn size(&self) -> usize {
        self.len
    }

    /// Ids of a tokenized line; unknown words map to UNK.
    pub fn ids(&self, line: &[String]) -> Vec<i64> {
        line.iter().map(|w| self.ids.get(w).copied().unwrap_or(UNK)).collect()
    }
}

/// Reads a text file and tokenizes every line (lowercased, `\w+|[^\w\s]`).
pub fn read_tokenized(path: &Path) -> Result<Vec<Vec<String>>> {
    let re = Regex::new(r"\w+|[^\w\s]").map_err(|e| Error::Usage(format!("bench tokenizer: {e}")))?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text.lines().map(|l| re.find_iter(&l.to_lowercase()).map(|m| m.as_str().to_string()).collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn words_seen_once_are_unknown_and_the_rest_sorted_after_the_specials() {
        let v = Vocab::build(&[toks("b a ."), toks("a b c ."), toks(". a")]);
        assert_eq!(v.size(), 4 + 3);
        assert_eq!(v.ids(&toks(". a b c")), vec![4, 5, 6, UNK]);
    }
}
