//! `decode.toml`: the decoding defaults that travel with a model directory — which weights and length
//! penalty greedy search and beam search use, the beam size, and which of the two a user gets when
//! asking for neither. Its own file, outside `config.toml` and its hashes: choosing how to decode
//! (`nmt train` writes a default, the Multi30k recipe its choice on `val`) never touches what built the
//! model.
//!
//! ```toml
//! default = "beam"          # "greedy" or "beam": the search when no beam size is asked for
//!
//! [greedy]
//! checkpoint = "averaged"   # best | last | averaged
//! steps = [4994, 5207]      # averaged only: the snapshot steps averaged.safetensors must average
//! length_penalty = 1.0
//!
//! [beam]
//! checkpoint = "last"
//! length_penalty = 1.0
//! beam = 5
//! ```
//!
//! Every key has a default (greedy and beam 5 with `best` and length penalty 1.0, greedy the default):
//! a directory without the file decodes as it did before the file existed. Errors name the file, the
//! line and the key; an unknown key gets the closest valid ones suggested.

use super::{read_metadata, snapshot_step, Which, AVERAGED, DECODE_FILE};
use crate::config::{did_you_mean, line_of};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The search a model decodes with when a caller asks for no beam size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Search {
    #[default]
    Greedy,
    Beam,
}

/// The defaults of one search (`[greedy]` or `[beam]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchDefaults {
    /// The weights this search decodes with.
    pub checkpoint: Which,
    /// With `checkpoint = "averaged"`: the snapshot steps `averaged.safetensors` averages (checked when
    /// it is loaded for this search); empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<usize>,
    /// GNMT length-penalty exponent α ≥ 0.
    pub length_penalty: f64,
    /// Beam size (≥ 2), `[beam]` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beam: Option<usize>,
}

impl Default for SearchDefaults {
    fn default() -> Self {
        SearchDefaults { checkpoint: Which::Best, steps: Vec::new(), length_penalty: 1.0, beam: None }
    }
}

/// The whole of `decode.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeDefaults {
    pub default: Search,
    pub greedy: SearchDefaults,
    pub beam: SearchDefaults,
}

impl Default for DecodeDefaults {
    fn default() -> Self {
        DecodeDefaults {
            default: Search::Greedy,
            greedy: SearchDefaults::default(),
            beam: SearchDefaults { beam: Some(DEFAULT_BEAM), ..SearchDefaults::default() },
        }
    }
}

/// The beam size of `[beam]` when the file leaves it out.
pub const DEFAULT_BEAM: usize = 5;

/// Every key `decode.toml` may hold, dotted.
const KEYS: [&str; 8] = [
    "default",
    "greedy.checkpoint",
    "greedy.steps",
    "greedy.length_penalty",
    "beam.checkpoint",
    "beam.steps",
    "beam.length_penalty",
    "beam.beam",
];

impl DecodeDefaults {
    /// The `decode.toml` of model directory `dir`; `None` when it has none.
    pub fn read(dir: &Path) -> Result<Option<DecodeDefaults>> {
        let path = dir.join(DECODE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => DecodeDefaults::parse(&text, &path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Parses the text of a `decode.toml` read from `path` (named in errors, with the line).
    pub fn parse(text: &str, path: &Path) -> Result<DecodeDefaults> {
        let lines = key_lines(text, path)?;
        let at = |key: &str, msg: String| Error::data(path, lines.get(key).copied().unwrap_or(0), msg);
        let unknown =
            lines.iter().filter(|(k, _)| !KEYS.contains(&k.as_str()) && !["greedy", "beam"].contains(&k.as_str()));
        if let Some((key, _)) = unknown.min_by_key(|(_, line)| **line) {
            let valid: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
            let hint = did_you_mean(key, &valid);
            return Err(at(key, format!("no such key {key}{hint}; valid keys: {}", KEYS.join(", "))));
        }
        let d: DecodeDefaults = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            Error::data(path, line, e.message().to_string())
        })?;
        for (name, s) in [("greedy", &d.greedy), ("beam", &d.beam)] {
            let key = |field: &str| format!("{name}.{field}");
            if !s.length_penalty.is_finite() || s.length_penalty < 0.0 {
                let k = key("length_penalty");
                return Err(at(&k, format!("{k} must be a number ≥ 0, found {}", s.length_penalty)));
            }
            match (s.checkpoint, s.steps.is_empty()) {
                (Which::Averaged, true) => {
                    let k = key("checkpoint");
                    return Err(at(
                        &k,
                        format!("{k} = \"averaged\" needs {name}.steps, the snapshot steps it averages"),
                    ));
                }
                (Which::Best | Which::Last, false) => {
                    let k = key("steps");
                    return Err(at(&k, format!("{k} goes with {name}.checkpoint = \"averaged\" only")));
                }
                _ => {}
            }
        }
        match d.beam.beam {
            Some(b) if b < 2 => {
                Err(at("beam.beam", format!("beam.beam must be ≥ 2 (greedy search is [greedy]), found {b}")))
            }
            _ => {
                Ok(DecodeDefaults { beam: SearchDefaults { beam: d.beam.beam.or(Some(DEFAULT_BEAM)), ..d.beam }, ..d })
            }
        }
    }

    /// The file's text.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Serialize { what: "decode.toml", source: e.into() })
    }

    /// Writes `decode.toml` into model directory `dir`, atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join(DECODE_FILE), self.to_toml_string()?.as_bytes())
    }

    /// The section a search of beam size `beam` takes its defaults from: `[greedy]` for 1, `[beam]` above.
    pub fn section(&self, beam: usize) -> &SearchDefaults {
        if beam > 1 {
            &self.beam
        } else {
            &self.greedy
        }
    }

    /// The beam size of the default search.
    pub fn default_beam(&self) -> usize {
        match self.default {
            Search::Greedy => 1,
            Search::Beam => self.beam.beam.unwrap_or(DEFAULT_BEAM),
        }
    }

    /// Checks that `averaged.safetensors` of `dir` averages the snapshot steps `section` names (its
    /// metadata `nmt.averaged_from` lists the files `nmt average` read); a section of another checkpoint
    /// passes. The error names both lists.
    pub fn check_averaged(&self, section: &SearchDefaults, dir: &Path) -> Result<()> {
        if section.checkpoint != Which::Averaged {
            return Ok(());
        }
        let name = if std::ptr::eq(section, &self.beam) { "beam" } else { "greedy" };
        let path = dir.join(AVERAGED);
        let meta = read_metadata(&path)?;
        let from = meta.get("nmt.averaged_from").map_or("", String::as_str);
        let mut steps: Vec<Option<usize>> = from.split(',').filter(|f| !f.is_empty()).map(snapshot_step).collect();
        steps.sort();
        let mut wanted: Vec<Option<usize>> = section.steps.iter().copied().map(Some).collect();
        wanted.sort();
        if steps != wanted {
            let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
            return Err(Error::model(
                dir,
                format!(
                    "{DECODE_FILE} says [{name}] uses averaged steps [{}], but {AVERAGED} averages {} \
                     (nmt.averaged_from); run `nmt average --model DIR --last K` for those steps or fix {DECODE_FILE}",
                    list(&section.steps),
                    if from.is_empty() { "no listed files".to_string() } else { from.to_string() }
                ),
            ));
        }
        Ok(())
    }
}

/// The dotted keys of a TOML text (`section`, `section.field`, top-level `key`) → their 1-based lines.
fn key_lines(text: &str, path: &Path) -> Result<HashMap<String, usize>> {
    let doc = toml::de::DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        Error::data(path, line, e.message().to_string())
    })?;
    let mut lines = HashMap::new();
    for (key, value) in doc.get_ref() {
        let top = key.get_ref().to_string();
        lines.insert(top.clone(), line_of(text, key.span().start));
        if let toml::de::DeValue::Table(fields) = value.get_ref() {
            for (field, _) in fields {
                lines.insert(format!("{top}.{}", field.get_ref()), line_of(text, field.span().start));
            }
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        DecodeDefaults::parse(text, Path::new("m/decode.toml")).unwrap_err().to_string()
    }

    #[test]
    fn the_defaults_round_trip_and_an_empty_file_is_the_defaults() {
        let d = DecodeDefaults::default();
        let text = d.to_toml_string().unwrap();
        assert_eq!(DecodeDefaults::parse(&text, Path::new("d")).unwrap(), d);
        assert_eq!(DecodeDefaults::parse("", Path::new("d")).unwrap(), d);
        assert_eq!((d.default_beam(), d.section(1).checkpoint, d.section(5).beam), (1, Which::Best, Some(5)));
    }

    #[test]
    fn a_full_file_is_read() {
        let text = "default = \"beam\"\n[greedy]\ncheckpoint = \"averaged\"\nsteps = [20, 10]\nlength_penalty = 0.5\n\
                    [beam]\ncheckpoint = \"last\"\nlength_penalty = 1.2\nbeam = 4\n";
        let d = DecodeDefaults::parse(text, Path::new("d")).unwrap();
        assert_eq!(d.default_beam(), 4);
        assert_eq!(
            (d.greedy.checkpoint, d.greedy.steps.as_slice(), d.greedy.length_penalty),
            (Which::Averaged, &[20, 10][..], 0.5)
        );
        assert_eq!((d.beam.checkpoint, d.beam.length_penalty), (Which::Last, 1.2));
    }

    #[test]
    fn an_unknown_key_names_file_line_and_the_closest_key() {
        let e = err("[greedy]\ncheckpoint = \"best\"\nlenght_penalty = 1.0\n");
        let want = "m/decode.toml:3: no such key greedy.lenght_penalty (did you mean greedy.length_penalty or";
        assert!(e.starts_with(want), "{e}");
        let e = err("[greedy]\nbeam = 3\n");
        assert!(e.starts_with("m/decode.toml:2: no such key greedy.beam (did you mean"), "{e}");
        let e = err("defualt = \"beam\"\n");
        assert!(e.contains("decode.toml:1: no such key defualt (did you mean default?)"), "{e}");
    }

    #[test]
    fn a_bad_value_names_file_line_and_key() {
        let e = err("[beam]\nbeam = 5\ncheckpoint = \"bset\"\n");
        assert!(e.starts_with("m/decode.toml:3:") && e.contains("bset") && e.contains("best"), "{e}");
        let e = err("[greedy]\nlength_penalty = -1\n");
        assert!(e.starts_with("m/decode.toml:2: greedy.length_penalty must be a number ≥ 0"), "{e}");
        let e = err("[beam]\n\nbeam = 1\n");
        assert!(e.starts_with("m/decode.toml:3: beam.beam must be ≥ 2"), "{e}");
        let e = err("[beam]\ncheckpoint = \"averaged\"\n");
        assert!(e.starts_with("m/decode.toml:2: beam.checkpoint = \"averaged\" needs beam.steps"), "{e}");
        let e = err("[greedy]\nsteps = [3]\n");
        assert!(e.starts_with("m/decode.toml:2: greedy.steps goes with"), "{e}");
        let e = err("default = \"sampling\"\n");
        assert!(e.starts_with("m/decode.toml:1:") && e.contains("sampling"), "{e}");
    }
}
