//! Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory.
//! A crash at any moment leaves either the old file or the new one, never a half-written file.
//! Also the creation of output directories, which names a path that is in the way.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Creates the output directory `dir` (and its parents) unless it exists. → whether this call created
/// it (`false` when it was already there, even if another process created it a moment ago). A path
/// that exists but is not a directory is refused, naming `what` was expected there.
pub fn create_dir(dir: &Path, what: &str) -> Result<bool> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(false),
        Ok(_) => {
            let msg = format!("exists but is not a directory (expected {what})");
            return Err(Error::io(dir, std::io::Error::new(std::io::ErrorKind::NotADirectory, msg)));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(dir, e)),
        Err(_) => {}
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(false),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Writes `path` atomically with a writer callback (for large outputs streamed to disk).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&File>) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp)?;
        {
            let mut w = std::io::BufWriter::new(&file);
            fill(&mut w)?;
            w.flush()?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e: std::io::Error| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Removes the temp files that writes in `dir` left behind when their process was killed, for the files
/// whose names `ours` accepts. Only sound while no other process writes these files (e.g. under the model
/// directory's lock).
pub fn remove_stale_temps(dir: &Path, ours: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if temp_target(&entry.file_name().to_string_lossy()).is_some_and(&ours) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The name of the file whose atomic write the temp file `file` belongs to (`.{name}.{pid}.tmp` → name);
/// `None` for any other name.
pub fn temp_target(file: &str) -> Option<&str> {
    file.strip_prefix('.')
        .and_then(|f| f.strip_suffix(".tmp"))
        .and_then(|f| f.rsplit_once('.'))
        .filter(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        .map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_dir_says_whether_it_created_and_names_a_file_in_the_way() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        assert!(create_dir(&dir, "a gallery").unwrap());
        assert!(!create_dir(&dir, "a gallery").unwrap());
        let file = tmp.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let err = create_dir(&file, "a gallery").unwrap_err().to_string();
        assert!(
            err.contains(&file.display().to_string()) && err.contains("not a directory (expected a gallery)"),
            "{err}"
        );
    }
}
