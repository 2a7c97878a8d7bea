//! The configuration: one serde struct per section (`data`, `model`, `train`), every field with a default,
//! unknown keys rejected, `--set key=value` overrides, validation of impossible values. Every error names
//! the key and where its value came from (a `--set`, FILE:LINE or the default); an unknown key gets the
//! closest valid ones suggested.
//! A model directory stores the exact config that built it; loading never guesses a hyper-parameter.

use crate::data::tokenizer::Kind as TokenizerKind;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Version of the model-directory format written by this build. A directory with a newer version is refused.
pub const FORMAT_VERSION: u32 = 1;

/// Largest embedding, hidden or attention size accepted.
pub const MAX_MODEL_SIZE: usize = 8192;
/// Most encoder layers accepted.
pub const MAX_ENCODER_LAYERS: usize = 16;

/// The whole configuration of a training run, saved as `config.toml` in the model directory.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Format of the model directory this config belongs to.
    pub format_version: u32,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
    /// sha256 of the tokenizer files the model was trained with (written by training, checked on load).
    #[serde(skip_serializing_if = "TokenizerHashes::is_empty")]
    pub tokenizers: TokenizerHashes,
}

/// sha256 of a model directory's tokenizer files, so a swapped tokenizer is detected.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TokenizerHashes {
    pub src: String,
    pub tgt: String,
}

impl TokenizerHashes {
    fn is_empty(&self) -> bool {
        self.src.is_empty() && self.tgt.is_empty()
    }
}

/// Where the corpus is and how it is tokenized.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Training corpus prefix: files `PREFIX.SRC_LANG` and `PREFIX.TGT_LANG` (or a `.tsv` file).
    pub train: PathBuf,
    /// Development corpus prefix (validation, early stopping, best checkpoint).
    pub dev: PathBuf,
    /// Test corpus prefix (optional; empty = none).
    pub test: PathBuf,
    pub src_lang: String,
    pub tgt_lang: String,
    /// Lowercase both sides before tokenization.
    pub lowercase: bool,
    /// `bpe` (subwords, reversible) or `word` (word level; may lose spacing around punctuation).
    pub tokenizer: TokenizerKind,
    /// Vocabulary size of each tokenizer (of the joint one when `joint_vocab`).
    pub vocab_size: usize,
    /// Minimum frequency of a token (word mode) or merge (BPE).
    pub min_frequency: u64,
    /// One tokenizer trained on both sides instead of one per language.
    pub joint_vocab: bool,
    /// Training pairs with more tokens than this on either side are skipped (with a count).
    pub max_len: usize,
    /// BPE-dropout: the probability with which each merge is skipped when the training pairs are encoded,
    /// anew each epoch (0 = off; 0.1 in the paper). Training pairs only: the saved tokenizers, dev and
    /// translation encode without it.
    pub bpe_dropout: f64,
}

/// The network. Together with the tokenizers it fully determines the weights' shapes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Embedding size of source and target tokens.
    pub emb_size: usize,
    /// Decoder state size; also the encoder output size (each direction gets half when bidirectional),
    /// so every scorer, `luong-dot` included, works by changing `model.attention` alone.
    pub hidden_size: usize,
    /// Encoder state size per direction; 0 = derived from `hidden_size` as above.
    pub encoder_hidden_size: usize,
    /// Number of encoder GRU layers.
    pub encoder_layers: usize,
    pub bidirectional: bool,
    /// Dropout on embeddings, between encoder layers and before the output layer.
    pub dropout: f64,
    /// Attention scorer.
    pub attention: AttentionKind,
    /// Size of the additive scorers' hidden layer and of `multihead`'s projections; 0 = `hidden_size`.
    pub attention_size: usize,
    /// Number of heads of `multihead`.
    pub heads: usize,
    /// Decoder wiring.
    pub decoder: DecoderKind,
    /// Luong decoder: feed the previous attentional vector into the next step.
    pub input_feeding: bool,
    /// Initial decoder state from the encoder through `tanh(W [h_fwd; h_bwd])`; zeros otherwise.
    pub bridge: bool,
    /// Share the target embedding with the output layer (through a projection to `emb_size`).
    pub tied_embeddings: bool,
}

/// The attention scorers (`model.attention`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AttentionKind {
    /// Additive: `v^T tanh(W_k k + W_q q)`.
    Bahdanau,
    /// `q^T k` (decoder and encoder output sizes must match).
    LuongDot,
    /// `q^T W k`.
    LuongGeneral,
    /// `v^T tanh(W [q; k])`.
    LuongConcat,
    /// `q^T k / sqrt(d)`.
    ScaledDot,
    /// Multi-head scaled dot-product over learned projections.
    Multihead,
}

/// Decoder wirings (`model.decoder`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DecoderKind {
    /// Query with the previous state; input `[emb; context]`; output over `[h; context; emb]`.
    Bahdanau,
    /// Query with the current state; attentional vector `tanh(W_c [context; h])`.
    Luong,
}

/// The optimisation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub seed: u64,
    /// Sentences per batch (used when `batch_tokens` is 0).
    pub batch_size: usize,
    /// Target tokens per batch (0 = use `batch_size`).
    pub batch_tokens: usize,
    pub lr: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_eps: f64,
    pub weight_decay: f64,
    /// Gradient-norm clipping threshold (0 = off).
    pub clip_norm: f64,
    pub label_smoothing: f64,
    /// Linear learning-rate warm-up steps (0 = none).
    pub warmup_steps: usize,
    /// Multiply the learning rate by this after `lr_patience` validations without improvement.
    pub lr_decay: f64,
    pub lr_patience: usize,
    pub min_lr: f64,
    /// Anneal the learning rate linearly down to `min_lr` over this last fraction of the run's budget
    /// (the nearest of `max_minutes`, `max_steps` and `max_epochs`; 0 = off). Under a wall-clock budget
    /// a plateau schedule may never fire; this makes every run end at a small learning rate.
    pub decay_fraction: f64,
    /// Stop after this many steps (0 = no limit).
    pub max_steps: usize,
    /// Stop after this many epochs (0 = no limit).
    pub max_epochs: usize,
    /// Stop after this many minutes of training in all, a resumed run's earlier minutes included, like
    /// `max_steps` and `max_epochs` (0 = no limit).
    pub max_minutes: f64,
    /// Validate every N steps (0 = at the end of each epoch).
    pub valid_every: usize,
    /// Stop after this many validations without a better dev BLEU (0 = never).
    pub patience: usize,
    /// Dev sentences translated for BLEU at each validation (0 = all).
    pub valid_bleu_sentences: usize,
    /// Sample translations printed at each validation.
    pub valid_samples: usize,
    /// Keep the weights of the last K validations in `snapshots/` for `nmt average` (0 = none).
    pub keep_snapshots: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            format_version: FORMAT_VERSION,
            data: DataConfig::default(),
            model: ModelConfig::default(),
            train: TrainConfig::default(),
            tokenizers: TokenizerHashes::default(),
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            train: PathBuf::from("train"),
            dev: PathBuf::from("dev"),
            test: PathBuf::new(),
            src_lang: "en".into(),
            tgt_lang: "fr".into(),
            lowercase: false,
            tokenizer: TokenizerKind::Bpe,
            vocab_size: 8000,
            min_frequency: 2,
            joint_vocab: false,
            max_len: 100,
            bpe_dropout: 0.0,
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            emb_size: 256,
            hidden_size: 512,
            encoder_hidden_size: 0,
            encoder_layers: 1,
            bidirectional: true,
            dropout: 0.3,
            attention: AttentionKind::Bahdanau,
            attention_size: 0,
            heads: 4,
            decoder: DecoderKind::Bahdanau,
            input_feeding: true,
            bridge: true,
            tied_embeddings: false,
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 1,
            batch_size: 64,
            batch_tokens: 0,
            lr: 1e-3,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_eps: 1e-8,
            weight_decay: 0.0,
            clip_norm: 1.0,
            label_smoothing: 0.1,
            warmup_steps: 0,
            lr_decay: 0.5,
            lr_patience: 2,
            min_lr: 1e-5,
            decay_fraction: 0.0,
            max_steps: 0,
            max_epochs: 10,
            max_minutes: 0.0,
            valid_every: 0,
            patience: 5,
            valid_bleu_sentences: 500,
            valid_samples: 3,
            keep_snapshots: 0,
        }
    }
}

impl ModelConfig {
    /// Encoder GRU state size per direction.
    pub fn encoder_dir_size(&self) -> usize {
        match (self.encoder_hidden_size, self.bidirectional) {
            (0, true) => self.hidden_size / 2,
            (0, false) => self.hidden_size,
            (n, _) => n,
        }
    }

    /// Size of the encoder output (memory) vectors.
    pub fn memory_size(&self) -> usize {
        self.encoder_dir_size() * if self.bidirectional { 2 } else { 1 }
    }

    /// Hidden size of the attention scorers that have one.
    pub fn attention_dim(&self) -> usize {
        if self.attention_size == 0 {
            self.hidden_size
        } else {
            self.attention_size
        }
    }

    /// Checks sizes and combinations; errors name the field.
    pub fn validate(&self) -> Result<()> {
        Ok(self.check()?)
    }

    /// [`Self::validate`], naming the keys at fault so that the caller can say where their values came from.
    fn check(&self) -> Result<(), Invalid> {
        if self.emb_size == 0 {
            return invalid(&["model.emb_size"], "model.emb_size must be > 0");
        }
        // Bounds far above any model this toolkit trains, so that a corrupt or hostile config.toml fails
        // here instead of exhausting memory when the network is built.
        for (name, v) in [
            ("model.emb_size", self.emb_size),
            ("model.hidden_size", self.hidden_size),
            ("model.encoder_hidden_size", self.encoder_hidden_size),
            ("model.attention_size", self.attention_size),
        ] {
            if v > MAX_MODEL_SIZE {
                return invalid(&[name], format!("{name} = {v} is larger than the supported maximum {MAX_MODEL_SIZE}"));
            }
        }
        if self.encoder_layers > MAX_ENCODER_LAYERS {
            return invalid(
                &["model.encoder_layers"],
                format!(
                    "model.encoder_layers = {} is larger than the supported maximum {MAX_ENCODER_LAYERS}",
                    self.encoder_layers
                ),
            );
        }
        if self.hidden_size == 0 {
            return invalid(&["model.hidden_size"], "model.hidden_size must be > 0");
        }
        if self.encoder_layers == 0 {
            return invalid(&["model.encoder_layers"], "model.encoder_layers must be > 0");
        }
        if self.bidirectional && self.encoder_hidden_size == 0 && !self.hidden_size.is_multiple_of(2) {
            return invalid(
                &["model.hidden_size", "model.bidirectional"],
                format!(
                    "model.hidden_size = {} must be even with a bidirectional encoder (each direction gets half)",
                    self.hidden_size
                ),
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return invalid(&["model.dropout"], format!("model.dropout = {} must be in [0, 1)", self.dropout));
        }
        if self.attention == AttentionKind::Multihead
            && (self.heads == 0 || !self.attention_dim().is_multiple_of(self.heads))
        {
            let size_key = if self.attention_size == 0 { "model.hidden_size" } else { "model.attention_size" };
            return invalid(
                &["model.heads", "model.attention", size_key],
                format!(
                    "model.heads = {} must be > 0 and divide the attention size {}",
                    self.heads,
                    self.attention_dim()
                ),
            );
        }
        if matches!(self.attention, AttentionKind::LuongDot | AttentionKind::ScaledDot)
            && self.memory_size() != self.hidden_size
        {
            return invalid(
                &["model.attention", "model.hidden_size", "model.encoder_hidden_size"],
                format!(
                    "model.attention = {} needs the decoder size (model.hidden_size = {}) to equal the encoder output size ({}); \
                     leave model.encoder_hidden_size at 0 or pick another scorer",
                    self.attention.name(),
                    self.hidden_size,
                    self.memory_size()
                ),
            );
        }
        Ok(())
    }
}

impl AttentionKind {
    /// The config spelling (`luong-general`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AttentionKind::Bahdanau => "bahdanau",
            AttentionKind::LuongDot => "luong-dot",
            AttentionKind::LuongGeneral => "luong-general",
            AttentionKind::LuongConcat => "luong-concat",
            AttentionKind::ScaledDot => "scaled-dot",
            AttentionKind::Multihead => "multihead",
        }
    }
}

impl DecoderKind {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            DecoderKind::Bahdanau => "bahdanau",
            DecoderKind::Luong => "luong",
        }
    }
}

impl TrainConfig {
    /// Checks impossible values; errors name the field.
    pub fn validate(&self) -> Result<()> {
        Ok(self.check()?)
    }

    /// [`Self::validate`], naming the keys at fault so that the caller can say where their values came from.
    fn check(&self) -> Result<(), Invalid> {
        if self.batch_size == 0 && self.batch_tokens == 0 {
            return invalid(
                &["train.batch_size", "train.batch_tokens"],
                "train.batch_size or train.batch_tokens must be > 0",
            );
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return invalid(&["train.lr"], format!("train.lr = {} must be a positive number", self.lr));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return invalid(
                &["train.label_smoothing"],
                format!("train.label_smoothing = {} must be in [0, 1)", self.label_smoothing),
            );
        }
        for (name, b) in [("train.adam_beta1", self.adam_beta1), ("train.adam_beta2", self.adam_beta2)] {
            if !(0.0..1.0).contains(&b) {
                return invalid(&[name], format!("{name} = {b} must be in [0, 1)"));
            }
        }
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return invalid(&["train.lr_decay"], format!("train.lr_decay = {} must be in (0, 1]", self.lr_decay));
        }
        if !(0.0..=1.0).contains(&self.decay_fraction) {
            return invalid(
                &["train.decay_fraction"],
                format!("train.decay_fraction = {} must be in [0, 1]", self.decay_fraction),
            );
        }
        if self.decay_fraction > 0.0 && self.max_minutes == 0.0 && self.max_steps == 0 && self.max_epochs == 0 {
            return invalid(
                &["train.decay_fraction", "train.max_minutes", "train.max_steps", "train.max_epochs"],
                "train.decay_fraction needs a budget: train.max_minutes, max_steps or max_epochs",
            );
        }
        if self.max_minutes < 0.0 || !self.max_minutes.is_finite() {
            return invalid(&["train.max_minutes"], format!("train.max_minutes = {} must be ≥ 0", self.max_minutes));
        }
        Ok(())
    }
}

impl Config {
    /// Reads a TOML config file, resolves its relative data paths against the file's directory, applies
    /// `--set key=value` overrides (paths relative to the current directory) and validates the result.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| toml_error(path, &text, &e))?;
        // Absolute, so that the model directory's copy of the config does not depend on the current directory.
        let base = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
        let base = base.parent().unwrap_or(Path::new("/"));
        resolve_paths(&mut table, base);
        Self::from_table(table, overrides, Sources::file(path, &text))
    }

    /// This config with `--set key=value` overrides applied and validated (e.g. a saved config on `--resume`).
    pub fn with_overrides(&self, overrides: &[String], origin: &str) -> Result<Config> {
        match toml::Value::try_from(self) {
            Ok(toml::Value::Table(table)) => {
                let sources = Sources::saved(origin, &table);
                Self::from_table(table, overrides, sources)
            }
            Ok(_) => Err(Error::Config(format!("{origin}: not a table"))),
            Err(e) => Err(Error::Config(format!("{origin}: {e}"))),
        }
    }

    /// The default config with overrides applied (for `nmt train` without `--config`).
    pub fn from_overrides(overrides: &[String]) -> Result<Config> {
        Self::from_table(toml::Table::new(), overrides, Sources::default())
    }

    /// `table` (whose values came from `sources`) with `overrides` applied, checked and validated; every
    /// error names the key and where its value came from.
    fn from_table(mut table: toml::Table, overrides: &[String], mut sources: Sources) -> Result<Config> {
        if !overrides.is_empty() {
            let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
            for o in overrides {
                apply_override(&mut table, o, &cwd, &mut sources)?;
            }
        }
        check_types(&mut table, &sources)?;
        let cfg = match toml::Value::Table(table.clone()).try_into::<Config>() {
            Ok(cfg) => cfg,
            Err(e) => return Err(field_error(&table, &sources).unwrap_or_else(|| Error::Config(e.message().into()))),
        };
        cfg.check().map_err(|i| sources.invalid(i))?;
        Ok(cfg)
    }

    /// Parses a config saved in a model directory (paths already absolute). A newer `format_version` is
    /// refused before anything else, since a newer format may hold fields this build does not know.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config> {
        let table: toml::Table = text.parse().map_err(|e| toml_error(origin, text, &e))?;
        let sources = Sources::file(origin, text);
        if let Some(v) =
            table.get("format_version").and_then(toml::Value::as_integer).filter(|&v| v > FORMAT_VERSION as i64)
        {
            return Err(sources.at(
                "format_version",
                format!("format_version {v} was written by a newer nmt (this one reads up to {FORMAT_VERSION})"),
            ));
        }
        Self::from_table(table, &[], sources)
    }

    /// The `data.*` and `model.*` fields (those the weights and tokenizers were built from) on which
    /// `other` differs from this config, as `key (was X, now Y)` in key order; empty when none does.
    pub fn changed_fields(&self, other: &Config) -> Vec<String> {
        let table = |c: &Config| match toml::Value::try_from(c) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        let (mine, theirs) = (table(self), table(other));
        let section =
            |t: &toml::Table, name: &str| t.get(name).and_then(toml::Value::as_table).cloned().unwrap_or_default();
        let mut changed = Vec::new();
        for name in ["data", "model"] {
            let (a, b) = (section(&mine, name), section(&theirs, name));
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let (was, now) = (a.get(key), b.get(key));
                if was != now {
                    let show = |v: Option<&toml::Value>| v.map_or("unset".to_string(), toml::Value::to_string);
                    changed.push(format!("{name}.{key} (was {}, now {})", show(was), show(now)));
                }
            }
        }
        changed
    }

    /// The config as TOML text.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Serialize { what: "the config", source: e.into() })
    }

    /// Validates every section.
    pub fn validate(&self) -> Result<()> {
        Ok(self.check()?)
    }

    /// [`Self::validate`], naming the keys at fault so that the caller can say where their values came from.
    fn check(&self) -> Result<(), Invalid> {
        if self.format_version > FORMAT_VERSION {
            return invalid(
                &["format_version"],
                format!("format_version {} is newer than this nmt's ({FORMAT_VERSION})", self.format_version),
            );
        }
        if self.data.vocab_size < 8 {
            return invalid(&["data.vocab_size"], format!("data.vocab_size = {} is too small", self.data.vocab_size));
        }
        if self.data.max_len == 0 {
            return invalid(&["data.max_len"], "data.max_len must be > 0");
        }
        let p = self.data.bpe_dropout;
        if !(0.0..1.0).contains(&p) {
            return invalid(&["data.bpe_dropout"], format!("data.bpe_dropout must be in [0, 1), found {p}"));
        }
        if p > 0.0 && self.data.tokenizer != TokenizerKind::Bpe {
            return invalid(
                &["data.bpe_dropout", "data.tokenizer"],
                format!("data.bpe_dropout = {p} needs data.tokenizer = \"bpe\""),
            );
        }
        self.model.check()?;
        self.train.check()
    }
}

/// A TOML error naming the file and the line it points at.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let line = e.span().map(|s| line_of(text, s.start));
    Error::Config(format!("{}{}: {}", path.display(), line.map_or(String::new(), |l| format!(":{l}")), e.message()))
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// A failed validation: what is wrong, and the dotted keys whose values make it so (for [`Sources::invalid`]).
#[derive(Debug)]
struct Invalid {
    keys: Vec<&'static str>,
    msg: String,
}

fn invalid(keys: &[&'static str], msg: impl Into<String>) -> Result<(), Invalid> {
    Err(Invalid { keys: keys.to_vec(), msg: msg.into() })
}

impl From<Invalid> for Error {
    fn from(i: Invalid) -> Error {
        Error::Config(i.msg)
    }
}

/// Where each value of a config being built came from, so that an error points at the one to change:
/// a `--set`, a line of the config file, or the default.
#[derive(Default)]
struct Sources {
    /// The file (or saved model-directory config) the values not set by `--set` were read from.
    file: Option<String>,
    /// Dotted key (or section) → its line in `file` (`None` when unknown), for the keys `file` holds.
    lines: HashMap<String, Option<usize>>,
    /// Dotted key → the `KEY=VALUE` of the last `--set` that gave it.
    sets: HashMap<String, String>,
}

impl Sources {
    /// The keys of a config file's `text`, with their lines.
    fn file(path: &Path, text: &str) -> Sources {
        let mut lines = HashMap::new();
        if let Ok(doc) = toml::de::DeTable::parse(text) {
            for (key, value) in doc.get_ref() {
                let section = key.get_ref();
                lines.insert(section.to_string(), Some(line_of(text, key.span().start)));
                if let toml::de::DeValue::Table(fields) = value.get_ref() {
                    for (field, _) in fields {
                        lines.insert(format!("{section}.{}", field.get_ref()), Some(line_of(text, field.span().start)));
                    }
                }
            }
        }
        Sources { file: Some(path.display().to_string()), lines, sets: HashMap::new() }
    }

    /// The keys of a saved config's `table`, read from `origin` (their lines are not known).
    fn saved(origin: &str, table: &toml::Table) -> Sources {
        let lines = dotted_keys(table).into_iter().map(|k| (k, None)).collect();
        Sources { file: Some(origin.to_string()), lines, sets: HashMap::new() }
    }

    /// Where `key`'s value came from: `--set KEY=VALUE`, `FILE:LINE`, `FILE` or `default`.
    fn of(&self, key: &str) -> String {
        if let Some(spec) = self.sets.get(key) {
            return format!("--set {spec}");
        }
        match (&self.file, self.lines.get(key)) {
            (Some(file), Some(Some(line))) => format!("{file}:{line}"),
            (Some(file), Some(None)) => file.clone(),
            _ => "default".into(),
        }
    }

    /// A config error about the value of `key`, prefixed with where that value came from.
    fn at(&self, key: &str, msg: impl std::fmt::Display) -> Error {
        Error::Config(format!("{}: {msg}", self.of(key)))
    }

    /// A failed validation as an error saying where the values of its keys came from.
    fn invalid(&self, i: Invalid) -> Error {
        match i.keys.as_slice() {
            [key] => self.at(key, i.msg),
            keys => {
                let from: Vec<String> = keys.iter().map(|k| format!("{k}: {}", self.of(k))).collect();
                Error::Config(format!("{} ({})", i.msg, from.join("; ")))
            }
        }
    }
}

/// The config keys that hold corpus paths.
const PATH_KEYS: [&str; 3] = ["train", "dev", "test"];

fn resolve_paths(table: &mut toml::Table, base: &Path) {
    let Some(toml::Value::Table(data)) = table.get_mut("data") else { return };
    for key in PATH_KEYS {
        if let Some(toml::Value::String(s)) = data.get_mut(key) {
            if !s.is_empty() && Path::new(s.as_str()).is_relative() {
                *s = base.join(s.as_str()).to_string_lossy().into_owned();
            }
        }
    }
}

/// Every valid dotted key, from the default config's serialization.
pub fn valid_keys() -> Vec<String> {
    match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(t)) => dotted_keys(&t),
        _ => Vec::new(),
    }
}

/// The keys of a config table: `section.field` for the fields of a section, the key alone otherwise.
fn dotted_keys(table: &toml::Table) -> Vec<String> {
    let mut keys = Vec::new();
    for (section, v) in table {
        match v {
            toml::Value::Table(inner) => keys.extend(inner.keys().map(|k| format!("{section}.{k}"))),
            _ => keys.push(section.clone()),
        }
    }
    keys
}

/// Every field a config file may hold, with its default value: the default config plus the tokenizer
/// hashes that training writes (left out of the default's serialization while empty).
fn schema() -> toml::Table {
    let tokenizers = TokenizerHashes { src: "sha256".into(), tgt: "sha256".into() };
    match toml::Value::try_from(Config { tokenizers, ..Config::default() }) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    }
}

/// The message for a key that names no field: the closest valid keys first, then all of them.
fn unknown_key(key: &str) -> String {
    let valid = valid_keys();
    format!("no such field {key}{}; valid keys: {}", did_you_mean(key, &valid), valid.join(", "))
}

/// ` (did you mean A or B?)` for the `valid` keys closest to `key`, or nothing when none is close.
pub(crate) fn did_you_mean(key: &str, valid: &[String]) -> String {
    match closest_keys(key, valid).as_slice() {
        [] => String::new(),
        [one] => format!(" (did you mean {one}?)"),
        [rest @ .., last] => format!(" (did you mean {} or {last}?)", rest.join(", ")),
    }
}

/// Up to 3 of the `valid` keys and their sections that `key` looks like a misspelling of, closest first:
/// within an edit distance of a third of the field's length, where the right field in the wrong section
/// costs 1.
fn closest_keys(key: &str, valid: &[String]) -> Vec<String> {
    let field = |k: &str| k.rsplit_once('.').map_or(k, |(_, f)| f).to_string();
    let limit = (field(key).chars().count() / 3).max(1);
    let mut candidates: Vec<String> =
        valid.iter().filter_map(|k| k.split_once('.')).map(|(s, _)| s.to_string()).collect();
    candidates.extend(valid.iter().cloned());
    candidates.sort();
    candidates.dedup();
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(key, &c).min(strsim::osa_distance(&field(key), &field(&c)) + 1), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// The TOML type name of a value, as a user would say it.
fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// Checks that every key names a field and every value has the type of its field's default, so that an
/// error names the key and where its value came from (serde's own messages do neither), and reads an
/// integer as a float where the field is one (`lr = 1`, `--set train.max_minutes=2`).
fn check_types(table: &mut toml::Table, sources: &Sources) -> Result<()> {
    let schema = schema();
    let check = |name: &str, given: &mut toml::Value, default: &toml::Value| {
        if let (toml::Value::Integer(i), toml::Value::Float(_)) = (&*given, default) {
            *given = toml::Value::Float(*i as f64);
        }
        if std::mem::discriminant(&*given) == std::mem::discriminant(default) {
            Ok(())
        } else {
            Err(sources.at(name, format!("{name} must be {}, found {given}", type_name(default))))
        }
    };
    for (section, value) in table.iter_mut() {
        let Some(default) = schema.get(section) else { return Err(sources.at(section, unknown_key(section))) };
        match (value, default) {
            (toml::Value::Table(fields), toml::Value::Table(default_fields)) => {
                for (field, v) in fields.iter_mut() {
                    let name = format!("{section}.{field}");
                    match default_fields.get(field) {
                        Some(d) => check(&name, v, d)?,
                        None => return Err(sources.at(&name, unknown_key(&name))),
                    }
                }
            }
            (value, default) => check(section, value, default)?,
        }
    }
    Ok(())
}

/// The error of the first value of `table` that does not deserialize on its own (a negative size, a name
/// that is not one of the allowed ones), naming its key and where it came from.
fn field_error(table: &toml::Table, sources: &Sources) -> Option<Error> {
    for key in dotted_keys(table) {
        let (section, field) = key.split_once('.').unwrap_or(("", &key));
        let value = if section.is_empty() { table.get(field) } else { table.get(section).and_then(|s| s.get(field)) };
        let Some(value) = value else { continue };
        let mut alone = toml::Table::new();
        if section.is_empty() {
            alone.insert(field.into(), value.clone());
        } else {
            alone
                .insert(section.into(), toml::Value::Table([(field.to_string(), value.clone())].into_iter().collect()));
        }
        if let Err(e) = toml::Value::Table(alone).try_into::<Config>() {
            return Some(match value {
                // Only an unsigned field refuses a negative integer; serde would say "expected usize".
                toml::Value::Integer(i) if *i < 0 => sources.at(&key, format!("{key} must be ≥ 0, found {i}")),
                _ => sources.at(&key, format!("{key}: {}", e.message())),
            });
        }
    }
    None
}

/// Applies one `--set KEY=VALUE` to `table` and records it in `sources`.
fn apply_override(table: &mut toml::Table, spec: &str, cwd: &Path, sources: &mut Sources) -> Result<()> {
    let (key, raw) = spec.split_once('=').ok_or_else(|| Error::Config(format!("--set {spec}: expected key=value")))?;
    let key = key.trim();
    if !valid_keys().iter().any(|k| k == key) {
        return Err(Error::Config(format!("--set {spec}: {}", unknown_key(key))));
    }
    // A value is read as TOML (numbers, booleans), else taken as a plain string (names, paths).
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let (section, field) = key.split_once('.').unwrap_or(("", key));
    let value = match value {
        toml::Value::String(s) if section == "data" && PATH_KEYS.contains(&field) && !s.is_empty() => {
            toml::Value::String(cwd.join(&s).to_string_lossy().into_owned())
        }
        v => v,
    };
    if section.is_empty() {
        table.insert(field.to_string(), value);
    } else {
        let entry = table.entry(section.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => {
                t.insert(field.to_string(), value);
            }
            _ => return Err(sources.at(section, format!("{section} must be a table"))),
        }
    }
    sources.sets.insert(key.to_string(), spec.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let c = Config::default();
        let back = Config::from_toml_str(&c.to_toml_string().unwrap(), Path::new("x")).unwrap();
        assert_eq!(c, back);
    }

    #[test]
    fn set_overrides_typed_values_and_names() {
        let c = Config::from_overrides(&[
            "model.attention=luong-general".into(),
            "train.max_minutes=2".into(),
            "model.hidden_size=64".into(),
            "data.lowercase=true".into(),
        ])
        .unwrap();
        assert_eq!(c.model.attention, AttentionKind::LuongGeneral);
        assert_eq!(c.train.max_minutes, 2.0);
        assert_eq!(c.model.hidden_size, 64);
        assert!(c.data.lowercase);
    }

    #[test]
    fn set_unknown_key_lists_valid_keys() {
        let e = Config::from_overrides(&["model.atention=dot".into()]).unwrap_err().to_string();
        assert!(e.contains("model.atention"), "{e}");
        assert!(e.contains("model.attention") && e.contains("train.max_minutes"), "{e}");
    }

    #[test]
    fn unknown_attention_name_lists_valid_ones() {
        let e = Config::from_overrides(&["model.attention=cosine".into()]).unwrap_err().to_string();
        assert!(e.contains("cosine") && e.contains("luong-concat") && e.contains("multihead"), "{e}");
    }

    #[test]
    fn impossible_values_name_the_field() {
        for (set, field) in [
            ("model.hidden_size=0", "model.hidden_size"),
            ("model.dropout=1.5", "model.dropout"),
            ("train.lr=-1", "train.lr"),
        ] {
            let e = Config::from_overrides(&[set.into()]).unwrap_err().to_string();
            assert!(e.contains(field), "{set}: {e}");
        }
        let e = Config::from_overrides(&["model.attention=luong-dot".into(), "model.encoder_hidden_size=100".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("luong-dot") && e.contains("model.hidden_size"), "{e}");
    }

    #[test]
    fn every_scorer_is_valid_with_the_default_sizes() {
        for a in ["bahdanau", "luong-dot", "luong-general", "luong-concat", "scaled-dot", "multihead"] {
            Config::from_overrides(&[format!("model.attention={a}")]).unwrap();
        }
    }

    /// The error of loading `text` as the config file `dir/c.toml` with `sets`.
    fn load_err(text: &str, sets: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::load(&path, &sets).unwrap_err().to_string()
    }

    #[test]
    fn a_bad_value_names_its_key_and_the_set_that_gave_it() {
        let e = Config::from_overrides(&["model.hidden_size=-3".into()]).unwrap_err().to_string();
        assert!(e.contains("--set model.hidden_size=-3: model.hidden_size must be ≥ 0, found -3"), "{e}");
        assert!(!e.contains("default"), "{e}");
        // The --set is blamed, not the config file it overrides.
        let e = load_err("[model]\nattention = \"bahdanau\"\n", &["model.attention=foo"]);
        assert!(e.contains("--set model.attention=foo: model.attention: unknown variant `foo`"), "{e}");
        assert!(!e.contains("c.toml"), "{e}");
    }

    #[test]
    fn a_bad_value_in_a_file_names_its_key_and_line() {
        for (text, needles) in [
            ("[model]\nemb_size = 16\nhidden_size = -3\n", &["c.toml:3: model.hidden_size must be ≥ 0"][..]),
            ("[model]\nhidden_size = \"big\"\n", &["c.toml:2: model.hidden_size must be an integer, found \"big\""]),
            ("format_version = 1\nmodel.dropout = 1.5\n", &["c.toml:2: model.dropout = 1.5 must be in [0, 1)"]),
            (
                "[train]\nlr = 1\n\n[data]\ntokenizer = \"char\"\n",
                &["c.toml:5: data.tokenizer: unknown variant `char`"],
            ),
        ] {
            let e = load_err(text, &[]);
            for n in needles {
                assert!(e.contains(n), "{text:?}: {n:?} missing from {e}");
            }
        }
        // A value the --set replaced is not checked: the --set's is.
        let e = load_err("[model]\nhidden_size = -3\n", &["model.hidden_size=7"]);
        assert!(e.contains("model.hidden_size = 7 must be even") && e.contains("--set model.hidden_size=7"), "{e}");
    }

    #[test]
    fn unknown_keys_suggest_the_closest_ones_then_list_all() {
        let e = Config::from_overrides(&["model.atention=x".into()]).unwrap_err().to_string();
        assert!(
            e.contains("--set model.atention=x: no such field model.atention (did you mean model.attention?)"),
            "{e}"
        );
        assert!(e.contains("valid keys:") && e.contains("model.attention_size") && e.contains("train.seed"), "{e}");
        for (text, needles) in [
            ("[model]\nhidden_size = 32\natention = \"bahdanau\"\n", &["c.toml:3:", "did you mean model.attention?"]),
            ("[modle]\nhidden_size = 32\n", &["c.toml:1:", "no such field modle (did you mean model?)"]),
            ("[train]\nhidden_size = 32\n", &["c.toml:2:", "did you mean model.hidden_size?"]),
        ] {
            let e = load_err(text, &[]);
            for n in needles {
                assert!(e.contains(n), "{text:?}: {n:?} missing from {e}");
            }
        }
        let e = Config::from_overrides(&["nofield=1".into()]).unwrap_err().to_string();
        assert!(!e.contains("did you mean") && e.contains("valid keys: "), "{e}");
    }

    #[test]
    fn closest_keys_are_few_near_and_closest_first() {
        let valid = valid_keys();
        assert_eq!(closest_keys("model.head", &valid), ["model.heads"]);
        assert_eq!(closest_keys("train.lr_decy", &valid), ["train.lr_decay"]);
        assert_eq!(closest_keys("hidden_size", &valid), ["model.hidden_size"]);
        assert!(closest_keys("model.colour", &valid).is_empty());
        let many = closest_keys("train.max_step", &valid);
        assert!(many.len() <= 3 && many[0] == "train.max_steps", "{many:?}");
    }

    #[test]
    fn cross_field_errors_say_where_each_value_came_from() {
        let e = load_err("[model]\nattention = \"multihead\"\n", &["model.heads=5"]);
        assert!(e.contains("model.heads = 5 must be > 0 and divide the attention size 512"), "{e}");
        assert!(
            e.contains("model.heads: --set model.heads=5; model.attention: ")
                && e.contains("c.toml:2; model.hidden_size: default)"),
            "{e}"
        );
        // A saved config (on --resume) has no lines: the file is named alone.
        let saved = Config {
            model: ModelConfig { attention: AttentionKind::LuongDot, ..Default::default() },
            ..Default::default()
        };
        let e = saved.with_overrides(&["model.encoder_hidden_size=100".into()], "m/config.toml").unwrap_err();
        let e = e.to_string();
        assert!(e.contains("model.attention: m/config.toml;"), "{e}");
        assert!(e.contains("model.encoder_hidden_size: --set model.encoder_hidden_size=100)"), "{e}");
    }

    #[test]
    fn newer_format_version_is_refused() {
        let c = Config { format_version: FORMAT_VERSION + 1, ..Default::default() };
        let e = Config::from_toml_str(&c.to_toml_string().unwrap(), Path::new("m/config.toml")).unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");
    }
}
