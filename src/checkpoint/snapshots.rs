//! Weight snapshots: with `train.keep_snapshots = K`, every validation saves the weights as
//! `snapshots/step-NNNNNNN.safetensors` and keeps the newest K, for `nmt average`.

use super::{save_weights, SNAPSHOTS};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use tch::nn;

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
    save_weights(&folder.join(snapshot_name(step)), vs, &[], None)?;
    let (kept, stale): (Vec<_>, Vec<_>) = snapshots(dir)?.into_iter().partition(|(s, _)| *s <= step);
    let old = kept.len().saturating_sub(keep);
    for (_, path) in stale.iter().chain(&kept[..old]) {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
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
