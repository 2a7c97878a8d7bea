//! Translation of text lines: tokenization, length-sorted batching, greedy or beam search, detokenization,
//! and the per-sentence attention record. Used by `translate`, `eval`, `heatmap` and validation.

use crate::attention_json::AttentionRecord;
use crate::data::tokenizer::{Tokenizer, EOS, PAD};
use crate::error::Result;
use crate::model::Seq2Seq;
use crate::search::{beam_search, greedy, BeamConfig, Hypothesis, MaxLen};
use tch::{Device, Tensor};

/// How to translate.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Beam size; 1 = greedy search.
    pub beam: usize,
    /// Hypotheses kept per sentence (≤ beam).
    pub n_best: usize,
    /// GNMT length-penalty exponent α (beam search only).
    pub length_penalty: f64,
    /// Sentences per batch.
    pub batch_size: usize,
    pub max_len: MaxLen,
}

impl Default for Options {
    fn default() -> Self {
        Options { beam: 1, n_best: 1, length_penalty: 1.0, batch_size: 64, max_len: MaxLen::default() }
    }
}

/// One output hypothesis, detokenized.
#[derive(Clone, Debug)]
pub struct Output {
    pub text: String,
    /// Target tokens as the tokenizer spells them, EOS included when emitted.
    pub target: Vec<String>,
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

/// A model with its tokenizers, ready to translate.
pub struct Translator<'a> {
    pub model: &'a Seq2Seq,
    pub src_tok: &'a Tokenizer,
    pub tgt_tok: &'a Tokenizer,
    pub device: Device,
}

impl Translator<'_> {
    /// Translates `lines`, keeping their order; empty or whitespace-only lines give empty translations.
    pub fn translate(&self, lines: &[String], opts: &Options) -> Result<Vec<Translation>> {
        let mut encoded = Vec::with_capacity(lines.len());
        for line in lines {
            let (mut ids, mut tokens) = self.src_tok.encode_with_tokens(line)?;
            if !ids.is_empty() {
                ids.push(EOS);
                tokens.push(self.src_tok.token(EOS));
            }
            encoded.push((ids, tokens));
        }
        let mut order: Vec<usize> = (0..lines.len()).filter(|&i| !encoded[i].0.is_empty()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].0.len()));
        let mut hyps: Vec<Vec<Hypothesis>> = vec![Vec::new(); lines.len()];
        for chunk in order.chunks(opts.batch_size.max(1)) {
            let ids: Vec<&[i64]> = chunk.iter().map(|&i| encoded[i].0.as_slice()).collect();
            let (src, lengths) = pad(&ids, self.device);
            let out = if opts.beam <= 1 {
                greedy(self.model, &src, &lengths, opts.max_len)?.into_iter().map(|h| vec![h]).collect()
            } else {
                let cfg = BeamConfig {
                    beam: opts.beam,
                    n_best: opts.n_best,
                    alpha: opts.length_penalty,
                    max_len: opts.max_len,
                };
                beam_search(self.model, &src, &lengths, cfg)
            };
            for (&i, h) in chunk.iter().zip(out) {
                hyps[i] = h;
            }
        }
        lines
            .iter()
            .zip(encoded)
            .zip(hyps)
            .map(|((line, (_, source)), hs)| {
                let outputs = hs
                    .into_iter()
                    .map(|h| {
                        let body: Vec<i64> = h.tokens.iter().copied().filter(|&t| t != EOS).collect();
                        Ok(Output {
                            text: self.tgt_tok.decode(&body)?,
                            target: h.tokens.iter().map(|&t| self.tgt_tok.token(t)).collect(),
                            hypothesis: h,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Translation { source_text: line.clone(), source, outputs })
            })
            .collect()
    }
}

/// Pads id sequences into src `[B, S]` on `device` and lengths `[B]` on the CPU.
pub fn pad(seqs: &[&[i64]], device: Device) -> (Tensor, Tensor) {
    let s = seqs.iter().map(|x| x.len()).max().unwrap_or(0);
    let mut flat = vec![PAD; seqs.len() * s];
    for (r, x) in seqs.iter().enumerate() {
        flat[r * s..r * s + x.len()].copy_from_slice(x);
    }
    let lens: Vec<i64> = seqs.iter().map(|x| x.len() as i64).collect();
    (Tensor::from_slice(&flat).view([seqs.len() as i64, s as i64]).to_device(device), Tensor::from_slice(&lens))
}
