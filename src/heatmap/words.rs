//! `--words`: merging subword pieces back into the words people read. The same merging serves word
//! alignments ([`crate::align`]), which group the pieces by the words of the text instead.

use crate::attention_json::AttentionRecord;
use std::ops::Range;

/// The SentencePiece/Metaspace marker that starts a word.
const WORD_START: char = '\u{2581}';

/// One word: its label and the token positions it covers.
#[derive(Debug, PartialEq)]
struct Word {
    label: String,
    pieces: Range<usize>,
}

/// Merges subword pieces into words.
///
/// A token starting with `▁` (U+2581) begins a word; the word's label is its pieces joined, the
/// leading `▁` removed. Special tokens such as `</s>` and `<unk>` are words of their own. A
/// sequence without any `▁` comes from a word-level tokenizer: every token is a word.
///
/// Weights: a source word gets the **sum** over its pieces (columns), so a row still sums to 1; a
/// target word gets the **mean** over its pieces (rows), the average distribution while the word
/// was being written. `head_weights` is merged the same way. `source_text`, `translation` and
/// `line` are kept. The record is expected to be valid ([`AttentionRecord::validate`]); missing
/// values count as 0 rather than panicking.
pub fn merge_words(record: &AttentionRecord) -> AttentionRecord {
    let src = group(&record.source);
    let tgt = group(&record.target);
    let src_pieces: Vec<Range<usize>> = src.iter().map(|w| w.pieces.clone()).collect();
    let tgt_pieces: Vec<Range<usize>> = tgt.iter().map(|w| w.pieces.clone()).collect();
    let merge = |m: &[Vec<f32>]| merge_matrix(m, &src_pieces, &tgt_pieces);
    AttentionRecord {
        line: record.line,
        source_text: record.source_text.clone(),
        translation: record.translation.clone(),
        source: src.iter().map(|w| w.label.clone()).collect(),
        target: tgt.iter().map(|w| w.label.clone()).collect(),
        weights: merge(&record.weights),
        head_weights: record.head_weights.as_ref().map(|heads| heads.iter().map(|h| merge(h)).collect()),
        alignment: record.alignment.clone(),
    }
}

/// Merges `[len(target)][len(source)]` weights `m` into `[tgt.len()][src.len()]` word weights: source
/// word `k` (token positions `src[k]`) gets the **sum** over its columns, target word `j` the **mean**
/// over its rows `tgt[j]`. Positions outside `m` count as 0.
pub fn merge_matrix(m: &[Vec<f32>], src: &[Range<usize>], tgt: &[Range<usize>]) -> Vec<Vec<f32>> {
    tgt.iter()
        .map(|tw| {
            let rows = &m[tw.start.min(m.len())..tw.end.min(m.len())];
            let n = tw.len() as f32;
            src.iter()
                .map(|sw| {
                    let total: f32 = rows
                        .iter()
                        .map(|row| {
                            let cols = sw.start.min(row.len())..sw.end.min(row.len());
                            row[cols].iter().sum::<f32>()
                        })
                        .sum();
                    total / n
                })
                .collect()
        })
        .collect()
}

/// The token positions of each word that the detokenized text shows, in order: [`merge_words`]'s
/// words without the special tokens (`</s>`, `<unk>`), which decoding drops. For a BPE (Metaspace)
/// or word-level target these are the whitespace-separated words of the translation.
pub fn text_words(tokens: &[String]) -> Vec<Range<usize>> {
    group(tokens).into_iter().filter(|w| !is_special(&w.label)).map(|w| w.pieces).collect()
}

/// For each of [`merge_words`]'s words of `tokens`, the index of the same word among [`text_words`]
/// (`None` for a special token).
pub fn text_word_of_words(tokens: &[String]) -> Vec<Option<usize>> {
    let mut next = 0;
    group(tokens)
        .iter()
        .map(|w| {
            (!is_special(&w.label)).then(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// `<s>`, `</s>`, `<unk>`, `<pad>` and the like.
fn is_special(token: &str) -> bool {
    token.len() > 2 && token.starts_with('<') && token.ends_with('>')
}

fn group(tokens: &[String]) -> Vec<Word> {
    let marked = tokens.iter().any(|t| t.starts_with(WORD_START));
    let mut words: Vec<Word> = Vec::new();
    // Whether the last word is a special token, which nothing may be glued onto.
    let mut last_special = true;
    for (i, token) in tokens.iter().enumerate() {
        let special = is_special(token);
        let piece = token.strip_prefix(WORD_START).unwrap_or(token);
        let starts_word = !marked || special || last_special || token.starts_with(WORD_START);
        match words.last_mut() {
            Some(word) if !starts_word => {
                word.label.push_str(piece);
                word.pieces.end = i + 1;
            }
            _ => words.push(Word { label: piece.to_string(), pieces: i..i + 1 }),
        }
        last_special = special;
    }
    for word in &mut words {
        // A lone "▁" piece (SentencePiece emits one before some punctuation) would otherwise
        // label its word with nothing.
        if word.label.is_empty() {
            word.label.push(WORD_START);
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    fn labels(s: &str) -> Vec<String> {
        group(&toks(s)).into_iter().map(|w| w.label).collect()
    }

    fn rec(source: &str, target: &str, weights: Vec<Vec<f32>>) -> AttentionRecord {
        AttentionRecord {
            line: 7,
            source_text: "src".into(),
            translation: "tgt".into(),
            source: toks(source),
            target: toks(target),
            weights,
            head_weights: None,
            alignment: None,
        }
    }

    #[test]
    fn pieces_after_a_marker_join_the_word_and_lose_the_marker() {
        assert_eq!(labels("▁the ▁red ▁car s ▁are ▁fast"), ["the", "red", "cars", "are", "fast"]);
    }

    #[test]
    fn special_tokens_are_words_of_their_own() {
        assert_eq!(labels("▁la ▁voit ure </s>"), ["la", "voiture", "</s>"]);
        assert_eq!(labels("<unk> s ▁x"), ["<unk>", "s", "x"]);
        assert_eq!(labels("▁a <unk> b"), ["a", "<unk>", "b"]);
    }

    #[test]
    fn without_any_marker_every_token_is_a_word() {
        assert_eq!(labels("the red car </s>"), ["the", "red", "car", "</s>"]);
    }

    #[test]
    fn a_lone_marker_piece_keeps_a_visible_label() {
        assert_eq!(labels("▁ , ▁x"), [",", "x"]);
        assert_eq!(labels("▁x ▁"), ["x", "▁"]);
    }

    #[test]
    fn source_pieces_are_summed_and_target_pieces_averaged() {
        // source: ▁voit ure ▁rouge  -> voiture, rouge
        // target: ▁red ▁car s </s>  -> red, cars, </s>
        let r = rec(
            "▁voit ure ▁rouge",
            "▁red ▁car s </s>",
            vec![vec![0.1, 0.1, 0.8], vec![0.5, 0.4, 0.1], vec![0.2, 0.6, 0.2], vec![0.0, 0.0, 1.0]],
        );
        let m = merge_words(&r);
        assert_eq!(m.source, ["voiture", "rouge"]);
        assert_eq!(m.target, ["red", "cars", "</s>"]);
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        let want = [[0.2, 0.8], [0.85, 0.15], [0.0, 1.0]];
        for (row, w) in m.weights.iter().zip(want) {
            assert!(row.iter().zip(w).all(|(&a, b)| close(a, b)), "{:?}", m.weights);
            assert!(close(row.iter().sum(), 1.0));
        }
        assert_eq!((m.line, m.source_text.as_str()), (7, "src"));
        assert!(m.validate().is_ok());
    }

    #[test]
    fn heads_are_merged_like_the_weights() {
        let mut r = rec("▁a b", "▁x </s>", vec![vec![0.5, 0.5], vec![0.25, 0.75]]);
        r.head_weights = Some(vec![r.weights.clone(), vec![vec![1.0, 0.0], vec![0.0, 1.0]]]);
        let m = merge_words(&r);
        let heads = m.head_weights.as_ref().unwrap();
        assert_eq!(heads[0], m.weights);
        assert_eq!(heads[1], vec![vec![1.0], vec![1.0]]);
        assert!(m.validate().is_ok());
    }

    #[test]
    fn text_words_leave_out_the_special_tokens() {
        assert_eq!(text_words(&toks("▁la ▁voit ure . </s>")), [0..1, 1..4]);
        assert_eq!(text_words(&toks("il y a </s>")), [0..1, 1..2, 2..3]);
        assert_eq!(text_word_of_words(&toks("▁a <unk> ▁b </s>")), [Some(0), None, Some(1), None]);
    }

    #[test]
    fn empty_sequences_merge_to_empty_records() {
        let empty =
            AttentionRecord { source: vec![], target: vec![], weights: vec![], ..rec("a", "b", vec![vec![1.0]]) };
        let m = merge_words(&empty);
        assert!(m.source.is_empty() && m.target.is_empty() && m.weights.is_empty());
    }
}
