//! `nmt translate --stream` as a co-process: another process keeps its stdin open, writes one line,
//! waits for that line's translation (with a timeout, so a translator that waits for the end of input
//! fails the test instead of hanging it), and so on; the replies must be the batch output of the same
//! lines, n-best lines included. Also: lines sent all at once, `--input` (a file and a named pipe), a
//! read error after good lines, and the flags `--stream` refuses. Uses the committed toy model.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toy-model")
}

/// `nmt --threads 1 --device cpu translate --model TOY-MODEL ARGS...`
fn translate_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nmt"));
    cmd.args(["--threads", "1", "--device", "cpu", "translate", "--model"]).arg(model()).args(args);
    cmd
}

/// Test sentences of the toy corpus with an empty line among them (its translation is an empty line).
fn sentences() -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/toy-en-fr/test.en")).unwrap();
    let mut lines: Vec<String> = text.lines().take(6).map(str::to_owned).collect();
    lines.insert(3, String::new());
    lines
}

/// The batch output (no --stream, stdin a pipe read to its end) for `lines`, one string per line.
fn batch(lines: &[String], args: &[&str]) -> Vec<String> {
    let mut child = translate_cmd(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "batch translate failed");
    let got: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(got.len(), lines.len(), "batch output: one line per input line");
    got
}

/// `nmt translate --stream ARGS...` with its stdin and stdout kept as pipes; stdout lines arrive on a
/// channel from a reader thread so that each reply can be awaited with a timeout.
struct CoProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
}

impl CoProcess {
    fn spawn(args: &[&str]) -> CoProcess {
        let mut child = translate_cmd(&[&["--stream"], args].concat())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, replies) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        CoProcess { child, stdin, replies }
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn reply(&self, what: &str) -> String {
        match self.replies.recv_timeout(TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("no reply to {what} within {TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("stdout closed before the reply to {what}"),
        }
    }

    /// Closes stdin and waits (with the timeout) for the exit; returns the status and stderr, and checks
    /// that no reply came that was not asked for.
    fn finish(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit within {TIMEOUT:?} of closing stdin");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        match self.replies.recv_timeout(TIMEOUT) {
            Err(RecvTimeoutError::Disconnected) => {}
            other => panic!("expected the end of stdout after the last reply, got {other:?}"),
        }
        (status, stderr)
    }
}

/// Sends `lines` one at a time, each only after the previous reply, and returns the replies.
fn converse(args: &[&str], lines: &[String]) -> Vec<String> {
    let mut co = CoProcess::spawn(args);
    let mut replies = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        co.send(format!("{line}\n").as_bytes());
        replies.push(co.reply(&format!("line {} {line:?}", i + 1)));
    }
    let (status, stderr) = co.finish();
    assert!(status.success(), "exit {status}: {stderr}");
    replies
}

#[test]
fn a_line_at_a_time_gets_each_reply_before_the_next_line_and_the_batch_output() {
    let lines = sentences();
    assert_eq!(converse(&[], &lines), batch(&lines, &[]));
}

#[test]
fn n_best_replies_are_the_batch_n_best_lines() {
    let lines = sentences();
    let args = ["--beam", "5", "--n-best", "3"];
    let replies = converse(&args, &lines);
    assert_eq!(replies, batch(&lines, &args));
    assert_eq!(replies[0].split('\t').count(), 6, "3 texts and 3 scores: {:?}", replies[0]);
}

#[test]
fn lines_sent_at_once_are_translated_as_in_batch() {
    // 50 lines with --batch-size 4: the lines waiting in the input are translated in groups.
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/toy-en-fr/test.en")).unwrap();
    let lines: Vec<String> = text.lines().take(50).map(str::to_owned).collect();
    let mut co = CoProcess::spawn(&["--batch-size", "4"]);
    co.send(lines.iter().map(|l| format!("{l}\n")).collect::<String>().as_bytes());
    let replies: Vec<String> = (1..=lines.len()).map(|i| co.reply(&format!("line {i}"))).collect();
    let (status, stderr) = co.finish();
    assert!(status.success(), "exit {status}: {stderr}");
    assert_eq!(replies, batch(&lines, &[]));
}

#[test]
fn input_file_is_streamed_too_including_a_named_pipe() {
    let lines = sentences();
    let expected = batch(&lines, &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.txt");
    std::fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let out = translate_cmd(&["--stream", "--input"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().collect::<Vec<_>>(), expected);

    // A named pipe as --input: each reply comes while the writer still holds the pipe open.
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let co = CoProcess::spawn(&["--input", fifo.to_str().unwrap()]);
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    for (i, line) in lines.iter().enumerate() {
        writeln!(writer, "{line}").unwrap();
        writer.flush().unwrap();
        assert_eq!(co.reply(&format!("fifo line {}", i + 1)), expected[i]);
    }
    drop(writer);
    let (status, stderr) = co.finish();
    assert!(status.success(), "exit {status}: {stderr}");
}

#[test]
fn a_read_error_names_stdin_and_the_line_after_the_lines_before_it_are_translated() {
    let lines = sentences();
    let expected = batch(&lines[..2], &[]);
    let mut co = CoProcess::spawn(&[]);
    co.send(format!("{}\n", lines[0]).as_bytes());
    assert_eq!(co.reply("line 1"), expected[0]);
    // Line 2 and the bad line 3 in one write (so usually one read): line 2 is still translated.
    let mut bytes = format!("{}\n", lines[1]).into_bytes();
    bytes.extend_from_slice(b"bad \xff\n");
    co.send(&bytes);
    assert_eq!(co.reply("line 2"), expected[1]);
    let (status, stderr) = co.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("<stdin>:3: invalid UTF-8"), "{stderr}");
}

#[test]
fn stream_refuses_the_outputs_written_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--output", "--attention-json", "--heatmaps"] {
        let target = dir.path().join("x");
        let out: Output = translate_cmd(&["--stream", flag]).arg(&target).stdin(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--stream {flag} must be refused");
        assert!(stderr.contains("'--stream'") && stderr.contains(&format!("'{flag}")), "{flag}: {stderr}");
        assert!(!target.exists(), "{flag}: nothing may be written");
    }
}
