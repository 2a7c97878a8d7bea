//! `GET /`: the page where people type a sentence and explore its translation and attention. Its HTML,
//! CSS and JavaScript (`page/`) are written by hand and embedded in the binary, so serving it needs no
//! files, no network and no build step; the page talks to the JSON API only. The heatmap colours come
//! from the same viridis table as the PNG heatmaps, written into the page here.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use nmt::heatmap::{text_on, viridis};
use std::sync::OnceLock;

const INDEX: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const STYLE_CSS: &str = include_str!("page/style.css");

/// Where the page's HTML takes the colour map.
const COLORMAP_SLOT: &str = "{{COLORMAP}}";

/// Levels of the colour map written into the page (the PNGs' 256).
const LEVELS: usize = 256;

/// Scripts and styles from this server only, no inline script, requests to this server only: a
/// sentence that smuggled markup into the page still could not run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's routes: `/` and its two assets, for any router state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index)).route("/page/app.js", get(script)).route("/page/style.css", get(style))
}

/// The web page: type a sentence, see its translation, n-best list and attention.
#[utoipa::path(get, path = "/", responses(
    (status = 200, description = "The page (HTML; its script and style are /page/app.js and /page/style.css)", content_type = "text/html"),
))]
pub async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        page(),
    )
}

/// The page's script.
#[utoipa::path(get, path = "/page/app.js", responses((status = 200, description = "The page's script", content_type = "text/javascript")))]
pub async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// The page's style sheet.
#[utoipa::path(get, path = "/page/style.css", responses((status = 200, description = "The page's style sheet", content_type = "text/css")))]
pub async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// The HTML with the colour map in place, built once.
fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| INDEX.replace(COLORMAP_SLOT, &colormap_json()))
}

/// `[["#rrggbb", "#rrggbb"], …]`: for each of [`LEVELS`] weights from 0 to 1, the heatmap colour and
/// the text colour that reads on it.
fn colormap_json() -> String {
    let hex = |[r, g, b]: [u8; 3]| format!("\"#{r:02x}{g:02x}{b:02x}\"");
    let pairs: Vec<String> = (0..LEVELS)
        .map(|i| {
            let bg = viridis(i as f32 / (LEVELS - 1) as f32);
            format!("[{},{}]", hex(bg), hex(text_on(bg)))
        })
        .collect();
    format!("[{}]", pairs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_pngs_colour_map() {
        let map: Vec<[String; 2]> = serde_json::from_str(&colormap_json()).unwrap();
        assert_eq!(map.len(), LEVELS);
        assert_eq!(map[0], ["#440154".to_string(), "#ffffff".to_string()]);
        assert_eq!(map[128][0], "#21918c");
        assert_eq!(map[255], ["#fde725".to_string(), "#000000".to_string()]);
        assert!(!page().contains(COLORMAP_SLOT));
        assert!(page().contains("\"#fde725\""));
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for (name, text) in [("index.html", INDEX), ("app.js", APP_JS), ("style.css", STYLE_CSS)] {
            for needle in [
                "http://",
                "https://",
                "//cdn",
                "@import",
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
            ] {
                assert!(!text.contains(needle), "{name} contains {needle:?}");
            }
        }
    }
}
