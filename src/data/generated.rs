//! Writing a generated corpus (`nmt corpus toy`, `nmt corpus planted`) into a directory without destroying
//! another corpus there: a file that exists with other content is only replaced when forced. Also the
//! layout of the split files every generator writes.

use crate::error::{Error, Result};
use crate::fsutil::{create_dir, write_atomic};
use std::path::Path;

/// Writes `files` (file name, content) into `dir` (created if needed), each atomically. When a file
/// already exists with different content, nothing is written unless `force`: the error names the
/// directory and the differing files. Rewriting identical files is always allowed.
pub fn write_corpus(dir: &Path, files: &[(String, String)], force: bool) -> Result<()> {
    create_dir(dir, "a corpus directory")?;
    let mut differing = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(old) if old != content.as_bytes() => differing.push(name.as_str()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    if !differing.is_empty() && !force {
        return Err(Error::Usage(format!(
            "{} holds a different corpus: {} would change; pass --force to overwrite",
            dir.display(),
            differing.join(", ")
        )));
    }
    for (name, content) in files {
        write_atomic(&dir.join(name), content.as_bytes())?;
    }
    Ok(())
}

/// The files of parallel splits as (file name, content): `SPLIT.SRC_LANG` and `SPLIT.TGT_LANG` per split,
/// one sentence per line, each line ended by `\n`.
pub fn parallel_files(splits: &[(&str, &[(String, String)])], src_lang: &str, tgt_lang: &str) -> Vec<(String, String)> {
    let mut files = Vec::with_capacity(2 * splits.len());
    for (split, pairs) in splits {
        let mut src = String::new();
        let mut tgt = String::new();
        for (s, t) in pairs.iter() {
            src.push_str(s);
            src.push('\n');
            tgt.push_str(t);
            tgt.push('\n');
        }
        files.push((format!("{split}.{src_lang}"), src));
        files.push((format!("{split}.{tgt_lang}"), tgt));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(text: &str) -> Vec<(String, String)> {
        vec![("a.en".into(), text.into()), ("a.fr".into(), "fr\n".into())]
    }

    #[test]
    fn a_different_corpus_is_kept_unless_forced_and_an_identical_one_is_rewritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        write_corpus(&dir, &files("one\n"), false).unwrap();
        write_corpus(&dir, &files("one\n"), false).unwrap();
        let err = write_corpus(&dir, &files("two\n"), false).unwrap_err().to_string();
        assert!(err.contains("holds a different corpus: a.en would change") && err.contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join("a.en")).unwrap(), "one\n");
        write_corpus(&dir, &files("two\n"), true).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.en")).unwrap(), "two\n");
    }
}
