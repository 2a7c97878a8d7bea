//! Shared by the `serve_*` tests and `ensemble`: `nmt serve` started on port 0 (one thread, CPU) and
//! killed when dropped, and a few lines of HTTP client over `TcpStream` (one request per connection,
//! `Connection: close`) rather than a crate: the tests also send malformed requests and hang up
//! mid-request, which a client library would not do.
#![allow(dead_code)] // each test file uses a different part of this module

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub const NMT: &str = env!("CARGO_BIN_EXE_nmt");

/// The committed toy model.
pub fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toy-model")
}

/// The toy test set's source side.
pub fn test_set() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/toy-en-fr/test.en")
}

/// A running `nmt serve` (one thread, CPU); killed when dropped if still running.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// Every stderr line after the first.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `nmt serve --port 0 ARGS` (`--model` the toy model unless ARGS name models) and waits for
    /// its first stderr line, which must be `listening on http://127.0.0.1:PORT`.
    pub fn start(args: &[&str]) -> Server {
        let mut all = vec!["--port", "0"];
        all.extend_from_slice(args);
        let (child, first, log) = spawn(&all);
        Server::listening(child, first, log)
    }

    /// The server `spawn` started, once it says where it listens.
    pub fn listening(child: Child, first: mpsc::Receiver<Option<String>>, log: Arc<Mutex<Vec<String>>>) -> Server {
        let first = first.recv_timeout(Duration::from_secs(60)).unwrap().expect("the server printed nothing");
        let port = first
            .strip_prefix("listening on http://127.0.0.1:")
            .unwrap_or_else(|| panic!("first stderr line: {first:?}"))
            .parse()
            .unwrap();
        Server { child, port, log }
    }

    /// Where it listens: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Response {
        request(self.port, method, path, body)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self.request("POST", path, body.to_string().as_bytes());
        (r.status, r.json())
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = self.request("GET", path, b"");
        (r.status, r.json())
    }

    /// `/health`'s counts once `ready(health)` holds (within 10 s).
    pub fn health_when(&self, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, h) = self.get("/health");
            if ready(&h) {
                return h;
            }
            assert!(Instant::now() < deadline, "/health never got there: {h}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Spawns `nmt serve ARGS` (`--model` the toy model unless ARGS name models): the child, its first
/// stderr line when it comes, and the lines after it.
#[allow(clippy::type_complexity)]
pub fn spawn(args: &[&str]) -> (Child, mpsc::Receiver<Option<String>>, Arc<Mutex<Vec<String>>>) {
    let mut cmd = Command::new(NMT);
    cmd.args(["--threads", "1", "--device", "cpu", "serve"]);
    if !args.contains(&"--model") {
        cmd.arg("--model").arg(model_dir());
    }
    let mut child = cmd.args(args).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let (first_tx, first_rx) = mpsc::channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stderr).lines();
        let _ = first_tx.send(lines.next().and_then(Result::ok));
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (child, first_rx, log)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {}: body is not JSON ({e}): {:?}", self.status, self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// One HTTP/1.1 request on its own connection; the whole answer, read to the connection's end.
pub fn request(port: u16, method: &str, path: &str, body: &[u8]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A server refusing a large body may answer and close before reading it all.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("no end of headers");
    let headers = String::from_utf8(raw[..split].to_vec()).unwrap();
    let status = headers.split(' ').nth(1).unwrap().parse().unwrap();
    let mut r = Response { status, headers, body: raw[split + 4..].to_vec() };
    if r.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        r.body = dechunk(&r.body);
    }
    r
}

/// The payload of a chunked body.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}
