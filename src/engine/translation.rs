//! What the engine returns for one input line: the source tokens and the best hypotheses, detokenized,
//! with their scores and attention weights; and the `--attention-json` record made from it.

use crate::attention_json::AttentionRecord;
use crate::search::Hypothesis;

/// One output hypothesis, detokenized.
#[derive(Clone, Debug)]
pub struct Output {
    pub text: String,
    /// Target tokens as the tokenizer spells them, EOS included when emitted.
    pub target: Vec<String>,
    /// The hypothesis' log-probability divided by its length penalty ((5 + len) / 6)^α: the number beam
    /// search ranks by, and that `nmt translate --n-best` prints.
    pub score: f64,
    pub hypothesis: Hypothesis,
}

/// The translation of one input line.
#[derive(Clone, Debug)]
pub struct Translation {
    pub source_text: String,
    /// Source tokens exactly as the encoder saw them (EOS included); empty for an empty line.
    pub source: Vec<String>,
    /// Best first; empty for an empty line.
    pub outputs: Vec<Output>,
}

impl Translation {
    /// The best translation's text ("" for an empty line).
    pub fn best_text(&self) -> &str {
        self.outputs.first().map_or("", |o| o.text.as_str())
    }

    /// The `--attention-json` record of the best hypothesis.
    pub fn record(&self, line: usize) -> AttentionRecord {
        let best = self.outputs.first();
        AttentionRecord {
            line,
            source_text: self.source_text.clone(),
            translation: self.best_text().to_string(),
            source: self.source.clone(),
            target: best.map_or_else(Vec::new, |o| o.target.clone()),
            weights: best.map_or_else(Vec::new, |o| o.hypothesis.weights.clone()),
            head_weights: best.and_then(|o| o.hypothesis.head_weights.clone()),
        }
    }
}
