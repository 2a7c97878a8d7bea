//! The engine: a loaded model with both tokenizers and its decode weights prepared once, behind the one
//! API every face uses — `nmt translate`, `eval` and `heatmap`, validation inside training, `bench`, and
//! the server. [`Engine`] translates text; [`Prepared`] is its id-level core (the network and its
//! decode weights), which `bench` times directly.
//!
//! An engine is `Send`: a server worker thread can own one. libtorch's thread count is a setting of the
//! process (of each OS thread, in fact), not of an engine.
//!
//! Ensembles: [`Engine::load_ensemble`] loads several model directories sharing both tokenizers (their
//! hashes in `config.toml` must agree; the first mismatch is refused, naming the member and the
//! tokenizer) as one engine over a [`Prepared`] core per member, behind the same [`Engine::translate`]:
//! every search step averages the members' log-probabilities and shows their mean attention (see
//! [`crate::search`]). The first member's `decode.toml` applies to all (search, beam, length penalty and
//! checkpoint kind; its `averaged` steps are checked against the first member's `averaged.safetensors`);
//! every member loads that checkpoint kind from its own directory, and [`LoadOptions::checkpoint`]
//! applies to every member. [`Engine::info`] is the first member's, with the member directories listed
//! in [`ModelInfo::members`]. A model SPEC on the command line (`DIR` or `DIR+DIR+…`) is parsed by
//! [`ensemble_members`]. int8 precision quantizes every member.
//!
//! Decoding defaults: a model directory's `decode.toml` ([`DecodeDefaults`]) says which weights and length
//! penalty greedy and beam search use and which search is the default. [`Engine::resolve`] fills the
//! options a caller leaves unset from it, the checkpoint included, so greedy and beam requests to the same
//! engine may decode with different weights. [`Engine::load`] therefore loads, at load time, a
//! [`Prepared`] core for each checkpoint `decode.toml` names (one when both searches share it, as after
//! `nmt train`), unless [`LoadOptions::checkpoint`] fixes one: a server holds its engine for hours and
//! answers greedy and beam requests alike, so loading both up front costs one more copy of the weights
//! (33 MB for the Multi30k model) but keeps every request's latency flat, keeps a bad checkpoint from
//! surfacing only at the first beam request, and needs no lock inside a `Send` engine (a lazily filled
//! cache would).

mod info;
mod options;
mod parallel;
mod spec;
mod translation;

pub use info::{ModelInfo, TrainingInfo, VocabSizes};
pub use options::{DecodeOptions, Decoding, LoadOptions, Precision};
pub use spec::ensemble_members;
pub use translation::{Output, Translation};

use crate::checkpoint::{self, DecodeDefaults, Which};
use crate::config::{Config, ModelConfig};
use crate::data::batch::pad;
use crate::data::tokenizer::{Tokenizer, EOS};
use crate::error::{Error, Result};
use crate::model::decoder::DecodeWeights;
use crate::model::Seq2Seq;
use crate::search::{beam_search, greedy, length_penalty, run_greedy, BeamConfig, Hypothesis, Member};
use std::path::Path;
use tch::{nn, Device};

/// A network ready to decode ids: the model and its decode weights laid out once
/// ([`Decoder::decode_weights`](crate::model::decoder::Decoder::decode_weights)).
pub struct Prepared {
    /// Owns the variables the model's tensors are.
    vs: nn::VarStore,
    model: Seq2Seq,
    weights: DecodeWeights,
    device: Device,
}

impl Prepared {
    /// Takes a model and the store of its variables, and lays out its decode weights once, vocabulary
    /// tables included. A table costs `V·E·3H` multiply-adds once (and `V·E·V` for a Bahdanau decoder's
    /// logit table) and saves `B·E·3H` (and `B·E·V`) per step of `B` rows: repaid after `V / B` steps, 63
    /// at batch 64 for the Multi30k recipe model (V = 4000), fewer than one batch of beam search decodes.
    /// The variables are frozen (they need no gradient when decoding), which lets the attention's
    /// projections run through oneDNN ([`crate::model::onednn`]).
    pub fn new(mut vs: nn::VarStore, model: Seq2Seq) -> Prepared {
        vs.freeze();
        let weights = model.decoder.decode_weights(true);
        let device = vs.device();
        Prepared { vs, model, weights, device }
    }

    /// With [`Precision::Int8`], adds int8 copies of the decoder's large matrices (see
    /// [`Decoder::quantize`](crate::model::decoder::Decoder::quantize)). Fails off the CPU, and when the
    /// model has no matrix the int8 kernel takes (in-features not multiples of 16).
    pub fn with_precision(mut self, precision: Precision) -> Result<Prepared> {
        if precision == Precision::Int8 {
            if self.device != Device::Cpu {
                return Err(Error::Usage(format!("precision int8 runs on the CPU only, not on {:?}", self.device)));
            }
            if self.model.decoder.quantize(&mut self.weights) == 0 {
                return Err(Error::Usage(
                    "precision int8: no decoder matrix of this model has in-features that are a multiple of 16, \
                     which the int8 kernel needs"
                        .into(),
                ));
            }
        }
        Ok(self)
    }

    /// A copy of a model held elsewhere (training's, whose weights go on changing): `cfg` and the
    /// vocabulary sizes built it, `vs` holds its variables.
    pub fn copy_of(cfg: &ModelConfig, vs: &nn::VarStore, src_vocab: usize, tgt_vocab: usize) -> Result<Prepared> {
        let mut copy = nn::VarStore::new(vs.device());
        let model = Seq2Seq::new(&copy.root(), cfg, src_vocab as i64, tgt_vocab as i64);
        copy.copy(vs)?;
        Ok(Prepared::new(copy, model))
    }

    pub fn model(&self) -> &Seq2Seq {
        &self.model
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> i64 {
        self.vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
    }

    /// Greedy decoding of exactly `steps` steps, not stopping at EOS: the benchmark's fixed workload.
    pub fn greedy_steps(&self, rows: &[&[i64]], steps: usize) -> Result<()> {
        let (src, lengths) = pad(rows, self.device);
        run_greedy(&[self.member()], &src, &lengths, &vec![steps; rows.len()], false)?;
        Ok(())
    }

    /// The network as a search sees it.
    fn member(&self) -> Member<'_> {
        Member { model: &self.model, weights: &self.weights }
    }
}

/// Decodes one batch of source id rows (each ending with EOS, none empty) with one model or an ensemble
/// (`members`, one core each, sharing both vocabularies and a device) → per row, up to `d.n_best`
/// hypotheses, best first.
pub fn decode(members: &[Prepared], rows: &[&[i64]], d: &Decoding) -> Result<Vec<Vec<Hypothesis>>> {
    let device = members.first().map_or(Device::Cpu, Prepared::device);
    let members: Vec<Member> = members.iter().map(Prepared::member).collect();
    let (src, lengths) = pad(rows, device);
    if d.beam <= 1 {
        let hyps = greedy(&members, &src, &lengths, d.max_len)?;
        return Ok(hyps.into_iter().map(|h| vec![h]).collect());
    }
    let cfg = BeamConfig { beam: d.beam, n_best: d.n_best, alpha: d.length_penalty, max_len: d.max_len };
    beam_search(&members, &src, &lengths, cfg)
}

/// A model directory, an ensemble of them, or a model in memory, ready to translate text.
pub struct Engine {
    // decode.toml plumbing (begin): per checkpoint the decodings may name (the default search's first),
    // one core per member; the defaults options are resolved against.
    cores: Vec<(Which, Vec<Prepared>)>,
    defaults: DecodeDefaults,
    // decode.toml plumbing (end)
    src_tok: Tokenizer,
    tgt_tok: Tokenizer,
    config: Config,
    info: ModelInfo,
}

impl Engine {
    /// Loads model directory `dir` with the device and precision of `opts`: the weights `opts.checkpoint`
    /// names, or else those the directory's `decode.toml` names for greedy and for beam search (an
    /// `averaged` one checked against the snapshot steps the file lists).
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Engine> {
        Engine::load_ensemble(&[dir], opts)
    }

    /// Loads an ensemble of model directories `dirs` (one directory is a single model) as
    /// [`Self::load`] loads one: the first member's `decode.toml` names the checkpoint kinds, each member
    /// loads them from its own directory (see the [module](self) header). Members whose tokenizers differ
    /// from the first's are refused, named.
    pub fn load_ensemble<P: AsRef<Path>>(dirs: &[P], opts: &LoadOptions) -> Result<Engine> {
        let dirs: Vec<&Path> = dirs.iter().map(AsRef::as_ref).collect();
        let first =
            *dirs.first().ok_or_else(|| Error::Usage("an ensemble needs at least one model directory".into()))?;
        let mut defaults = DecodeDefaults::read(first)?.unwrap_or_default();
        let default_section = defaults.section(defaults.default_beam()).clone();
        let mut wanted = vec![default_section.checkpoint];
        match opts.checkpoint {
            Some(which) => {
                wanted = vec![which];
                for section in [&mut defaults.greedy, &mut defaults.beam] {
                    section.checkpoint = which;
                    section.steps.clear();
                }
            }
            None => {
                for section in [&defaults.greedy, &defaults.beam] {
                    defaults.check_averaged(section, first)?;
                    if !wanted.contains(&section.checkpoint) {
                        wanted.push(section.checkpoint);
                    }
                }
            }
        }
        let mut cores = Vec::with_capacity(wanted.len());
        let mut meta: Option<(Config, Tokenizer, Tokenizer)> = None;
        for which in wanted {
            let mut members = Vec::with_capacity(dirs.len());
            for &dir in &dirs {
                let loaded = checkpoint::load(dir, which, opts.device)?;
                match &meta {
                    None => meta = Some((loaded.config, loaded.src_tok, loaded.tgt_tok)),
                    Some((config, ..)) => same_tokenizers(first, config, dir, &loaded.config)?,
                }
                members.push(Prepared::new(loaded.vs, loaded.model).with_precision(opts.precision)?);
            }
            cores.push((which, members));
        }
        let (config, src_tok, tgt_tok) = meta.expect("at least one checkpoint loaded");
        let mut info = ModelInfo::of_dir(first, &config, cores[0].1[0].parameters(), &src_tok, &tgt_tok)?;
        if dirs.len() > 1 {
            info.members = dirs.iter().map(|d| d.to_path_buf()).collect();
        }
        Ok(Engine { cores, defaults, src_tok, tgt_tok, config, info })
    }

    /// An engine over a copy of a model held in memory (validation inside training): `config` built it,
    /// `vs` holds its variables.
    pub fn copy_of(config: &Config, vs: &nn::VarStore, src_tok: &Tokenizer, tgt_tok: &Tokenizer) -> Result<Engine> {
        let prepared = Prepared::copy_of(&config.model, vs, src_tok.vocab_size(), tgt_tok.vocab_size())?;
        let info = ModelInfo::of_model(config, prepared.parameters(), src_tok, tgt_tok);
        Ok(Engine {
            cores: vec![(DecodeDefaults::default().greedy.checkpoint, vec![prepared])],
            defaults: DecodeDefaults::default(),
            src_tok: src_tok.clone(),
            tgt_tok: tgt_tok.clone(),
            config: config.clone(),
            info,
        })
    }

    /// The facts about the model (the same as `nmt info --json` shows; an ensemble's first member's, with
    /// [`ModelInfo::members`] listing the members).
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The config that built the model.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The core of the default search's checkpoint (an ensemble's first member's).
    pub fn prepared(&self) -> &Prepared {
        &self.cores[0].1[0]
    }

    /// The decoding defaults options are resolved against: the model's `decode.toml` (built-in defaults
    /// without one), every checkpoint replaced by the one [`LoadOptions::checkpoint`] fixed.
    pub fn defaults(&self) -> &DecodeDefaults {
        &self.defaults
    }

    /// The cores (one per member) that decode with `which` weights.
    fn core(&self, which: Which) -> Result<&[Prepared]> {
        self.cores.iter().find(|(w, _)| *w == which).map(|(_, p)| p.as_slice()).ok_or_else(|| {
            let loaded: Vec<&str> = self.cores.iter().map(|(w, _)| w.file()).collect();
            Error::Usage(format!(
                "checkpoint {} is not loaded by this engine (loaded: {})",
                which.file(),
                loaded.join(", ")
            ))
        })
    }

    /// Translates `lines`, keeping their order; empty or whitespace-only lines give empty translations.
    /// Sentences are decoded longest first in batches of `opts.batch_size`, so a line's translation does
    /// not depend on the others (batching is padding-invariant).
    pub fn translate(&self, lines: &[String], opts: &DecodeOptions) -> Result<Vec<Translation>> {
        self.translate_with(lines, &self.resolve(opts, |field| field.to_string())?)
    }

    /// The decoding `opts` ask for, unset choices filled with this model's defaults ([`Self::defaults`]:
    /// search, checkpoint, length penalty) and all checked; `name` spells an option as the caller's user
    /// writes it (see [`DecodeOptions::resolve_with`]). Every face resolves through here, so that the
    /// model's own defaults reach them all. A checkpoint the engine did not load is refused, named.
    pub fn resolve(&self, opts: &DecodeOptions, name: impl Fn(&str) -> String) -> Result<Decoding> {
        let d = opts.resolve_with(&self.defaults, &name)?;
        self.core(d.checkpoint).map_err(|e| Error::Usage(format!("{}: {e}", name("checkpoint"))))?;
        Ok(d)
    }

    /// [`Self::translate`] with options already resolved.
    pub fn translate_with(&self, lines: &[String], d: &Decoding) -> Result<Vec<Translation>> {
        let encoded = lines.iter().map(|l| self.src_tok.encode_source_words(l)).collect::<Result<Vec<_>>>()?;
        let mut order: Vec<usize> = (0..lines.len()).filter(|&i| !encoded[i].0.is_empty()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].0.len()));
        let mut hyps: Vec<Vec<Hypothesis>> = vec![Vec::new(); lines.len()];
        let members = parallel::Shared(self.core(d.checkpoint)?);
        let batches: Vec<&[usize]> = order.chunks(d.batch_size.max(1)).collect();
        let decoded = parallel::decode_batches(&batches, &|chunk: &&[usize]| {
            let rows: Vec<&[i64]> = chunk.iter().map(|&i| encoded[i].0.as_slice()).collect();
            members.decode(&rows, d)
        })?;
        for (chunk, batch_hyps) in batches.iter().zip(decoded) {
            for (&i, h) in chunk.iter().zip(batch_hyps) {
                hyps[i] = h;
            }
        }
        lines
            .iter()
            .zip(encoded)
            .zip(hyps)
            .map(|((line, (_, source, source_words)), hs)| {
                let outputs = hs.into_iter().map(|h| self.output(h, d.length_penalty)).collect::<Result<_>>()?;
                Ok(Translation { source_text: line.clone(), source, source_words, outputs })
            })
            .collect()
    }

    fn output(&self, h: Hypothesis, alpha: f64) -> Result<Output> {
        let body: Vec<i64> = h.tokens.iter().copied().filter(|&t| t != EOS).collect();
        Ok(Output {
            text: self.tgt_tok.decode(&body)?,
            target: h.tokens.iter().map(|&t| self.tgt_tok.token(t)).collect(),
            target_words: self.tgt_tok.target_words(&h.tokens)?,
            score: h.score / length_penalty(h.tokens.len(), alpha),
            hypothesis: h,
        })
    }
}

/// Refuses ensemble member `dir` (config `config`) when a tokenizer of it differs from the first member's
/// (`first`, config `first_config`): their sha256 in `config.toml` (checked against the files on loading)
/// must agree, and must be there.
fn same_tokenizers(first: &Path, first_config: &Config, dir: &Path, config: &Config) -> Result<()> {
    let (a, b) = (&first_config.tokenizers, &config.tokenizers);
    for (side, mine, theirs) in [("source", &b.src, &a.src), ("target", &b.tgt, &a.tgt)] {
        let why = match (mine.is_empty(), theirs.is_empty()) {
            (false, false) if mine == theirs => continue,
            (false, false) => {
                format!("its {side} tokenizer differs from that of {} (the first member)", first.display())
            }
            (true, _) => format!("its {} records no sha256 of its {side} tokenizer", checkpoint::CONFIG_FILE),
            (false, true) => format!(
                "the {} of {} (the first member) records no sha256 of its {side} tokenizer",
                checkpoint::CONFIG_FILE,
                first.display()
            ),
        };
        return Err(Error::model(
            dir,
            format!("{why}: the members of an ensemble must share both tokenizers (compared by their sha256)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Engine>();
    }
}
