//! One worker OS thread per model: it loads and owns the model's [`Engine`] (libtorch's thread count
//! is set inside it, since it is per OS thread), and decodes batches gathered from every connection's
//! requests. Handlers hand it [`Job`]s through a [`Queue`] and await the answer on a oneshot channel.
//!
//! Batching: the worker takes the first waiting job, then keeps taking jobs until it holds
//! `max_batch` sentences or `max_wait` has passed since the first; it groups the jobs by their
//! resolved decoding (different options never share a batch), decodes each group in one
//! [`Engine::translate_with`] call (which sorts by length and splits into batches of `max_batch`), and
//! sends each job its own translations. A job whose requester has gone (client disconnected, or timed
//! out) is dropped, not decoded.

use super::error::ApiError;
use axum::http::StatusCode;
use nmt::engine::{DecodeOptions, Decoding, Engine, LoadOptions, ModelInfo, Translation};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Sentences to translate with one set of options, and where to send the result.
pub struct Job {
    pub lines: Vec<String>,
    pub options: DecodeOptions,
    reply: oneshot::Sender<Result<Decoded, ApiError>>,
}

/// A job's answer: its translations, in order, and the decoding that made them.
pub struct Decoded {
    pub translations: Vec<Translation>,
    pub decoding: Decoding,
}

/// Sentence counts of one model, for `/health`.
#[derive(Default)]
pub struct Counters {
    /// Sentences queued or being gathered into a batch: not decoding yet.
    pub waiting: AtomicUsize,
    pub decoded: AtomicU64,
    /// Sentences whose requester went away before they were decoded.
    pub dropped: AtomicU64,
}

/// How the worker gathers batches.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    pub max_batch: usize,
    pub max_wait: Duration,
}

/// The handlers' side of a worker: submits jobs, refuses them past the queue limit.
pub struct Queue {
    name: String,
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    pub counters: Arc<Counters>,
    /// Most sentences waiting at once (`--queue`).
    limit: usize,
}

/// A started worker: its queue, its thread, and the outcome of loading its model.
pub struct Worker {
    pub queue: Queue,
    pub thread: JoinHandle<()>,
    pub loaded: oneshot::Receiver<nmt::Result<ModelInfo>>,
}

/// Starts the worker thread of model `dirs` (one directory or an ensemble's, named `name`): it sets libtorch to `threads` threads,
/// loads the model, reports on `loaded`, then serves jobs until the queue is closed.
pub fn start(
    name: &str,
    dirs: Vec<PathBuf>,
    load: LoadOptions,
    threads: usize,
    batching: Batching,
    limit: usize,
) -> nmt::Result<Worker> {
    let (sender, jobs) = mpsc::channel::<Job>();
    let (loaded_tx, loaded) = oneshot::channel();
    let counters = Arc::new(Counters::default());
    let worker_counters = Arc::clone(&counters);
    let thread = std::thread::Builder::new()
        .name(format!("model {name}"))
        .spawn(move || {
            tch::set_num_threads(threads as i32);
            let engine = match Engine::load_ensemble(&dirs, &load) {
                Ok(engine) => engine,
                Err(e) => {
                    let _ = loaded_tx.send(Err(e));
                    return;
                }
            };
            if loaded_tx.send(Ok(engine.info().clone())).is_err() {
                return;
            }
            while let Some(batch) = gather(&jobs, batching) {
                let taken: usize = batch.iter().map(|j| j.lines.len()).sum();
                worker_counters.waiting.fetch_sub(taken, Ordering::SeqCst);
                decode(&engine, batch, &worker_counters);
            }
        })
        .map_err(|e| nmt::Error::Usage(format!("model {name}: cannot start its worker thread: {e}")))?;
    let queue = Queue { name: name.to_string(), sender: Mutex::new(Some(sender)), counters, limit };
    Ok(Worker { queue, thread, loaded })
}

/// The next batch: the first job to arrive, and those arriving within `max_wait` of it up to
/// `max_batch` sentences. `None` once the queue is closed and empty.
fn gather(jobs: &mpsc::Receiver<Job>, b: Batching) -> Option<Vec<Job>> {
    let first = jobs.recv().ok()?;
    let mut sentences = first.lines.len();
    let mut batch = vec![first];
    let deadline = Instant::now() + b.max_wait;
    while sentences < b.max_batch {
        let left = deadline.saturating_duration_since(Instant::now());
        // Whatever is already queued joins even when the wait is over (or is 0).
        let next = if left.is_zero() { jobs.try_recv().ok() } else { jobs.recv_timeout(left).ok() };
        let Some(job) = next else { break };
        sentences += job.lines.len();
        batch.push(job);
    }
    Some(batch)
}

/// True (and counted as dropped) when nobody waits for `job`'s answer any more.
fn abandoned(job: &Job, counters: &Counters) -> bool {
    let gone = job.reply.is_closed();
    if gone {
        counters.dropped.fetch_add(job.lines.len() as u64, Ordering::SeqCst);
    }
    gone
}

/// Decodes a batch: resolves each job's options through the engine (a bad option answers that job
/// alone), groups the jobs by decoding, translates each group at once and answers every job.
fn decode(engine: &Engine, batch: Vec<Job>, counters: &Counters) {
    let mut groups: Vec<(Decoding, Vec<Job>)> = Vec::new();
    for job in batch {
        if abandoned(&job, counters) {
            continue;
        }
        match engine.resolve(&job.options, |field| format!("\"{field}\"")) {
            Err(e) => {
                let _ = job.reply.send(Err(ApiError::bad_request(e.to_string())));
            }
            Ok(d) => match groups.iter_mut().find(|(g, _)| *g == d) {
                Some((_, jobs)) => jobs.push(job),
                None => groups.push((d, vec![job])),
            },
        }
    }
    for (d, jobs) in groups {
        // Earlier groups took time: look again.
        let jobs: Vec<Job> = jobs.into_iter().filter(|j| !abandoned(j, counters)).collect();
        if jobs.is_empty() {
            continue;
        }
        let lines: Vec<String> = jobs.iter().flat_map(|j| j.lines.iter().cloned()).collect();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| engine.translate_with(&lines, &d)));
        counters.decoded.fetch_add(lines.len() as u64, Ordering::SeqCst);
        let internal = |msg: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg);
        match result {
            Ok(Ok(translations)) => {
                let mut rest = translations.into_iter();
                for job in jobs {
                    let translations = rest.by_ref().take(job.lines.len()).collect();
                    let _ = job.reply.send(Ok(Decoded { translations, decoding: d }));
                }
            }
            Ok(Err(e)) => jobs.into_iter().for_each(|j| {
                let _ = j.reply.send(Err(internal(format!("decoding failed: {e}"))));
            }),
            Err(_) => jobs.into_iter().for_each(|j| {
                let _ = j.reply.send(Err(internal("internal error: decoding panicked".into())));
            }),
        }
    }
}

impl Queue {
    /// Queues `lines` for translation with `options` and waits for the answer, at most `timeout`.
    /// 503 when the queue holds `--queue` sentences already or is closed, 504 past the timeout (the
    /// sentences are then dropped undecoded if the worker has not reached them).
    pub async fn translate(
        &self,
        lines: Vec<String>,
        options: DecodeOptions,
        timeout: Duration,
    ) -> Result<Decoded, ApiError> {
        let n = lines.len();
        let (reply, answer) = oneshot::channel();
        let waiting = self.counters.waiting.fetch_add(n, Ordering::SeqCst);
        if waiting + n > self.limit {
            self.counters.waiting.fetch_sub(n, Ordering::SeqCst);
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "model {}: {waiting} sentences are waiting and --queue is {}; try again later",
                    self.name, self.limit
                ),
            ));
        }
        let sent = match self.sender.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(sender) => sender.send(Job { lines, options, reply }).is_ok(),
            None => false,
        };
        if !sent {
            self.counters.waiting.fetch_sub(n, Ordering::SeqCst);
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down"));
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal error: the worker of model {} stopped", self.name),
            )),
            Err(_) => Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("no translation within --timeout-s ({} s)", timeout.as_secs()),
            )),
        }
    }

    /// Refuses new jobs; the worker finishes those queued and ends.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
