//! `nmt translate`'s output on the toy test set, greedy and beam 5, is byte-for-byte the reference
//! output committed beside a small committed model (`tests/fixtures/toy-model/`). The reference was made
//! before the engine restructuring; from here on a change to the decoding path may move outputs only by
//! float rounding, and a change here must say why. One thread, CPU, so the computation is repeatable.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toy-model").join(rel)
}

fn translate(extra: &[&str]) -> String {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/toy-en-fr/test.en");
    let out = Command::new(env!("CARGO_BIN_EXE_nmt"))
        .args(["--threads", "1", "--device", "cpu", "translate", "--model"])
        .arg(fixture(""))
        .arg("--input")
        .arg(&input)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn check(extra: &[&str], reference: &str) {
    let expected = std::fs::read_to_string(fixture(reference)).unwrap();
    let got = translate(extra);
    assert_eq!(expected.lines().count(), 500, "{reference} must hold the 500 test lines");
    for (i, (e, g)) in expected.lines().zip(got.lines()).enumerate() {
        assert_eq!(g, e, "line {} of {reference} differs", i + 1);
    }
    assert_eq!(got, expected, "{reference}: the whole output differs (line count or final newline)");
}

#[test]
fn greedy_output_on_the_toy_test_set_is_the_reference_byte_for_byte() {
    check(&[], "test.greedy.fr");
}

#[test]
fn beam_5_output_with_3_best_and_scores_is_the_reference_byte_for_byte() {
    check(&["--beam", "5", "--n-best", "3"], "test.beam5.nbest3.fr");
}
