//! `--model [NAME=]DIR[+DIR…]`: which models (or ensembles) to serve, under which names and ids.

use nmt::error::{Error, Result};
use std::path::PathBuf;

/// The id of the first model on the OpenNMT-py route; the next ones count up from it.
pub const FIRST_ID: u32 = 100;

/// One `--model` flag, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub id: u32,
    /// The model directory, or an ensemble's member directories.
    pub dirs: Vec<PathBuf>,
    /// The directory or ensemble as the flag gave it (`DIR+DIR`), for messages.
    pub spec: String,
}

/// Parses the `--model` flags in order: names default to the directory's name (an ensemble's: its
/// members' names joined by '+'), ids count from [`FIRST_ID`]; an empty ensemble member, an empty or
/// repeated name is refused, naming the flag.
pub fn parse(flags: &[String]) -> Result<Vec<ModelSpec>> {
    let mut specs: Vec<ModelSpec> = Vec::with_capacity(flags.len());
    for (i, flag) in flags.iter().enumerate() {
        let (name, dir) = match flag.split_once('=') {
            Some((name, dir)) if !name.contains('/') => (Some(name.trim().to_string()), dir),
            _ => (None, flag.as_str()),
        };
        if dir.is_empty() {
            return Err(Error::Usage(format!("--model {flag}: no directory after the name")));
        }
        let dirs = nmt::engine::ensemble_members(dir, &format!("--model {flag}:"))?;
        let name = match name {
            Some(n) => n,
            None => default_name(&dirs).ok_or_else(|| {
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
        specs.push(ModelSpec { name, id: FIRST_ID + i as u32, dirs, spec: dir.to_string() });
    }
    Ok(specs)
}

/// The last component of each directory (of its absolute form for `.` or `..`), joined by '+'.
fn default_name(dirs: &[PathBuf]) -> Option<String> {
    let name = |dir: &PathBuf| {
        let named = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        named.or_else(|| dir.canonicalize().ok()?.file_name().map(|n| n.to_string_lossy().into_owned()))
    };
    dirs.iter().map(name).collect::<Option<Vec<_>>>().map(|names| names.join("+"))
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
        let got: Vec<_> = specs.iter().map(|s| (s.name.as_str(), s.id, s.spec.as_str())).collect();
        assert_eq!(got, [("toy", 100, "runs/toy"), ("fr", 101, "runs/toy-luong/"), ("a", 102, "b=c")]);
        assert_eq!(specs[1].dirs, [PathBuf::from("runs/toy-luong/")]);
    }

    #[test]
    fn an_ensemble_is_served_under_its_members_names_unless_named() {
        let specs = parse(&flags(&["runs/a+other/b/", "x=runs/a+runs/c"])).unwrap();
        assert_eq!(specs[0].name, "a+b");
        assert_eq!(specs[0].dirs, [PathBuf::from("runs/a"), PathBuf::from("other/b/")]);
        assert_eq!((specs[1].name.as_str(), specs[1].id), ("x", 101));
        assert_eq!(specs[1].dirs, [PathBuf::from("runs/a"), PathBuf::from("runs/c")]);
    }

    #[test]
    fn empty_members_repeated_and_empty_names_are_refused() {
        let cases = [
            (vec!["a++b"], "--model a++b: a++b: member 2 of the ensemble is empty"),
            (vec!["x=a+"], "--model x=a+: a+: member 2 of the ensemble is empty"),
            (vec!["a+b", "x=c", "a+b"], "a model named \"a+b\" is already served"),
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
