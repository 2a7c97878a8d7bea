//! The training state that `last.safetensors` carries in its metadata: where training stands, so that
//! `--resume` continues exactly and `nmt info` can say it.

use super::{read_metadata, LAST, STATE_KEY};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where training stands; saved in `last.safetensors`' metadata and restored by `--resume`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct TrainState {
    pub step: usize,
    pub epoch: usize,
    /// Batches of `epoch` already done.
    pub batch_in_epoch: usize,
    pub lr: f64,
    /// Dev BLEU and step of the weights in `best.safetensors` (from any validation).
    pub best_bleu: Option<f64>,
    pub best_step: usize,
    /// Best dev BLEU of the scheduled validations (every `valid_every` steps or epoch), which alone drive
    /// the LR schedule and early stopping: the extra validation when a run stops between them can update
    /// `best` but not the schedule, so a resumed run follows the uninterrupted one exactly.
    #[serde(default)]
    pub schedule_bleu: Option<f64>,
    /// Scheduled validations since the best one (early stopping).
    pub bad_validations: usize,
    /// Validations since the last improvement or LR decay (plateau schedule).
    pub plateau: usize,
    /// Training minutes over all runs.
    pub minutes: f64,
    pub finished: bool,
}

impl TrainState {
    /// The 1-based epoch the latest step belongs to.
    pub fn display_epoch(&self) -> usize {
        if self.batch_in_epoch == 0 {
            self.epoch.max(1)
        } else {
            self.epoch + 1
        }
    }

    /// The state in the metadata of a `last` file read from `path`.
    pub fn from_metadata(meta: &std::collections::HashMap<String, String>, path: &Path) -> Result<TrainState> {
        let json = meta.get(STATE_KEY).ok_or_else(|| Error::model(path, "no training state in metadata"))?;
        serde_json::from_str(json).map_err(|e| Error::model(path, format!("bad training state: {e}")))
    }
}

/// The training state of model directory `dir`; `None` before training saved `last.safetensors`.
pub fn read_train_state(dir: &Path) -> Result<Option<TrainState>> {
    let path = dir.join(LAST);
    if !path.exists() {
        return Ok(None);
    }
    TrainState::from_metadata(&read_metadata(&path)?, &path).map(Some)
}
