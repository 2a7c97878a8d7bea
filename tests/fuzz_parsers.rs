//! Property tests of the parsers that read user files: the corpus reader, the config loader (files and
//! `--set` strings), the `--attention-json` reader and the model-directory loader. On random and mutated
//! input they never panic: every failure is an `Err` value. (A short run: 64–200 cases per parser.)
use nmt::attention_json::{read_jsonl, AttentionRecord};
use nmt::checkpoint::{self, Which};
use nmt::config::Config;
use nmt::data::corpus::{filter_pairs, read_pairs, read_text_lines, PairReader, Source};
use nmt::data::tokenizer::{Kind, Spec, Tokenizer};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};
use std::path::{Path, PathBuf};

/// A deterministic runner of `cases` cases (or `NMT_FUZZ_CASES` for a long run, with a random seed then).
/// No regression files are written into the source tree; a failure prints the minimal input.
fn runner(cases: u32) -> TestRunner {
    let long = std::env::var("NMT_FUZZ_CASES").ok().and_then(|v| v.parse().ok());
    let config = RunnerConfig { cases: long.unwrap_or(cases), failure_persistence: None, ..RunnerConfig::default() };
    match long {
        Some(_) => TestRunner::new(config),
        None => TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha)),
    }
}

/// Bytes that look like text often enough to reach deep into the readers: separators, CR, BOM pieces,
/// NUL, invalid UTF-8, multi-byte characters, and arbitrary bytes.
fn texty_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![&b"a"[..], b"word ", b"\n", b"\t", b"\r\n", b" ", b"\xEF\xBB\xBF", b"\xFF\xFE", b"\0", b"\xC3\xA9", b"\xE2\x82", b"\xFF", b"."]).prop_map(|b| b.to_vec()),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn corpus_reader_returns_values_never_panics_on_random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    runner(200)
        .run(&(texty_bytes(120), texty_bytes(120)), |(a, b)| {
            let (src, tgt) = (write(dir.path(), "c.src", &a), write(dir.path(), "c.tgt", &b));
            let tsv = write(dir.path(), "c.tsv", &a);
            if let Ok(lines) = read_text_lines(&src) {
                prop_assert!(lines.iter().all(|l| !l.contains('\n') && !l.contains('\0')));
                prop_assert!(std::str::from_utf8(&a).is_ok());
            }
            match read_pairs(&Source::Aligned { src: src.clone(), tgt }) {
                Ok(pairs) => prop_assert_eq!(pairs.len(), read_text_lines(&src).unwrap().len()),
                Err(e) => prop_assert!(e.to_string().contains("c.src") || e.to_string().contains("c.tgt"), "{}", e),
            }
            if let Ok(pairs) = read_pairs(&Source::Tsv(tsv)) {
                prop_assert!(pairs.iter().all(|p| !p.src.contains('\t') && !p.tgt.contains('\t')));
            }
            let src2 = dir.path().join("c.src");
            let _ =
                PairReader::open(&Source::Aligned { src: src2.clone(), tgt: src2 }).and_then(|r| filter_pairs(r, 5));
            Ok(())
        })
        .unwrap();
}

/// TOML-ish text: section headers, known and unknown keys, values of every type, and broken syntax.
fn tomlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "[model]\n",
            "[train]\n",
            "[data]\n",
            "[tokenizers]\n",
            "[model.x]\n",
            "[[model]]\n",
            "hidden_size",
            "emb_size",
            "attention",
            "dropout",
            "lr",
            "max_steps",
            "train",
            "format_version",
            "heads",
            "nope",
            " = ",
            "=",
            "\"",
            "'",
            "\"luong-dot\"",
            "\"multihead\"",
            "1",
            "0",
            "-1",
            "1.5",
            "1e30",
            "nan",
            "inf",
            "99999999999999999999",
            "true",
            "[1, 2]",
            "{ a = 1 }",
            "\n",
            "#",
            ".",
            " ",
            "é",
            "\0",
            "1979-05-27",
        ])
        .prop_map(String::from),
        "[a-z_.=\\[\\]\" 0-9\n]{0,8}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

#[test]
fn config_loader_returns_values_never_panics_on_random_toml_text() {
    let dir = tempfile::tempdir().unwrap();
    runner(200)
        .run(&tomlish(), |text| {
            let path = write(dir.path(), "c.toml", text.as_bytes());
            if let Ok(cfg) = Config::load(&path, &[]) {
                prop_assert!(cfg.validate().is_ok());
            }
            let _ = Config::from_toml_str(&text, &path);
            Ok(())
        })
        .unwrap();
}

#[test]
fn config_overrides_return_values_never_panic_on_random_set_strings() {
    let keys: Vec<String> =
        nmt::config::valid_keys().into_iter().chain(["model".into(), "".into(), "a.b.c".into()]).collect();
    let spec = (
        prop::sample::select(keys),
        prop::sample::select(vec!["", "=", "=="]),
        prop_oneof!["[ -~]{0,12}", tomlish(), "\\PC{0,6}"],
    )
        .prop_map(|(k, eq, v)| format!("{k}{eq}{v}"));
    runner(200)
        .run(&prop::collection::vec(spec, 1..4), |sets| {
            if let Ok(cfg) = Config::from_overrides(&sets) {
                prop_assert!(cfg.validate().is_ok());
                // What was accepted survives the model directory's round trip.
                let text = cfg.to_toml_string().unwrap();
                prop_assert_eq!(Config::from_toml_str(&text, Path::new("x")).unwrap(), cfg);
            }
            Ok(())
        })
        .unwrap();
}

fn sample_record() -> AttentionRecord {
    AttentionRecord {
        line: 0,
        source_text: "le chat".into(),
        translation: "the cat".into(),
        source: vec!["▁le".into(), "▁chat".into(), "</s>".into()],
        target: vec!["▁the".into(), "▁cat".into(), "</s>".into()],
        weights: vec![vec![0.8, 0.1, 0.1], vec![0.1, 0.8, 0.1], vec![0.2, 0.2, 0.6]],
        head_weights: Some(vec![vec![vec![1.0, 0.0, 0.0]; 3]; 2]),
        alignment: None,
    }
}

/// A valid record line with random byte edits (replace, insert, delete).
fn mutated_record() -> impl Strategy<Value = Vec<u8>> {
    let line = sample_record().to_json_line().into_bytes();
    let n = line.len();
    let edit = (0..n, any::<u8>(), 0..3u8);
    prop::collection::vec(edit, 0..6).prop_map(move |edits| {
        let mut b = line.clone();
        for (at, byte, op) in edits {
            let at = at.min(b.len().saturating_sub(1));
            match op {
                0 if !b.is_empty() => b[at] = byte,
                1 => b.insert(at, byte),
                _ if !b.is_empty() => {
                    b.remove(at);
                }
                _ => {}
            }
        }
        b
    })
}

#[test]
fn attention_json_reader_returns_values_never_panics_on_random_and_mutated_lines() {
    let dir = tempfile::tempdir().unwrap();
    let lines = prop::collection::vec(prop_oneof![3 => mutated_record(), 1 => texty_bytes(40)], 0..4);
    runner(200)
        .run(&lines, |lines| {
            let path = write(dir.path(), "a.jsonl", &lines.join(&b'\n'));
            if let Ok(records) = read_jsonl(&path) {
                prop_assert!(records.iter().all(|r| r.validate().is_ok()));
            }
            Ok(())
        })
        .unwrap();
}

/// A tiny but complete model directory written through the library: config, tokenizers, best weights.
fn model_dir() -> tempfile::TempDir {
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let lines = ["the cat sat on the mat", "a dog ran in the park", "the dog and the cat"];
    let spec = Spec { kind: Kind::Bpe, vocab_size: 40, min_frequency: 1, lowercase: false };
    let tok = Tokenizer::train(&lines, &spec).unwrap();
    let mut cfg = Config::from_overrides(&["model.emb_size=8".into(), "model.hidden_size=8".into()]).unwrap();
    checkpoint::write_dir_meta(dir.path(), &mut cfg, &tok, &tok).unwrap();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let v = tok.vocab_size() as i64;
    let _model = nmt::model::Seq2Seq::new(&vs.root(), &cfg.model, v, v);
    checkpoint::save_weights(&dir.path().join(checkpoint::BEST), &vs, &[], None).unwrap();
    checkpoint::load(dir.path(), Which::Best, tch::Device::Cpu).unwrap();
    dir
}

#[test]
fn model_loader_returns_values_never_panics_on_truncated_or_bit_flipped_weights() {
    let dir = model_dir();
    let path = dir.path().join(checkpoint::BEST);
    let good = std::fs::read(&path).unwrap();
    let header = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize + 8;
    // Cut anywhere, or flip bits — mostly in the header (length and JSON), where the structure lives.
    let damage = prop_oneof![
        (0..good.len()).prop_map(|cut| (Some(cut), vec![])),
        prop::collection::vec((0..header, 0..8u8), 1..4).prop_map(|f| (None, f)),
        prop::collection::vec((0..good.len(), 0..8u8), 1..4).prop_map(|f| (None, f)),
    ];
    runner(100)
        .run(&damage, |(cut, flips)| {
            let mut bytes = good.clone();
            if let Some(c) = cut {
                bytes.truncate(c);
            }
            for (at, bit) in flips {
                bytes[at] ^= 1 << bit;
            }
            std::fs::write(&path, &bytes).unwrap();
            if let Err(e) = checkpoint::load(dir.path(), Which::Best, tch::Device::Cpu) {
                prop_assert!(e.to_string().contains("best.safetensors"), "{}", e);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn model_loader_returns_values_never_panics_on_random_or_mutated_config_toml() {
    let dir = model_dir();
    let path = dir.path().join(checkpoint::CONFIG_FILE);
    let good = std::fs::read_to_string(&path).unwrap();
    // Whole random texts, or the real config with one line replaced by a random one.
    let text = prop_oneof![
        tomlish(),
        (0..good.lines().count(), tomlish()).prop_map({
            let good = good.clone();
            move |(at, line)| {
                let mut lines: Vec<String> = good.lines().map(String::from).collect();
                lines[at] = line;
                lines.join("\n")
            }
        }),
    ];
    runner(64)
        .run(&text, |text| {
            std::fs::write(&path, &text).unwrap();
            let _ = checkpoint::load(dir.path(), Which::Best, tch::Device::Cpu);
            Ok(())
        })
        .unwrap();
}
