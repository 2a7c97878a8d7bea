//! The configuration: one serde struct per section (`data`, `model`, `train`), every field with a default,
//! unknown keys rejected, `--set key=value` overrides, validation of impossible values.
//! A model directory stores the exact config that built it; loading never guesses a hyper-parameter.

use crate::data::tokenizer::Kind as TokenizerKind;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
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
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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
        let err = |m: String| Err(Error::Config(m));
        if self.emb_size == 0 {
            return err("model.emb_size must be > 0".into());
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
                return err(format!("{name} = {v} is larger than the supported maximum {MAX_MODEL_SIZE}"));
            }
        }
        if self.encoder_layers > MAX_ENCODER_LAYERS {
            return err(format!(
                "model.encoder_layers = {} is larger than the supported maximum {MAX_ENCODER_LAYERS}",
                self.encoder_layers
            ));
        }
        if self.hidden_size == 0 {
            return err("model.hidden_size must be > 0".into());
        }
        if self.encoder_layers == 0 {
            return err("model.encoder_layers must be > 0".into());
        }
        if self.bidirectional && self.encoder_hidden_size == 0 && !self.hidden_size.is_multiple_of(2) {
            return err(format!(
                "model.hidden_size = {} must be even with a bidirectional encoder (each direction gets half)",
                self.hidden_size
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return err(format!("model.dropout = {} must be in [0, 1)", self.dropout));
        }
        if self.attention == AttentionKind::Multihead
            && (self.heads == 0 || !self.attention_dim().is_multiple_of(self.heads))
        {
            return err(format!(
                "model.heads = {} must be > 0 and divide the attention size {}",
                self.heads,
                self.attention_dim()
            ));
        }
        if matches!(self.attention, AttentionKind::LuongDot | AttentionKind::ScaledDot)
            && self.memory_size() != self.hidden_size
        {
            return err(format!(
                "model.attention = {} needs the decoder size (model.hidden_size = {}) to equal the encoder output size ({}); \
                 leave model.encoder_hidden_size at 0 or pick another scorer",
                self.attention.name(),
                self.hidden_size,
                self.memory_size()
            ));
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
        let err = |m: String| Err(Error::Config(m));
        if self.batch_size == 0 && self.batch_tokens == 0 {
            return err("train.batch_size or train.batch_tokens must be > 0".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return err(format!("train.lr = {} must be a positive number", self.lr));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return err(format!("train.label_smoothing = {} must be in [0, 1)", self.label_smoothing));
        }
        for (name, b) in [("train.adam_beta1", self.adam_beta1), ("train.adam_beta2", self.adam_beta2)] {
            if !(0.0..1.0).contains(&b) {
                return err(format!("{name} = {b} must be in [0, 1)"));
            }
        }
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return err(format!("train.lr_decay = {} must be in (0, 1]", self.lr_decay));
        }
        if !(0.0..=1.0).contains(&self.decay_fraction) {
            return err(format!("train.decay_fraction = {} must be in [0, 1]", self.decay_fraction));
        }
        if self.decay_fraction > 0.0 && self.max_minutes == 0.0 && self.max_steps == 0 && self.max_epochs == 0 {
            return err("train.decay_fraction needs a budget: train.max_minutes, max_steps or max_epochs".into());
        }
        if self.max_minutes < 0.0 || !self.max_minutes.is_finite() {
            return err(format!("train.max_minutes = {} must be ≥ 0", self.max_minutes));
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
        Self::from_table(table, overrides, &format!("{}", path.display()))
    }

    /// This config with `--set key=value` overrides applied and validated (e.g. a saved config on `--resume`).
    pub fn with_overrides(&self, overrides: &[String], origin: &str) -> Result<Config> {
        match toml::Value::try_from(self) {
            Ok(toml::Value::Table(table)) => Self::from_table(table, overrides, origin),
            Ok(_) => Err(Error::Config(format!("{origin}: not a table"))),
            Err(e) => Err(Error::Config(format!("{origin}: {e}"))),
        }
    }

    /// The default config with overrides applied (for `nmt train` without `--config`).
    pub fn from_overrides(overrides: &[String]) -> Result<Config> {
        Self::from_table(toml::Table::new(), overrides, "defaults")
    }

    fn from_table(mut table: toml::Table, overrides: &[String], origin: &str) -> Result<Config> {
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        for o in overrides {
            apply_override(&mut table, o, &cwd)?;
        }
        check_types(&mut table, origin)?;
        let cfg: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config(format!("{origin}: {}", e.message())))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses a config saved in a model directory (paths already absolute). A newer `format_version` is
    /// refused before anything else, since a newer format may hold fields this build does not know.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config> {
        let mut table: toml::Table = text.parse().map_err(|e| toml_error(origin, text, &e))?;
        if let Some(v) =
            table.get("format_version").and_then(toml::Value::as_integer).filter(|&v| v > FORMAT_VERSION as i64)
        {
            return Err(Error::Config(format!(
                "{}: format_version {v} was written by a newer nmt (this one reads up to {FORMAT_VERSION})",
                origin.display()
            )));
        }
        check_types(&mut table, &origin.display().to_string())?;
        let cfg: Config = toml::from_str(text).map_err(|e| toml_error(origin, text, &e))?;
        cfg.validate()?;
        Ok(cfg)
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
        toml::to_string(self).map_err(|e| Error::Config(format!("cannot serialize config: {e}")))
    }

    /// Validates every section.
    pub fn validate(&self) -> Result<()> {
        if self.format_version > FORMAT_VERSION {
            return Err(Error::Config(format!(
                "format_version {} is newer than this nmt's ({FORMAT_VERSION})",
                self.format_version
            )));
        }
        if self.data.vocab_size < 8 {
            return Err(Error::Config(format!("data.vocab_size = {} is too small", self.data.vocab_size)));
        }
        if self.data.max_len == 0 {
            return Err(Error::Config("data.max_len must be > 0".into()));
        }
        self.model.validate()?;
        self.train.validate()
    }
}

/// A TOML error naming the file and the line it points at.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let line = e.span().map(|s| text.as_bytes()[..s.start.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1);
    Error::Config(format!("{}{}: {}", path.display(), line.map_or(String::new(), |l| format!(":{l}")), e.message()))
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
    let mut keys = Vec::new();
    if let Ok(toml::Value::Table(t)) = toml::Value::try_from(Config::default()) {
        for (section, v) in t {
            match v {
                toml::Value::Table(inner) => keys.extend(inner.keys().map(|k| format!("{section}.{k}"))),
                _ => keys.push(section),
            }
        }
    }
    keys
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

/// Checks every known field's value against the type of its default, so that a wrong type names the
/// field (serde's own message does not), and reads an integer as a float where the field is one
/// (`lr = 1`, `--set train.max_minutes=2`). Unknown keys are left to serde, which lists the valid ones.
fn check_types(table: &mut toml::Table, origin: &str) -> Result<()> {
    let Ok(toml::Value::Table(defaults)) = toml::Value::try_from(Config::default()) else { return Ok(()) };
    let check = |name: &str, given: &mut toml::Value, default: &toml::Value| {
        if let (toml::Value::Integer(i), toml::Value::Float(_)) = (&*given, default) {
            *given = toml::Value::Float(*i as f64);
        }
        if std::mem::discriminant(&*given) == std::mem::discriminant(default) {
            Ok(())
        } else {
            Err(Error::Config(format!("{origin}: {name} must be {}, found {given}", type_name(default))))
        }
    };
    for (section, value) in table.iter_mut() {
        let Some(default) = defaults.get(section) else { continue };
        match (value, default) {
            (toml::Value::Table(fields), toml::Value::Table(default_fields)) => {
                for (field, v) in fields.iter_mut() {
                    if let Some(d) = default_fields.get(field) {
                        check(&format!("{section}.{field}"), v, d)?;
                    }
                }
            }
            (value, default) => check(section, value, default)?,
        }
    }
    Ok(())
}

fn apply_override(table: &mut toml::Table, spec: &str, cwd: &Path) -> Result<()> {
    let (key, raw) = spec.split_once('=').ok_or_else(|| Error::Config(format!("--set {spec}: expected key=value")))?;
    let key = key.trim();
    let valid = valid_keys();
    if !valid.iter().any(|k| k == key) {
        return Err(Error::Config(format!("--set {key}: no such field; valid keys: {}", valid.join(", "))));
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
            _ => return Err(Error::Config(format!("{section} must be a table"))),
        }
    }
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

    #[test]
    fn newer_format_version_is_refused() {
        let c = Config { format_version: FORMAT_VERSION + 1, ..Default::default() };
        let e = Config::from_toml_str(&c.to_toml_string().unwrap(), Path::new("m/config.toml")).unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");
    }
}
