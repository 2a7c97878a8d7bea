//! `nmt bench --json` on a tiny synthetic corpus: it runs end to end and its one stdout line is the
//! JSON object with the five figures, all positive. (Speed itself is never asserted.)

use std::process::Command;

const NMT: &str = env!("CARGO_BIN_EXE_nmt");

/// Writes `train.de`, `train.en` and `test_2016_flickr.de` of generated sentences into a temp directory:
/// a handful of made-up words, each used often enough to enter the benchmark's vocabulary (min count 2).
fn synthetic_corpus() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
    let sentence = |i: usize, offset: usize| -> String {
        let n = 2 + i % 5;
        let mut s: Vec<&str> = (0..n).map(|k| words[(i * 3 + k * 5 + offset) % words.len()]).collect();
        s.push(if i.is_multiple_of(2) { "." } else { "!" });
        s.join(" ") + "\n"
    };
    let lines = |n: usize, offset: usize| -> String { (0..n).map(|i| sentence(i, offset)).collect() };
    std::fs::write(dir.path().join("train.de"), lines(40, 0)).unwrap();
    std::fs::write(dir.path().join("train.en"), lines(40, 1)).unwrap();
    std::fs::write(dir.path().join("test_2016_flickr.de"), lines(7, 2)).unwrap();
    dir
}

#[test]
fn bench_json_prints_one_line_with_the_five_positive_figures() {
    let data = synthetic_corpus();
    let out = Command::new(NMT)
        .args(["--threads", "1", "--device", "cpu", "bench", "--data"])
        .arg(data.path())
        .args(["--steps", "2", "--emb", "8", "--hidden", "8", "--batch", "4", "--max-len", "3", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout must be exactly the JSON line, got:\n{stdout}");
    let json: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let object = json.as_object().unwrap();
    let keys = [
        "train_tokens_per_s",
        "greedy_b1_sentences_per_s",
        "greedy_b128_sentences_per_s",
        "peak_rss_mb",
        "mm_bound_fraction",
    ];
    assert_eq!(object.len(), keys.len(), "unexpected keys in {json}");
    for key in keys {
        let value = object.get(key).and_then(|v| v.as_f64());
        assert!(value.is_some_and(|v| v > 0.0 && v.is_finite()), "{key} is not a positive number in {json}");
    }
}

#[test]
fn bench_with_a_closed_stdout_ends_quietly() {
    use std::process::Stdio;
    let data = synthetic_corpus();
    let mut child = Command::new(NMT)
        .args(["--threads", "1", "--device", "cpu", "bench", "--data"])
        .arg(data.path())
        .args(["--steps", "2", "--emb", "8", "--hidden", "8", "--batch", "4", "--max-len", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the first line is printed, so that printing it fails.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "bench printed on stderr:\n{err}");
}
