//! Decoding defaults that travel with the model: `nmt train` writes `decode.toml`, `nmt info --json`
//! shows it, `translate` and `eval` take from it what their flags leave unset (the search, its checkpoint
//! and length penalty) while a flag wins, and a bad file or an `averaged` checkpoint that does not
//! average the steps the file names is an error naming the file.
mod cli_support;

use cli_support::*;
use serde_json::Value;

/// A tiny model whose `best` and `last` weights differ: its `last` is replaced by that of a run with
/// another seed (same data and config, so the same tokenizers and shapes).
fn two_checkpoints() -> Workspace {
    let ws = trained();
    ws.train("m2", &["train.max_steps=2", "train.valid_every=2", "train.seed=2"]);
    std::fs::copy(ws.path("m2/last.safetensors"), ws.path("m/last.safetensors")).unwrap();
    ws
}

fn info_json(ws: &Workspace) -> Value {
    serde_json::from_slice(&ok(&mut ws.nmt(&["info", "--model", "m", "--json"])).stdout).unwrap()
}

const INPUT: &str = "the small doctor carries the red book.\nwe go to the beach.\n";

/// `nmt translate --model m ARGS` on [`INPUT`] → (stdout, the attention JSON lines).
fn run(ws: &Workspace, args: &[&str]) -> (String, String) {
    let mut all = vec!["--attention-json", "attn.jsonl"];
    all.extend(args);
    let out = ws.translate("m", &all, INPUT);
    (out, std::fs::read_to_string(ws.path("attn.jsonl")).unwrap())
}

#[test]
fn train_writes_the_default_decode_toml_and_info_json_shows_it() {
    let ws = trained();
    assert!(ws.path("m/decode.toml").is_file());
    let d = &info_json(&ws)["decode"];
    assert_eq!(d["default"], "greedy", "{d}");
    assert_eq!((d["greedy"]["checkpoint"].as_str(), d["greedy"]["length_penalty"].as_f64()), (Some("best"), Some(1.0)));
    assert_eq!((d["beam"]["checkpoint"].as_str(), d["beam"]["beam"].as_u64()), (Some("best"), Some(5)));
    let text = String::from_utf8(ok(&mut ws.nmt(&["info", "--model", "m"])).stdout).unwrap();
    assert_mentions(&text, &["# decode.toml", "default = \"greedy\""]);
}

#[test]
fn unset_flags_come_from_decode_toml_by_search_and_flags_win() {
    let ws = two_checkpoints();
    std::fs::write(
        ws.path("m/decode.toml"),
        "default = \"beam\"\n[greedy]\ncheckpoint = \"last\"\nlength_penalty = 0.5\n\
         [beam]\ncheckpoint = \"best\"\nlength_penalty = 1.5\nbeam = 3\n",
    )
    .unwrap();
    // No --beam: the default search, [beam]: beam 3, best, length penalty 1.5 (n-best scores show it).
    let nbest = ["--n-best", "2"];
    let default = run(&ws, &nbest);
    assert_eq!(
        default,
        run(&ws, &[&nbest[..], &["--beam", "3", "--checkpoint", "best", "--length-penalty", "1.5"]].concat())
    );
    assert_ne!(
        default,
        run(&ws, &[&nbest[..], &["--beam", "3", "--checkpoint", "last", "--length-penalty", "1.5"]].concat())
    );
    assert_ne!(
        default,
        run(&ws, &[&nbest[..], &["--beam", "3", "--checkpoint", "best", "--length-penalty", "1.0"]].concat())
    );
    // --beam 1 takes [greedy]'s checkpoint (last); its attention differs from best's.
    let greedy = run(&ws, &["--beam", "1"]);
    assert_eq!(greedy, run(&ws, &["--beam", "1", "--checkpoint", "last"]));
    assert_ne!(greedy.1, run(&ws, &["--beam", "1", "--checkpoint", "best"]).1);
    // --beam 4 takes [beam]'s checkpoint and length penalty.
    let beam4 = run(&ws, &["--beam", "4", "--n-best", "2"]);
    assert_eq!(beam4, run(&ws, &["--beam", "4", "--n-best", "2", "--checkpoint", "best", "--length-penalty", "1.5"]));
    // A flag wins over the file, the rest still comes from it.
    let last = run(&ws, &[&nbest[..], &["--checkpoint", "last"]].concat());
    assert_eq!(
        last,
        run(&ws, &[&nbest[..], &["--beam", "3", "--checkpoint", "last", "--length-penalty", "1.5"]].concat())
    );
    let lp = run(&ws, &[&nbest[..], &["--length-penalty", "0.2"]].concat());
    assert_eq!(
        lp,
        run(&ws, &[&nbest[..], &["--beam", "3", "--checkpoint", "best", "--length-penalty", "0.2"]].concat())
    );
    // eval without decoding flags scores the default row.
    let eval = |args: &[&str]| {
        let mut all = vec!["eval", "--model", "m", "--src", "dev.en", "--ref", "dev.fr", "--output", "hyp.txt"];
        all.extend(args);
        let printed = String::from_utf8(ok(&mut ws.nmt(&all)).stdout).unwrap();
        (printed, std::fs::read_to_string(ws.path("hyp.txt")).unwrap())
    };
    assert_eq!(eval(&[]), eval(&["--beam", "3", "--checkpoint", "best", "--length-penalty", "1.5"]));
}

#[test]
fn a_bad_decode_toml_is_an_error_naming_file_line_and_key() {
    let ws = trained();
    std::fs::write(ws.path("m/decode.toml"), "[greedy]\ncheckpoint = \"best\"\nlenght_penalty = 1.0\n").unwrap();
    let err = fails(&mut ws.nmt(&["translate", "--model", "m", "--input", "dev.en"]));
    assert_mentions(&err, &["decode.toml:3", "greedy.lenght_penalty", "did you mean greedy.length_penalty"]);
    std::fs::write(ws.path("m/decode.toml"), "[beam]\ncheckpoint = \"bset\"\n").unwrap();
    let err = fails(&mut ws.nmt(&["info", "--model", "m", "--json"]));
    assert_mentions(&err, &["decode.toml:2", "bset"]);
}

#[test]
fn an_averaged_checkpoint_must_average_the_steps_decode_toml_names() {
    let ws = trained();
    ok(&mut ws.nmt(&["average", "--model", "m", "--from", "m/best.safetensors", "--from", "m/last.safetensors"]));
    std::fs::write(ws.path("m/decode.toml"), "[beam]\ncheckpoint = \"averaged\"\nsteps = [2]\n").unwrap();
    let err = fails(&mut ws.nmt(&["translate", "--model", "m", "--input", "dev.en"]));
    assert_mentions(&err, &["decode.toml", "[beam]", "averaged steps [2]", "averaged.safetensors", "best.safetensors"]);
    // A checkpoint given on the command line replaces the file's: no check then.
    ok(&mut ws.nmt(&["translate", "--model", "m", "--input", "dev.en", "--checkpoint", "best"]));
}
