//! Ensembles (`--model DIR+DIR+…`, [`Engine::load_ensemble`]) on two tiny models trained in a second
//! each on a slice of the toy corpus (so with the same tokenizers) with different seeds and wirings (a
//! Bahdanau model and a multihead Luong one): a model with itself
//! translates as the model alone; two models' greedy tokens are, step by step, the argmax of the mean of
//! the members' log-probabilities computed independently by teacher forcing (the training path, not the
//! search's), and greedy and beam scores and attention are those means; other tokenizers and empty
//! members are refused; `translate`, `eval`, `heatmap` and `serve` run on `A+B`.

mod cli_support;
mod serve_support;

use cli_support::{assert_mentions, fails, ok, Workspace};
use nmt::checkpoint::{self, Loaded, Which};
use nmt::data::batch::pad;
use nmt::data::tokenizer::BOS;
use nmt::engine::{DecodeOptions, Engine, LoadOptions, Translation};
use serde_json::json;
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

/// Sentences of the workspace's test set translated by the library tests.
const LINES: usize = 20;

/// A workspace with `a` and `b`, tiny models trained for 30 steps (the same tokenizers: they are trained
/// on the same data), `a` the toy config's Bahdanau model with seed 1, `b` a multihead Luong model with
/// seed 2; and `other`, whose vocabulary size (so tokenizers) differ.
fn models() -> Workspace {
    let ws = Workspace::new(200);
    let b = ["train.seed=2", "model.attention=multihead", "model.decoder=luong"];
    let runs: [(&str, &[&str]); 3] = [("a", &[]), ("b", &b), ("other", &["data.vocab_size=150", "train.max_steps=1"])];
    for (out, sets) in runs {
        ws.train(out, &[&["train.max_steps=30", "train.valid_every=30"], sets].concat());
    }
    ws
}

fn test_lines(ws: &Workspace) -> Vec<String> {
    std::fs::read_to_string(ws.path("test.en")).unwrap().lines().take(LINES).map(str::to_string).collect()
}

fn path(ws: &Workspace, model: &str) -> String {
    ws.path(model).to_str().unwrap().to_string()
}

fn translate(engine: &Engine, lines: &[String], beam: usize) -> Vec<Translation> {
    let opts = DecodeOptions { beam: Some(beam), n_best: Some(beam.min(3)), ..DecodeOptions::default() };
    engine.translate(lines, &opts).unwrap()
}

/// Teacher-forces `tokens` (EOS included) after source ids `src` through a loaded model: its
/// log-probabilities `[T, V]` and attention weights `[T, S]` at every emitted position.
fn forced(m: &Loaded, src: &[i64], tokens: &[i64]) -> (Tensor, Tensor) {
    let _guard = tch::no_grad_guard();
    let (src, lengths) = pad(&[src], Device::Cpu);
    let tgt_in: Vec<i64> = [BOS].iter().chain(&tokens[..tokens.len() - 1]).copied().collect();
    let enc = m.model.encode(&src, &lengths, false);
    let tgt = Tensor::from_slice(&tgt_in).unsqueeze(0);
    let out = m.model.decoder.teacher_forced(&tgt, &[tgt_in.len() as i64], enc.state, &enc.keys, false).unwrap();
    (m.model.decoder.logits(&out.features, false).log_softmax(-1, Kind::Float), out.weights)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    f64::try_from((a - b).abs().max()).unwrap()
}

#[test]
fn an_ensemble_of_a_model_with_itself_translates_as_the_model_greedy_and_beam() {
    tch::set_num_threads(1);
    let ws = models();
    let lines = test_lines(&ws);
    let single = Engine::load(&ws.path("a"), &LoadOptions::default()).unwrap();
    let twice = Engine::load_ensemble(&[ws.path("a"), ws.path("a")], &LoadOptions::default()).unwrap();
    assert_eq!(twice.info().members, [ws.path("a"), ws.path("a")]);
    assert!(single.info().members.is_empty());
    for beam in [1, 5] {
        for (i, (x, y)) in translate(&single, &lines, beam).iter().zip(translate(&twice, &lines, beam)).enumerate() {
            assert_eq!(x.outputs.len(), y.outputs.len(), "beam {beam}, line {i}");
            for (n, (p, q)) in x.outputs.iter().zip(&y.outputs).enumerate() {
                let what = format!("beam {beam}, line {i}, hypothesis {n}");
                assert_eq!(p.text, q.text, "{what}");
                assert_eq!(p.hypothesis.tokens, q.hypothesis.tokens, "{what}");
                assert!((p.score - q.score).abs() <= 1e-5, "{what}: score {} vs {}", p.score, q.score);
                let (w, v) = (p.hypothesis.weights.concat(), q.hypothesis.weights.concat());
                assert!(w.iter().zip(&v).all(|(a, b)| (a - b).abs() <= 1e-6), "{what}: attention differs");
            }
        }
    }
}

#[test]
fn an_ensembles_tokens_scores_and_attention_are_the_means_of_its_members() {
    tch::set_num_threads(1);
    let ws = models();
    let lines = test_lines(&ws);
    let members: Vec<Loaded> =
        ["a", "b"].iter().map(|m| checkpoint::load(&ws.path(m), Which::Best, Device::Cpu).unwrap()).collect();
    let b_alone = Engine::load(&ws.path("b"), &LoadOptions::default()).unwrap();
    assert!(translate(&b_alone, &lines[..1], 1)[0].outputs[0].hypothesis.head_weights.is_some());
    let engine = Engine::load_ensemble(&[ws.path("a"), ws.path("b")], &LoadOptions::default()).unwrap();
    let mut not_a_alone = 0;
    for beam in [1, 5] {
        for (i, t) in translate(&engine, &lines, beam).iter().enumerate() {
            let (src, _, _) = members[0].src_tok.encode_source_words(&lines[i]).unwrap();
            for (n, out) in t.outputs.iter().enumerate() {
                let what = format!("beam {beam}, line {i}, hypothesis {n}");
                let h = &out.hypothesis;
                let each: Vec<(Tensor, Tensor)> = members.iter().map(|m| forced(m, &src, &h.tokens)).collect();
                let mean_logp = (&each[0].0 + &each[1].0) / 2.0;
                let mean_weights = (&each[0].1 + &each[1].1) / 2.0;
                let gold = Tensor::from_slice(&h.tokens).view([-1, 1]);
                let score = f64::try_from(mean_logp.gather(1, &gold, false).sum(Kind::Double)).unwrap();
                assert!((score - h.score).abs() <= 1e-4, "{what}: search score {} but the mean gives {score}", h.score);
                let got = Tensor::from_slice(&h.weights.concat()).view([h.tokens.len() as i64, src.len() as i64]);
                let diff = max_abs_diff(&got, &mean_weights);
                assert!(diff <= 1e-5, "{what}: attention differs from the members' mean by {diff:e}");
                assert!(h.head_weights.is_none(), "{what}: an ensemble keeps no per-head weights (b alone has them)");
                if beam == 1 {
                    let argmax = Vec::<i64>::try_from(mean_logp.argmax(-1, false)).unwrap();
                    assert_eq!(argmax, h.tokens, "{what}: a token is not the argmax of the mean log-probability");
                    let alone = Vec::<i64>::try_from(each[0].0.argmax(-1, false)).unwrap();
                    not_a_alone += usize::from(alone != h.tokens);
                }
            }
        }
    }
    // The check has teeth only if the members disagree: member a alone would choose otherwise somewhere.
    assert!(not_a_alone > 0, "member a's own argmax agrees with the ensemble on every line");
}

#[test]
fn other_tokenizers_and_empty_members_are_refused_naming_them() {
    let ws = models();
    let err = fails(ws.nmt(&["translate", "--model", "a+other"]).arg("--input").arg(ws.path("test.en")));
    assert_mentions(&err, &["other", "its source tokenizer differs from that of a", "must share both tokenizers"]);
    for spec in ["a++b", "a+"] {
        let err = fails(&mut ws.nmt(&["translate", "--model", spec]));
        assert_mentions(&err, &[&format!("--model {spec}: member 2 of the ensemble is empty")]);
    }
    let err = fails(&mut ws.nmt(&["serve", "--port", "0", "--model", "x=a+"]));
    assert_mentions(&err, &["--model x=a+", "member 2 of the ensemble is empty"]);
    let none: [PathBuf; 0] = [];
    assert!(Engine::load_ensemble(&none, &LoadOptions::default()).is_err());
}

#[test]
fn translate_eval_and_heatmap_run_on_an_ensemble() {
    let ws = models();
    let lines = test_lines(&ws);
    std::fs::write(ws.path("some.en"), lines.join("\n") + "\n").unwrap();
    let engine = Engine::load_ensemble(&[ws.path("a"), ws.path("b")], &LoadOptions::default()).unwrap();
    let want: Vec<String> = translate(&engine, &lines, 1).iter().map(|t| t.best_text().to_string()).collect();
    let out = ok(&mut ws.nmt(&["translate", "--model", "a+b", "--input", "some.en", "--attention-json", "att.jsonl"]));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().collect::<Vec<_>>(), want);
    let records = std::fs::read_to_string(ws.path("att.jsonl")).unwrap();
    assert_eq!(records.lines().count(), LINES);
    let int8 = ok(&mut ws.nmt(&["translate", "--model", "a+b", "--input", "some.en", "--precision", "int8"]));
    assert_eq!(String::from_utf8(int8.stdout).unwrap().lines().count(), LINES);

    let eval = ok(&mut ws.nmt(&["eval", "--model", "a+b", "--src", "test.en", "--ref", "test.fr", "--beam", "3"]));
    assert_mentions(&String::from_utf8(eval.stdout).unwrap(), &["BLEU", "chrF"]);

    let text = lines[0].as_str();
    ok(&mut ws.nmt(&["heatmap", "--model", "a", "--model", "a+b", "--text", text, "--out", "panels.svg"]));
    let svg = std::fs::read_to_string(ws.path("panels.svg")).unwrap();
    assert_mentions(&svg, &["ensemble a + b", "bahdanau attention"]);
}

#[test]
fn serve_answers_for_an_ensemble_as_nmt_translate_does_and_lists_its_members() {
    let ws = models();
    let lines = test_lines(&ws);
    std::fs::write(ws.path("some.en"), lines.join("\n") + "\n").unwrap();
    let (a, b) = (path(&ws, "a"), path(&ws, "b"));
    let spec = format!("{a}+{b}");
    let want = ok(&mut ws.nmt(&["translate", "--model", &spec, "--input", "some.en"]));
    let want: Vec<String> = String::from_utf8(want.stdout).unwrap().lines().map(str::to_string).collect();
    let server = serve_support::Server::start(&["--model", &format!("x={spec}"), "--model", &spec]);
    let (status, got) = server.post("/v1/translate", &json!({"text": lines, "model": "x"}));
    assert_eq!(status, 200, "{got}");
    let got: Vec<&str> =
        got["translations"].as_array().unwrap().iter().map(|t| t["translation"].as_str().unwrap()).collect();
    assert_eq!(got, want);
    let (status, models) = server.get("/v1/models");
    assert_eq!(status, 200, "{models}");
    assert_eq!(models["models"][0]["name"], "x");
    assert_eq!(models["models"][0]["info"]["members"], json!([a, b]));
    assert_eq!(models["models"][1]["name"], "a+b", "an unnamed ensemble is served under its members' names");
}
