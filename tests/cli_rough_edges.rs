//! A newcomer's rough edges (issue 17): a closed stdout ends a command quietly; an error names the path
//! and what was expected there; counts must be ≥ 1 and say so by flag; nothing is silently accepted
//! (heatmap's two modes at once, out-of-range or missing attention records, a reused gallery directory, a
//! different corpus in the way, a non-empty `train --out`); a failed run does not leave an empty model
//! directory behind; `eval --lowercase` labels its four lines.
mod cli_support;

use cli_support::*;
use std::process::{Command, Output, Stdio};

/// Runs `cmd` with `input` on stdin and its stdout closed right after the start, before it can print:
/// every print then fails with a broken pipe (reading a line first would let a short output fit the pipe's
/// buffer, and the test could not fail). → its output (stdout empty).
fn with_closed_stdout(cmd: &mut Command, input: &str) -> Output {
    run_with_stdin(cmd, input, true)
}

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    let ws = trained();
    let cases: &[(&[&str], &str)] = &[
        (&["info", "--model", "m"], ""),
        (&["info", "--model", "m", "--json"], ""),
        (&["score", "--hyp", "test.fr", "--ref", "test.fr"], ""),
        (&["score", "--hyp", "test.fr", "--ref", "test.fr", "--json"], ""),
        (&["eval", "--model", "m", "--src", "test.en", "--ref", "test.fr", "--lowercase"], ""),
        (&["translate", "--model", "m"], "the small doctor carries the red book.\n"),
    ];
    for (args, input) in cases {
        let out = with_closed_stdout(&mut ws.nmt(args), input);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}:\n{err}");
        assert!(err.is_empty() && !err.contains("panicked"), "{args:?} printed on stderr:\n{err}");
    }
    // A reader that takes a line and leaves: the same quiet end.
    let mut child = ws.nmt(&["info", "--model", "m"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
    assert!(first.starts_with("model directory: "), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_file_where_a_directory_is_expected_is_named_with_what_was_expected() {
    let ws = trained();
    std::fs::write(ws.path("afile"), b"not a directory\n").unwrap();
    std::fs::write(ws.path("one.txt"), b"the red car.\n").unwrap();
    ws.translate("m", &["--attention-json", "attn.jsonl"], "the red car.\n");
    let train = ws.train_cmd("afile", &["train.max_steps=1"]);
    let cases: Vec<(Command, &[&str])> = vec![
        (train, &["afile", "not a directory (expected a model directory)"]),
        (ws.nmt(&["corpus", "toy", "--out", "afile"]), &["afile", "not a directory (expected a corpus directory)"]),
        (
            ws.nmt(&["heatmap", "--from-json", "attn.jsonl", "--out-dir", "afile"]),
            &["afile", "not a directory (expected a directory for the heatmap gallery)"],
        ),
        (
            ws.nmt(&["translate", "--model", "m", "--heatmaps", "afile", "--input", "one.txt"]),
            &["afile", "not a directory (expected a directory for the heatmap gallery)"],
        ),
        (ws.nmt(&["info", "--model", "afile"]), &["model afile: not a directory (expected a model directory)"]),
        (ws.nmt(&["average", "--model", "afile"]), &["model afile: not a directory (expected a model directory)"]),
    ];
    for (mut cmd, needles) in cases {
        let err = exits_with(&mut cmd, 1);
        assert_mentions(&err, needles);
        assert!(!err.contains("os error 17") && !err.contains("no such model directory"), "{err}");
    }
    assert_eq!(std::fs::read(ws.path("afile")).unwrap(), b"not a directory\n");
}

#[test]
fn a_directory_where_a_file_or_model_directory_is_expected_is_named() {
    let ws = trained();
    std::fs::create_dir(ws.path("plain")).unwrap();
    std::fs::write(ws.path("plain/notes.txt"), b"x").unwrap();
    let err = exits_with(&mut ws.nmt(&["heatmap", "--from-json", "plain", "--out-dir", "g"]), 1);
    assert_mentions(&err, &["plain: is a directory; expected an --attention-json file"]);
    assert!(!err.contains("os error 21"), "{err}");
    for dir in ["plain", "empty"] {
        let _ = std::fs::create_dir(ws.path(dir));
        let err = exits_with(&mut ws.nmt(&["average", "--model", dir]), 1);
        assert_mentions(&err, &[dir, "not a model directory: config.toml is missing"]);
        assert!(!err.contains("snapshots"), "{err}");
    }
}

#[test]
fn attention_json_errors_name_the_line_and_what_is_wrong() {
    let ws = trained();
    ws.translate("m", &["--attention-json", "attn.jsonl"], "the red car.\n");
    let good = std::fs::read_to_string(ws.path("attn.jsonl")).unwrap().trim_end().to_string();
    let mut record: serde_json::Value = serde_json::from_str(&good).unwrap();
    record["weights"][1][0] = serde_json::json!(1.5);
    let out_of_range = record.to_string();
    record["weights"][1][0] = serde_json::json!(1.0005);
    let within_tolerance = record.to_string();
    record["weights"][1][0] = serde_json::Value::Null;
    let null = record.to_string();
    let files: &[(&str, String)] = &[
        ("notjson.jsonl", format!("{good}\nnope, not json\n")),
        ("range.jsonl", format!("{good}\n{out_of_range}\n")),
        ("empty.jsonl", String::new()),
        ("blank.jsonl", "\n  \n".into()),
        ("fine.jsonl", format!("{within_tolerance}\n{null}\n")),
    ];
    for (name, text) in files {
        std::fs::write(ws.path(name), text).unwrap();
    }
    let cases: &[(&str, &[&str])] = &[
        ("notjson.jsonl", &["notjson.jsonl:2:", "the line is not JSON", "column 2"]),
        ("range.jsonl", &["range.jsonl:2:", "weights row 1 holds 1.5 at column 0", "[0, 1]"]),
        ("empty.jsonl", &["empty.jsonl:", "no attention record", "--attention-json"]),
        ("blank.jsonl", &["blank.jsonl:", "no attention record"]),
    ];
    for (file, needles) in cases {
        let err = exits_with(&mut ws.nmt(&["heatmap", "--from-json", file, "--out-dir", "g"]), 1);
        assert_mentions(&err, needles);
    }
    ok(&mut ws.nmt(&["heatmap", "--from-json", "fine.jsonl", "--out-dir", "g"]));
}

#[test]
fn counts_say_which_flag_must_be_at_least_one() {
    let ws = trained();
    let decode: &[(&[&str], &str, &str)] = &[
        (&["--batch-size", "0"], "--batch-size must be ≥ 1", "--max-len"),
        (&["--max-len", "0"], "--max-len must be ≥ 1", "--batch-size"),
        (&["--beam", "-2"], "--beam -2: must be ≥ 1", "--n-best"),
    ];
    for (args, message, other) in decode {
        let mut cmd = ws.nmt(&[&["translate", "--model", "m"][..], args].concat());
        let out = with_stdin(&mut cmd, "hello\n");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}:\n{err}");
        assert_mentions(&err, &[message]);
        assert!(!err.contains(other), "{args:?} also names {other}:\n{err}");
    }
    // Refused while parsing the command line (clap's exit code 2), before anything runs.
    let mut threads = Command::new(NMT);
    threads.args(["--threads", "0", "info", "--model", "m"]).current_dir(ws.dir.path());
    for (mut cmd, flag) in [(threads, "--threads"), (ws.nmt(&["average", "--model", "m", "--last", "0"]), "--last")] {
        let err = exits_with(&mut cmd, 2);
        assert_mentions(&err, &[flag, "must be ≥ 1"]);
        assert!(!err.contains("18446744073709551615"), "{err}");
    }
}

#[test]
fn heatmap_refuses_a_model_sentence_together_with_from_json() {
    let ws = trained();
    ws.translate("m", &["--attention-json", "attn.jsonl"], "the red car.\n");
    let both = ["heatmap", "--model", "m", "--text", "the red car.", "--out", "x.png", "--from-json", "attn.jsonl"];
    let err = exits_with(&mut ws.nmt(&[&both[..], &["--out-dir", "g"]].concat()), 2);
    assert_mentions(&err, &["--from-json", "cannot be used with"]);
    let err =
        exits_with(&mut ws.nmt(&["heatmap", "--model", "m", "--text", "hi", "--out", "x.png", "--out-dir", "g"]), 2);
    assert_mentions(&err, &["--out-dir", "cannot be used with"]);
    assert_mentions(&exits_with(&mut ws.nmt(&["heatmap", "--out-dir", "g"]), 2), &["--from-json"]);
    assert!(!ws.path("x.png").exists() && !ws.path("g").exists());
}

/// The sorted file names in `dir`.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_gallery_replaces_the_previous_one_and_counts_the_images_it_drew() {
    let ws = trained();
    // Three lines, the second empty: three records, two images.
    ws.translate("m", &["--attention-json", "attn.jsonl"], "the red car.\n\nthe small doctor.\n");
    let expected = ["0001.png", "0003.png", "index.html", "keep.txt", "photo-0009.png"];
    for dir in ["g", "t"] {
        std::fs::create_dir(ws.path(dir)).unwrap();
        for old in ["0002.png", "0009.png", "0012.svg", "index.html", "keep.txt", "photo-0009.png"] {
            std::fs::write(ws.path(dir).join(old), b"from before").unwrap();
        }
    }
    let out = ok(&mut ws.nmt(&["heatmap", "--from-json", "attn.jsonl", "--out-dir", "g"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_mentions(&err, &["drew 2 images into g; 1 empty line has no image"]);
    assert!(!err.contains("drew 3"), "{err}");
    assert_eq!(listing(&ws.path("g")), expected);
    std::fs::write(ws.path("lines.txt"), "the red car.\n\nthe small doctor.\n").unwrap();
    ok(&mut ws.nmt(&["translate", "--model", "m", "--input", "lines.txt", "--heatmaps", "t"]));
    assert_eq!(listing(&ws.path("t")), expected);
    for dir in ["g", "t"] {
        assert_eq!(std::fs::read(ws.path(dir).join("keep.txt")).unwrap(), b"from before");
        assert!(std::fs::read_to_string(ws.path(dir).join("index.html")).unwrap().contains("0003.png"));
    }
}

#[test]
fn corpus_toy_refuses_to_overwrite_a_different_corpus_without_force() {
    let ws = Workspace::new(1);
    ok(&mut ws.nmt(&["corpus", "toy", "--out", "c", "--seed", "1"]));
    let before = std::fs::read(ws.path("c/train.en")).unwrap();
    ok(&mut ws.nmt(&["corpus", "toy", "--out", "c", "--seed", "1"]));
    let err = exits_with(&mut ws.nmt(&["corpus", "toy", "--out", "c", "--seed", "2"]), 1);
    assert_mentions(&err, &["c holds a different corpus", "train.en", "test.fr", "--force"]);
    assert_eq!(std::fs::read(ws.path("c/train.en")).unwrap(), before, "the refused run wrote");
    ok(&mut ws.nmt(&["corpus", "toy", "--out", "c", "--seed", "2", "--force"]));
    assert_ne!(std::fs::read(ws.path("c/train.en")).unwrap(), before);
}

#[test]
fn corpus_planted_refuses_a_bad_position_and_a_different_corpus_without_force() {
    let ws = Workspace::new(1);
    let err = exits_with(&mut ws.nmt(&["corpus", "planted", "--out", "p", "--position", "5"]), 1);
    assert_mentions(&err, &["--position 5", "0 to 4", "0-based"]);
    assert!(!ws.path("p/train.src").exists(), "the refused run wrote");
    ok(&mut ws.nmt(&["corpus", "planted", "--out", "p"]));
    let before = std::fs::read(ws.path("p/train.src")).unwrap();
    ok(&mut ws.nmt(&["corpus", "planted", "--out", "p", "--position", "3", "--seed", "1"]));
    let err = exits_with(&mut ws.nmt(&["corpus", "planted", "--out", "p", "--position", "0"]), 1);
    assert_mentions(&err, &["p holds a different corpus", "train.tgt", "config.toml", "--force"]);
    assert_eq!(std::fs::read(ws.path("p/train.src")).unwrap(), before, "the refused run wrote");
    ok(&mut ws.nmt(&["corpus", "planted", "--out", "p", "--position", "0", "--force"]));
}

#[test]
fn train_out_takes_a_new_or_empty_directory_or_a_model_to_resume() {
    let ws = Workspace::new(100);
    std::fs::create_dir(ws.path("notes")).unwrap();
    std::fs::write(ws.path("notes/todo.txt"), b"x").unwrap();
    let err = exits_with(&mut ws.train_cmd("notes", &["train.max_steps=1"]), 1);
    assert_mentions(&err, &["notes", "not empty and not a model directory", "todo.txt"]);
    assert_eq!(listing(&ws.path("notes")), ["todo.txt"]);
    let err = exits_with(ws.train_cmd("notes", &["train.max_steps=1"]).arg("--resume"), 1);
    assert_mentions(&err, &["notes", "not a model directory"]);
    // An empty directory, or one with only what a run killed before writing its config leaves, is fine.
    std::fs::create_dir(ws.path("empty")).unwrap();
    std::fs::write(ws.path("empty/.lock"), b"").unwrap();
    std::fs::write(ws.path("empty/.tokenizer.src.json.4242.tmp"), b"{").unwrap();
    ws.train("empty", &["train.max_steps=1"]);
    assert!(ws.path("empty/last.safetensors").exists());
    assert!(!ws.path("empty/.tokenizer.src.json.4242.tmp").exists());
}

#[test]
fn a_failed_train_removes_only_the_directory_it_created_and_saved_nothing_in() {
    let ws = Workspace::new(100);
    // Fails reading the corpus, after the directory was made.
    let err = exits_with(&mut ws.train_cmd("gone", &["data.train=missing"]), 1);
    assert_mentions(&err, &["missing.en"]);
    assert!(!ws.path("gone").exists(), "left {:?}", listing(&ws.path("gone")));
    // Diverges after config and tokenizers were written, before any weights: removed as well.
    let diverge = ["train.lr=1e30", "train.max_steps=40", "train.valid_every=1000"];
    assert_mentions(&exits_with(&mut ws.train_cmd("gone", &diverge), 1), &["training:", "became"]);
    assert!(!ws.path("gone").exists(), "left {:?}", listing(&ws.path("gone")));
    // A directory that was there before stays, however the run failed.
    std::fs::create_dir(ws.path("mine")).unwrap();
    exits_with(&mut ws.train_cmd("mine", &["data.train=missing"]), 1);
    assert!(ws.path("mine").is_dir());
    // Weights saved before the failure keep the directory: under a file-size limit that `best` fits but
    // `last` (weights and Adam's moments, about 3× `best`) does not, the first validation saves `best`,
    // then fails writing `last`.
    ws.train("sizes", &["train.max_steps=1"]);
    let size = |f: &str| std::fs::metadata(ws.path("sizes").join(f)).unwrap().len();
    let (best, last) = (size("best.safetensors"), size("last.safetensors"));
    assert!(last > 2 * best + 4096 && size("tokenizer.src.json") < best && size("tokenizer.tgt.json") < best);
    let mut args = vec!["train", "--config", "config.toml", "--out", "kept", "--set", "train.max_steps=1"];
    for s in TINY {
        args.extend(["--set", s]);
    }
    let out = with_file_limit(&ws, (best / 512 + last / 1024) / 2, &args);
    assert_eq!(out.status.code(), Some(1));
    assert_mentions(&String::from_utf8_lossy(&out.stderr), &["last.safetensors", "File too large"]);
    assert!(ws.path("kept/best.safetensors").exists() && ws.path("kept/config.toml").exists());
}

#[test]
fn eval_lowercase_prints_the_cased_then_the_lowercased_scores_each_labelled() {
    let ws = trained();
    let out = ok(&mut ws.nmt(&[
        "eval",
        "--model",
        "m",
        "--src",
        "test.en",
        "--ref",
        "test.fr",
        "--output",
        "hyp.txt",
        "--lowercase",
    ]));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let read =
        |f: &str| -> Vec<String> { std::fs::read_to_string(ws.path(f)).unwrap().lines().map(String::from).collect() };
    let (hyps, refs) = (read("hyp.txt"), read("test.fr"));
    let expected: Vec<String> = [(false, "cased"), (true, "lowercased")]
        .iter()
        .flat_map(|&(lc, label)| {
            [
                format!("{} ({label})", nmt::metrics::bleu(&hyps, &refs, lc).unwrap()),
                format!("{} ({label})", nmt::metrics::chrf(&hyps, &refs, lc).unwrap()),
            ]
        })
        .collect();
    assert_eq!(lines, expected, "{text}");
    assert!(lines[0].starts_with("BLEU = ") && lines[1].starts_with("chrF2 = "), "{text}");
    assert!(lines[2].starts_with("BLEU = ") && lines[3].starts_with("chrF2 = "), "{text}");
}
