//! `nmt serve`'s HTTP API, tested against a real server started on port 0 with the committed toy model
//! (`tests/fixtures/toy-model`): every route's schema, equality with `nmt translate` on the toy test set
//! (greedy, beam 5 with 3-best scores), 64 concurrent clients each getting their own translation, a
//! table of bad requests with their status and message, the queue and timeout limits, a disconnecting
//! client's sentences dropped undecoded, SIGTERM with requests in flight, and start-up failures.
//!
//! The HTTP client is a few lines over `TcpStream` (one request per connection, `Connection: close`)
//! rather than a crate: the tests also need to send malformed requests and to hang up mid-request,
//! which a client library would not do.

mod serve_support;

use serde_json::{json, Value};
use serve_support::*;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

fn test_lines() -> Vec<String> {
    std::fs::read_to_string(test_set()).unwrap().lines().map(str::to_string).collect()
}

/// `nmt translate`'s output lines for the toy test set with `args` (one thread, CPU).
fn nmt_translate(args: &[&str]) -> Vec<String> {
    let out = Command::new(NMT)
        .args(["--threads", "1", "--device", "cpu", "translate", "--model"])
        .arg(model_dir())
        .arg("--input")
        .arg(test_set())
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

fn greedy_reference() -> &'static [String] {
    static R: OnceLock<Vec<String>> = OnceLock::new();
    R.get_or_init(|| nmt_translate(&[]))
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn every_route_answers_in_its_documented_shape() {
    let dir = model_dir();
    let server = Server::start(&[
        "--model",
        &format!("first={}", dir.display()),
        "--model",
        &format!("second={}", dir.display()),
    ]);

    let (status, h) = server.get("/health");
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["status"], "ok");
    for count in ["waiting", "decoded", "dropped"] {
        assert!(h[count].is_u64(), "{count} in {h}");
    }

    let (status, m) = server.get("/v1/models");
    assert_eq!(status, 200, "{m}");
    let info = Command::new(NMT).args(["info", "--json", "--model"]).arg(&dir).output().unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    let models = m["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for (entry, (name, id)) in models.iter().zip([("first", 100), ("second", 101)]) {
        assert_eq!(entry["name"], name);
        assert_eq!(entry["id"], id);
        assert_eq!(entry["info"], info, "/v1/models must show what `nmt info --json` prints");
    }

    let sentence = "the red car is not fast.";
    let (status, t) = server.post("/v1/translate", &json!({"text": sentence, "attention": true}));
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["model"], "first");
    assert!(t["elapsed_ms"].as_f64().unwrap() >= 0.0);
    let tr = &t["translations"].as_array().unwrap()[0];
    assert_eq!(tr["source_text"], sentence);
    assert!(tr["score"].as_f64().unwrap() < 0.0);
    let (source, target) = (str_list(&tr["source"]), str_list(&tr["target"]));
    assert_eq!(source.last().unwrap(), "</s>");
    let weights = tr["weights"].as_array().unwrap();
    assert_eq!(weights.len(), target.len(), "one row per target token");
    for row in weights {
        let row: Vec<f64> = row.as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).collect();
        assert_eq!(row.len(), source.len(), "one column per source token");
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-4, "a row sums to 1: {row:?}");
    }
    assert!(tr.get("head_weights").is_none() && tr.get("n_best").is_none(), "{tr}");
    let (_, plain) = server.post("/v1/translate", &json!({"text": [sentence], "model": "second"}));
    assert_eq!(plain["model"], "second");
    let plain = &plain["translations"][0];
    assert_eq!(plain["translation"], tr["translation"]);
    assert!(plain.get("weights").is_none(), "no weights unless asked: {plain}");

    let (_, w) = server.post("/v1/translate", &json!({"text": sentence, "words": true, "attention": true}));
    let w = &w["translations"][0];
    let words = str_list(&w["source"]);
    assert_eq!(words, ["the", "red", "car", "is", "not", "fast.", "</s>"], "subwords merged into words");
    assert_eq!(w["weights"][0].as_array().unwrap().len(), words.len());

    let (_, nb) = server.post("/v1/translate", &json!({"text": sentence, "beam": 5, "n_best": 3}));
    let alternatives = nb["translations"][0]["n_best"].as_array().unwrap();
    assert_eq!(alternatives.len(), 3);
    assert_eq!(alternatives[0]["translation"], nb["translations"][0]["translation"]);
    assert!(alternatives.iter().all(|a| a["score"].is_f64() && a["translation"].is_string()));

    let (_, empty) = server.post("/v1/translate", &json!({"text": ["", sentence]}));
    assert_eq!(empty["translations"][0]["translation"], "", "an empty sentence translates to an empty one");
    assert_eq!(empty["translations"][1]["translation"], tr["translation"]);

    let (status, o) =
        server.post("/translator/translate", &json!([{"src": sentence, "id": 101, "extra": 1}, {"src": "the dog."}]));
    assert_eq!(status, 200, "{o}");
    let rank = o.as_array().unwrap();
    assert_eq!(rank.len(), 1, "one list per n-best rank: {o}");
    let first = &rank[0][0];
    assert_eq!(first["src"], sentence);
    assert_eq!(first["tgt"], tr["translation"]);
    assert_eq!(first["n_best"], 1);
    // The same sentence in another batch: the score may move by float rounding only.
    assert!((first["pred_score"].as_f64().unwrap() - tr["score"].as_f64().unwrap()).abs() < 1e-4, "{o} vs {tr}");
    assert_eq!(rank[0][1]["src"], "the dog.");

    let png = server.request("POST", "/v1/heatmap", json!({"text": sentence}).to_string().as_bytes());
    assert_eq!(png.status, 200, "{}", png.text());
    assert_eq!(png.header("content-type").as_deref(), Some("image/png"));
    assert!(png.body.starts_with(b"\x89PNG\r\n\x1a\n"));
    let drawn = tempfile::tempdir().unwrap();
    let out = drawn.path().join("h.png");
    let cli = Command::new(NMT)
        .args(["--threads", "1", "--device", "cpu", "heatmap", "--text", sentence, "--model"])
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert!(png.body == std::fs::read(&out).unwrap(), "/v1/heatmap draws what nmt heatmap draws");
    let svg = server.request(
        "POST",
        "/v1/heatmap",
        json!({"text": sentence, "format": "svg", "words": true}).to_string().as_bytes(),
    );
    assert_eq!(svg.header("content-type").as_deref(), Some("image/svg+xml"));
    assert!(svg.text().contains("<svg"), "{}", svg.text());
    let pair = server.request(
        "POST",
        "/v1/heatmap",
        json!({"text": sentence, "models": ["first", "second"]}).to_string().as_bytes(),
    );
    assert_eq!(pair.status, 200, "{}", pair.text());
    let width = |png: &[u8]| u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert!(width(&pair.body) > width(&png.body), "two panels are wider than one");

    let (status, api) = server.get("/openapi.json");
    assert_eq!(status, 200);
    assert!(api["openapi"].as_str().unwrap().starts_with("3."), "{}", api["openapi"]);
    for (path, method) in [
        ("/v1/translate", "post"),
        ("/translator/translate", "post"),
        ("/v1/models", "get"),
        ("/v1/heatmap", "post"),
        ("/health", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(api["paths"][path][method].is_object(), "{method} {path} missing from /openapi.json");
    }
    let request = &api["components"]["schemas"]["TranslateRequest"];
    assert_eq!(request["additionalProperties"], false, "unknown fields are refused: {request}");
    assert!(request["properties"]["text"].is_object());

    let log = server.log();
    assert!(
        log.iter().any(|l| l == "GET /health 200 0 sentences" || l.starts_with("GET /health 200 0 sentences ")),
        "{log:?}"
    );
    assert!(log.iter().any(|l| l.starts_with("POST /v1/translate 200 2 sentences ") && l.ends_with(" ms")), "{log:?}");
}

#[test]
fn translations_equal_nmt_translate_greedy_and_beam_with_scores() {
    let server = Server::start(&[]);
    let lines = test_lines();
    let beam = nmt_translate(&["--beam", "5", "--n-best", "3"]);
    let mut greedy_got = Vec::new();
    let mut beam_got = Vec::new();
    for chunk in lines.chunks(64) {
        let (status, g) = server.post("/v1/translate", &json!({"text": chunk}));
        assert_eq!(status, 200, "{g}");
        greedy_got.extend(
            g["translations"].as_array().unwrap().iter().map(|t| t["translation"].as_str().unwrap().to_string()),
        );
        let (status, b) = server.post("/v1/translate", &json!({"text": chunk, "beam": 5, "n_best": 3}));
        assert_eq!(status, 200, "{b}");
        beam_got.extend(b["translations"].as_array().unwrap().iter().map(|t| t["n_best"].clone()));
    }
    assert_eq!(greedy_got.len(), lines.len());
    for (i, (got, want)) in greedy_got.iter().zip(greedy_reference()).enumerate() {
        assert_eq!(got, want, "greedy: line {} differs from nmt translate", i + 1);
    }
    // Beam: the same hypotheses in the same order, the scores equal to nmt translate's 4 printed decimals
    // (the server batches differently, which may move a score by float rounding, never more than 1e-4);
    // two hypotheses may swap places only when their scores tie within that rounding.
    assert_eq!(beam_got.len(), beam.len());
    let mut near_ties = 0;
    for (i, (got, want)) in beam_got.iter().zip(&beam).enumerate() {
        let fields: Vec<&str> = want.split('\t').collect();
        let got = got.as_array().unwrap();
        assert_eq!(got.len() * 2, fields.len(), "line {}: {got:?} vs {want}", i + 1);
        for (rank, (g, w)) in got.iter().zip(fields.chunks(2)).enumerate() {
            let (text, score) = (g["translation"].as_str().unwrap(), g["score"].as_f64().unwrap());
            let want_score: f64 = w[1].parse().unwrap();
            assert!((score - want_score).abs() <= 1e-4, "line {} rank {rank}: score {score} vs {want}", i + 1);
            if text != w[0] {
                assert!(
                    got.iter()
                        .any(|o| o["translation"] == w[0] && (o["score"].as_f64().unwrap() - score).abs() <= 2e-4),
                    "line {} rank {rank}: {text:?} vs {want} is no near-tie",
                    i + 1
                );
                near_ties += 1;
            }
        }
    }
    assert!(near_ties <= 4, "{near_ties} near-ties swapped hypotheses");
    // The OpenNMT-py route decodes the same way.
    let inputs: Vec<Value> = lines[..64].iter().map(|l| json!({"src": l})).collect();
    let (_, o) = server.post("/translator/translate", &Value::Array(inputs));
    let got: Vec<&str> = o[0].as_array().unwrap().iter().map(|r| r["tgt"].as_str().unwrap()).collect();
    assert_eq!(got, greedy_reference()[..64].iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn alignments_equal_nmt_translates_pharaoh_lines() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.align");
    nmt_translate(&["--alignments", file.to_str().unwrap()]);
    let want: Vec<String> = std::fs::read_to_string(&file).unwrap().lines().map(str::to_string).collect();
    let lines = test_lines();
    let (status, r) = server.post("/v1/translate", &json!({"text": &lines[..64], "alignment": true}));
    assert_eq!(status, 200, "{r}");
    let got: Vec<String> = r["translations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let links = t["alignment"].as_array().unwrap_or_else(|| panic!("no alignment in {t}"));
            links.iter().map(|l| format!("{}-{}", l[0], l[1])).collect::<Vec<_>>().join(" ")
        })
        .collect();
    assert!(got.iter().any(|l| !l.is_empty()), "every alignment is empty");
    assert_eq!(got, want[..64]);
    // Without the flag, no alignment.
    let (_, r) = server.post("/v1/translate", &json!({"text": &lines[0]}));
    assert!(r["translations"][0].get("alignment").is_none(), "{r}");
}

#[test]
fn sixty_four_concurrent_clients_each_get_their_own_translation() {
    let server = Server::start(&[]);
    let lines = test_lines();
    let reference = greedy_reference();
    // 64 different sentences (the test set repeats none of its first lines).
    let picked: Vec<usize> = (0..64).collect();
    assert_eq!(picked.iter().map(|&i| &lines[i]).collect::<std::collections::HashSet<_>>().len(), 64);
    let start = Arc::new(Barrier::new(picked.len()));
    let port = server.port;
    let clients: Vec<_> = picked
        .iter()
        .map(|&i| {
            let (line, start) = (lines[i].clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let r = request(port, "POST", "/v1/translate", json!({"text": line}).to_string().as_bytes());
                (i, r.status, r.json())
            })
        })
        .collect();
    for c in clients {
        let (i, status, body) = c.join().unwrap();
        assert_eq!(status, 200, "{body}");
        let t = &body["translations"][0];
        assert_eq!(t["source_text"], lines[i].as_str(), "client {i} got another client's sentence");
        assert_eq!(t["translation"], reference[i].as_str(), "client {i}: differs from nmt translate");
    }
    let h = server.health_when(|h| h["decoded"] == 64);
    assert_eq!(h["dropped"], 0);
}

#[test]
fn bad_requests_get_their_status_and_a_message_naming_the_problem() {
    let server = Server::start(&["--max-sentences", "4", "--max-chars", "50", "--max-body", "2KiB"]);
    let long = "a".repeat(51);
    let too_big = format!("{{\"text\": \"{}\"}}", "a ".repeat(1500));
    let cases: Vec<(&str, &str, String, u16, &[&str])> = vec![
        ("POST", "/v1/translate", "{\"text\": ".into(), 400, &["not valid JSON"]),
        ("POST", "/v1/translate", "".into(), 400, &["not valid JSON"]),
        ("POST", "/v1/translate", "[\"toy-model\", \"a\"]".into(), 400, &["expected a JSON object"]),
        ("POST", "/v1/translate", "\"a\"".into(), 400, &["expected a JSON object"]),
        ("POST", "/translator/translate", r#"{"src": "a"}"#.into(), 400, &["request body", "invalid type"]),
        ("POST", "/v1/translate", r#"{"text": 5}"#.into(), 400, &["\"text\"", "a sentence or a list of sentences"]),
        ("POST", "/v1/translate", r#"{"text": ["a", 5]}"#.into(), 400, &["text[1]", "invalid type"]),
        ("POST", "/v1/translate", r#"{"text": "a", "beam": "5"}"#.into(), 400, &["\"beam\"", "invalid type"]),
        ("POST", "/v1/translate", r#"{"text": "a", "beam": -1}"#.into(), 400, &["\"beam\""]),
        ("POST", "/v1/translate", r#"{"text": "a", "colour": 1}"#.into(), 400, &["unknown field `colour`"]),
        ("POST", "/v1/translate", r#"{"beam": 2}"#.into(), 400, &["missing field `text`"]),
        ("POST", "/v1/translate", r#"{"text": []}"#.into(), 400, &["\"text\" is an empty list"]),
        (
            "POST",
            "/v1/translate",
            r#"{"text": ["a","b","c","d","e"]}"#.into(),
            400,
            &["5 sentences", "--max-sentences", "4"],
        ),
        (
            "POST",
            "/v1/translate",
            format!(r#"{{"text": ["a", "{long}"]}}"#),
            400,
            &["\"text\"[1]", "51 characters", "--max-chars"],
        ),
        ("POST", "/v1/translate", format!(r#"{{"text": "{long}"}}"#), 400, &["\"text\" has 51 characters"]),
        ("POST", "/v1/translate", r#"{"text": "a", "beam": 11}"#.into(), 400, &["\"beam\" 11", "--max-beam", "10"]),
        ("POST", "/v1/translate", r#"{"text": "a", "beam": 0}"#.into(), 400, &["\"beam\" must be ≥ 1"]),
        (
            "POST",
            "/v1/translate",
            r#"{"text": "a", "beam": 2, "n_best": 3}"#.into(),
            400,
            &["\"n_best\" 3", "\"beam\""],
        ),
        ("POST", "/v1/translate", r#"{"text": "a", "n_best": 11}"#.into(), 400, &["\"n_best\" 11", "--max-beam"]),
        (
            "POST",
            "/v1/translate",
            r#"{"text": "a", "max_len": 301}"#.into(),
            400,
            &["\"max_len\" 301", "--max-len", "300"],
        ),
        ("POST", "/v1/translate", r#"{"text": "a", "max_len": 0}"#.into(), 400, &["\"max_len\" must be ≥ 1"]),
        ("POST", "/v1/translate", r#"{"text": "a", "length_penalty": -1}"#.into(), 400, &["\"length_penalty\""]),
        (
            "POST",
            "/v1/translate",
            r#"{"text": "a", "model": "nope"}"#.into(),
            404,
            &["unknown model \"nope\"", "toy-model"],
        ),
        ("POST", "/v1/translate", too_big.clone(), 413, &["--max-body", "2048 bytes"]),
        ("GET", "/v1/translate", "".into(), 405, &["GET", "not allowed", "/v1/translate"]),
        ("DELETE", "/v1/models", "".into(), 405, &["DELETE", "not allowed"]),
        ("GET", "/v2/translate", "".into(), 404, &["no route", "/v2/translate"]),
        ("POST", "/translator/translate", "[]".into(), 400, &["empty list"]),
        ("POST", "/translator/translate", r#"[{"src": 5}]"#.into(), 400, &["src", "invalid type"]),
        ("POST", "/translator/translate", r#"[{"id": 100}]"#.into(), 400, &["missing field `src`"]),
        ("POST", "/translator/translate", r#"[{"src": "a", "id": 7}]"#.into(), 404, &["unknown model id 7", "100"]),
        ("POST", "/translator/translate", format!(r#"[{{"src": "{long}"}}]"#), 400, &["[0].src", "--max-chars"]),
        (
            "POST",
            "/v1/heatmap",
            r#"{"text": "a", "model": "toy-model", "models": ["toy-model"]}"#.into(),
            400,
            &["\"model\" or \"models\""],
        ),
        ("POST", "/v1/heatmap", r#"{"text": "a", "models": []}"#.into(), 400, &["\"models\" must name 1 to 4"]),
        ("POST", "/v1/heatmap", r#"{"text": "a", "models": ["x"]}"#.into(), 404, &["unknown model \"x\""]),
        ("POST", "/v1/heatmap", r#"{"text": "a", "head": 0}"#.into(), 400, &["\"head\" 0", "no per-head weights"]),
        (
            "POST",
            "/v1/heatmap",
            r#"{"text": "a", "format": "jpg"}"#.into(),
            400,
            &["\"format\"", "unknown variant `jpg`"],
        ),
        ("POST", "/v1/heatmap", r#"{"text": ["a"]}"#.into(), 400, &["\"text\"", "invalid type"]),
        ("POST", "/v1/heatmap", r#"{"text": "a", "n_best": 2}"#.into(), 400, &["unknown field `n_best`"]),
    ];
    for (method, path, body, status, words) in &cases {
        let r = server.request(method, path, body.as_bytes());
        let shown = format!("{method} {path} {body:.60}");
        assert_eq!(r.status, *status, "{shown}: {}", r.text());
        assert_eq!(r.header("content-type").as_deref(), Some("application/json"), "{shown}");
        let error =
            r.json()["error"].as_str().unwrap_or_else(|| panic!("{shown}: no \"error\": {}", r.text())).to_string();
        for w in *words {
            assert!(error.contains(w), "{shown}: {error:?} lacks {w:?}");
        }
    }
    // One bad request never disturbs another: the server still translates.
    let (status, t) = server.post("/v1/translate", &json!({"text": "the red car is not fast."}));
    assert_eq!(status, 200, "{t}");
    let log = server.log();
    assert!(log.iter().any(|l| l.starts_with("POST /v1/translate 413 0 sentences")), "{log:?}");
}

#[test]
fn a_full_queue_answers_503_and_a_late_answer_504() {
    // The worker waits a second for a batch to fill, holding the first request's 2 sentences.
    let server = Server::start(&["--queue", "2", "--max-wait-ms", "1000"]);
    let port = server.port;
    let first = std::thread::spawn(move || request(port, "POST", "/v1/translate", br#"{"text": ["a b", "c d"]}"#));
    server.health_when(|h| h["waiting"] == 2);
    let (status, full) = server.post("/v1/translate", &json!({"text": "the dog."}));
    assert_eq!(status, 503, "{full}");
    assert!(full["error"].as_str().unwrap().contains("--queue is 2"), "{full}");
    let first = first.join().unwrap();
    assert_eq!(first.status, 200, "{}", first.text());

    // --timeout-s 1 with a batch wait of 1 s plus decoding: a request gets 504 and its sentences are dropped.
    let server = Server::start(&["--max-wait-ms", "1500", "--timeout-s", "1"]);
    let (status, late) = server.post("/v1/translate", &json!({"text": ["a b", "c d", "e f"]}));
    assert_eq!(status, 504, "{late}");
    assert!(late["error"].as_str().unwrap().contains("--timeout-s"), "{late}");
    let h = server.health_when(|h| h["dropped"] == 3);
    assert_eq!(h["decoded"], 0, "a timed-out request's sentences are not decoded: {h}");
}

#[test]
fn a_disconnected_clients_sentences_are_dropped_not_decoded() {
    let server = Server::start(&["--max-wait-ms", "1500"]);
    let body = json!({"text": ["the red car is not fast.", "the dog.", "my street."]}).to_string();
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(s, "POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    server.health_when(|h| h["waiting"] == 3);
    drop(s);
    let h = server.health_when(|h| h["dropped"] == 3);
    assert_eq!(h["decoded"], 0, "{h}");
    // The next client is served as usual.
    let (status, t) = server.post("/v1/translate", &json!({"text": "the dog."}));
    assert_eq!((status, t["translations"][0]["source_text"].as_str()), (200, Some("the dog.")));
}

#[test]
fn sigterm_answers_every_request_in_flight_and_exits_0() {
    let mut server = Server::start(&["--max-wait-ms", "700"]);
    let lines = test_lines();
    let reference = greedy_reference();
    let port = server.port;
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let line = lines[i].clone();
            std::thread::spawn(move || {
                let r = request(port, "POST", "/v1/translate", json!({"text": line}).to_string().as_bytes());
                (i, r.status, r.json())
            })
        })
        .collect();
    server.health_when(|h| h["waiting"] == 8);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) }, 0);
    for c in clients {
        let (i, status, body) = c.join().unwrap();
        assert_eq!(status, 200, "client {i}: {body}");
        assert_eq!(body["translations"][0]["translation"], reference[i].as_str());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{:?}", server.log());
    assert!(server.log().iter().any(|l| l.starts_with("shutting down")), "{:?}", server.log());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "still accepting after shutdown");
}

#[test]
fn start_up_stops_naming_a_model_that_cannot_be_served() {
    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no-such-model");
    let dir = model_dir();
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (vec![format!("ok={}", dir.display()), missing.display().to_string()], vec![missing.display().to_string()]),
        (vec![format!("{}+", dir.display())], vec!["member 2 of the ensemble is empty".into()]),
        (vec![dir.display().to_string(), dir.display().to_string()], vec!["\"toy-model\" is already served".into()]),
    ];
    for (models, words) in cases {
        let mut cmd = Command::new(NMT);
        cmd.args(["--threads", "1", "serve", "--port", "0"]);
        for m in &models {
            cmd.args(["--model", m]);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{models:?}: {stderr}");
        assert!(!stderr.contains("listening on"), "{models:?}: {stderr}");
        for w in words {
            assert!(stderr.contains(&w), "{models:?}: {stderr:?} lacks {w:?}");
        }
    }
}

#[test]
fn health_says_loading_until_every_model_has_loaded() {
    // The model's weights file is a named pipe: loading blocks on it until the test writes the weights.
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.toml", "tokenizer.src.json", "tokenizer.tgt.json"] {
        std::fs::copy(model_dir().join(f), dir.path().join(f)).unwrap();
    }
    let weights = dir.path().join("best.safetensors");
    let fifo = std::ffi::CString::new(weights.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let model = format!("slow={}", dir.path().display());
    let (child, first, log) = spawn(&["--model", &model, "--port", &port.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server never bound port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let h = request(port, "GET", "/health", b"");
    assert_eq!((h.status, h.json()), (503, json!({"status": "loading", "waiting": 0, "decoded": 0, "dropped": 0})));
    let t = request(port, "POST", "/v1/translate", br#"{"text": "the dog."}"#);
    assert_eq!(t.status, 503);
    assert!(t.json()["error"].as_str().unwrap().contains("still loading"), "{}", t.text());
    assert!(first.try_recv().is_err(), "nothing is printed before the models have loaded");
    std::fs::write(&weights, std::fs::read(model_dir().join("best.safetensors")).unwrap()).unwrap();
    let server = Server::listening(child, first, log);
    assert_eq!(server.port, port);
    let (status, h) = server.get("/health");
    assert_eq!((status, &h["status"]), (200, &json!("ok")));
    let (status, t) = server.post("/v1/translate", &json!({"text": "the red car is not fast."}));
    assert_eq!((status, &t["model"]), (200, &json!("slow")));
}
