//! Shared by the `cli_*` tests: a small slice of the toy corpus in a temp directory, the built `nmt`
//! binary (always `--threads 1 --device cpu`), tiny-model settings, and checks on what a run printed.
#![allow(dead_code)] // each test file uses a different part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const NMT: &str = env!("CARGO_BIN_EXE_nmt");

/// `--set` values for a model that trains in a fraction of a second.
pub const TINY: &[&str] = &[
    "model.emb_size=16",
    "model.hidden_size=32",
    "data.vocab_size=200",
    "train.batch_size=16",
    "train.valid_bleu_sentences=8",
    "train.valid_samples=1",
];

/// The committed toy corpus.
pub fn toy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/toy-en-fr")
}

/// A temp directory holding the first lines of the toy corpus (`train.*`, `dev.*`, `test.*`) and its config.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// `train_lines` training pairs, 40 dev and 40 test pairs.
    pub fn new(train_lines: usize) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        for (split, n) in [("train", train_lines), ("dev", 40), ("test", 40)] {
            for lang in ["en", "fr"] {
                let text = std::fs::read_to_string(toy_dir().join(format!("{split}.{lang}"))).unwrap();
                let head: String = text.lines().take(n).map(|l| format!("{l}\n")).collect();
                std::fs::write(dir.path().join(format!("{split}.{lang}")), head).unwrap();
            }
        }
        std::fs::copy(toy_dir().join("config.toml"), dir.path().join("config.toml")).unwrap();
        Workspace { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `nmt --threads 1 --device cpu ARGS...`, run in the workspace.
    pub fn nmt(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(NMT);
        cmd.current_dir(self.dir.path()).args(["--threads", "1", "--device", "cpu"]).args(args);
        cmd
    }

    /// The `nmt train` command into `out` with the tiny settings, then `sets` (which win), logging every step.
    pub fn train_cmd(&self, out: &str, sets: &[&str]) -> Command {
        let mut cmd = self.nmt(&["train", "--config", "config.toml", "--out", out, "--log-every", "1"]);
        for s in TINY.iter().chain(sets) {
            cmd.args(["--set", s]);
        }
        cmd
    }

    /// Trains a tiny model into `out`; panics with the output if it fails.
    pub fn train(&self, out: &str, sets: &[&str]) -> Output {
        ok(&mut self.train_cmd(out, sets))
    }

    /// `nmt translate --model DIR ARGS...` with `input` on stdin; → stdout.
    pub fn translate(&self, model: &str, args: &[&str], input: &str) -> String {
        let mut cmd = self.nmt(&["translate", "--model", model]);
        cmd.args(args);
        String::from_utf8(ok_with_stdin(&mut cmd, input).stdout).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails the test if a command's output shows a panic or a backtrace.
pub fn assert_no_panic(out: &Output) {
    let err = text(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "panic in stderr:\n{err}");
}

/// Runs `cmd`; it must succeed without a panic. → its output.
pub fn ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert_no_panic(&out);
    assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out.stderr));
    out
}

/// Runs `cmd` with `input` on stdin; it must succeed without a panic. → its output.
pub fn ok_with_stdin(cmd: &mut Command, input: &str) -> Output {
    let out = with_stdin(cmd, input);
    assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out.stderr));
    out
}

/// Runs `cmd` with `input` on stdin (no panic allowed). → its output.
pub fn with_stdin(cmd: &mut Command, input: &str) -> Output {
    let out = run_with_stdin(cmd, input, false);
    assert_no_panic(&out);
    out
}

/// Runs `cmd` with `input` on stdin; with `close_stdout`, its stdout is closed right after the start, so
/// that every print fails with a broken pipe. → its output.
pub fn run_with_stdin(cmd: &mut Command, input: &str, close_stdout: bool) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    if close_stdout {
        drop(child.stdout.take());
    }
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    // Written from a thread so that a child filling its stdout pipe cannot deadlock the test.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Runs `cmd`; it must fail (exit code ≠ 0) without a panic. → its stderr.
pub fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_no_panic(&out);
    assert!(!out.status.success(), "{cmd:?} succeeded but should have failed:\n{}", text(&out.stderr));
    text(&out.stderr)
}

/// Runs `cmd`; it must exit with `code` without a panic. → its stderr.
pub fn exits_with(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    assert_no_panic(&out);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{cmd:?}:\n{err}");
    err
}

/// `nmt ARGS` under `ulimit -f blocks` (512-byte blocks in POSIX sh), run in the workspace.
pub fn with_file_limit(ws: &Workspace, blocks: u64, args: &[&str]) -> Output {
    let script = format!("ulimit -f {blocks} && exec \"$0\" \"$@\"");
    let out = Command::new("sh")
        .current_dir(ws.dir.path())
        .args(["-c", &script, NMT, "--threads", "1", "--device", "cpu"])
        .args(args)
        .output()
        .unwrap();
    assert_no_panic(&out);
    out
}

/// Asserts that `text` contains every needle.
pub fn assert_mentions(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{n:?} missing from the message:\n{text}");
    }
}

/// A workspace with a tiny trained model in `m` (best and last saved at step 2).
pub fn trained() -> Workspace {
    let ws = Workspace::new(100);
    ws.train("m", &["train.max_steps=2", "train.valid_every=2"]);
    ws
}

/// The records of a `metrics.jsonl` of one `kind` (`train` or `valid`), in file order.
pub fn records(metrics: &Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(metrics)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == kind)
        .collect()
}

/// The `kind: train` records of a `metrics.jsonl`: (step, loss).
pub fn train_losses(metrics: &Path) -> Vec<(u64, f64)> {
    records(metrics, "train").iter().map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap())).collect()
}

/// Whether the checkpoint `which` (`best` or `last`) of `model` loads and translates.
pub fn loads(ws: &Workspace, model: &Path, which: &str) -> Result<(), String> {
    let out = with_stdin(
        &mut ws.nmt(&["translate", "--model", model.to_str().unwrap(), "--checkpoint", which]),
        "the small doctor carries the red book.\n",
    );
    if out.status.success() && text(&out.stdout).lines().count() == 1 {
        Ok(())
    } else {
        Err(text(&out.stderr))
    }
}
