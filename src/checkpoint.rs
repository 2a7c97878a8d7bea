//! The model directory: `config.toml`, the tokenizers, `best.safetensors` (weights) and `last.safetensors`
//! (weights + Adam moments + training state as safetensors metadata), and optionally weight snapshots
//! with their mean `averaged.safetensors` ([`crate::average`]). Every file is written atomically;
//! training holds an advisory lock on the directory. Loading rebuilds the model from its own config and
//! checks every tensor's name and shape.

use crate::average::snapshot_step;
use crate::config::Config;
use crate::data::tokenizer::Tokenizer;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::model::Seq2Seq;
use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{nn, Device, Kind, Tensor};

pub const CONFIG_FILE: &str = "config.toml";
pub const SRC_TOKENIZER: &str = "tokenizer.src.json";
pub const TGT_TOKENIZER: &str = "tokenizer.tgt.json";
pub const BEST: &str = "best.safetensors";
pub const LAST: &str = "last.safetensors";
pub const AVERAGED: &str = "averaged.safetensors";
/// The folder of the weight snapshots kept with `train.keep_snapshots`.
pub const SNAPSHOTS: &str = "snapshots";
pub const METRICS: &str = "metrics.jsonl";
pub const LOSS_PLOT: &str = "loss.png";
const LOCK: &str = ".lock";
/// safetensors metadata key holding the JSON training state in `last`.
pub const STATE_KEY: &str = "nmt.train_state";
/// safetensors metadata key holding the sha256 of every weights file's tensors, so that a bit flip in the
/// data (which the format itself cannot notice) is reported instead of translating with garbage.
pub const CHECKSUM_KEY: &str = "nmt.sha256";

/// Which weights to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    Best,
    Last,
    /// The mean of the newest weight snapshots, written by `nmt average`.
    Averaged,
}

impl Which {
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

/// Reads the config and tokenizers of `dir` and checks the tokenizers' hashes against the config.
pub fn read_dir_meta(dir: &Path) -> Result<(Config, Tokenizer, Tokenizer)> {
    let cfg_path = dir.join(CONFIG_FILE);
    if !dir.is_dir() {
        return Err(Error::model(dir, "no such model directory"));
    }
    if !cfg_path.exists() {
        return Err(Error::model(dir, format!("not a model directory: {CONFIG_FILE} is missing")));
    }
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

/// Saves every variable of `vs` plus `extra` named tensors and `metadata` to `path`, atomically.
pub fn save_weights(
    path: &Path,
    vs: &nn::VarStore,
    extra: &[(String, Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.extend(extra.iter().map(|(n, t)| (n.clone(), t.shallow_clone())));
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = named
        .iter()
        .map(|(n, t)| {
            let t = t.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
            let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
            let values = Vec::<f32>::try_from(t.flatten(0, -1)).unwrap_or_default();
            let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n.clone(), shape, data)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(n, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::model(path, format!("tensor {n}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut metadata = metadata.unwrap_or_default();
    metadata.insert(
        CHECKSUM_KEY.to_string(),
        content_hash(bytes.iter().map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice()))),
    );
    let out = safetensors::serialize(views, Some(metadata)).map_err(|e| Error::model(path, e.to_string()))?;
    write_atomic(path, &out)
}

/// sha256 over the names, shapes and data of `tensors` (in the order given), hex.
fn content_hash<'a>(tensors: impl Iterator<Item = (&'a str, &'a [usize], &'a [u8])>) -> String {
    let mut h = Sha256::new();
    for (name, shape, data) in tensors {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((shape.len() as u64).to_le_bytes());
        shape.iter().for_each(|&d| h.update((d as u64).to_le_bytes()));
        h.update(data);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Loads the variables of `vs` from `path`. Tensors for which `extra(name)` is true may be present and
/// are returned (e.g. optimizer state); any other unknown, missing or mis-shaped tensor is an error.
pub fn load_weights(
    path: &Path,
    vs: &nn::VarStore,
    extra: impl Fn(&str) -> bool,
) -> Result<(HashMap<String, String>, HashMap<String, Tensor>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let corrupt = |m: String| Error::model(path, format!("not a valid weights file (truncated or corrupt?): {m}"));
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
    // Files written before the checksum existed have none; any other file must match it.
    if let Some(expected) = meta.metadata().as_ref().and_then(|m| m.get(CHECKSUM_KEY)) {
        let mut tensors = st.tensors();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        if content_hash(tensors.iter().map(|(n, v)| (n.as_str(), v.shape(), v.data()))) != *expected {
            return Err(corrupt("the tensor data does not match its checksum".into()));
        }
    }
    let mut file: HashMap<String, Tensor> = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::model(path, format!("tensor {name} is {:?}, expected F32", view.dtype())));
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        file.insert(name, Tensor::from_slice(&values).view(shape.as_slice()));
    }
    let _guard = tch::no_grad_guard();
    let mut vars = vs.variables();
    // Every tensor is checked before any is copied, so a bad file leaves the model untouched.
    let mut names: Vec<String> = vars.keys().cloned().collect();
    names.sort();
    for name in &names {
        let t = file.get(name).ok_or_else(|| {
            Error::model(path, format!("tensor {name} is missing: the weights do not match the config"))
        })?;
        if t.size() != vars[name].size() {
            return Err(Error::model(
                path,
                format!("tensor {name} has shape {:?}, the config needs {:?}", t.size(), vars[name].size()),
            ));
        }
    }
    for name in &names {
        if let (Some(var), Some(t)) = (vars.get_mut(name), file.remove(name)) {
            var.copy_(&t.to_device(var.device()));
        }
    }
    if let Some(name) = file.keys().find(|n| !extra(n)) {
        return Err(Error::model(path, format!("unexpected tensor {name}: the weights do not match the config")));
    }
    Ok((meta.metadata().clone().unwrap_or_default(), file))
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
                let files = [CONFIG_FILE, SRC_TOKENIZER, TGT_TOKENIZER, BEST, LAST, AVERAGED, METRICS, LOSS_PLOT];
                crate::fsutil::remove_stale_temps(dir, |name| files.contains(&name));
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
