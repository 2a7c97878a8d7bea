//! `--precision int8` through the binary: on the committed toy model (`tests/fixtures/toy-model/`, whose
//! matrices the int8 kernel takes) it translates the toy test set nearly as fp32 does, and the
//! combinations it cannot serve are refused with a message naming the flag.
//!
//! The bar for "nearly": at least 95% of the lines identical and BLEU within 0.3 of fp32 (the target
//! set for the recipe model). Int8 weights (each off by at most half its row's scale) and bf16
//! activations move the logits by about 0.5% of their size, so greedy search changes its choice only at
//! near-ties between the top two tokens — rare, but each such flip rewrites the rest of its sentence.
//! At least one line must differ, which shows that the int8 path ran at all.
mod cli_support;

use cli_support::*;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toy-model")
}

/// The toy test set translated by the fixture model with `extra` flags → the lines.
fn translate(extra: &[&str]) -> Vec<String> {
    let out = ok(std::process::Command::new(NMT)
        .args(["--threads", "1", "--device", "cpu", "translate", "--model"])
        .arg(fixture())
        .arg("--input")
        .arg(toy_dir().join("test.en"))
        .args(extra));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn int8_greedy_at_batch_1_is_nearly_the_fp32_output() {
    let refs: Vec<String> =
        std::fs::read_to_string(toy_dir().join("test.fr")).unwrap().lines().map(str::to_string).collect();
    let fp32 = translate(&["--batch-size", "1"]);
    let int8 = translate(&["--batch-size", "1", "--precision", "int8"]);
    assert_eq!((fp32.len(), int8.len()), (500, 500));
    let same = fp32.iter().zip(&int8).filter(|(a, b)| a == b).count();
    assert!(same >= 475, "only {same} of 500 lines are the fp32 ones");
    assert!(same < 500, "int8 gave exactly the fp32 output: its path did not run");
    let bleu = |hyps: &[String]| nmt::metrics::bleu(hyps, &refs, false).unwrap().score;
    let (b32, b8) = (bleu(&fp32), bleu(&int8));
    assert!((b32 - b8).abs() <= 0.3, "BLEU fp32 {b32:.2}, int8 {b8:.2}");
}

#[test]
fn int8_beam_search_is_nearly_the_fp32_output() {
    let fp32 = translate(&["--batch-size", "1", "--beam", "5"]);
    let int8 = translate(&["--batch-size", "1", "--beam", "5", "--precision", "int8"]);
    assert_eq!((fp32.len(), int8.len()), (500, 500));
    let same = fp32.iter().zip(&int8).filter(|(a, b)| a == b).count();
    assert!(same >= 475, "only {same} of 500 lines are the fp32 ones");
}

#[test]
fn int8_is_refused_where_it_cannot_run() {
    let ws = Workspace::new(60);
    // Sizes whose decoder matrices have no in-features that are a multiple of 16.
    ws.train("odd", &["model.emb_size=12", "model.hidden_size=20", "train.max_steps=2", "train.valid_every=2"]);
    let model = ws.path("odd");
    let msg = fails(ws.nmt(&["translate", "--precision", "int8", "--model"]).arg(&model));
    assert_mentions(&msg, &["precision int8", "multiple of 16"]);
    let msg = fails(ws.nmt(&["eval", "--precision", "int8", "--model"]).arg(&model));
    assert_mentions(&msg, &["precision int8", "multiple of 16"]);
    // On a machine without CUDA `--device cuda` is refused first; with CUDA, int8 is (CPU only).
    let msg = fails(
        std::process::Command::new(NMT)
            .args(["--device", "cuda", "translate", "--precision", "int8", "--model"])
            .arg(fixture()),
    );
    assert!(msg.to_lowercase().contains("cuda"), "{msg}");
    let msg = fails(ws.nmt(&["translate", "--precision", "int4", "--model"]).arg(&model));
    assert_mentions(&msg, &["--precision", "f32", "int8"]);
}
