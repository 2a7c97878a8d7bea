//! Word alignments from attention, and their alignment error rate (AER).
//!
//! A translation's attention `[target tokens][source tokens]` is merged to words — the whitespace-separated
//! words of the source line (each source token knows its word through the tokenizer's offsets) and of the
//! translation (each emitted token knows the word of the decoded text it writes into) — with the
//! `--words` merge of the heatmaps ([`crate::heatmap::merge_matrix`]: a source word sums its pieces'
//! columns, a target word averages its pieces' rows; for `multihead` the weights are the head mean). The
//! source EOS has no word and the target EOS is no word: neither is ever linked. Then a [`Rule`] picks
//! the links. Links print in Pharaoh format: `i-j` pairs, `i` the 0-based source word, `j` the 0-based
//! target word, space-separated, one line per sentence.
//!
//! AER with sure links only (Och and Ney 2003 with S = P): `1 − 2|A∩S| / (|A| + |S|)` over a corpus,
//! A the hypothesis links and S the gold ones — one minus the F1 of the links.

use crate::error::{Error, Result};
use crate::heatmap::merge_matrix;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

/// One alignment link: (source word, target word), both 0-based.
pub type Link = (usize, usize);

/// How links are read off the word weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// Each target word links to the source word it attends to most (one link per target word; none for
    /// a word with no weight).
    Argmax,
    /// [`Rule::Argmax`] and its converse: also each source word links to the target word that attends to
    /// it most (the column's argmax).
    Union,
    /// Koehn et al. (2003)'s grow-diag symmetrization of the two one-way argmax alignments of
    /// [`Rule::Union`]: start from the links both make; then, pass by pass until a pass adds nothing, add
    /// each link of either that neighbours a link already made (source and/or target word ±1) and whose
    /// source or target word has no link yet.
    GrowDiag,
    /// Every (source, target) word pair whose weight is at least this value.
    Threshold(f32),
}

/// The rule `nmt translate --alignments` uses, chosen on the toy dev set (README, "Word alignments"):
/// with the demo model, grow-diag had AER 0.140 there, union 0.148, argmax 0.188 and the best threshold
/// (0.2, the earlier default) 0.179 (0.1 to 0.5 tried).
pub const DEFAULT_RULE: Rule = Rule::GrowDiag;

impl std::str::FromStr for Rule {
    type Err = Error;

    /// `argmax`, `union`, `grow-diag`, or a threshold in (0, 1].
    fn from_str(s: &str) -> Result<Rule> {
        match s {
            "argmax" => return Ok(Rule::Argmax),
            "union" => return Ok(Rule::Union),
            "grow-diag" => return Ok(Rule::GrowDiag),
            _ => {}
        }
        match s.parse::<f32>() {
            Ok(t) if t > 0.0 && t <= 1.0 => Ok(Rule::Threshold(t)),
            _ => Err(Error::Usage(format!(
                "alignment rule {s:?}: expected argmax, union, grow-diag or a threshold in (0, 1]"
            ))),
        }
    }
}

/// Word weights `[target words][source words]` of a translation: `weights` is `[target tokens][source
/// tokens]` (source EOS included), `source_words[k]` the word of source token `k` (EOS has none, so
/// `source_words` is one shorter than a row), `target_words[t]` the word of emitted token `t` (`None`
/// for EOS and other tokens that write no text).
pub fn word_weights(weights: &[Vec<f32>], source_words: &[usize], target_words: &[Option<usize>]) -> Vec<Vec<f32>> {
    let src = spans(source_words.iter().copied().map(Some));
    let tgt = spans(target_words.iter().copied());
    merge_matrix(weights, &src, &tgt)
}

/// The token positions of each word, given each token's word: tokens of one word are contiguous (a
/// special token inside a word is covered too); a word no token writes (every character of it removed by
/// the normalizer) covers nothing.
fn spans(words: impl Iterator<Item = Option<usize>>) -> Vec<Range<usize>> {
    let mut spans: Vec<Range<usize>> = Vec::new();
    for (k, w) in words.enumerate() {
        let Some(w) = w else { continue };
        if spans.len() <= w {
            spans.resize(w + 1, 0..0);
        }
        spans[w] = if spans[w].is_empty() { k..k + 1 } else { spans[w].start..k + 1 };
    }
    spans
}

/// The links `rule` reads off word weights `[target words][source words]`, sorted.
pub fn links(word_weights: &[Vec<f32>], rule: Rule) -> Vec<Link> {
    let links = match rule {
        Rule::Argmax => row_argmax(word_weights),
        Rule::Union => &row_argmax(word_weights) | &column_argmax(word_weights),
        Rule::GrowDiag => grow_diag(&row_argmax(word_weights), &column_argmax(word_weights)),
        Rule::Threshold(t) => word_weights
            .iter()
            .enumerate()
            .flat_map(|(j, row)| row.iter().enumerate().filter(move |(_, &w)| w >= t).map(move |(i, _)| (i, j)))
            .collect(),
    };
    links.into_iter().collect()
}

/// The position of the largest of `weights` above 0 (the last of equal ones; NaN, the row of a word no
/// token writes, never counts), if any.
fn argmax(weights: impl Iterator<Item = f32>) -> Option<usize> {
    weights.enumerate().filter(|&(_, w)| w > 0.0).max_by(|a, b| a.1.total_cmp(&b.1)).map(|(k, _)| k)
}

/// Each target word `j` linked to its row's argmax.
fn row_argmax(word_weights: &[Vec<f32>]) -> BTreeSet<Link> {
    let rows = word_weights.iter().enumerate();
    rows.filter_map(|(j, row)| argmax(row.iter().copied()).map(|i| (i, j))).collect()
}

/// Each source word `i` linked to its column's argmax.
fn column_argmax(word_weights: &[Vec<f32>]) -> BTreeSet<Link> {
    let sources = word_weights.first().map_or(0, Vec::len);
    (0..sources).filter_map(|i| argmax(word_weights.iter().map(|row| row[i])).map(|j| (i, j))).collect()
}

/// [`Rule::GrowDiag`] of the alignments `a` and `b`. Links are visited in order, and each link's
/// neighbours in the order source −1, target −1, source +1, target +1, then the diagonals, so that the
/// result is deterministic.
fn grow_diag(a: &BTreeSet<Link>, b: &BTreeSet<Link>) -> BTreeSet<Link> {
    const NEIGHBOURS: [(isize, isize); 8] = [(-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)];
    let union = a | b;
    let mut out = a & b;
    let mut linked_source: BTreeSet<usize> = out.iter().map(|l| l.0).collect();
    let mut linked_target: BTreeSet<usize> = out.iter().map(|l| l.1).collect();
    loop {
        let mut added = false;
        for (i, j) in out.clone() {
            for (di, dj) in NEIGHBOURS {
                let (Some(ni), Some(nj)) = (i.checked_add_signed(di), j.checked_add_signed(dj)) else { continue };
                let new_word = !linked_source.contains(&ni) || !linked_target.contains(&nj);
                if new_word && union.contains(&(ni, nj)) && out.insert((ni, nj)) {
                    linked_source.insert(ni);
                    linked_target.insert(nj);
                    added = true;
                }
            }
        }
        if !added {
            return out;
        }
    }
}

/// Links as one Pharaoh line: `i-j` pairs separated by spaces (empty for none).
pub fn to_pharaoh(links: &[Link]) -> String {
    links.iter().map(|(i, j)| format!("{i}-{j}")).collect::<Vec<_>>().join(" ")
}

/// One Pharaoh line → its links; the message names the bad pair.
pub fn parse_pharaoh(line: &str) -> std::result::Result<Vec<Link>, String> {
    line.split_whitespace()
        .map(|pair| {
            let (i, j) = pair.split_once('-').ok_or_else(|| format!("{pair:?} is not an i-j pair"))?;
            match (i.parse(), j.parse()) {
                (Ok(i), Ok(j)) => Ok((i, j)),
                _ => Err(format!("{pair:?} is not an i-j pair of word indices ≥ 0")),
            }
        })
        .collect()
}

/// A Pharaoh file: one line of links per sentence. Errors name the file and the line.
pub fn read_pharaoh(path: &Path) -> Result<Vec<Vec<Link>>> {
    crate::data::corpus::read_text_lines(path)?
        .iter()
        .enumerate()
        .map(|(n, line)| parse_pharaoh(line).map_err(|msg| Error::data(path, n + 1, msg)))
        .collect()
}

/// The agreement of hypothesis links with gold (sure) links over a corpus.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Agreement {
    /// Alignment error rate, 0 (perfect) to 1.
    pub aer: f64,
    /// |A∩S| / |A|.
    pub precision: f64,
    /// |A∩S| / |S|.
    pub recall: f64,
    /// |A|, |S| and |A∩S| summed over the sentences.
    pub hyp_links: usize,
    pub gold_links: usize,
    pub common: usize,
}

/// AER and its parts of `hyp` against `gold`, sentence by sentence (both the same length; a duplicated
/// link counts once). No links on either side gives AER 0 when both are empty, else 1.
pub fn aer(hyp: &[Vec<Link>], gold: &[Vec<Link>]) -> Agreement {
    let (mut a, mut s, mut both) = (0, 0, 0);
    for (h, g) in hyp.iter().zip(gold) {
        let h: BTreeSet<&Link> = h.iter().collect();
        let g: BTreeSet<&Link> = g.iter().collect();
        a += h.len();
        s += g.len();
        both += h.intersection(&g).count();
    }
    let ratio = |x: usize, y: usize| if y == 0 { 0.0 } else { x as f64 / y as f64 };
    let aer = if a + s == 0 { 0.0 } else { 1.0 - 2.0 * both as f64 / (a + s) as f64 };
    Agreement { aer, precision: ratio(both, a), recall: ratio(both, s), hyp_links: a, gold_links: s, common: both }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aer_of_a_hand_computed_example() {
        // Sentence 1: A = {0-0, 1-1, 2-1}, S = {0-0, 1-1, 2-2}: 2 common.
        // Sentence 2: A = {0-0}, S = {0-0, 1-0}: 1 common.
        // |A| = 4, |S| = 5, |A∩S| = 3: AER = 1 − 6/9 = 1/3, precision 3/4, recall 3/5.
        let hyp = vec![vec![(0, 0), (1, 1), (2, 1)], vec![(0, 0)]];
        let gold = vec![vec![(0, 0), (1, 1), (2, 2)], vec![(0, 0), (1, 0)]];
        let r = aer(&hyp, &gold);
        assert!((r.aer - 1.0 / 3.0).abs() < 1e-12, "{r:?}");
        assert!((r.precision - 0.75).abs() < 1e-12 && (r.recall - 0.6).abs() < 1e-12, "{r:?}");
        assert_eq!((r.hyp_links, r.gold_links, r.common), (4, 5, 3));
        assert_eq!(aer(&gold, &gold).aer, 0.0);
        assert_eq!(aer(&[vec![]], &[vec![(0, 0)]]).aer, 1.0);
    }

    #[test]
    fn pharaoh_lines_round_trip_and_bad_pairs_are_named() {
        let links = vec![(0, 0), (1, 2), (10, 3)];
        assert_eq!(to_pharaoh(&links), "0-0 1-2 10-3");
        assert_eq!(parse_pharaoh("0-0  1-2 10-3 ").unwrap(), links);
        assert_eq!(parse_pharaoh("").unwrap(), vec![]);
        assert!(parse_pharaoh("0-0 1:2").unwrap_err().contains("\"1:2\""));
        assert!(parse_pharaoh("0--1").unwrap_err().contains("\"0--1\""));
    }

    #[test]
    fn subword_attention_merges_to_words_and_eos_is_never_linked() {
        // Source "la voiture rouge" as ▁la ▁voit ure ▁rouge </s>; target "the red car." as
        // ▁the ▁red ▁car . </s>.
        let source_words = [0, 1, 1, 2];
        let target = [Some(0), Some(1), Some(2), Some(2), None];
        let weights = vec![
            vec![0.7, 0.1, 0.1, 0.0, 0.1],
            vec![0.0, 0.1, 0.1, 0.6, 0.2],
            vec![0.0, 0.3, 0.4, 0.1, 0.2],
            vec![0.0, 0.1, 0.1, 0.0, 0.8],
            vec![0.0, 0.0, 0.0, 0.0, 1.0],
        ];
        let w = word_weights(&weights, &source_words, &target);
        assert_eq!(w.len(), 3, "three target words: the, red, car.");
        assert_eq!(w[0].len(), 3, "three source words, EOS left out");
        // "car." averages ▁car and "." rows: voiture = (0.7 + 0.2) / 2.
        assert!((w[2][1] - 0.45).abs() < 1e-6, "{w:?}");
        assert_eq!(links(&w, Rule::Argmax), vec![(0, 0), (1, 2), (2, 1)]);
        assert_eq!(links(&w, Rule::Threshold(0.5)), vec![(0, 0), (2, 1)]);
    }

    #[test]
    fn union_and_grow_diag_of_a_hand_computed_example() {
        // Rows are target words 0–3, columns source words 0–4. Row argmax: 0→0, 1→1, 2→2, 3→2; column
        // argmax: 0→0, 1→2, 2→2, 3→3, 4→0. Both ways: (0,0), (2,2).
        let w = vec![
            vec![0.5, 0.1, 0.1, 0.0, 0.3],
            vec![0.1, 0.4, 0.3, 0.1, 0.1],
            vec![0.0, 0.45, 0.5, 0.0, 0.05],
            vec![0.0, 0.1, 0.4, 0.3, 0.2],
        ];
        assert_eq!(links(&w, Rule::Argmax), vec![(0, 0), (1, 1), (2, 2), (2, 3)]);
        assert_eq!(links(&w, Rule::Union), vec![(0, 0), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (4, 0)]);
        // Grow-diag from (0,0) and (2,2): (1,1) (diagonal of (0,0), source 1 new), (2,3) (below (2,2),
        // target 3 new), (3,3) (diagonal of (2,2), source 3 new). Not (1,2): beside (2,2) and (1,1), but
        // source 1 and target 2 are both linked by then. Not (4,0): no link next to it.
        assert_eq!(links(&w, Rule::GrowDiag), vec![(0, 0), (1, 1), (2, 2), (2, 3), (3, 3)]);
    }

    #[test]
    fn argmax_rules_skip_words_without_weight() {
        // Target word 0 has no token (a NaN row), source word 1 has none (a column of zeros).
        let w = vec![vec![f32::NAN, f32::NAN], vec![0.7, 0.0]];
        for rule in [Rule::Argmax, Rule::Union, Rule::GrowDiag] {
            assert_eq!(links(&w, rule), vec![(0, 1)], "{rule:?}");
        }
        assert_eq!(links(&[], Rule::GrowDiag), vec![]);
    }

    #[test]
    fn rules_parse() {
        assert_eq!("union".parse::<Rule>().unwrap(), Rule::Union);
        assert_eq!("grow-diag".parse::<Rule>().unwrap(), Rule::GrowDiag);
        assert_eq!("argmax".parse::<Rule>().unwrap(), Rule::Argmax);
        assert_eq!("0.3".parse::<Rule>().unwrap(), Rule::Threshold(0.3));
        assert!("0".parse::<Rule>().is_err() && "max".parse::<Rule>().is_err());
    }
}
