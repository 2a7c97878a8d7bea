//! Every user-facing failure of the binary: the message says what is wrong and where (file, line, field),
//! the exit code is not 0, and nothing panics or prints a backtrace. Also the two runtime failures of
//! training — a write error (full disk, simulated with `ulimit -f`) and a non-finite loss — which must
//! leave the previous checkpoints intact.
mod cli_support;

use cli_support::*;
use std::path::Path;

fn write(ws: &Workspace, name: &str, bytes: &[u8]) {
    std::fs::write(ws.path(name), bytes).unwrap();
}

/// `nmt train` on corpus prefix `prefix` (with the tiny settings); → stderr of the failure.
fn train_fails(ws: &Workspace, sets: &[&str]) -> String {
    fails(&mut ws.train_cmd("out", &[&["train.max_steps=2"], sets].concat()))
}

#[test]
fn corpus_errors_name_the_file_the_line_and_what_was_expected() {
    let ws = Workspace::new(20);
    let lines =
        |n: usize| -> Vec<u8> { (0..n).map(|i| format!("sentence number {i}\n")).collect::<String>().into_bytes() };
    write(&ws, "mm.en", &lines(20));
    write(&ws, "mm.fr", &lines(19));
    write(&ws, "utf8.en", b"fine\nbad \xff byte\n");
    write(&ws, "utf8.fr", &lines(2));
    write(&ws, "empty.en", b"");
    write(&ws, "empty.fr", b"");
    std::fs::create_dir(ws.path("dir.en")).unwrap();
    write(&ws, "dir.fr", &lines(2));
    write(&ws, "nul.en", &lines(2));
    write(&ws, "nul.fr", b"one\ntw\0o\n");
    write(&ws, "c.tsv", b"a\tb\nno tab here\n");
    write(&ws, "c2.tsv", b"a\tb\tc\n");
    let cases: &[(&str, &[&str])] = &[
        ("data.train=mm", &["mm.en", "has 20 lines", "mm.fr", "has 19"]),
        ("data.train=utf8", &["utf8.en:2:", "invalid UTF-8"]),
        ("data.train=missing", &["missing.en", "No such file"]),
        ("data.train=empty", &["empty.en", "empty file"]),
        ("data.train=dir", &["dir.en", "is a directory"]),
        ("data.train=nul", &["nul.fr:2:", "NUL byte"]),
        ("data.train=c.tsv", &["c.tsv:2:", "expected SOURCE<TAB>TARGET", "no tab"]),
        ("data.train=c2.tsv", &["c2.tsv:1:", "2 tabs"]),
        ("data.dev=mm", &["mm.en", "has 20 lines", "mm.fr", "has 19"]),
    ];
    for (set, needles) in cases {
        let err = train_fails(&ws, &[set]);
        assert_mentions(&err, needles);
    }
}

#[test]
fn a_bad_dev_corpus_fails_before_anything_is_written() {
    let ws = Workspace::new(20);
    let err = train_fails(&ws, &["data.dev=nowhere"]);
    assert_mentions(&err, &["nowhere.en", "No such file"]);
    assert!(!ws.path("out/config.toml").exists() && !ws.path("out/tokenizer.src.json").exists());
}

#[test]
fn over_long_corpus_lines_are_skipped_for_training_with_a_printed_count() {
    let ws = Workspace::new(40);
    let long = "word ".repeat(20_000); // 100 kB
    for (lang, at) in [("en", 3), ("fr", 7)] {
        let text = std::fs::read_to_string(ws.path(&format!("train.{lang}"))).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[at] = &long;
        write(&ws, &format!("long.{lang}"), lines.iter().map(|l| format!("{l}\n")).collect::<String>().as_bytes());
    }
    let out = ws.train("out", &["data.train=long", "train.max_steps=1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let counts: Vec<&str> = err.lines().filter(|l| l.contains("characters")).collect();
    assert_eq!(counts.len(), 1, "the count is printed once:\n{err}");
    assert_mentions(counts[0], &["skipped", "2 over 20000 characters"]);
    assert_mentions(&err, &["38 train"]);
}

#[test]
fn config_errors_name_the_key_or_field_and_what_is_allowed() {
    let ws = Workspace::new(20);
    write(&ws, "unknown.toml", b"[model]\nhidden_size = 32\nhiden_size = 3\n");
    write(&ws, "type.toml", b"[model]\nhidden_size = \"big\"\n");
    write(&ws, "syntax.toml", b"[model]\nhidden_size = 32\nemb_size = \n");
    write(&ws, "section.toml", b"[modle]\nhidden_size = 32\n");
    let file_cases: &[(&str, &[&str])] = &[
        ("unknown.toml", &["unknown.toml", "hiden_size", "hidden_size", "emb_size"]),
        ("type.toml", &["model.hidden_size", "integer", "big"]),
        ("syntax.toml", &["syntax.toml:3"]),
        ("section.toml", &["modle", "model", "train"]),
        ("missing.toml", &["missing.toml", "No such file"]),
    ];
    for (file, needles) in file_cases {
        let err = fails(&mut ws.nmt(&["train", "--config", file, "--out", "out"]));
        assert_mentions(&err, needles);
    }
    let set_cases: &[(&[&str], &[&str])] = &[
        (&["model.atention=bahdanau"], &["model.atention", "no such field", "model.attention", "train.max_steps"]),
        (&["nofield=1"], &["nofield", "no such field", "valid keys"]),
        (&["model.hidden_size"], &["model.hidden_size", "key=value"]),
        (&["model.hidden_size=abc"], &["model.hidden_size", "integer", "abc"]),
        (&["train.max_epochs=1.5"], &["train.max_epochs", "integer"]),
        (&["data.lowercase=maybe"], &["data.lowercase", "true or false"]),
        (&["model.hidden_size=0"], &["model.hidden_size", "> 0"]),
        (&["model.emb_size=0"], &["model.emb_size", "> 0"]),
        (&["model.dropout=1.5"], &["model.dropout", "1.5", "[0, 1)"]),
        (&["train.lr=-1"], &["train.lr", "positive"]),
        (&["train.label_smoothing=1"], &["train.label_smoothing"]),
        (&["model.attention=cosine"], &["cosine", "bahdanau", "luong-dot", "multihead"]),
        (
            &["model.attention=luong-dot", "model.encoder_hidden_size=100"],
            &["luong-dot", "model.hidden_size", "model.encoder_hidden_size"],
        ),
        (&["model.attention=multihead", "model.heads=5"], &["model.heads", "divide"]),
    ];
    for (sets, needles) in set_cases {
        let mut cmd = ws.nmt(&["train", "--config", "config.toml", "--out", "out"]);
        for s in *sets {
            cmd.args(["--set", s]);
        }
        assert_mentions(&fails(&mut cmd), needles);
    }
    assert!(!ws.path("out/config.toml").exists());
}

#[test]
fn config_errors_say_where_the_value_came_from_and_suggest_keys() {
    let ws = Workspace::new(20);
    write(&ws, "neg.toml", b"[model]\nemb_size = 16\nhidden_size = -3\n");
    write(&ws, "typo.toml", b"[model]\natention = \"bahdanau\"\n");
    write(&ws, "mh.toml", b"[model]\nattention = \"multihead\"\n");
    let cases: &[(&[&str], &[&str], &[&str])] = &[
        (
            &["--set", "model.hidden_size=-3"],
            &["--set model.hidden_size=-3: model.hidden_size must be ≥ 0, found -3"],
            &["defaults", "expected usize"],
        ),
        (&["--config", "neg.toml"], &["neg.toml:3: model.hidden_size must be ≥ 0, found -3"], &[]),
        (
            &["--config", "config.toml", "--set", "model.attention=foo"],
            &["--set model.attention=foo: model.attention", "foo", "bahdanau"],
            &["config.toml"],
        ),
        (
            &["--set", "model.atention=x"],
            &["--set model.atention=x", "no such field", "did you mean model.attention?", "valid keys", "train.seed"],
            &[],
        ),
        (&["--config", "typo.toml"], &["typo.toml:2:", "model.atention", "did you mean model.attention?"], &[]),
        (
            &["--config", "mh.toml", "--set", "model.heads=5"],
            &["model.heads", "divide", "model.heads: --set model.heads=5", "model.attention: mh.toml:2"],
            &[],
        ),
    ];
    for (args, needles, absent) in cases {
        let err = exits_with(ws.nmt(&["train", "--out", "out"]).args(*args), 1);
        assert_mentions(&err, needles);
        for a in *absent {
            assert!(!err.contains(a), "{a:?} in the message of {args:?}:\n{err}");
        }
    }
    assert!(!ws.path("out").exists());
}

/// A copy of the model directory `m` as `name`, changed by `edit`.
fn variant(ws: &Workspace, name: &str, edit: impl FnOnce(&Path)) -> String {
    let dir = ws.path(name);
    std::fs::create_dir(&dir).unwrap();
    for e in std::fs::read_dir(ws.path("m")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    edit(&dir);
    name.to_string()
}

fn translate_fails(ws: &Workspace, args: &[&str], input: &str) -> String {
    let out = with_stdin(&mut ws.nmt(&[&["translate"], args].concat()), input);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn decoding_flag_errors_say_what_is_allowed() {
    let ws = trained();
    for (args, needles) in [
        (&["--beam", "0"][..], &["--beam", "≥ 1"][..]),
        (&["--beam", "2", "--n-best", "3"], &["--n-best 3", "--beam"]),
        (&["--n-best", "0"], &["--n-best 0"]),
        (&["--batch-size", "0"], &["--batch-size"]),
        (&["--length-penalty=-1"], &["--length-penalty"]),
    ] {
        let err = translate_fails(&ws, &[&["--model", "m"], args].concat(), "hello\n");
        assert_mentions(&err, needles);
    }
}

#[test]
fn model_directory_errors_say_which_file_is_wrong_and_how() {
    let ws = trained();
    let best = std::fs::read(ws.path("m/best.safetensors")).unwrap();
    let config = std::fs::read_to_string(ws.path("m/config.toml")).unwrap();
    ws.train("other", &["train.max_steps=1", "data.vocab_size=150"]);
    // A copy of `m` whose config.toml has `from` replaced by `to`.
    let edited = |name: &str, from: &str, to: &str| {
        variant(&ws, name, |d| std::fs::write(d.join("config.toml"), config.replace(from, to)).unwrap())
    };
    let cases: Vec<(String, &[&str])> = vec![
        ("nowhere".into(), &["nowhere", "no such model directory"]),
        (
            variant(&ws, "no-config", |d| std::fs::remove_file(d.join("config.toml")).unwrap()),
            &["config.toml is missing"],
        ),
        (
            variant(&ws, "no-best", |d| std::fs::remove_file(d.join("best.safetensors")).unwrap()),
            &["best.safetensors is missing", "--checkpoint last"],
        ),
        (
            variant(&ws, "no-tok", |d| std::fs::remove_file(d.join("tokenizer.tgt.json")).unwrap()),
            &["tokenizer.tgt.json", "No such file"],
        ),
        (
            variant(&ws, "empty", |d| std::fs::write(d.join("best.safetensors"), b"").unwrap()),
            &["best.safetensors", "truncated or corrupt"],
        ),
        (
            variant(&ws, "truncated", |d| std::fs::write(d.join("best.safetensors"), &best[..best.len() / 2]).unwrap()),
            &["best.safetensors", "truncated or corrupt"],
        ),
        (
            // One bit of one weight: the format itself cannot notice, the checksum does.
            variant(&ws, "bit-flip", |d| {
                let mut b = best.clone();
                let at = b.len() - 10;
                b[at] ^= 0x10;
                std::fs::write(d.join("best.safetensors"), b).unwrap()
            }),
            &["best.safetensors", "checksum"],
        ),
        (
            variant(&ws, "garbage", |d| {
                std::fs::write(d.join("best.safetensors"), b"\xff\xff\xff\xff\xff\xff\xff\x7fjunk").unwrap()
            }),
            &["best.safetensors", "truncated or corrupt"],
        ),
        (
            edited("resized", "hidden_size = 32", "hidden_size = 64"),
            &["best.safetensors", "shape", "[32]", "[64]", "config"],
        ),
        (
            edited("retyped", "attention = \"bahdanau\"", "attention = \"luong-general\""),
            &["best.safetensors", "do not match the config"],
        ),
        (
            variant(&ws, "swapped-tok", |d| {
                std::fs::copy(ws.path("other/tokenizer.src.json"), d.join("tokenizer.src.json")).map(drop).unwrap()
            }),
            &["tokenizer.src.json", "does not match", "sha256"],
        ),
        (edited("newer", "format_version = 1", "format_version = 99"), &["format_version 99", "newer"]),
        (edited("bad-config", "hidden_size = 32", "hidden_size = \"x\""), &["config.toml:", "hidden_size"]),
    ];
    assert!(
        config.contains("hidden_size = 32")
            && config.contains("format_version = 1")
            && config.contains("attention = \"bahdanau\"")
    );
    for (dir, needles) in &cases {
        let err = translate_fails(&ws, &["--model", dir], "hello\n");
        assert_mentions(&err, needles);
        if !["no-config", "truncated", "resized", "swapped-tok"].contains(&dir.as_str()) {
            continue;
        }
        // `info` shows the other checkpoint when only `best` is broken, and says what is wrong with it.
        let info = ws.nmt(&["info", "--model", dir]).output().unwrap();
        assert_no_panic(&info);
        let text =
            String::from_utf8_lossy(if info.status.success() { &info.stdout } else { &info.stderr }).into_owned();
        assert_mentions(&text, needles);
    }
    // A bad `last` is reported when it is asked for, and by --resume.
    let bad_last = variant(&ws, "bad-last", |d| std::fs::write(d.join("last.safetensors"), b"12345678").unwrap());
    assert_mentions(
        &translate_fails(&ws, &["--model", &bad_last, "--checkpoint", "last"], "x\n"),
        &["last.safetensors", "truncated or corrupt"],
    );
    assert_mentions(
        &fails(&mut ws.nmt(&["train", "--out", &bad_last, "--resume"])),
        &["last.safetensors", "truncated or corrupt"],
    );
}

#[test]
fn translation_input_errors_name_the_line() {
    let ws = trained();
    write(&ws, "nul.txt", b"fine\nnot\0fine\n");
    write(&ws, "latin1.txt", b"caf\xe9\n");
    assert_mentions(&translate_fails(&ws, &["--model", "m", "--input", "nul.txt"], ""), &["nul.txt:2:", "NUL byte"]);
    assert_mentions(&translate_fails(&ws, &["--model", "m"], "fine\nnot\0fine\n"), &["stdin:2:", "NUL byte"]);
    assert_mentions(
        &translate_fails(&ws, &["--model", "m", "--input", "latin1.txt"], ""),
        &["latin1.txt:1:", "invalid UTF-8"],
    );
    assert_mentions(
        &translate_fails(&ws, &["--model", "m", "--input", "absent.txt"], ""),
        &["absent.txt", "No such file"],
    );
    let out = ws.nmt(&["translate", "--model", "m", "--output", "no/such/dir/out.txt"]).output().unwrap();
    assert_no_panic(&out);
    write(&ws, "two.txt", b"a\nb\n");
    write(&ws, "three.txt", b"a\nb\nc\n");
    assert_mentions(
        &fails(&mut ws.nmt(&["eval", "--model", "m", "--src", "two.txt", "--ref", "three.txt"])),
        &["two.txt has 2 lines", "three.txt has 3"],
    );
    assert_mentions(
        &fails(&mut ws.nmt(&["score", "--hyp", "two.txt", "--ref", "three.txt"])),
        &["two.txt has 2 lines", "three.txt has 3"],
    );
}

#[test]
fn train_refuses_to_overwrite_a_run_and_resume_needs_one() {
    let ws = trained();
    let last = std::fs::read(ws.path("m/last.safetensors")).unwrap();
    let err = fails(&mut ws.train_cmd("m", &["train.max_steps=1"]));
    assert_mentions(&err, &["already holds a training run", "--resume"]);
    assert_eq!(std::fs::read(ws.path("m/last.safetensors")).unwrap(), last, "the refused run changed last");
    // A run that only got as far as `best` is protected too.
    let only_best = variant(&ws, "only-best", |d| std::fs::remove_file(d.join("last.safetensors")).unwrap());
    assert_mentions(&fails(&mut ws.train_cmd(&only_best, &[])), &["holds the best.safetensors", "cannot be resumed"]);
    assert_mentions(&fails(&mut ws.nmt(&["train", "--out", &only_best, "--resume"])), &["nothing to resume"]);
    assert_mentions(
        &fails(&mut ws.nmt(&["train", "--out", "nowhere", "--resume"])),
        &["nowhere", "no such model directory"],
    );
    let err = fails(&mut ws.nmt(&["train", "--out", "m", "--resume", "--set", "model.hidden_size=64"]));
    assert_mentions(&err, &["--resume", "only train.*", "--set", "model.hidden_size (was 32, now 64)"]);
    // Repeating the original value is not a change: re-running the training command with --resume works.
    ok(&mut ws.nmt(&[
        "train",
        "--out",
        "m",
        "--resume",
        "--set",
        "model.hidden_size=32",
        "--set",
        "train.max_steps=2",
    ]));
    // The same holds for the whole original command, --config included: its train.* fields apply, a
    // changed data.* or model.* field is refused by name.
    let err = fails(ws.train_cmd("m", &["data.vocab_size=99", "model.dropout=0.5"]).arg("--resume"));
    assert_mentions(
        &err,
        &["--resume", "--config config.toml", "data.vocab_size (was", "now 99)", "model.dropout (was"],
    );
    let before = train_losses(&ws.path("m/metrics.jsonl")).len();
    ok(ws.train_cmd("m", &["train.max_steps=4"]).arg("--resume"));
    assert_eq!(
        train_losses(&ws.path("m/metrics.jsonl")).len(),
        before + 2,
        "--config's train.max_steps=4 did not take the run from step 2 to step 4"
    );
}

#[test]
fn a_write_error_from_a_full_disk_is_reported_and_the_previous_checkpoint_stays_intact() {
    let ws = trained();
    let (best, last) =
        (std::fs::read(ws.path("m/best.safetensors")).unwrap(), std::fs::read(ws.path("m/last.safetensors")).unwrap());
    // `last` holds the weights and Adam's two moments, so it is about 3× `best`. A limit between the two
    // (whether the shell counts blocks of 512 or 1024 bytes) lets `best` be written but not `last`.
    assert!(last.len() > 2 * best.len() + 4096);
    let blocks = (best.len() as u64 / 512 + last.len() as u64 / 1024) / 2;
    let out = with_file_limit(
        &ws,
        blocks,
        &["train", "--out", "m", "--resume", "--set", "train.max_steps=4", "--log-every", "1"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the write error was not reported:\n{err}");
    assert_mentions(&err, &["error:", "last.safetensors", "File too large"]);
    assert_eq!(std::fs::read(ws.path("m/last.safetensors")).unwrap(), last, "the previous last changed");
    loads(&ws, &ws.path("m"), "last").unwrap();
    loads(&ws, &ws.path("m"), "best").unwrap();
    let temps: Vec<_> = std::fs::read_dir(ws.path("m"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    // With room again, the run resumes from the intact checkpoint.
    ok(&mut ws.nmt(&["train", "--out", "m", "--resume", "--set", "train.max_steps=4"]));
}

#[test]
fn a_non_finite_loss_stops_training_naming_the_step_and_keeps_the_last_good_checkpoints() {
    let ws = trained();
    let (best, last) =
        (std::fs::read(ws.path("m/best.safetensors")).unwrap(), std::fs::read(ws.path("m/last.safetensors")).unwrap());
    // Adam moves every weight by about lr per step, so lr = 1e30 overflows the network within a few steps.
    let err = fails(&mut ws.nmt(&[
        "train",
        "--out",
        "m",
        "--resume",
        "--log-every",
        "1",
        "--set",
        "train.lr=1e30",
        "--set",
        "train.max_steps=40",
        "--set",
        "train.valid_every=1",
    ]));
    assert_mentions(&err, &["error: training:", "became", "at step ", "last good checkpoints", "intact", "--resume"]);
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    let step: usize = line.split("at step ").nth(1).unwrap().split(';').next().unwrap().parse().unwrap();
    assert!((3..=40).contains(&step), "{err}");
    assert_eq!(std::fs::read(ws.path("m/best.safetensors")).unwrap(), best);
    assert_eq!(std::fs::read(ws.path("m/last.safetensors")).unwrap(), last);
    // A lower learning rate on --resume takes effect, and training goes on from the good checkpoint.
    let out =
        ok(&mut ws.nmt(&["train", "--out", "m", "--resume", "--set", "train.lr=0.001", "--set", "train.max_steps=4"]));
    assert_mentions(&String::from_utf8_lossy(&out.stderr), &["learning rate set to train.lr = 0.001"]);
}
