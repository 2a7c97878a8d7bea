//! The facts about a model: what `nmt info --json` prints and the server's `/v1/models` shows, one
//! struct for both.

use crate::checkpoint::{self, DecodeDefaults, TrainState, Which};
use crate::config::Config;
use crate::data::tokenizer::Tokenizer;
use crate::error::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::Device;

/// A model directory's (or an in-memory model's) facts.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    /// The model directory (an ensemble's first member); `None` for a model held in memory.
    pub dir: Option<PathBuf>,
    /// An ensemble's member directories, in order (the other facts are the first member's); empty, and
    /// left out of the JSON, for a single model.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<PathBuf>,
    /// The full config that built the model.
    pub config: Config,
    /// Number of trainable parameters.
    pub parameters: i64,
    pub vocab: VocabSizes,
    /// The weights files present (`best`, `last`, `averaged`).
    pub checkpoints: Vec<Which>,
    /// Steps of the weight snapshots kept for `nmt average`, oldest first.
    pub snapshots: Vec<usize>,
    /// Where training stands (from `last`); `None` before training saved `last`.
    pub training: Option<TrainingInfo>,
    /// The decoding defaults of the directory's `decode.toml`; `None` without one (greedy search with
    /// `best` and length penalty 1.0, beam 5 the same, apply).
    pub decode: Option<DecodeDefaults>,
}

/// Vocabulary sizes, special tokens included.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct VocabSizes {
    pub src: usize,
    pub tgt: usize,
}

/// The training state saved in `last.safetensors`, as far as a user cares.
#[derive(Clone, Debug, Serialize)]
pub struct TrainingInfo {
    pub step: usize,
    pub epoch: usize,
    pub finished: bool,
    /// Step and dev BLEU of the `best` weights.
    pub best_step: usize,
    pub best_bleu: Option<f64>,
    /// Training minutes over all runs.
    pub minutes: f64,
}

impl From<TrainState> for TrainingInfo {
    fn from(s: TrainState) -> Self {
        TrainingInfo {
            step: s.step,
            epoch: s.epoch,
            finished: s.finished,
            best_step: s.best_step,
            best_bleu: s.best_bleu,
            minutes: s.minutes,
        }
    }
}

impl ModelInfo {
    /// Reads the facts of model directory `dir` (its config, tokenizers and file list; the weights
    /// themselves are not read).
    pub fn read(dir: &Path) -> Result<ModelInfo> {
        let (config, src_tok, tgt_tok, vs, _) = checkpoint::build(dir, Device::Cpu)?;
        let parameters = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        ModelInfo::of_dir(dir, &config, parameters, &src_tok, &tgt_tok)
    }

    /// The facts of model directory `dir`, whose config and tokenizers are already read.
    pub(crate) fn of_dir(
        dir: &Path,
        config: &Config,
        parameters: i64,
        src_tok: &Tokenizer,
        tgt_tok: &Tokenizer,
    ) -> Result<ModelInfo> {
        let checkpoints = Which::ALL.into_iter().filter(|w| dir.join(w.file()).is_file()).collect();
        Ok(ModelInfo {
            dir: Some(dir.to_path_buf()),
            checkpoints,
            snapshots: checkpoint::snapshots(dir)?.into_iter().map(|(step, _)| step).collect(),
            training: checkpoint::read_train_state(dir)?.map(TrainingInfo::from),
            decode: DecodeDefaults::read(dir)?,
            ..ModelInfo::of_model(config, parameters, src_tok, tgt_tok)
        })
    }

    /// The facts of a model held in memory.
    pub(crate) fn of_model(config: &Config, parameters: i64, src_tok: &Tokenizer, tgt_tok: &Tokenizer) -> ModelInfo {
        ModelInfo {
            dir: None,
            members: Vec::new(),
            config: config.clone(),
            parameters,
            vocab: VocabSizes { src: src_tok.vocab_size(), tgt: tgt_tok.vocab_size() },
            checkpoints: Vec::new(),
            snapshots: Vec::new(),
            training: None,
            decode: None,
        }
    }
}
