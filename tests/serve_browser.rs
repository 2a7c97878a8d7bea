//! The page of `nmt serve` (`GET /`) in a real browser: headless Chromium (Debian's `chromium`),
//! driven over WebDriver (`fantoccini` → Debian's `chromium-driver`), against a server on the
//! committed toy model. It types a toy test sentence, translates, and checks the translation against
//! `nmt translate`, the heatmap's |target| × |source| cells against `--attention-json`, the highlight
//! and weight a hovered cell shows, the n-best list against `--n-best`, that typed markup is shown as
//! text and never runs, translating with the keyboard alone, and the page at a phone's 375 px width;
//! it saves screenshots into the target directory.
//!
//! Needs Chromium: `#[ignore]`d in a plain `cargo test`; `scripts/test.sh` installs Chromium when it
//! is missing and runs these tests, which fail (never skip) when the browser cannot start.

mod serve_support;

use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use serve_support::{model_dir, test_set, Server, NMT};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long anything may take before the test gives up: a server start, a translation, a page load.
const PATIENCE: Duration = Duration::from_secs(60);

/// Line `n` (0-based) of the toy test set.
fn toy_test_line(n: usize) -> String {
    std::fs::read_to_string(test_set()).unwrap().lines().nth(n).unwrap().to_string()
}

/// chromedriver on a free port in its own process group (with the Chromium it starts), and a WebDriver
/// session with headless Chromium; the group is killed when dropped, so a failing test leaves no
/// browser behind.
struct Browser {
    driver: Child,
    client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A browser window of 1280 px, or with `phone_width` an emulated phone screen that wide.
    async fn start(phone_width: Option<u32>) -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: install Debian's `{package}` (scripts/test.sh does when run as root)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        // Without the background-networking flags Chromium hangs on connection attempts in a closed network.
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut chrome = json!({ "binary": CHROMIUM });
        match phone_width {
            Some(width) => {
                chrome["mobileEmulation"] =
                    json!({ "deviceMetrics": { "width": width, "height": 800, "pixelRatio": 1.0 } })
            }
            None => args.push("--window-size=1280,1000".into()),
        }
        chrome["args"] = json!(args);
        let caps = json!({ "browserName": "chrome", "goog:chromeOptions": chrome });
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps.as_object().unwrap().clone());
        let client = match builder.connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(client) => client,
            Err(e) => {
                kill_group(&mut driver);
                panic!("headless Chromium did not start through chromedriver: {e}");
            }
        };
        Browser { driver, client, _profile: profile }
    }

    /// Ends the WebDriver session; dropping `self` then stops chromedriver.
    async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

fn kill_group(child: &mut Child) {
    // SAFETY: kill(2) on the process group this test created; no memory is involved.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// What `nmt translate --attention-json` says about one sentence.
struct Reference {
    translation: String,
    source: Vec<String>,
    target: Vec<String>,
    weights: Vec<Vec<f64>>,
}

fn reference(sentence: &str) -> Reference {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("a.jsonl");
    let out = run_translate(sentence, &["--attention-json", json_path.to_str().unwrap()]);
    let record: Value = serde_json::from_str(std::fs::read_to_string(&json_path).unwrap().trim()).unwrap();
    let strings = |v: &Value| v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    let reference = Reference {
        translation: record["translation"].as_str().unwrap().to_string(),
        source: strings(&record["source"]),
        target: strings(&record["target"]),
        weights: record["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row.as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).collect())
            .collect(),
    };
    assert_eq!(out.trim_end_matches('\n'), reference.translation);
    reference
}

/// `nmt translate` on the toy model for one sentence → its stdout.
fn run_translate(sentence: &str, args: &[&str]) -> String {
    let mut child = Command::new(NMT)
        .args(["--threads", "1", "translate", "--model"])
        .arg(model_dir())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{sentence}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "nmt translate failed");
    String::from_utf8(out.stdout).unwrap()
}

async fn js(c: &Client, script: &str, args: Vec<Value>) -> Value {
    c.execute(script, args).await.unwrap_or_else(|e| panic!("script {script:?} failed: {e}"))
}

/// Waits until the JavaScript expression `cond` is true, failing with `what` and the page's status line.
async fn wait_until(c: &Client, cond: &str, args: Vec<Value>, what: &str) {
    let started = Instant::now();
    let script = format!("return Boolean({cond});");
    while js(c, &script, args.clone()).await != json!(true) {
        if started.elapsed() > PATIENCE {
            let status = js(c, "return document.getElementById('status').textContent", vec![]).await;
            panic!("timed out waiting for {what}; the page's status line: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Loads the page and waits until it has listed the models.
async fn open_page(c: &Client, server: &Server) {
    c.goto(&format!("{}/", server.url())).await.unwrap();
    wait_until(c, "document.querySelectorAll('#model option').length > 0", vec![], "the model list").await;
}

/// Types `sentence` into the box (replacing what is there) and presses Enter; waits for the answer.
async fn translate(c: &Client, sentence: &str) {
    let text = c.find(Locator::Id("text")).await.unwrap();
    text.clear().await.unwrap();
    text.send_keys(sentence).await.unwrap();
    text.send_keys(&Key::Enter.to_string()).await.unwrap();
    wait_for_answer(c, sentence).await;
}

async fn wait_for_answer(c: &Client, sentence: &str) {
    wait_until(
        c,
        "document.getElementById('source-echo').textContent === arguments[0] && !document.getElementById('go').hasAttribute('aria-busy')",
        vec![json!(sentence)],
        "the translation",
    )
    .await;
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}")).text().await.unwrap()
}

async fn has_class(c: &Client, css: &str, class: &str) -> bool {
    let el = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
    el.attr("class").await.unwrap().unwrap_or_default().split_whitespace().any(|k| k == class)
}

/// Presses keys one after the other, as a person at a keyboard would, into whatever has the focus.
async fn press(c: &Client, keys: impl IntoIterator<Item = char>) {
    let mut seq = KeyActions::new("keyboard".into());
    for key in keys {
        seq = seq.then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    }
    c.perform_actions(seq).await.unwrap();
}

fn save_screenshot(png: &[u8], name: &str) -> PathBuf {
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium"]
async fn the_page_translates_shows_attention_and_keeps_typed_markup_as_text() {
    let server = Server::start(&[]);
    let browser = Browser::start(None).await;
    let c = &browser.client;
    open_page(c, &server).await;

    // Translate a toy test sentence; the page shows what `nmt translate` prints.
    let sentence = toy_test_line(0);
    let want = reference(&sentence);
    translate(c, &sentence).await;
    assert_eq!(text_of(c, ".panel .translation").await, want.translation);

    // The heatmap: one cell per (target token, source token), labelled with the tokens.
    let (rows, cols) = (want.target.len(), want.source.len());
    let cells = c.find_all(Locator::Css(".heatmap .cell")).await.unwrap();
    assert_eq!(cells.len(), rows * cols, "cells of a {rows} × {cols} heatmap");
    assert_eq!(c.find_all(Locator::Css(".heatmap .src-tok")).await.unwrap().len(), cols);
    assert_eq!(c.find_all(Locator::Css(".heatmap .tgt-tok")).await.unwrap().len(), rows);
    let labels =
        js(c, "return [...document.querySelectorAll('.heatmap .src-tok')].map(e => e.textContent)", vec![]).await;
    assert_eq!(labels, json!(want.source));

    // Hovering a cell highlights its source and target tokens and shows its weight.
    let (i, j) = (1.min(rows - 1), 2.min(cols - 1));
    let cell_css = format!(".heatmap .cell[data-t=\"{i}\"][data-s=\"{j}\"]");
    let cell = c.find(Locator::Css(&cell_css)).await.unwrap();
    js(c, "arguments[0].scrollIntoView({block: 'center', inline: 'center'})", vec![json!(cell)]).await;
    assert!(!has_class(c, &format!(".src-tok[data-s=\"{j}\"]"), "hl").await, "highlighted before the hover");
    let hover = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
        element: cell.clone(),
        duration: None,
        x: 0.0,
        y: 0.0,
    });
    c.perform_actions(hover).await.unwrap();
    assert!(
        has_class(c, &format!(".heatmap .src-tok[data-s=\"{j}\"]"), "hl").await,
        "source token {j} not highlighted"
    );
    assert!(
        has_class(c, &format!(".heatmap .tgt-tok[data-t=\"{i}\"]"), "hl").await,
        "target token {i} not highlighted"
    );
    assert!(has_class(c, &cell_css, "active").await);
    assert_eq!(c.find_all(Locator::Css(".heatmap .hl")).await.unwrap().len(), 2, "only the hovered cell's tokens");
    let shown: f64 = cell.attr("data-w").await.unwrap().unwrap().parse().unwrap();
    assert!((shown - want.weights[i][j]).abs() < 1e-4, "cell weight {shown} vs nmt translate's {}", want.weights[i][j]);
    let readout = text_of(c, ".panel .readout").await;
    assert!(readout.contains(&format!("{shown:.3}")), "the readout {readout:?} does not show {shown:.3}");
    // … and the bars show that target token's attention over the source.
    assert_eq!(c.find_all(Locator::Css(".panel .bars .bar-item")).await.unwrap().len(), cols);
    assert!(has_class(c, &format!(".panel .bar-item[data-s=\"{j}\"]"), "hl").await);
    save_screenshot(&c.screenshot().await.unwrap(), "serve-page.png");

    // The n-best list with scores: `nmt translate --beam 3 --n-best 3`'s.
    let nbest_line = run_translate(&sentence, &["--beam", "3", "--n-best", "3"]);
    let fields: Vec<&str> = nbest_line.trim_end_matches('\n').split('\t').collect();
    c.find(Locator::Css("#beam option[value=\"3\"]")).await.unwrap().click().await.unwrap();
    c.find(Locator::Id("go")).await.unwrap().click().await.unwrap();
    wait_until(c, "document.querySelectorAll('.panel .nbest li').length === 3", vec![], "a 3-best list").await;
    let items = js(
        c,
        "return [...document.querySelectorAll('.panel .nbest li')].map(li => [li.querySelector('.nb-text').textContent, li.querySelector('.nb-score').textContent])",
        vec![],
    )
    .await;
    for (k, item) in items.as_array().unwrap().iter().enumerate() {
        assert_eq!(item[0], json!(fields[2 * k]), "n-best translation {k}");
        let page: f64 = item[1].as_str().unwrap().parse().unwrap();
        let cli: f64 = fields[2 * k + 1].parse().unwrap();
        assert!((page - cli).abs() < 1e-3, "n-best score {k}: page {page}, nmt translate {cli}");
    }

    // Markup in a sentence is text: shown literally, never run.
    let markup = "<script>alert(1)</script> <b>bold</b> <img src=x onerror=alert(2)>";
    translate(c, markup).await;
    assert_eq!(text_of(c, "#source-echo").await, markup);
    assert!(c.get_alert_text().await.is_err(), "an alert opened: the sentence ran as script");
    assert_eq!(js(c, "return document.querySelectorAll('script').length", vec![]).await, json!(2));
    assert_eq!(js(c, "return document.querySelectorAll('b, img').length", vec![]).await, json!(0));
    assert_eq!(c.find_all(Locator::Css(".panel .translation")).await.unwrap().len(), 1, "no translation shown");

    // The keyboard alone: from a fresh page, Tab reaches the box first; typing and Enter translate.
    let sentence = toy_test_line(1);
    let want = reference(&sentence);
    open_page(c, &server).await;
    press(c, [Key::Tab.into()]).await;
    assert_eq!(js(c, "return document.activeElement.id", vec![]).await, json!("text"), "Tab from the top");
    press(c, sentence.chars().chain([char::from(Key::Enter)])).await;
    wait_for_answer(c, &sentence).await;
    assert_eq!(text_of(c, ".panel .translation").await, want.translation);
    assert_eq!(
        js(c, "return document.getElementById('text').value", vec![]).await,
        json!(sentence),
        "Enter added to the box"
    );

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium"]
async fn the_page_fits_a_375_px_phone_screen() {
    let server = Server::start(&[]);
    let browser = Browser::start(Some(375)).await;
    let c = &browser.client;
    open_page(c, &server).await;
    assert_eq!(js(c, "return window.innerWidth", vec![]).await, json!(375), "the emulated screen width");
    let sentence = toy_test_line(2);
    translate(c, &sentence).await;
    wait_until(c, "document.querySelectorAll('.heatmap .cell').length > 0", vec![], "the heatmap").await;
    // No horizontal scrolling of the page, and every control lies inside the screen (the heatmap may
    // scroll inside its own box).
    let widths = js(c, "return [document.documentElement.scrollWidth, document.body.scrollWidth]", vec![]).await;
    for w in widths.as_array().unwrap() {
        assert!(w.as_u64().unwrap() <= 375, "the page is {w} px wide at 375 px");
    }
    let outside = js(
        c,
        "return ['text', 'go', 'model', 'compare', 'model2', 'beam', 'lp', 'words', 'download']
           .filter(id => { const r = document.getElementById(id).getBoundingClientRect();
                           return r.width === 0 || r.left < 0 || r.right > window.innerWidth; })",
        vec![],
    )
    .await;
    assert_eq!(outside, json!([]), "controls not (fully) on the screen");
    save_screenshot(&c.screenshot().await.unwrap(), "serve-page-375px.png");
    browser.close().await;
}
