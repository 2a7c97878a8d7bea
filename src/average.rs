//! Weight averaging. With `train.keep_snapshots = K`, every validation saves the weights as
//! `snapshots/step-NNNNNNN.safetensors` and keeps the newest K; `nmt average` writes their mean (or the
//! newest few's, or that of any weights files of the model) as `averaged.safetensors`, loaded with
//! `--checkpoint averaged`. The mean of the last points of a run often translates better than any one of
//! them (Junczys-Dowmunt et al. 2016; Vaswani et al. 2017).

use crate::checkpoint::{self, AVERAGED, SNAPSHOTS};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{nn, Device, Kind, Tensor};

/// The file name of the snapshot of `step`.
fn snapshot_name(step: usize) -> String {
    format!("step-{step:07}.safetensors")
}

/// The step of a snapshot's file name, `None` for any other name.
pub fn snapshot_step(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("step-")?.strip_suffix(".safetensors")?;
    digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok()).flatten()
}

/// The snapshots of model directory `dir`, oldest first, as (step, path); none when it has no snapshot folder.
pub fn snapshots(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let folder = dir.join(SNAPSHOTS);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&folder, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&folder, e))?;
        if let Some(step) = snapshot_step(&entry.file_name().to_string_lossy()) {
            found.push((step, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Saves the weights of `vs` as the snapshot of `step` in model directory `dir`, then removes every
/// snapshot but the newest `keep`. Snapshots of later steps are removed first: they belong to work that a
/// resumed run is redoing.
pub fn save_snapshot(dir: &Path, vs: &nn::VarStore, step: usize, keep: usize) -> Result<()> {
    let folder = dir.join(SNAPSHOTS);
    std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
    checkpoint::save_weights(&folder.join(snapshot_name(step)), vs, &[], None)?;
    let (kept, stale): (Vec<_>, Vec<_>) = snapshots(dir)?.into_iter().partition(|(s, _)| *s <= step);
    let old = kept.len().saturating_sub(keep);
    for (_, path) in stale.iter().chain(&kept[..old]) {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// The newest `last` snapshots of model directory `dir`, or all of them with `None`, oldest first.
pub fn newest_snapshots(dir: &Path, last: Option<usize>) -> Result<Vec<PathBuf>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_round_trip_and_nothing_else_parses() {
        assert_eq!(snapshot_step(&snapshot_name(4540)), Some(4540));
        assert_eq!(snapshot_name(12), "step-0000012.safetensors");
        for other in
            ["best.safetensors", "step-.safetensors", "step-12a.safetensors", ".step-0000012.safetensors.9.tmp"]
        {
            assert_eq!(snapshot_step(other), None, "{other}");
        }
    }
}
