//! `GET /`: the web page, served from the binary. A placeholder until the page is built: it points to
//! the API description.

use super::state::AppState;
use axum::response::Html;
use axum::routing::get;
use axum::Router;

/// The page's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(index))
}

async fn index() -> Html<&'static str> {
    Html("<!doctype html><title>nmt serve</title><p>nmt serve: see <a href=\"/openapi.json\">/openapi.json</a>.</p>")
}
