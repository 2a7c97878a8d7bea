//! `nmt::metrics` gives sacreBLEU's numbers: every case of tests/fixtures/sacrebleu.json (written
//! by scripts/sacrebleu_fixtures.py with sacreBLEU itself) is scored and compared, cased and
//! lowercased, BLEU with its statistics and chrF, and the printed lines character for character.

use nmt::metrics::{bleu, chrf, Bleu, Chrf};
use serde::Deserialize;

/// Scores are compared far more tightly than the 0.01 that printing shows: the implementation
/// repeats sacreBLEU's arithmetic, so only the last bits of `exp`/`ln` may differ.
const SCORE_TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    sacrebleu_version: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    hyps: Vec<String>,
    refs: Vec<String>,
    bleu: ExpectedBleu,
    bleu_lc: ExpectedBleu,
    chrf: ExpectedChrf,
    chrf_lc: ExpectedChrf,
}

#[derive(Deserialize)]
struct ExpectedBleu {
    score: f64,
    precisions: [f64; 4],
    bp: f64,
    sys_len: usize,
    ref_len: usize,
    display: String,
}

#[derive(Deserialize)]
struct ExpectedChrf {
    score: f64,
    display: String,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/sacrebleu.json")).expect("tests/fixtures/sacrebleu.json parses")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= SCORE_TOLERANCE
}

/// Differences between `got` and `want`, one line each; empty when they agree.
fn bleu_differences(case: &str, got: &Bleu, want: &ExpectedBleu) -> Vec<String> {
    let mut diffs = Vec::new();
    if !close(got.score, want.score) {
        diffs.push(format!("{case}: score {} != {}", got.score, want.score));
    }
    if !got.precisions.iter().zip(&want.precisions).all(|(&g, &w)| close(g, w)) {
        diffs.push(format!("{case}: precisions {:?} != {:?}", got.precisions, want.precisions));
    }
    if !close(got.bp, want.bp) {
        diffs.push(format!("{case}: bp {} != {}", got.bp, want.bp));
    }
    if (got.sys_len, got.ref_len) != (want.sys_len, want.ref_len) {
        diffs.push(format!(
            "{case}: (sys_len, ref_len) ({}, {}) != ({}, {})",
            got.sys_len, got.ref_len, want.sys_len, want.ref_len
        ));
    }
    diffs
}

fn assert_no_differences(diffs: Vec<String>, version: &str) {
    assert!(diffs.is_empty(), "disagreements with sacreBLEU {version}:\n{}", diffs.join("\n"));
}

#[test]
fn bleu_equals_sacrebleu_cased_and_lowercased_on_every_case() {
    let fx = fixture();
    let mut diffs = Vec::new();
    for case in &fx.cases {
        for (lowercase, want) in [(false, &case.bleu), (true, &case.bleu_lc)] {
            let got = bleu(&case.hyps, &case.refs, lowercase).expect("parallel fixture");
            diffs.extend(bleu_differences(&format!("{} (lowercase={lowercase})", case.name), &got, want));
        }
    }
    assert_no_differences(diffs, &fx.sacrebleu_version);
}

#[test]
fn chrf_equals_sacrebleu_cased_and_lowercased_on_every_case() {
    let fx = fixture();
    let mut diffs = Vec::new();
    for case in &fx.cases {
        for (lowercase, want) in [(false, &case.chrf), (true, &case.chrf_lc)] {
            let got: Chrf = chrf(&case.hyps, &case.refs, lowercase).expect("parallel fixture");
            if !close(got.score, want.score) {
                diffs.push(format!("{} (lowercase={lowercase}): chrF {} != {}", case.name, got.score, want.score));
            }
        }
    }
    assert_no_differences(diffs, &fx.sacrebleu_version);
}

#[test]
fn printed_lines_equal_sacrebleu_lines() {
    let fx = fixture();
    let mut diffs = Vec::new();
    for case in &fx.cases {
        for lowercase in [false, true] {
            let (want_bleu, want_chrf) =
                if lowercase { (&case.bleu_lc, &case.chrf_lc) } else { (&case.bleu, &case.chrf) };
            let got_bleu = bleu(&case.hyps, &case.refs, lowercase).expect("parallel fixture").to_string();
            let got_chrf = chrf(&case.hyps, &case.refs, lowercase).expect("parallel fixture").to_string();
            for (got, want) in [(got_bleu, &want_bleu.display), (got_chrf, &want_chrf.display)] {
                if &got != want {
                    diffs.push(format!("{} (lowercase={lowercase}):\n  got  {got}\n  want {want}", case.name));
                }
            }
        }
    }
    assert_no_differences(diffs, &fx.sacrebleu_version);
}

#[test]
fn fixture_covers_edge_cases_and_corpus_level_scoring() {
    let fx = fixture();
    assert!(fx.cases.len() >= 30, "only {} cases", fx.cases.len());
    assert!(fx.cases.iter().filter(|c| c.hyps.len() >= 50).count() >= 5, "too few corpus-level cases");
    assert!(fx.cases.iter().all(|c| c.hyps.len() == c.refs.len()), "a case is not parallel");
    // The hand-written edge cases the implementation's special paths depend on.
    for name in ["empty_hypothesis", "empty_corpus", "no_matching_ngram", "shorter_than_four_tokens", "html_entities"] {
        assert!(fx.cases.iter().any(|c| c.name == name), "case {name} missing");
    }
}
