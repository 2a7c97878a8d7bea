//! A training run killed with SIGKILL at any moment leaves every `best`/`last` that exists loadable, and
//! `--resume` after a crash is never blocked by the directory lock; while a run lives, a second
//! `nmt train` into the same directory refuses without writing anything.
mod cli_support;

use cli_support::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

/// Validation (so `best` and `last` are written) at every step: most moments fall near a checkpoint write.
const SETTINGS: &[&str] = &["train.valid_every=1", "train.max_steps=100000", "train.max_epochs=0", "train.patience=0"];

/// SplitMix64: the kill moments are random but the same on every run of the test.
struct Moments(u64);

impl Moments {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    }
}

fn spawn_training(ws: &Workspace, out: &str, resume: bool) -> Child {
    let mut cmd = if resume {
        let mut c = ws.nmt(&["train", "--out", out, "--resume", "--log-every", "1"]);
        for s in SETTINGS {
            c.args(["--set", s]);
        }
        c
    } else {
        ws.train_cmd(out, SETTINGS)
    };
    cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Reads the child's stderr until `pred` has matched `n` lines (or the stream ends). → the lines read.
fn read_until(child: &mut Child, n: usize, pred: impl Fn(&str) -> bool) -> Vec<String> {
    let mut lines = BufReader::new(child.stderr.as_mut().unwrap()).lines();
    let (mut seen, mut read) = (0, Vec::new());
    while seen < n {
        let Some(Ok(line)) = lines.next() else { break };
        if pred(&line) {
            seen += 1;
        }
        read.push(line);
    }
    read
}

fn sigkill(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sigkill_at_five_seeded_moments_leaves_loadable_checkpoints_and_resume_is_never_blocked() {
    let ws = Workspace::new(100);
    let dir = ws.path("run");
    let mut moments = Moments(20_240_601);
    let mut kills_with_last = 0;
    for k in 0..5 {
        let resume = dir.join("last.safetensors").exists();
        if !resume && dir.join("best.safetensors").exists() {
            // Killed between the first `best` and the first `last`: nothing to resume, and a new run
            // refuses to overwrite that `best` rather than losing it silently.
            let err = fails(&mut ws.train_cmd("run", &["train.max_steps=1"]));
            assert!(err.contains("cannot be resumed"), "{err}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let mut child = spawn_training(&ws, "run", resume);
        let (n, delay_ms) = (1 + moments.next(30) as usize, moments.next(40));
        let read = read_until(&mut child, n, |_| true);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        sigkill(&mut child);
        for which in ["best", "last"] {
            if dir.join(format!("{which}.safetensors")).exists() {
                loads(&ws, &dir, which).unwrap_or_else(|e| {
                    panic!("kill {k} (after line {n} + {delay_ms} ms): {which} does not load: {e}\n{read:?}")
                });
            }
        }
        kills_with_last += dir.join("last.safetensors").exists() as usize;
    }
    assert!(kills_with_last >= 3, "the moments should mostly fall after the first checkpoint");
    // After the last kill: --resume takes the lock at once, continues, and clears the killed writes' temp files.
    if dir.join("last.safetensors").exists() {
        ok(&mut ws.nmt(&["train", "--out", "run", "--resume", "--set", "train.max_steps=1"]));
        assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
        loads(&ws, &dir, "last").unwrap();
    }
}

#[test]
fn a_second_train_into_the_same_directory_refuses_while_the_first_lives_and_resume_works_after_a_crash() {
    let ws = Workspace::new(100);
    let mut first = spawn_training(&ws, "run", false);
    // Two validations printed: the first `last` is on disk.
    read_until(&mut first, 2, |l| l.starts_with("valid step"));
    let config = std::fs::read(ws.path("run/config.toml")).unwrap();
    let err = fails(&mut ws.train_cmd("run", &["train.max_steps=2"]));
    assert!(err.contains("another `nmt train`") && err.contains("lock"), "{err}");
    let err = fails(&mut ws.nmt(&["train", "--out", "run", "--resume"]));
    assert!(err.contains("another `nmt train`") && err.contains("lock"), "{err}");
    assert_eq!(std::fs::read(ws.path("run/config.toml")).unwrap(), config, "the refused run wrote into the directory");
    assert!(first.try_wait().unwrap().is_none(), "the first run must still be alive");
    sigkill(&mut first);
    // The kernel released the lock with the process.
    ok(&mut ws.nmt(&["train", "--out", "run", "--resume", "--set", "train.max_steps=1"]));
    loads(&ws, &ws.path("run"), "last").unwrap();
    loads(&ws, &ws.path("run"), "best").unwrap();
}
