//! The model directory: `config.toml`, the tokenizers, `best.safetensors` (weights) and `last.safetensors`
//! (weights + Adam moments + training state as safetensors metadata), and optionally weight snapshots
//! with their mean `averaged.safetensors` ([`crate::average`]). Every file is written atomically;
//! training holds an advisory lock on the directory. Loading rebuilds the model from its own config and
//! checks every tensor's name and shape.
//!
//! Files: `weights` (reading and writing weights files), `snapshots` (their naming and pruning),
//! `state` (the training state kept in `last`), `decode` (the decoding defaults of `decode.toml`).

mod decode;
mod snapshots;
mod state;
mod weights;

pub use decode::{DecodeDefaults, Search, SearchDefaults};
pub use snapshots::{save_snapshot, snapshot_step, snapshots};
pub use state::{read_train_state, TrainState};
pub use weights::{load_weights, read_metadata, save_weights, CHECKSUM_KEY};

use crate::config::Config;
use crate::data::tokenizer::Tokenizer;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::model::Seq2Seq;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{nn, Device};

pub const CONFIG_FILE: &str = "config.toml";
pub const SRC_TOKENIZER: &str = "tokenizer.src.json";
pub const TGT_TOKENIZER: &str = "tokenizer.tgt.json";
pub const BEST: &str = "best.safetensors";
pub const LAST: &str = "last.safetensors";
pub const AVERAGED: &str = "averaged.safetensors";
/// The decoding defaults that travel with the model ([`DecodeDefaults`]).
pub const DECODE_FILE: &str = "decode.toml";
/// The folder of the weight snapshots kept with `train.keep_snapshots`.
pub const SNAPSHOTS: &str = "snapshots";
pub const METRICS: &str = "metrics.jsonl";
pub const LOSS_PLOT: &str = "loss.png";
const LOCK: &str = ".lock";
/// The files of a model directory besides the snapshots, whose stale temp files the lock's taker removes.
const FILES: [&str; 9] =
    [CONFIG_FILE, SRC_TOKENIZER, TGT_TOKENIZER, BEST, LAST, AVERAGED, METRICS, LOSS_PLOT, DECODE_FILE];
/// safetensors metadata key holding the JSON training state in `last`.
pub const STATE_KEY: &str = "nmt.train_state";

/// Which weights to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Which {
    Best,
    Last,
    /// The mean of the newest weight snapshots, written by `nmt average`.
    Averaged,
}

impl Which {
    /// Every kind, in the order `nmt info` lists them.
    pub const ALL: [Which; 3] = [Which::Best, Which::Last, Which::Averaged];

    pub fn file(self) -> &'static str {
        match self {
            Which::Best => BEST,
            Which::Last => LAST,
            Which::Averaged => AVERAGED,
        }
    }
}

/// sha256 of a text, hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A loaded model directory: config, tokenizers and the network with its weights.
pub struct Loaded {
    pub dir: PathBuf,
    pub config: Config,
    pub src_tok: Tokenizer,
    pub tgt_tok: Tokenizer,
    pub vs: nn::VarStore,
    pub model: Seq2Seq,
    /// safetensors metadata of the weights file (the training state for `last`).
    pub metadata: HashMap<String, String>,
}

/// Whether `dir` is a model directory: a directory holding `config.toml`.
pub fn is_model_dir(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).is_file()
}

/// Checks that `dir` is a model directory, saying what it is instead: missing, not a directory, or a
/// directory without `config.toml`.
pub fn check_model_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::model(dir, "no such model directory")),
        Err(e) => Err(Error::io(dir, e)),
        Ok(m) if !m.is_dir() => Err(Error::model(dir, "not a directory (expected a model directory)")),
        Ok(_) if !is_model_dir(dir) => {
            Err(Error::model(dir, format!("not a model directory: {CONFIG_FILE} is missing")))
        }
        Ok(_) => Ok(()),
    }
}

/// Reads the config and tokenizers of `dir` and checks the tokenizers' hashes against the config.
pub fn read_dir_meta(dir: &Path) -> Result<(Config, Tokenizer, Tokenizer)> {
    check_model_dir(dir)?;
    let cfg_path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let config = Config::from_toml_str(&text, &cfg_path)?;
    let mut toks = Vec::new();
    for (file, expected) in [(SRC_TOKENIZER, &config.tokenizers.src), (TGT_TOKENIZER, &config.tokenizers.tgt)] {
        let path = dir.join(file);
        let json = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        if !expected.is_empty() && sha256_hex(&json) != *expected {
            return Err(Error::model(
                dir,
                format!(
                    "{file} does not match the tokenizer this model was trained with (sha256 differs from config.toml)"
                ),
            ));
        }
        toks.push(Tokenizer::from_json(&json, &path)?);
    }
    let tgt = toks.pop().expect("two tokenizers");
    let src = toks.pop().expect("two tokenizers");
    Ok((config, src, tgt))
}

/// The config, tokenizers and a freshly initialised network of `dir` on `device` (no weights loaded).
pub fn build(dir: &Path, device: Device) -> Result<(Config, Tokenizer, Tokenizer, nn::VarStore, Seq2Seq)> {
    let (config, src_tok, tgt_tok) = read_dir_meta(dir)?;
    let vs = nn::VarStore::new(device);
    let model = Seq2Seq::new(&vs.root(), &config.model, src_tok.vocab_size() as i64, tgt_tok.vocab_size() as i64);
    Ok((config, src_tok, tgt_tok, vs, model))
}

/// Loads `dir` with the `which` weights onto `device`.
pub fn load(dir: &Path, which: Which, device: Device) -> Result<Loaded> {
    let (config, src_tok, tgt_tok, vs, model) = build(dir, device)?;
    let path = dir.join(which.file());
    if !path.exists() {
        let hint = match which {
            Which::Best => "no validation has run yet; try --checkpoint last",
            Which::Last => "training has not saved a checkpoint yet",
            Which::Averaged => {
                "average the weight snapshots first: nmt average --model DIR (needs train.keep_snapshots)"
            }
        };
        return Err(Error::model(dir, format!("{} is missing ({hint})", which.file())));
    }
    let (metadata, _) = load_weights(&path, &vs, |name| name.starts_with("adam."))?;
    Ok(Loaded { dir: dir.to_path_buf(), config, src_tok, tgt_tok, vs, model, metadata })
}

/// Writes `config.toml` (with the tokenizers' hashes) and both tokenizers into `dir`.
pub fn write_dir_meta(dir: &Path, config: &mut Config, src: &Tokenizer, tgt: &Tokenizer) -> Result<()> {
    let (src_json, tgt_json) = (src.to_json()?, tgt.to_json()?);
    // The directory is written in this build's format, whatever the config said.
    config.format_version = crate::config::FORMAT_VERSION;
    config.tokenizers.src = sha256_hex(&src_json);
    config.tokenizers.tgt = sha256_hex(&tgt_json);
    write_atomic(&dir.join(SRC_TOKENIZER), src_json.as_bytes())?;
    write_atomic(&dir.join(TGT_TOKENIZER), tgt_json.as_bytes())?;
    write_atomic(&dir.join(CONFIG_FILE), config.to_toml_string()?.as_bytes())
}

/// Makes `dir` ready for a training run. A new run (`resume` false) takes a new directory (created here),
/// an empty one (what a run killed before writing its config leaves — the lock, temp files of the model
/// directory's files — counts as empty) or a model directory (whose weights, if any, the run itself refuses
/// to overwrite); a non-empty directory of anything else is refused. A resumed run needs a model
/// directory. → whether this call created `dir`.
pub fn prepare_run_dir(dir: &Path, resume: bool) -> Result<bool> {
    if resume {
        check_model_dir(dir)?;
        return Ok(false);
    }
    let created = crate::fsutil::create_dir(dir, "a model directory")?;
    if created || is_model_dir(dir) {
        return Ok(created);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut others = Vec::new();
    for entry in entries {
        let name = entry.map_err(|e| Error::io(dir, e))?.file_name().to_string_lossy().into_owned();
        if name != LOCK && !crate::fsutil::temp_target(&name).is_some_and(|t| FILES.contains(&t)) {
            others.push(name);
        }
    }
    if others.is_empty() {
        return Ok(false);
    }
    others.sort();
    let held = match others.len() {
        n if n > 3 => format!("{}, … ({n} entries)", others[..3].join(", ")),
        _ => others.join(", "),
    };
    Err(Error::model(
        dir,
        format!(
            "not empty and not a model directory (no {CONFIG_FILE}; it holds {held}); train into a new or empty \
             directory, or give a model directory with --resume"
        ),
    ))
}

/// Whether a run saved any weights in `dir` (`best`, `last` or a snapshot).
pub fn holds_weights(dir: &Path) -> bool {
    [BEST, LAST, SNAPSHOTS].iter().any(|f| dir.join(f).exists())
}

/// Removes model directory `dir` of a run that failed before saving any weights: the files a run writes
/// before its first save (config, tokenizers, lock), then the directory itself. Anything else in it (or
/// any weights) keeps the directory; nothing is reported, the run's own error is what matters.
pub fn remove_unsaved(dir: &Path) {
    if holds_weights(dir) {
        return;
    }
    for file in [CONFIG_FILE, SRC_TOKENIZER, TGT_TOKENIZER, METRICS, LOSS_PLOT, DECODE_FILE, LOCK] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    let _ = std::fs::remove_dir(dir);
}

/// An advisory lock on a model directory, released when dropped or when the process dies.
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock or fails at once if another live process holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {
                // No other writer can exist now: temp files are leftovers of a killed run.
                crate::fsutil::remove_stale_temps(dir, |name| FILES.contains(&name));
                crate::fsutil::remove_stale_temps(&dir.join(SNAPSHOTS), |name| snapshot_step(name).is_some());
                Ok(DirLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::model(
                dir,
                "another `nmt train` is writing to this directory (it holds the lock); wait for it or use another --out",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }
}
