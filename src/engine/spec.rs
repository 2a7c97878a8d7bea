//! A model SPEC as users write it wherever a model is named: a directory, or `DIR+DIR+…`, an ensemble
//! of directories ([`Engine::load_ensemble`](super::Engine::load_ensemble)).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The member directories of `spec`: `DIR` alone, or each of `DIR+DIR+…` in order. A spec that is an
/// existing directory is taken whole, so a directory whose name holds `+` stays one model. An empty
/// member (`a++b`, `a+`, `+a`) is refused, naming `flag` (how the caller's user gave the spec).
pub fn ensemble_members(spec: &str, flag: &str) -> Result<Vec<PathBuf>> {
    if spec.is_empty() {
        return Err(Error::Usage(format!("{flag}: the model directory is empty")));
    }
    if !spec.contains('+') || Path::new(spec).is_dir() {
        return Ok(vec![PathBuf::from(spec)]);
    }
    let parts: Vec<&str> = spec.split('+').collect();
    if let Some(i) = parts.iter().position(|p| p.is_empty()) {
        return Err(Error::Usage(format!(
            "{flag} {spec}: member {} of the ensemble is empty; write an ensemble as DIR+DIR+… with no empty \
             member",
            i + 1
        )));
    }
    Ok(parts.into_iter().map(PathBuf::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_is_one_directory_or_an_ensemble_without_empty_members() {
        assert_eq!(ensemble_members("runs/toy", "--model").unwrap(), [PathBuf::from("runs/toy")]);
        let two = ensemble_members("runs/a+runs/b", "--model").unwrap();
        assert_eq!(two, [PathBuf::from("runs/a"), PathBuf::from("runs/b")]);
        for (spec, member) in [("a++b", 2), ("a+", 2), ("+a", 1)] {
            let msg = ensemble_members(spec, "--model").unwrap_err().to_string();
            assert!(msg.contains(&format!("--model {spec}: member {member} of the ensemble is empty")), "{msg}");
        }
        assert!(ensemble_members("", "--model").unwrap_err().to_string().contains("--model"));
    }

    #[test]
    fn an_existing_directory_named_with_a_plus_is_one_model() {
        let dir = std::env::temp_dir().join(format!("nmt-spec-{}", std::process::id()));
        let plus = dir.join("a+b");
        std::fs::create_dir_all(&plus).unwrap();
        let spec = plus.to_str().unwrap();
        let got = ensemble_members(spec, "--model");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got.unwrap(), [plus]);
    }
}
