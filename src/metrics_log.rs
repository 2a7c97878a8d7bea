//! `metrics.jsonl`, the training log of a model directory: one JSON record per logged training window
//! and per validation. Training writes it, `--resume` reads it back, and the learning curve is drawn
//! from it.

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One line of `metrics.jsonl`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Record {
    /// `lr`: the rate of the step, warm-up and end-of-budget anneal applied.
    Train { step: usize, epoch: usize, loss: f64, ppl: f64, lr: f64, tokens_per_s: f64 },
    /// `lr`: the plateau schedule's rate after this validation (before warm-up and anneal).
    Valid { step: usize, epoch: usize, dev_loss: f64, dev_ppl: f64, dev_bleu: f64, lr: f64, best: bool },
}

impl Record {
    pub fn step(&self) -> usize {
        match self {
            Record::Train { step, .. } | Record::Valid { step, .. } => *step,
        }
    }
}

/// The records of `path` up to `step` (later ones belong to work that was not checkpointed). A missing
/// file has none; an unreadable file or a line that is not a record is an error naming the file and line.
pub fn read(path: &Path, step: usize) -> Result<Vec<Record>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let record: Record =
            serde_json::from_str(line).map_err(|e| Error::data(path, i + 1, format!("not a metrics record: {e}")))?;
        if record.step() <= step {
            records.push(record);
        }
    }
    Ok(records)
}

/// Writes `records` to `path`, one JSON line each, atomically.
pub fn write(path: &Path, records: &[Record]) -> Result<()> {
    let mut text = String::new();
    for r in records {
        text += &serde_json::to_string(r).map_err(|e| Error::data(path, 0, format!("cannot write a record: {e}")))?;
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_later_steps_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let records = vec![
            Record::Train { step: 1, epoch: 1, loss: 2.0, ppl: 7.4, lr: 1e-3, tokens_per_s: 10.0 },
            Record::Valid { step: 2, epoch: 1, dev_loss: 1.5, dev_ppl: 4.5, dev_bleu: 3.0, lr: 1e-3, best: true },
        ];
        write(&path, &records).unwrap();
        assert_eq!(read(&path, 2).unwrap(), records);
        assert_eq!(read(&path, 1).unwrap(), records[..1]);
        assert!(read(&dir.path().join("none.jsonl"), 5).unwrap().is_empty());
    }

    #[test]
    fn a_line_that_is_not_a_record_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let good = r#"{"kind":"train","step":1,"epoch":1,"loss":2.0,"ppl":7.4,"lr":0.001,"tokens_per_s":10.0}"#;
        std::fs::write(&path, format!("{good}\nnot json\n")).unwrap();
        let msg = read(&path, 9).unwrap_err().to_string();
        assert!(msg.contains("metrics.jsonl:2") && msg.contains("not a metrics record"), "{msg}");
    }
}
