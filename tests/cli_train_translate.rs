//! The main job through the binary: train a tiny model for a few steps, then translate (greedy, beam,
//! n-best), export attention JSON and heatmaps, inspect, evaluate and score — and the line alignment that
//! every consumer of `nmt translate` relies on, for hostile input lines too.
mod cli_support;

use cli_support::*;
use serde_json::Value;

/// Steps of the tiny models: validation at 2 and 4, so `best` exists.
const STEPS: &[&str] = &["train.max_steps=4", "train.valid_every=2"];

/// A workspace with a tiny model trained into `m`.
fn trained(extra: &[&str]) -> Workspace {
    let ws = Workspace::new(200);
    ws.train("m", &[STEPS, extra].concat());
    ws
}

/// Input lines that must each get exactly one output line, in order.
fn hostile_lines() -> Vec<String> {
    vec![
        "the small doctor carries the red book.".into(),
        "".into(),
        "   \t  ".into(),
        vec!["the"; 1000].join(" "),
        // Every control character but NUL, which both readers refuse as a sign of a binary file.
        "a\u{1}b\u{7}c\u{1b}[31md\u{7f} e\u{8}\u{c}\u{b}f\u{85}g\u{2028}h".into(),
        "☃☃☃ ∰∰ 𓀀𓀁".into(),
        "the cat Кошка 猫 قطة is on the table.".into(),
        "".into(),
        "does she find twelve brave teachers?".into(),
    ]
}

fn input_of(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

#[test]
fn train_writes_a_self_contained_model_directory() {
    let ws = trained(&[]);
    for f in [
        "config.toml",
        "tokenizer.src.json",
        "tokenizer.tgt.json",
        "best.safetensors",
        "last.safetensors",
        "metrics.jsonl",
        "loss.png",
    ] {
        assert!(ws.path("m").join(f).is_file(), "{f} missing");
    }
    let config: toml::Table = std::fs::read_to_string(ws.path("m/config.toml")).unwrap().parse().unwrap();
    assert_eq!(config["format_version"].as_integer(), Some(nmt::config::FORMAT_VERSION as i64));
    let hashes = config["tokenizers"].as_table().unwrap();
    let src_json = std::fs::read_to_string(ws.path("m/tokenizer.src.json")).unwrap();
    assert_eq!(hashes["src"].as_str(), Some(nmt::checkpoint::sha256_hex(&src_json).as_str()));
    // Data paths are stored absolute, so the directory works from any current directory.
    assert!(std::path::Path::new(config["data"]["train"].as_str().unwrap()).is_absolute());
    let steps: Vec<u64> = train_losses(&ws.path("m/metrics.jsonl")).iter().map(|s| s.0).collect();
    assert_eq!(steps, [1, 2, 3, 4]);
    let metrics = std::fs::read_to_string(ws.path("m/metrics.jsonl")).unwrap();
    let valid: Vec<Value> =
        metrics.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["kind"] == "valid").collect();
    assert_eq!(valid.iter().map(|v| v["step"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 4]);
    for key in ["dev_loss", "dev_ppl", "dev_bleu", "lr", "best"] {
        assert!(!valid[0][key].is_null(), "valid record lacks {key}");
    }
    assert!(std::fs::read(ws.path("m/loss.png")).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn translate_gives_one_line_per_input_line_in_order_for_hostile_lines_greedy_and_beam() {
    let ws = trained(&[]);
    let lines = hostile_lines();
    for args in [&[][..], &["--beam", "3"], &["--beam", "2", "--batch-size", "2"]] {
        let mut all = args.to_vec();
        all.extend(["--attention-json", "a.jsonl"]);
        let out = ws.translate("m", &all, &input_of(&lines));
        let outs: Vec<&str> = out.lines().collect();
        assert_eq!(outs.len(), lines.len(), "{args:?}: {out:?}");
        for (i, (input, output)) in lines.iter().zip(&outs).enumerate() {
            if is_blank(input) {
                assert_eq!(*output, "", "{args:?}: blank line {i} must give an empty line");
            }
        }
        // The JSON records name their input line, so they prove the order of the output lines.
        let records = std::fs::read_to_string(ws.path("a.jsonl")).unwrap();
        let records: Vec<Value> = records.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(records.len(), lines.len());
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r["line"].as_u64(), Some(i as u64));
            assert_eq!(r["source_text"].as_str(), Some(lines[i].as_str()), "{args:?} line {i}");
            assert_eq!(r["translation"].as_str(), Some(outs[i]), "{args:?} line {i}");
        }
    }
}

#[test]
fn translate_reads_input_and_writes_output_files_like_stdin_and_stdout() {
    let ws = trained(&[]);
    let lines = hostile_lines();
    std::fs::write(ws.path("in.txt"), input_of(&lines)).unwrap();
    ok(&mut ws.nmt(&["translate", "--model", "m", "--input", "in.txt", "--output", "out.txt"]));
    let piped = ws.translate("m", &[], &input_of(&lines));
    assert_eq!(std::fs::read_to_string(ws.path("out.txt")).unwrap(), piped);
    // An empty input gives an empty output.
    assert_eq!(ws.translate("m", &[], ""), "");
}

#[test]
fn n_best_prints_n_tab_separated_hypotheses_with_scores_best_first() {
    let ws = trained(&[]);
    let lines = ["the small doctor carries the red book.", "", "there is a key on a clean newspaper."];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = ws.translate("m", &["--beam", "3", "--n-best", "3"], &input);
    let outs: Vec<&str> = out.lines().collect();
    assert_eq!(outs.len(), 3);
    assert_eq!(outs[1], "");
    for line in [outs[0], outs[2]] {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 6, "{line:?}");
        let scores: Vec<f64> = fields.iter().skip(1).step_by(2).map(|s| s.parse().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "not best first: {scores:?}");
    }
}

/// Checks one `--attention-json` record against its input line.
fn check_record(r: &Value, input: &str, heads: Option<usize>) {
    let obj = r.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    let mut expected = vec!["alignment", "line", "source", "source_text", "target", "translation", "weights"];
    if heads.is_some() && !is_blank(input) {
        expected.push("head_weights");
        expected.sort();
    }
    assert_eq!(keys, expected);
    let (source, target) = (r["source"].as_array().unwrap(), r["target"].as_array().unwrap());
    let weights = r["weights"].as_array().unwrap();
    if is_blank(input) {
        assert!(source.is_empty() && target.is_empty() && weights.is_empty(), "{r}");
        return;
    }
    assert_eq!(source.last().and_then(Value::as_str), Some("</s>"), "the encoder sees EOS last");
    assert!(!target.is_empty());
    let check_matrix = |m: &[Value], what: &str| {
        assert_eq!(m.len(), target.len(), "{what}: one row per target token");
        for row in m {
            let row = row.as_array().unwrap();
            assert_eq!(row.len(), source.len(), "{what}: one column per source token");
            let sum: f64 = row.iter().map(|w| w.as_f64().unwrap()).sum();
            assert!((sum - 1.0).abs() <= 1e-4, "{what}: row sums to {sum}");
        }
    };
    check_matrix(weights, "weights");
    if let Some(h) = heads {
        let hw = r["head_weights"].as_array().unwrap();
        assert_eq!(hw.len(), h);
        for m in hw {
            check_matrix(m.as_array().unwrap(), "head_weights");
        }
    }
}

#[test]
fn attention_json_has_the_documented_keys_and_row_stochastic_target_by_source_weights() {
    let ws = trained(&[]);
    let lines = hostile_lines();
    ws.translate("m", &["--attention-json", "a.jsonl", "--beam", "2"], &input_of(&lines));
    let text = std::fs::read_to_string(ws.path("a.jsonl")).unwrap();
    assert_eq!(text.lines().count(), lines.len());
    for (line, input) in text.lines().zip(&lines) {
        check_record(&serde_json::from_str(line).unwrap(), input, None);
    }
    // What was written reads back (the heatmap command's reader validates every record).
    ok(&mut ws.nmt(&["heatmap", "--from-json", "a.jsonl", "--out-dir", "from-json"]));
    assert!(ws.path("from-json/index.html").is_file());
}

/// The 0-based (source word, translation word) links of a Pharaoh line.
fn pharaoh(line: &str) -> Vec<(usize, usize)> {
    line.split_whitespace()
        .map(|p| {
            let (i, j) = p.split_once('-').unwrap_or_else(|| panic!("{p:?} is not i-j"));
            (i.parse().unwrap(), j.parse().unwrap())
        })
        .collect()
}

#[test]
fn alignments_are_pharaoh_lines_of_word_indices_and_aer_scores_them_against_the_toy_gold() {
    let ws = trained(&[]);
    let mut lines = hostile_lines();
    lines.extend(std::fs::read_to_string(ws.path("test.en")).unwrap().lines().map(str::to_string));
    ws.translate(
        "m",
        &["--alignments", "a.align", "--attention-json", "a.jsonl", "--output", "a.fr"],
        &input_of(&lines),
    );
    let (align, hyps) =
        (std::fs::read_to_string(ws.path("a.align")).unwrap(), std::fs::read_to_string(ws.path("a.fr")).unwrap());
    let records: Vec<Value> = std::fs::read_to_string(ws.path("a.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!((align.lines().count(), records.len()), (lines.len(), lines.len()));
    for (((links, input), hyp), record) in align.lines().zip(&lines).zip(hyps.lines()).zip(&records) {
        let links = pharaoh(links);
        let (n_src, n_tgt) = (input.split_whitespace().count(), hyp.split_whitespace().count());
        assert!(links.iter().all(|&(i, j)| i < n_src && j < n_tgt), "{links:?} outside {input:?} → {hyp:?}");
        let in_json: Vec<(usize, usize)> = serde_json::from_value(record["alignment"].clone()).unwrap();
        assert_eq!(links, in_json, "the JSON record holds the same alignment");
        if is_blank(input) {
            assert!(links.is_empty());
        }
    }
    // The rules by name: grow-diag is the default, argmax links each translation word at most once, and
    // an unknown rule is refused, naming the known ones.
    let by_rule = |rule: &str| {
        ws.translate("m", &["--alignments", "r.align", "--align-rule", rule], &input_of(&lines));
        std::fs::read_to_string(ws.path("r.align")).unwrap()
    };
    assert_eq!(by_rule("grow-diag"), align);
    let argmax: Vec<Vec<(usize, usize)>> = by_rule("argmax").lines().map(pharaoh).collect();
    for links in &argmax {
        let targets: std::collections::BTreeSet<usize> = links.iter().map(|l| l.1).collect();
        assert_eq!(targets.len(), links.len(), "{links:?}: a translation word linked twice by argmax");
    }
    assert!(argmax.iter().any(|l| !l.is_empty()));
    let err = fails(&mut ws.nmt(&[
        "translate",
        "--model",
        "m",
        "--input",
        "test.en",
        "--alignments",
        "x",
        "--align-rule",
        "max",
    ]));
    assert_mentions(&err, &["\"max\"", "argmax, union, grow-diag"]);
    // `nmt aer` on the toy test set's gold links: the library's AER of the same files, and 0 for a
    // perfect hypothesis.
    let gold: String = std::fs::read_to_string(toy_dir().join("test.align"))
        .unwrap()
        .lines()
        .take(40)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(ws.path("test.align"), &gold).unwrap();
    let hyp: String = align.lines().skip(lines.len() - 40).map(|l| format!("{l}\n")).collect();
    std::fs::write(ws.path("hyp.align"), &hyp).unwrap();
    let aer = |h: &str| -> Value {
        serde_json::from_slice(&ok(&mut ws.nmt(&["aer", "--hyp", h, "--gold", "test.align", "--json"])).stdout).unwrap()
    };
    let parse = |t: &str| t.lines().map(pharaoh).collect::<Vec<_>>();
    let want = nmt::align::aer(&parse(&hyp), &parse(&gold));
    let got = aer("hyp.align");
    assert!((got["aer"].as_f64().unwrap() - want.aer).abs() < 1e-12 && (0.0..=1.0).contains(&want.aer), "{got}");
    assert_eq!(got["gold_links"].as_u64(), Some(want.gold_links as u64));
    assert_eq!(aer("test.align")["aer"].as_f64(), Some(0.0));
    let err = fails(&mut ws.nmt(&["aer", "--hyp", "dev.en", "--gold", "test.align"]));
    assert_mentions(&err, &["dev.en:1", "is not an i-j pair"]);
}

#[test]
fn attention_json_of_a_multihead_model_adds_per_head_weights() {
    let ws = trained(&["model.attention=multihead", "model.heads=2"]);
    let lines = hostile_lines();
    ws.translate("m", &["--attention-json", "a.jsonl"], &input_of(&lines));
    let text = std::fs::read_to_string(ws.path("a.jsonl")).unwrap();
    for (line, input) in text.lines().zip(&lines) {
        check_record(&serde_json::from_str(line).unwrap(), input, Some(2));
    }
}

#[test]
fn heatmaps_dir_gets_one_png_per_non_empty_line_and_an_index_page() {
    let ws = trained(&[]);
    let lines = ["the small doctor carries the red book.", "", "does she find twelve brave teachers?"];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    ws.translate("m", &["--heatmaps", "hm"], &input);
    let mut names: Vec<String> =
        std::fs::read_dir(ws.path("hm")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["0001.png", "0003.png", "index.html"]);
    for png in ["0001.png", "0003.png"] {
        assert!(std::fs::read(ws.path("hm").join(png)).unwrap().starts_with(b"\x89PNG"));
        assert!(std::fs::read_to_string(ws.path("hm/index.html")).unwrap().contains(png));
    }
}

#[test]
fn info_prints_parameters_vocabularies_training_state_and_config() {
    let ws = trained(&[]);
    let out = String::from_utf8(ok(&mut ws.nmt(&["info", "--model", "m"])).stdout).unwrap();
    for needle in [
        "parameters: ",
        "vocabulary: source",
        "checkpoints: best.safetensors, last.safetensors",
        "training: step 4, epoch",
        "finished",
        "format_version",
        "hidden_size = 32",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
}

#[test]
fn info_json_is_one_object_with_the_directory_facts() {
    let ws = trained(&[]);
    let out = String::from_utf8(ok(&mut ws.nmt(&["info", "--model", "m", "--json"])).stdout).unwrap();
    assert_eq!(out.lines().count(), 1, "one line: {out}");
    let info: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(info["dir"], "m");
    assert_eq!(info["config"]["model"]["hidden_size"], 32);
    assert!(info["parameters"].as_u64().unwrap() > 1000, "{info}");
    assert!(info["vocab"]["src"].as_u64().unwrap() > 4 && info["vocab"]["tgt"].as_u64().unwrap() > 4, "{info}");
    assert_eq!(info["checkpoints"], serde_json::json!(["best", "last"]));
    assert_eq!(info["snapshots"], serde_json::json!([]));
    let t = &info["training"];
    assert_eq!((t["step"].as_u64(), t["finished"].as_bool()), (Some(4), Some(true)), "{info}");
    assert!(t["best_step"].as_u64().unwrap() <= 4 && t["epoch"].is_u64() && t["best_bleu"].is_f64(), "{info}");
}

/// (bleu, chrf) from `nmt score --json`.
fn score_json(ws: &Workspace, hyp: &str, reference: &str, lowercase: bool) -> (f64, f64) {
    let mut args = vec!["score", "--hyp", hyp, "--ref", reference, "--json"];
    if lowercase {
        args.push("--lowercase");
    }
    let v: Value = serde_json::from_slice(&ok(&mut ws.nmt(&args)).stdout).unwrap();
    (v["bleu"].as_f64().unwrap(), v["chrf"].as_f64().unwrap())
}

#[test]
fn score_prints_exactly_the_library_metrics_of_the_same_files() {
    let ws = Workspace::new(10);
    // Perturbed toy lines: some words dropped and swapped, one empty hypothesis, one in capitals.
    let refs: Vec<String> = std::fs::read_to_string(ws.path("dev.fr")).unwrap().lines().map(String::from).collect();
    let hyps: Vec<String> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| match i % 4 {
            0 => r.clone(),
            1 => r.split(' ').rev().collect::<Vec<_>>().join(" "),
            2 => String::new(),
            _ => r.to_uppercase(),
        })
        .collect();
    std::fs::write(ws.path("hyp.txt"), input_of(&hyps)).unwrap();
    for lowercase in [false, true] {
        let (bleu, chrf) = score_json(&ws, "hyp.txt", "dev.fr", lowercase);
        // Equal up to the JSON number's last digit.
        assert!((bleu - nmt::metrics::bleu(&hyps, &refs, lowercase).unwrap().score).abs() < 1e-9);
        assert!((chrf - nmt::metrics::chrf(&hyps, &refs, lowercase).unwrap().score).abs() < 1e-9);
    }
    let text = String::from_utf8(ok(&mut ws.nmt(&["score", "--hyp", "hyp.txt", "--ref", "dev.fr"])).stdout).unwrap();
    let expected = format!(
        "{}\n{}\n",
        nmt::metrics::bleu(&hyps, &refs, false).unwrap(),
        nmt::metrics::chrf(&hyps, &refs, false).unwrap()
    );
    assert_eq!(text, expected);
}

#[test]
fn eval_prints_bleu_and_chrf_of_its_own_translations() {
    let ws = trained(&[]);
    let out = ok(&mut ws.nmt(&["eval", "--model", "m", "--src", "test.en", "--ref", "test.fr", "--output", "hyp.txt"]));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let (bleu_line, chrf_line) = (lines.next().unwrap(), lines.next().unwrap());
    assert!(bleu_line.starts_with("BLEU = "), "{text}");
    assert!(chrf_line.starts_with("chrF2 = "), "{text}");
    // The printed scores are those of the translations it wrote.
    let hyps: Vec<String> = std::fs::read_to_string(ws.path("hyp.txt")).unwrap().lines().map(String::from).collect();
    let refs: Vec<String> = std::fs::read_to_string(ws.path("test.fr")).unwrap().lines().map(String::from).collect();
    assert_eq!(hyps.len(), refs.len());
    assert_eq!(bleu_line, nmt::metrics::bleu(&hyps, &refs, false).unwrap().to_string());
    assert_eq!(chrf_line, nmt::metrics::chrf(&hyps, &refs, false).unwrap().to_string());
}

#[test]
fn eval_without_src_and_ref_evaluates_on_the_configs_data_test() {
    let ws = trained(&[]);
    let given = ok(&mut ws.nmt(&["eval", "--model", "m", "--src", "test.en", "--ref", "test.fr"]));
    let from_config = ok(&mut ws.nmt(&["eval", "--model", "m"]));
    assert!(String::from_utf8_lossy(&from_config.stderr).contains("data.test"), "says where the data came from");
    assert_eq!(String::from_utf8(from_config.stdout).unwrap(), String::from_utf8(given.stdout).unwrap());
    // Without data.test in the config there is nothing to evaluate on, and the error says what to give.
    let ws2 = Workspace::new(200);
    ws2.train("m", &[STEPS, &["data.test="]].concat());
    let out = ws2.nmt(&["eval", "--model", "m"]).output().unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("--src") && msg.contains("data.test"), "{msg}");
}

#[test]
fn corpus_toy_with_seed_1_reproduces_the_committed_corpus_byte_for_byte() {
    let ws = Workspace::new(1);
    ok(&mut ws.nmt(&["corpus", "toy", "--out", "toy", "--seed", "1"]));
    for split in ["train", "dev", "test"] {
        for ext in ["en", "fr", "align"].iter().filter(|e| split != "train" || **e != "align") {
            let name = format!("{split}.{ext}");
            assert!(
                std::fs::read(ws.path("toy").join(&name)).unwrap() == std::fs::read(toy_dir().join(&name)).unwrap(),
                "{name} differs from corpora/toy-en-fr/{name}"
            );
        }
    }
}

#[test]
fn every_subcommand_has_help() {
    let ws = Workspace::new(1);
    for sub in
        [&["train"][..], &["translate"], &["eval"], &["score"], &["heatmap"], &["info"], &["bench"], &["corpus", "toy"]]
    {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = String::from_utf8(ok(&mut ws.nmt(&args)).stdout).unwrap();
        assert!(out.contains("Usage: nmt"), "{sub:?}: {out}");
    }
}

/// A pseudo-terminal: (master, slave).
fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (0, 0);
    let rc =
        unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty failed");
    unsafe { (std::fs::File::from_raw_fd(master), std::fs::File::from_raw_fd(slave)) }
}

#[test]
fn a_terminal_gets_each_translation_as_soon_as_its_line_is_typed() {
    use std::io::{BufRead, Write};
    use std::process::Stdio;
    use std::time::Duration;
    let ws = trained(&[]);
    let typed = ["the small doctor carries the red book.", "", "does she find twelve brave teachers?"];
    let piped = ws.translate("m", &[], &input_of(&typed.map(String::from)));
    let (mut master, slave) = pty();
    let mut cmd = ws.nmt(&["translate", "--model", "m"]);
    cmd.stdin(Stdio::from(slave)).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // Each answer arrives while the terminal stays open, before the next line is typed.
    for (i, (line, want)) in typed.iter().zip(piped.lines()).enumerate() {
        writeln!(master, "{line}").unwrap();
        let got = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("no output for typed line {i} while the terminal is open"));
        assert_eq!(got, want, "typed line {i} translated differently from piped input");
    }
    master.write_all(&[4]).unwrap(); // Ctrl-D: end of input.
    assert!(child.wait().unwrap().success());
}
