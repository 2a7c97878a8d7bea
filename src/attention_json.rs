//! The `--attention-json` record: one JSON object per translated line holding the tokens the
//! encoder saw, the tokens the decoder emitted and the attention weights between them. Written by
//! `nmt translate --attention-json`, read back by `nmt heatmap --from-json`.

use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Longest line [`read_jsonl`] accepts, in bytes. A 1,000 × 1,000 matrix takes about 12 MB of
/// JSON; the bound keeps a corrupt file (e.g. one without newlines) from exhausting memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// The attention of one translated sentence.
///
/// Shapes: `weights` is `[len(target)][len(source)]`: row `t` is the distribution over source
/// tokens when the decoder emitted `target[t]`. `head_weights` (multi-head models only) is
/// `[heads][len(target)][len(source)]`. An empty input line has empty `source`, `target` and
/// `weights`.
///
/// Non-finite weights are written as JSON `null` (serde_json's spelling) and read back as NaN, so
/// what was saved always loads again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionRecord {
    /// 0-based index of the input line.
    pub line: usize,
    /// The input line as read.
    pub source_text: String,
    /// The detokenized translation.
    pub translation: String,
    /// Source tokens as the tokenizer spells them: exactly the sequence the encoder saw.
    pub source: Vec<String>,
    /// Emitted tokens in decoding order, EOS included.
    pub target: Vec<String>,
    /// `[len(target)][len(source)]` attention weights.
    #[serde(deserialize_with = "de_matrix")]
    pub weights: Vec<Vec<f32>>,
    /// `[heads][len(target)][len(source)]` per-head weights of a multi-head model.
    #[serde(skip_serializing_if = "Option::is_none", default, deserialize_with = "de_heads")]
    pub head_weights: Option<Vec<Vec<Vec<f32>>>>,
    /// The word alignment read off the weights (`[[source word, translation word], …]`, 0-based
    /// whitespace-separated words; see [`crate::align`]); absent in records of older versions.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alignment: Option<Vec<(usize, usize)>>,
}

impl AttentionRecord {
    /// Checks that `weights` (and every head of `head_weights`) has one row per target token and
    /// one value per source token. The message names the first inconsistency; callers add where
    /// the record came from.
    pub fn validate(&self) -> std::result::Result<(), String> {
        check_matrix("weights", &self.weights, self.target.len(), self.source.len())?;
        if let Some(heads) = &self.head_weights {
            if heads.is_empty() {
                return Err("head_weights is present but holds no head".into());
            }
            for (h, m) in heads.iter().enumerate() {
                check_matrix(&format!("head_weights[{h}]"), m, self.target.len(), self.source.len())?;
            }
        }
        Ok(())
    }

    /// The record as one line of JSON, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        // serde_json fails only on maps with non-string keys or on a failing `Serialize` impl;
        // this struct has neither.
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("serializing an AttentionRecord failed: {e}"))
    }
}

fn check_matrix(name: &str, m: &[Vec<f32>], rows: usize, cols: usize) -> std::result::Result<(), String> {
    if m.len() != rows {
        return Err(format!("{name} has {} rows but target has {rows} tokens", m.len()));
    }
    for (t, row) in m.iter().enumerate() {
        if row.len() != cols {
            return Err(format!("{name} row {t} has {} values but source has {cols} tokens", row.len()));
        }
    }
    Ok(())
}

/// How far a saved weight may lie outside [0, 1] (float error of a softmax, or of summing one) before the
/// file is refused as not holding attention weights.
pub const RANGE_TOLERANCE: f32 = 1e-3;

/// Checks that every weight of `record` lies in [0, 1] within [`RANGE_TOLERANCE`]; NaN (a `null` in the
/// file) is allowed. The message names the matrix, the row and the column.
fn check_range(record: &AttentionRecord) -> std::result::Result<(), String> {
    let heads = record.head_weights.iter().flatten().enumerate().map(|(h, m)| (format!("head_weights[{h}]"), m));
    for (name, m) in std::iter::once(("weights".to_string(), &record.weights)).chain(heads) {
        for (t, row) in m.iter().enumerate() {
            if let Some((s, w)) = row
                .iter()
                .enumerate()
                .find(|(_, w)| !w.is_nan() && !(-RANGE_TOLERANCE..=1.0 + RANGE_TOLERANCE).contains(*w))
            {
                return Err(format!("{name} row {t} holds {w} at column {s}; attention weights lie in [0, 1]"));
            }
        }
    }
    Ok(())
}

/// `[rows][cols]` weights.
type Matrix = Vec<Vec<f32>>;

fn nan_for_null(m: Vec<Vec<Option<f32>>>) -> Matrix {
    m.into_iter().map(|row| row.into_iter().map(|w| w.unwrap_or(f32::NAN)).collect()).collect()
}

fn de_matrix<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Matrix, D::Error> {
    Ok(nan_for_null(Vec::deserialize(d)?))
}

fn de_heads<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Vec<Matrix>>, D::Error> {
    let heads: Option<Vec<Vec<Vec<Option<f32>>>>> = Option::deserialize(d)?;
    Ok(heads.map(|hs| hs.into_iter().map(nan_for_null).collect()))
}

/// Reads a `--attention-json` file: one record per non-blank line, every record validated.
/// Errors name the file and the 1-based line: a line that is not JSON or not a record, inconsistent
/// shapes, a weight outside [0, 1] (beyond [`RANGE_TOLERANCE`]), or a line longer than
/// [`MAX_LINE_BYTES`]; a directory or a file without any record is refused too.
pub fn read_jsonl(path: &Path) -> Result<Vec<AttentionRecord>> {
    if path.is_dir() {
        return Err(Error::data(path, 0, "is a directory; expected an --attention-json file (one record per line)"));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut buf = Vec::new();
    let mut lineno = 0;
    loop {
        buf.clear();
        // `take` bounds what one line may allocate; one byte more than the limit tells an
        // over-long line from one of exactly the limit.
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > MAX_LINE_BYTES {
            return Err(Error::data(
                path,
                lineno,
                format!("line longer than {} MiB; not an --attention-json record", MAX_LINE_BYTES >> 20),
            ));
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: AttentionRecord =
            serde_json::from_slice(&buf).map_err(|e| Error::data(path, lineno, json_message(&e)))?;
        record.validate().and_then(|()| check_range(&record)).map_err(|msg| Error::data(path, lineno, msg))?;
        records.push(record);
    }
    if records.is_empty() {
        return Err(Error::data(
            path,
            0,
            "holds no attention record; expected one JSON object per line, as `nmt translate --attention-json` writes",
        ));
    }
    Ok(records)
}

/// serde_json's message with its "at line 1 column N" replaced by the column alone (each record
/// is parsed on its own, so its line number would always read 1), saying whether the line is not JSON
/// at all or JSON of another shape.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = full.strip_suffix(&suffix).unwrap_or(&full);
    let what = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "the line is not JSON",
        _ => "not the JSON object of a record",
    };
    format!("invalid attention record ({what}; column {}): {msg}", e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AttentionRecord {
        AttentionRecord {
            line: 3,
            source_text: "a b".into(),
            translation: "x".into(),
            source: vec!["a".into(), "b".into()],
            target: vec!["x".into(), "</s>".into()],
            weights: vec![vec![0.25, 0.75], vec![1.0, 0.0]],
            head_weights: None,
            alignment: None,
        }
    }

    #[test]
    fn json_line_omits_absent_heads_and_parses_back() {
        let r = record();
        let line = r.to_json_line();
        assert!(!line.contains("head_weights"));
        assert!(!line.contains('\n'));
        let back: AttentionRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn nan_weights_survive_a_round_trip_as_nan() {
        let mut r = record();
        r.weights[0][1] = f32::NAN;
        r.head_weights = Some(vec![r.weights.clone()]);
        let back: AttentionRecord = serde_json::from_str(&r.to_json_line()).unwrap();
        assert!(back.weights[0][1].is_nan());
        assert!(back.head_weights.unwrap()[0][0][1].is_nan());
        assert_eq!(back.weights[1], vec![1.0, 0.0]);
    }

    #[test]
    fn weights_outside_zero_one_are_named_by_row_and_nan_passes() {
        let mut r = record();
        r.weights[1][0] = 1.0 + RANGE_TOLERANCE / 2.0;
        r.weights[0][0] = f32::NAN;
        assert!(check_range(&r).is_ok());
        r.weights[1][1] = -0.01;
        assert!(check_range(&r).unwrap_err().starts_with("weights row 1 holds -0.01 at column 1"));
        let mut r = record();
        r.head_weights = Some(vec![r.weights.clone(), vec![vec![0.5, 0.5], vec![2.0, 0.0]]]);
        assert!(check_range(&r).unwrap_err().starts_with("head_weights[1] row 1 holds 2"));
    }

    #[test]
    fn validate_names_the_inconsistent_matrix() {
        let mut r = record();
        r.weights[1].pop();
        assert!(r.validate().unwrap_err().contains("weights row 1"));
        let mut r = record();
        r.head_weights = Some(vec![r.weights.clone(), vec![vec![1.0, 0.0]]]);
        assert!(r.validate().unwrap_err().contains("head_weights[1]"));
        let mut r = record();
        r.head_weights = Some(vec![]);
        assert!(r.validate().is_err());
    }
}
