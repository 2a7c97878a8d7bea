//! How to load and how to decode: the options every face (command line, server, validation, bench) hands
//! the engine. Decoding options may be left unset; [`DecodeOptions::resolve_with`] fills them from a
//! model's `decode.toml` defaults (the search, its checkpoint and length penalty) and the built-in ones,
//! and checks them, naming an offending option the way the face that asked spells it.

use crate::checkpoint::{DecodeDefaults, Which};
use crate::error::{Error, Result};
use crate::search::MaxLen;
use serde::{Deserialize, Serialize};
use tch::Device;

/// The number format the decoder computes in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats, as trained.
    #[default]
    F32,
    /// The decoder's large matrices in int8 (per output channel) where that is faster: batches of at
    /// most [`INT8_MAX_ROWS`](crate::model::decoder::INT8_MAX_ROWS) rows, on the CPU; fp32 elsewhere.
    Int8,
}

/// How [`Engine::load`](crate::Engine::load) loads a model directory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadOptions {
    /// Which weights of the directory: `None` loads those the directory's `decode.toml` names for greedy
    /// and beam search; `Some` loads these alone and decodes every search with them.
    pub checkpoint: Option<Which>,
    pub device: Device,
    pub precision: Precision,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { checkpoint: None, device: Device::Cpu, precision: Precision::F32 }
    }
}

/// How to decode; `None` leaves a choice to the defaults ([`Decoding::default`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DecodeOptions {
    /// Beam size; 1 = greedy search.
    pub beam: Option<usize>,
    /// Hypotheses returned per sentence (1 ≤ n_best ≤ beam).
    pub n_best: Option<usize>,
    /// GNMT length-penalty exponent α ≥ 0 (beam search ranks by score / ((5 + len) / 6)^α).
    pub length_penalty: Option<f64>,
    /// Sentences per batch.
    pub batch_size: Option<usize>,
    /// Longest translation in tokens (each sentence also stops at 2 × its source length + 10).
    pub max_len: Option<usize>,
    /// The weights to decode with (default: the model's `decode.toml` for the search, or the one
    /// checkpoint the engine was loaded with).
    pub checkpoint: Option<Which>,
}

/// Decoding options with every choice made and checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decoding {
    pub beam: usize,
    pub n_best: usize,
    pub length_penalty: f64,
    pub batch_size: usize,
    pub max_len: MaxLen,
    /// The weights to decode with.
    pub checkpoint: Which,
}

impl Default for Decoding {
    fn default() -> Self {
        Decoding {
            beam: 1,
            n_best: 1,
            length_penalty: 1.0,
            batch_size: 64,
            max_len: MaxLen::default(),
            checkpoint: Which::Best,
        }
    }
}

impl DecodeOptions {
    /// The options with the unset ones taken from the built-in defaults ([`DecodeDefaults::default`],
    /// [`Decoding::default`]), checked; see [`Self::resolve_with`].
    pub fn resolve(&self, name: impl Fn(&str) -> String) -> Result<Decoding> {
        self.resolve_with(&DecodeDefaults::default(), name)
    }

    /// The options with the unset ones taken from a model's `defaults`, then from [`Decoding::default`],
    /// checked. No beam size → the defaults' `default` search; beam 1 takes `[greedy]`'s checkpoint and
    /// length penalty, a larger beam `[beam]`'s; an option given wins. `name` spells an option (given its
    /// field name, e.g. `n_best`) the way the caller's user wrote it (`--n-best`, `"n_best"`), so that an
    /// error names what to change.
    pub fn resolve_with(&self, defaults: &DecodeDefaults, name: impl Fn(&str) -> String) -> Result<Decoding> {
        let d = Decoding::default();
        let beam = self.beam.unwrap_or(defaults.default_beam());
        let section = defaults.section(beam);
        let n_best = self.n_best.unwrap_or(d.n_best);
        let length_penalty = self.length_penalty.unwrap_or(section.length_penalty);
        let checkpoint = self.checkpoint.unwrap_or(section.checkpoint);
        let batch_size = self.batch_size.unwrap_or(d.batch_size);
        let max_len = self.max_len.unwrap_or(d.max_len.cap);
        let bad = |msg: String| Err(Error::Usage(msg));
        if beam == 0 {
            return bad(format!("{} must be ≥ 1", name("beam")));
        }
        if n_best == 0 || n_best > beam {
            return bad(format!("{} {n_best} needs 1 ≤ N ≤ {} (now {beam})", name("n_best"), name("beam")));
        }
        for (field, value) in [("batch_size", batch_size), ("max_len", max_len)] {
            if value == 0 {
                return bad(format!("{} must be ≥ 1", name(field)));
            }
        }
        if !length_penalty.is_finite() || length_penalty < 0.0 {
            return bad(format!("{} must be a number ≥ 0 (got {length_penalty})", name("length_penalty")));
        }
        Ok(Decoding {
            beam,
            n_best,
            length_penalty,
            batch_size,
            max_len: MaxLen { cap: max_len, ..d.max_len },
            checkpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(field: &str) -> String {
        format!("--{}", field.replace('_', "-"))
    }

    #[test]
    fn unset_options_take_the_defaults() {
        assert_eq!(DecodeOptions::default().resolve(flag).unwrap(), Decoding::default());
    }

    #[test]
    fn each_impossible_option_is_named_as_the_caller_spells_it() {
        let cases = [
            (DecodeOptions { beam: Some(0), ..Default::default() }, "--beam must be ≥ 1"),
            (DecodeOptions { beam: Some(2), n_best: Some(3), ..Default::default() }, "--n-best 3 needs 1 ≤ N ≤ --beam"),
            (DecodeOptions { batch_size: Some(0), ..Default::default() }, "--batch-size must be ≥ 1"),
            (DecodeOptions { max_len: Some(0), ..Default::default() }, "--max-len must be ≥ 1"),
            (DecodeOptions { length_penalty: Some(-1.0), ..Default::default() }, "--length-penalty must be"),
            (DecodeOptions { length_penalty: Some(f64::NAN), ..Default::default() }, "--length-penalty must be"),
        ];
        for (opts, words) in cases {
            let msg = opts.resolve(flag).unwrap_err().to_string();
            assert!(msg.contains(words), "{opts:?}: {msg}");
        }
        let msg = DecodeOptions { beam: Some(0), ..Default::default() }.resolve(|f| format!("\"{f}\"")).unwrap_err();
        assert!(msg.to_string().starts_with("\"beam\""), "{msg}");
    }

    #[test]
    fn the_model_defaults_fill_what_the_options_leave_unset_by_search() {
        use crate::checkpoint::{Search, SearchDefaults};
        let defaults = DecodeDefaults {
            default: Search::Beam,
            greedy: SearchDefaults { checkpoint: Which::Last, length_penalty: 0.5, ..SearchDefaults::default() },
            beam: SearchDefaults { checkpoint: Which::Averaged, steps: vec![1], length_penalty: 1.5, beam: Some(4) },
        };
        let resolve = |o: DecodeOptions| o.resolve_with(&defaults, flag).unwrap();
        let got = resolve(DecodeOptions::default());
        assert_eq!((got.beam, got.checkpoint, got.length_penalty), (4, Which::Averaged, 1.5));
        let got = resolve(DecodeOptions { beam: Some(1), ..Default::default() });
        assert_eq!((got.beam, got.checkpoint, got.length_penalty), (1, Which::Last, 0.5));
        let got = resolve(DecodeOptions { beam: Some(8), ..Default::default() });
        assert_eq!((got.beam, got.checkpoint, got.length_penalty), (8, Which::Averaged, 1.5));
        let given = DecodeOptions {
            beam: Some(1),
            checkpoint: Some(Which::Best),
            length_penalty: Some(2.0),
            ..Default::default()
        };
        let got = resolve(given);
        assert_eq!((got.beam, got.checkpoint, got.length_penalty), (1, Which::Best, 2.0));
    }
}
