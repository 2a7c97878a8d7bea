//! `nmt serve`: models behind HTTP. A thin face over the engine: this module owns HTTP (axum on a tokio
//! runtime), queueing and batching, and nothing about models.
//!
//! Start-up binds the address first (so `/health` answers 503 `loading` at once), starts one worker
//! thread per model that loads it, and once all have loaded prints `listening on http://HOST:PORT` as
//! the first line on stderr; a model that fails to load stops start-up with an error naming its
//! directory. SIGINT/SIGTERM stop accepting connections, every request already received is answered,
//! the workers finish their queues, and the process exits 0.
//!
//! Files: `spec` (`--model [NAME=]DIR[+DIR…]`), `state` (limits and models shared by the handlers), `worker`
//! (the per-model thread, its queue and batching), `api` (the JSON types), `routes` (the handlers),
//! `openapi` (the generated description), `error` (JSON errors and axum's refusals), `log` (the access
//! log), `page` (`GET /`, the web page).

mod api;
mod error;
mod log;
mod openapi;
mod page;
mod routes;
mod spec;
mod state;
mod worker;

use super::args::ServeArgs;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use nmt::engine::LoadOptions;
use nmt::error::{Error, Result};
use state::{AppState, Limits, Model};
use std::time::Duration;
use tch::Device;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use worker::Batching;

/// Runs `nmt serve` until SIGINT/SIGTERM; each model's worker decodes with `threads` libtorch threads.
pub fn serve(a: ServeArgs, threads: usize, device: Device) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the HTTP runtime: {e}")))?;
    runtime.block_on(run(a, threads, device))
}

fn count(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

async fn run(a: ServeArgs, threads: usize, device: Device) -> Result<()> {
    let specs = spec::parse(&a.models)?;
    let limits = Limits {
        max_sentences: count(a.max_sentences),
        max_chars: count(a.max_chars),
        max_beam: count(a.max_beam),
        max_len: count(a.max_len),
        max_batch: count(a.max_batch),
        max_body: count(a.max_body),
        timeout: Duration::from_secs(a.timeout_s),
    };
    let state = AppState::new(limits);
    let app = router(state.clone(), a.cors.as_deref())?;
    let listener = tokio::net::TcpListener::bind((a.host.as_str(), a.port))
        .await
        .map_err(|e| Error::Usage(format!("--host {} --port {}: cannot listen there: {e}", a.host, a.port)))?;
    let addr = listener.local_addr().map_err(|e| Error::Usage(format!("cannot read the bound address: {e}")))?;
    let server = tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stop_signal()).await });

    let load = LoadOptions { checkpoint: a.checkpoint.map(Into::into), device, precision: a.precision.into() };
    let batching = Batching { max_batch: limits.max_batch, max_wait: Duration::from_millis(a.max_wait_ms) };
    let workers = specs
        .iter()
        .map(|s| worker::start(&s.name, s.dirs.clone(), load, threads, batching, count(a.queue)))
        .collect::<Result<Vec<_>>>()?;
    let mut models = Vec::with_capacity(workers.len());
    let mut threads = Vec::with_capacity(workers.len());
    for (s, w) in specs.into_iter().zip(workers) {
        let info = match w.loaded.await {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => return Err(Error::Usage(format!("cannot serve {}: {e}", s.spec))),
            Err(_) => return Err(Error::Usage(format!("cannot serve {}: its worker stopped", s.spec))),
        };
        models.push(Model { name: s.name, id: s.id, info, queue: w.queue });
        threads.push(w.thread);
    }
    state.set_models(models);
    eprintln!("listening on http://{addr}");

    let served = server.await;
    for m in state.models().unwrap_or_default() {
        m.queue.close();
    }
    // The queues are empty (every request was answered); the workers end at once.
    for t in threads {
        let _ = t.join();
    }
    match served {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::Usage(format!("the server stopped: {e}"))),
        Err(e) => Err(Error::Usage(format!("the server stopped: {e}"))),
    }
}

/// The routes, the JSON refusals of unknown routes and wrong methods, the body limit, a panic guard,
/// CORS (with `--cors`) and the access log around everything.
fn router(state: AppState, cors: Option<&str>) -> Result<Router> {
    let mut app = Router::new()
        .route("/v1/translate", post(routes::translate))
        .route("/translator/translate", post(routes::onmt_translate))
        .route("/v1/heatmap", post(routes::heatmap))
        .route("/v1/models", get(routes::models))
        .route("/health", get(routes::health))
        .route("/openapi.json", get(routes::openapi))
        .merge(page::router())
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(DefaultBodyLimit::max(state.limits.max_body))
        .layer(CatchPanicLayer::custom(error::panicked));
    if let Some(origin) = cors {
        let allow = if origin == "*" {
            AllowOrigin::any()
        } else {
            AllowOrigin::exact(
                HeaderValue::from_str(origin)
                    .map_err(|_| Error::Usage(format!("--cors {origin:?}: not a valid origin")))?,
            )
        };
        let layer = CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE]);
        app = app.layer(layer);
    }
    Ok(app.layer(axum::middleware::from_fn_with_state(state.clone(), log::access_log)).with_state(state))
}

/// Resolves at SIGINT or SIGTERM.
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    eprintln!("shutting down: answering the requests already received");
}
