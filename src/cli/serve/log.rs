//! The access log: one line per request on stderr — method, path, status, sentences translated,
//! milliseconds — printed once the models have loaded (the first line on stderr is the `listening on`
//! line).

use super::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// Sentences a response translated; a handler marks its response with it (absent: 0).
#[derive(Clone, Copy, Debug)]
pub struct Sentences(pub usize);

/// Middleware: answers the request, then logs it.
pub async fn access_log(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    if state.models().is_ok() {
        let sentences = response.extensions().get::<Sentences>().map_or(0, |s| s.0);
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        eprintln!("{method} {path} {} {sentences} sentences {ms:.1} ms", response.status().as_u16());
    }
    response
}
