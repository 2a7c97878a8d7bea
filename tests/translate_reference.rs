//! `nmt translate`'s output on the toy test set, greedy and beam 5, is the reference output committed
//! beside a small committed model (`tests/fixtures/toy-model/`): every translation byte for byte, and
//! every printed n-best score within one unit of its last digit (1e-4). The reference was made before the
//! engine restructuring; from here on a change to the decoding path may move outputs only by float
//! rounding, and a change here must say why. One thread, CPU, so the computation is repeatable on one
//! machine; the scores' last digit is not repeatable across CPUs (MKL picks its sgemm kernel by the CPU's
//! vector width: line 89's second score prints -2.6370 on one machine of this project's kind and -2.6369
//! on another with the same binary), hence the tolerance on scores and none on text.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toy-model").join(rel)
}

fn translate(threads: &str, extra: &[&str]) -> String {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/toy-en-fr/test.en");
    let out = Command::new(env!("CARGO_BIN_EXE_nmt"))
        .args(["--threads", threads, "--device", "cpu", "translate", "--model"])
        .arg(fixture(""))
        .arg("--input")
        .arg(&input)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn check(threads: &str, extra: &[&str], reference: &str) {
    let expected = std::fs::read_to_string(fixture(reference)).unwrap();
    let got = translate(threads, extra);
    assert_eq!(expected.lines().count(), 500, "{reference} must hold the 500 test lines");
    assert_eq!(got.lines().count(), 500, "{reference}: one output line per input line");
    assert!(got.ends_with('\n'), "{reference}: the output ends with a newline");
    for (i, (e, g)) in expected.lines().zip(got.lines()).enumerate() {
        // An n-best line is `text<TAB>score<TAB>text<TAB>score…`: texts exact, scores within 1e-4.
        let (e, g): (Vec<&str>, Vec<&str>) = (e.split('\t').collect(), g.split('\t').collect());
        assert_eq!(g.len(), e.len(), "line {} of {reference}: {g:?} vs {e:?}", i + 1);
        for (k, (ef, gf)) in e.iter().zip(&g).enumerate() {
            if k % 2 == 1 {
                let (ev, gv): (f64, f64) = (ef.parse().unwrap(), gf.parse().unwrap());
                assert!((ev - gv).abs() <= 1.01e-4, "line {} of {reference}: score {gv} vs {ev}", i + 1);
            } else {
                assert_eq!(gf, ef, "line {} of {reference}: the text differs", i + 1);
            }
        }
    }
}

#[test]
fn greedy_output_on_the_toy_test_set_is_the_reference_byte_for_byte() {
    check("1", &[], "test.greedy.fr");
}

#[test]
fn beam_5_output_with_3_best_is_the_reference_text_with_scores_to_their_last_digit() {
    check("1", &["--beam", "5", "--n-best", "3"], "test.beam5.nbest3.fr");
}

/// With 2 threads the 500 lines' 8 batches decode two at a time, each on one thread (see
/// `src/engine/parallel.rs`): the same outputs, in the same order.
#[test]
fn batches_decoded_side_by_side_on_two_threads_give_the_reference() {
    check("2", &[], "test.greedy.fr");
    check("2", &["--beam", "5", "--n-best", "3"], "test.beam5.nbest3.fr");
}
