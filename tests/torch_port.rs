//! The PyTorch port of a model directory, `scripts/torch_nmt.py`, translates as `nmt translate` does:
//! the same greedy lines on the committed toy model (Bahdanau wiring) and on a tiny model trained here
//! with the other wiring (Luong, multihead, tied embeddings, two encoder layers), and beam-5 lines that
//! may differ only where float rounding breaks a near tie.
//!
//! It needs the Python of scripts/setup.sh's virtual environment (torch, tokenizers, safetensors): the
//! `NMT_PYTHON` that `.cargo/config.toml` sets, else `$HOME/.cache/nmt/venv/bin/python`. Without it the
//! test fails, saying so: the port is part of what the suite checks.

mod cli_support;

use cli_support::{ok_with_stdin, toy_dir, Workspace, NMT};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The virtual environment's Python; fails the test when it is not there.
fn python() -> PathBuf {
    let py = match std::env::var_os("NMT_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(&std::env::var_os("HOME").expect("HOME is not set")).join(".cache/nmt/venv/bin/python"),
    };
    assert!(
        py.is_file(),
        "no Python at {} to run scripts/torch_nmt.py: run scripts/setup.sh (it makes the virtual environment \
         with torch, tokenizers and safetensors) or point NMT_PYTHON at a Python that has them",
        py.display()
    );
    py
}

/// `PYTHON scripts/torch_nmt.py MODEL --threads 1 ARGS` over `input` → its output lines.
fn port(python: &Path, model: &Path, args: &[&str], input: &str) -> Vec<String> {
    let mut cmd = Command::new(python);
    cmd.arg(repo("scripts/torch_nmt.py")).arg(model).args(["--threads", "1"]).args(args);
    lines(ok_with_stdin(&mut cmd, input).stdout)
}

/// `nmt --threads 1 --device cpu translate --model MODEL ARGS` over `input` → its output lines.
fn nmt(model: &Path, args: &[&str], input: &str) -> Vec<String> {
    let mut cmd = Command::new(NMT);
    cmd.args(["--threads", "1", "--device", "cpu", "translate", "--model"]).arg(model).args(args);
    lines(ok_with_stdin(&mut cmd, input).stdout)
}

/// `nmt` and the port on the same model, arguments and input, run side by side → (nmt's, the port's) lines.
fn both(py: &Path, model: &Path, args: &[&str], input: &str) -> (Vec<String>, Vec<String>) {
    std::thread::scope(|s| {
        let torch = s.spawn(|| port(py, model, args, input));
        let rust = nmt(model, args, input);
        (rust, torch.join().expect("the port's thread panicked"))
    })
}

fn lines(stdout: Vec<u8>) -> Vec<String> {
    String::from_utf8(stdout).unwrap().lines().map(str::to_owned).collect()
}

/// The input lines on which the two outputs differ, each with both translations.
fn differences(input: &str, rust: &[String], torch: &[String]) -> Vec<String> {
    assert_eq!(rust.len(), input.lines().count(), "nmt printed one line per input line");
    assert_eq!(torch.len(), rust.len(), "the port printed one line per input line");
    input
        .lines()
        .zip(rust.iter().zip(torch))
        .enumerate()
        .filter(|(_, (_, (r, t)))| r != t)
        .map(|(i, (src, (r, t)))| format!("line {}: {src:?}\n  nmt:   {r:?}\n  torch: {t:?}", i + 1))
        .collect()
}

#[test]
fn the_port_translates_the_toy_model_as_nmt_does() {
    let py = python();
    let model = repo("tests/fixtures/toy-model");
    let input = std::fs::read_to_string(toy_dir().join("test.en")).unwrap();
    let n = input.lines().count();

    let (rust, torch) = both(&py, &model, &[], &input);
    let diff = differences(&input, &rust, &torch);
    assert!(diff.is_empty(), "greedy: {} of {n} lines differ:\n{}", diff.len(), diff.join("\n"));

    let beam = ["--beam", "5"];
    let (rust, torch) = both(&py, &model, &beam, &input);
    let diff = differences(&input, &rust, &torch);
    println!(
        "beam 5: {} of {n} lines differ{}{}",
        diff.len(),
        if diff.is_empty() { "" } else { ":\n" },
        diff.join("\n")
    );
    assert!(diff.len() * 50 <= n, "beam 5: {} of {n} lines differ (at most 2% may):\n{}", diff.len(), diff.join("\n"));
}

#[test]
fn the_port_translates_a_luong_multihead_tied_two_layer_model_as_nmt_does() {
    let py = python();
    let ws = Workspace::new(200);
    ws.train(
        "m",
        &[
            "train.max_steps=30",
            "model.decoder=luong",
            "model.attention=multihead",
            "model.tied_embeddings=true",
            "model.encoder_layers=2",
        ],
    );
    // Empty and blank lines give empty lines on both sides; `last` also holds the Adam moments.
    let test = std::fs::read_to_string(ws.path("test.en")).unwrap();
    let input = format!("\n   \n{test}");
    let model = ws.path("m");
    let args = ["--checkpoint", "last"];
    let (rust, torch) = both(&py, &model, &args, &input);
    assert_eq!(&rust[..2], ["", ""], "nmt: blank lines translate to empty lines");
    let diff = differences(&input, &rust, &torch);
    assert!(diff.is_empty(), "greedy: {} of {} lines differ:\n{}", diff.len(), rust.len(), diff.join("\n"));
}

#[test]
fn the_port_takes_its_decoding_defaults_from_decode_toml_as_nmt_does() {
    let py = python();
    let ws = Workspace::new(200);
    let model = ws.path("toy-model");
    std::fs::create_dir(&model).unwrap();
    for entry in std::fs::read_dir(repo("tests/fixtures/toy-model")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), model.join(entry.file_name())).unwrap();
    }
    let decode = "default = \"beam\"\n[beam]\nbeam = 3\nlength_penalty = 0.6\n";
    std::fs::write(model.join("decode.toml"), decode).unwrap();
    let input = std::fs::read_to_string(toy_dir().join("test.en")).unwrap();
    let lines: String = input.lines().take(60).map(|l| format!("{l}\n")).collect();

    // No flag: decode.toml's default search (beam 3, α 0.6), the same lines as those flags give.
    let by_file = port(&py, &model, &[], &lines);
    let by_flags = port(&py, &model, &["--beam", "3", "--length-penalty", "0.6"], &lines);
    assert_eq!(by_file, by_flags, "the port reads decode.toml's [beam] section");
    let greedy = port(&py, &model, &["--beam", "1"], &lines);
    assert_ne!(by_file, greedy, "beam 3 with α 0.6 differs from greedy somewhere on 60 lines");
    let rust = nmt(&model, &[], &lines);
    let diff = differences(&lines, &rust, &by_file);
    assert!(diff.len() * 50 <= 60, "decode.toml defaults: {} of 60 lines differ:\n{}", diff.len(), diff.join("\n"));

    // A key nmt refuses, the port refuses too, naming the file and the key.
    std::fs::write(model.join("decode.toml"), "[beam]\nwidth = 3\n").unwrap();
    let mut cmd = Command::new(&py);
    cmd.arg(repo("scripts/torch_nmt.py")).arg(&model);
    let out = cli_support::with_stdin(&mut cmd, "a cat\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("decode.toml") && err.contains("beam.width"), "{err}");
}
