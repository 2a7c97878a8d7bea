//! Weight averaging. With `train.keep_snapshots = K`, every validation saves the weights as
//! `snapshots/step-NNNNNNN.safetensors` and keeps the newest K; `nmt average` writes their mean (or the
//! newest few's, or that of any weights files of the model) as `averaged.safetensors`, loaded with
//! `--checkpoint averaged`. The mean of the last points of a run often translates better than any one of
//! them (Junczys-Dowmunt et al. 2016; Vaswani et al. 2017).

use crate::checkpoint::{self, snapshots, AVERAGED};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The newest `last` snapshots of model directory `dir`, or all of them with `None`, oldest first.
pub fn newest_snapshots(dir: &Path, last: Option<usize>) -> Result<Vec<PathBuf>> {
    checkpoint::check_model_dir(dir)?;
    let all = snapshots(dir)?;
    let newest = &all[all.len().saturating_sub(last.unwrap_or(all.len()))..];
    if newest.is_empty() {
        return Err(Error::model(
            dir,
            "no weight snapshots to average (train with train.keep_snapshots = K to keep the last K validations' weights)",
        ));
    }
    Ok(newest.iter().map(|(_, p)| p.clone()).collect())
}

/// Writes `averaged.safetensors` into model directory `dir`: the element-wise mean (summed in f64) of the
/// weights in `files` (snapshots, `best` or `last`, whose optimizer state is ignored), each checked against
/// the directory's config. Its metadata `nmt.averaged_from` lists the files' names.
pub fn average(dir: &Path, files: &[PathBuf]) -> Result<()> {
    if files.is_empty() {
        return Err(Error::Usage("nothing to average: no weights files given".into()));
    }
    let (_, _, _, vs, _model) = checkpoint::build(dir, Device::Cpu)?;
    let _guard = tch::no_grad_guard();
    let mut sums: HashMap<String, Tensor> = HashMap::new();
    for path in files {
        checkpoint::load_weights(path, &vs, |name| name.starts_with("adam."))?;
        for (name, var) in vs.variables() {
            let value = var.to_kind(Kind::Double);
            match sums.get_mut(&name) {
                Some(sum) => *sum += value,
                None => {
                    sums.insert(name, value);
                }
            }
        }
    }
    for (name, mut var) in vs.variables() {
        var.copy_(&(&sums[&name] / files.len() as f64).to_kind(Kind::Float));
    }
    let names: Vec<String> =
        files.iter().map(|p| p.file_name().unwrap_or(p.as_os_str()).to_string_lossy().into_owned()).collect();
    let metadata = HashMap::from([("nmt.averaged_from".to_string(), names.join(","))]);
    checkpoint::save_weights(&dir.join(AVERAGED), &vs, &[], Some(metadata))
}
