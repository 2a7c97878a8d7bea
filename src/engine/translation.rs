//! What the engine returns for one input line: the source tokens and the best hypotheses, detokenized,
//! with their scores and attention weights; the word alignment read off the attention; and the
//! `--attention-json` record made from it.

use crate::align::{self, Link, Rule};
use crate::attention_json::AttentionRecord;
use crate::search::Hypothesis;

/// One output hypothesis, detokenized.
#[derive(Clone, Debug)]
pub struct Output {
    pub text: String,
    /// Target tokens as the tokenizer spells them, EOS included when emitted.
    pub target: Vec<String>,
    /// For each target token, the 0-based whitespace-separated word of `text` it writes into (`None` for
    /// EOS and other tokens that write nothing).
    pub target_words: Vec<Option<usize>>,
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
    /// For each source token but EOS, the 0-based whitespace-separated word of `source_text` it is part of.
    pub source_words: Vec<usize>,
    /// Best first; empty for an empty line.
    pub outputs: Vec<Output>,
}

impl Translation {
    /// The best translation's text ("" for an empty line).
    pub fn best_text(&self) -> &str {
        self.outputs.first().map_or("", |o| o.text.as_str())
    }

    /// The word alignment of the best hypothesis by the default rule ([`align::DEFAULT_RULE`]): (source
    /// word, translation word) links, 0-based, between the whitespace-separated words of `source_text`
    /// and of the best translation (print them with [`align::to_pharaoh`]). Empty for an empty line.
    pub fn alignment(&self) -> Vec<Link> {
        self.alignment_by(align::DEFAULT_RULE)
    }

    /// [`Self::alignment`] by another rule.
    pub fn alignment_by(&self, rule: Rule) -> Vec<Link> {
        self.outputs.first().map_or_else(Vec::new, |best| {
            align::links(&align::word_weights(&best.hypothesis.weights, &self.source_words, &best.target_words), rule)
        })
    }

    /// The `--attention-json` record of the best hypothesis, with its alignment by `rule`.
    pub fn record(&self, line: usize) -> AttentionRecord {
        self.record_by(line, align::DEFAULT_RULE)
    }

    /// [`Self::record`] with the alignment by another rule.
    pub fn record_by(&self, line: usize, rule: Rule) -> AttentionRecord {
        let best = self.outputs.first();
        AttentionRecord {
            line,
            source_text: self.source_text.clone(),
            translation: self.best_text().to_string(),
            source: self.source.clone(),
            target: best.map_or_else(Vec::new, |o| o.target.clone()),
            weights: best.map_or_else(Vec::new, |o| o.hypothesis.weights.clone()),
            head_weights: best.and_then(|o| o.hypothesis.head_weights.clone()),
            alignment: Some(self.alignment_by(rule)),
        }
    }
}
