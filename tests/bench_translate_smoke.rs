//! scripts/bench-translate.sh on the committed toy model and a few toy lines (NMT_BENCH_INPUT), one
//! round: it runs end to end and prints its table — both sides of each of the three cases with positive
//! rates, the ratio on nmt's row, and no differing lines (the port decodes as nmt does). A smoke test of
//! the script only: the benchmark itself is never a test, and speed is never asserted.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn bench_translate_prints_both_sides_of_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let toy = std::fs::read_to_string(repo("corpora/toy-en-fr/test.en")).unwrap();
    let input = dir.path().join("input.en");
    std::fs::write(&input, toy.lines().take(6).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let out = Command::new("bash")
        .arg(repo("scripts/bench-translate.sh"))
        .arg(repo("tests/fixtures/toy-model"))
        .args(["--rounds", "1"])
        .env("NMT_BIN", env!("CARGO_BIN_EXE_nmt"))
        .env("NMT_BENCH_INPUT", &input)
        .env("NMT_BENCH_B1_LINES", "2")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the script failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for case in ["greedy-b1", "greedy-b64", "beam5-b64"] {
        for side in ["nmt", "port"] {
            let row: Vec<&str> = stdout
                .lines()
                .find(|l| l.split_whitespace().take(2).eq([case, side]))
                .unwrap_or_else(|| panic!("no {case} {side} row in:\n{stdout}"))
                .split_whitespace()
                .collect();
            let rate: f64 = row[2].parse().unwrap_or_else(|_| panic!("{case} {side}: sentences/s {:?}", row[2]));
            assert!(rate > 0.0, "{case} {side}: {rate} sentences/s");
            if side == "nmt" {
                let ratio: f64 = row[4].parse().unwrap_or_else(|_| panic!("{case}: ratio {:?}", row[4]));
                assert!(ratio > 0.0, "{case}: ratio {ratio}");
                assert_eq!(row[7], "0", "{case}: lines differ between nmt and the port:\n{stdout}");
            }
        }
    }
}
