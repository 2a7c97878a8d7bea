//! `--model [NAME=]DIR`: which models to serve, under which names and ids.

use nmt::error::{Error, Result};
use std::path::PathBuf;

/// The id of the first model on the OpenNMT-py route; the next ones count up from it.
pub const FIRST_ID: u32 = 100;

/// One `--model` flag, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub id: u32,
    pub dir: PathBuf,
}

/// Parses the `--model` flags in order: names default to the directory's name, ids count from
/// [`FIRST_ID`]; an ensemble (`DIR+DIR`), an empty or repeated name is refused, naming the flag.
pub fn parse(flags: &[String]) -> Result<Vec<ModelSpec>> {
    let mut specs: Vec<ModelSpec> = Vec::with_capacity(flags.len());
    for (i, flag) in flags.iter().enumerate() {
        let (name, dir) = match flag.split_once('=') {
            Some((name, dir)) if !name.contains('/') => (Some(name.trim().to_string()), dir),
            _ => (None, flag.as_str()),
        };
        if dir.contains('+') {
            return Err(Error::Usage(format!(
                "--model {flag}: ensembles (DIR+DIR) are not supported yet; serve one directory per --model"
            )));
        }
        if dir.is_empty() {
            return Err(Error::Usage(format!("--model {flag}: no directory after the name")));
        }
        let dir = PathBuf::from(dir);
        let name = match name {
            Some(n) => n,
            None => default_name(&dir).ok_or_else(|| {
                Error::Usage(format!("--model {flag}: the directory has no name to serve it under; use NAME=DIR"))
            })?,
        };
        if name.is_empty() {
            return Err(Error::Usage(format!("--model {flag}: the name before '=' is empty")));
        }
        if specs.iter().any(|s| s.name == name) {
            return Err(Error::Usage(format!(
                "--model {flag}: a model named {name:?} is already served; name one with NAME=DIR"
            )));
        }
        specs.push(ModelSpec { name, id: FIRST_ID + i as u32, dir });
    }
    Ok(specs)
}

/// The last component of `dir` (of its absolute form for `.` or `..`).
fn default_name(dir: &std::path::Path) -> Option<String> {
    let named = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    named.or_else(|| dir.canonicalize().ok()?.file_name().map(|n| n.to_string_lossy().into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_default_to_the_directory_and_ids_count_from_100() {
        let specs = parse(&flags(&["runs/toy", "fr=runs/toy-luong/", "a=b=c"])).unwrap();
        let got: Vec<_> = specs.iter().map(|s| (s.name.as_str(), s.id, s.dir.to_str().unwrap())).collect();
        assert_eq!(got, [("toy", 100, "runs/toy"), ("fr", 101, "runs/toy-luong/"), ("a", 102, "b=c")]);
    }

    #[test]
    fn ensembles_repeated_and_empty_names_are_refused() {
        let cases = [
            (vec!["a+b"], "ensembles (DIR+DIR) are not supported yet"),
            (vec!["x=a+b"], "ensembles"),
            (vec!["runs/toy", "other/toy"], "a model named \"toy\" is already served"),
            (vec!["=runs/toy"], "the name before '=' is empty"),
            (vec!["x="], "no directory after the name"),
        ];
        for (f, words) in cases {
            let msg = parse(&flags(&f)).unwrap_err().to_string();
            assert!(msg.contains(words), "{f:?}: {msg}");
        }
    }
}
