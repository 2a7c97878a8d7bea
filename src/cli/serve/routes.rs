//! The API's routes: each handler checks the request against the limits, hands the sentences to the
//! model's worker and turns the engine's translations into the response. The `#[utoipa::path]`
//! attributes describe each route for `/openapi.json`.

use super::api::*;
use super::error::{ApiError, JsonBody};
use super::log::Sentences;
use super::openapi::ApiDoc;
use super::state::{AppState, Limits, Model};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nmt::engine::{DecodeOptions, Decoding, Translation};
use nmt::heatmap::{self, merge_words, Font, Format, Style};
use std::time::Instant;
use utoipa::OpenApi;

/// Most models one heatmap draws side by side.
const MAX_PANELS: usize = 4;

/// A success response, marked with the sentences it translated for the access log.
fn counted(response: impl IntoResponse, sentences: usize) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(Sentences(sentences));
    response
}

/// Checks a request's sentences against the limits: not an empty list, at most `--max-sentences`,
/// each at most `--max-chars` characters. `list` names the list in messages, `item(i)` sentence `i`.
fn check_lines(lines: &[String], limits: &Limits, list: &str, item: impl Fn(usize) -> String) -> Result<(), ApiError> {
    if lines.is_empty() {
        return Err(ApiError::bad_request(format!("{list} is an empty list: send at least one sentence")));
    }
    if lines.len() > limits.max_sentences {
        return Err(ApiError::bad_request(format!(
            "{list} has {} sentences; the limit (--max-sentences) is {}",
            lines.len(),
            limits.max_sentences
        )));
    }
    for (i, line) in lines.iter().enumerate() {
        let chars = line.chars().count();
        if chars > limits.max_chars {
            return Err(ApiError::bad_request(format!(
                "{} has {chars} characters; the limit (--max-chars) is {}",
                item(i),
                limits.max_chars
            )));
        }
    }
    Ok(())
}

/// A request's decoding options, checked against the server's limits (the engine checks the rest when
/// it resolves them); a request that does not say gets `--max-len` as its length limit and
/// `--max-batch` as its batch size.
fn decode_options(
    beam: Option<usize>,
    n_best: Option<usize>,
    length_penalty: Option<f64>,
    max_len: Option<usize>,
    limits: &Limits,
) -> Result<DecodeOptions, ApiError> {
    for (field, value, limit, flag) in [
        ("beam", beam, limits.max_beam, "--max-beam"),
        ("n_best", n_best, limits.max_beam, "--max-beam"),
        ("max_len", max_len, limits.max_len, "--max-len"),
    ] {
        if let Some(v) = value.filter(|&v| v > limit) {
            return Err(ApiError::bad_request(format!("\"{field}\" {v} is over the server's limit ({flag}) {limit}")));
        }
    }
    Ok(DecodeOptions {
        beam,
        n_best,
        length_penalty,
        batch_size: Some(limits.max_batch),
        max_len: Some(max_len.unwrap_or(limits.max_len)),
        checkpoint: None,
    })
}

/// What a translate request asks to see beside the translations.
#[derive(Clone, Copy)]
struct Shown {
    attention: bool,
    words: bool,
    alignment: bool,
}

/// The response body of one translation.
fn translation_body(t: &Translation, d: &Decoding, shown: Shown) -> TranslationBody {
    let Shown { attention, words, alignment } = shown;
    let record = t.record(0);
    let record = if words { merge_words(&record) } else { record };
    TranslationBody {
        source_text: t.source_text.clone(),
        translation: t.best_text().to_string(),
        score: t.outputs.first().map_or(0.0, |o| o.score),
        source: record.source,
        target: record.target,
        weights: attention.then_some(record.weights),
        head_weights: record.head_weights.filter(|_| attention),
        n_best: (d.n_best > 1)
            .then(|| t.outputs.iter().map(|o| Alternative { translation: o.text.clone(), score: o.score }).collect()),
        alignment: alignment.then(|| t.alignment().into_iter().map(|(i, j)| [i, j]).collect()),
    }
}

/// Translate one sentence or a list of them.
#[utoipa::path(post, path = "/v1/translate", request_body = TranslateRequest, responses(
    (status = 200, description = "The translations, in input order", body = TranslateResponse),
    (status = 400, description = "Malformed JSON, a wrong type, an unknown field, an empty list, an option over the server's limits", body = ErrorBody),
    (status = 404, description = "Unknown model", body = ErrorBody),
    (status = 413, description = "Body over --max-body", body = ErrorBody),
    (status = 503, description = "Still loading, or --queue sentences already waiting", body = ErrorBody),
    (status = 504, description = "No answer within --timeout-s", body = ErrorBody),
))]
pub async fn translate(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<TranslateRequest>,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let model = state.model(req.model.as_deref())?;
    let single = matches!(req.text, Text::One(_));
    let shown = Shown { attention: req.attention, words: req.words, alignment: req.alignment };
    let lines = req.text.into_lines();
    check_lines(&lines, &state.limits, "\"text\"", |i| {
        if single {
            "\"text\"".to_string()
        } else {
            format!("\"text\"[{i}]")
        }
    })?;
    let options = decode_options(req.beam, req.n_best, req.length_penalty, req.max_len, &state.limits)?;
    let decoded = model.queue.translate(lines, options, state.limits.timeout).await?;
    let translations: Vec<TranslationBody> =
        decoded.translations.iter().map(|t| translation_body(t, &decoded.decoding, shown)).collect();
    let n = translations.len();
    let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    Ok(counted(Json(TranslateResponse { model: model.name.clone(), translations, elapsed_ms }), n))
}

/// OpenNMT-py's REST translation route: `[{"src": "…", "id": N}]`, the first sentence's `id` choosing
/// the model; the answer holds one list per n-best rank, each with one entry per sentence.
#[utoipa::path(post, path = "/translator/translate", request_body = Vec<OnmtInput>, responses(
    (status = 200, description = "One list per n-best rank, each with one entry per input sentence", body = Vec<Vec<OnmtOutput>>),
    (status = 400, description = "Malformed JSON, a wrong type, an empty list, over the server's limits", body = ErrorBody),
    (status = 404, description = "Unknown model id", body = ErrorBody),
    (status = 413, description = "Body over --max-body", body = ErrorBody),
    (status = 503, description = "Still loading, or --queue sentences already waiting", body = ErrorBody),
    (status = 504, description = "No answer within --timeout-s", body = ErrorBody),
))]
pub async fn onmt_translate(
    State(state): State<AppState>,
    JsonBody(inputs): JsonBody<Vec<OnmtInput>>,
) -> Result<Response, ApiError> {
    let model = state.model_by_id(inputs.first().and_then(|i| i.id))?;
    let lines: Vec<String> = inputs.into_iter().map(|i| i.src).collect();
    check_lines(&lines, &state.limits, "the request", |i| format!("[{i}].src"))?;
    let options = decode_options(None, None, None, None, &state.limits)?;
    let decoded = model.queue.translate(lines, options, state.limits.timeout).await?;
    let n_best = decoded.decoding.n_best;
    let ranks: Vec<Vec<OnmtOutput>> = (0..n_best)
        .map(|rank| {
            decoded
                .translations
                .iter()
                .map(|t| {
                    let o = t.outputs.get(rank);
                    OnmtOutput {
                        src: t.source_text.clone(),
                        tgt: o.map_or_else(String::new, |o| o.text.clone()),
                        n_best,
                        pred_score: o.map_or(0.0, |o| o.score),
                    }
                })
                .collect()
        })
        .collect();
    Ok(counted(Json(ranks), decoded.translations.len()))
}

/// The models served, with what `nmt info --json` shows of each.
#[utoipa::path(get, path = "/v1/models", responses(
    (status = 200, description = "The models, in the order given", body = ModelsResponse),
    (status = 503, description = "Still loading", body = ErrorBody),
))]
pub async fn models(State(state): State<AppState>) -> Result<Json<ModelsResponse>, ApiError> {
    let models =
        state.models()?.iter().map(|m| ModelBody { name: m.name.clone(), id: m.id, info: m.info.clone() }).collect();
    Ok(Json(ModelsResponse { models }))
}

/// Whether the server is ready, and its sentence counts.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "Every model has loaded", body = HealthResponse),
    (status = 503, description = "Still loading", body = HealthResponse),
))]
pub async fn health(State(state): State<AppState>) -> Response {
    let Ok(models) = state.models() else {
        let body = HealthResponse { status: HealthStatus::Loading, waiting: 0, decoded: 0, dropped: 0 };
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    };
    let count = |f: fn(&Model) -> u64| models.iter().map(f).sum::<u64>();
    use std::sync::atomic::Ordering::SeqCst;
    let body = HealthResponse {
        status: HealthStatus::Ok,
        waiting: count(|m| m.queue.counters.waiting.load(SeqCst) as u64) as usize,
        decoded: count(|m| m.queue.counters.decoded.load(SeqCst)),
        dropped: count(|m| m.queue.counters.dropped.load(SeqCst)),
    };
    Json(body).into_response()
}

/// The attention picture `nmt heatmap` draws for a sentence: one model, or several side by side.
#[utoipa::path(post, path = "/v1/heatmap", request_body = HeatmapRequest, responses(
    (status = 200, description = "The picture", content((String = "image/png"), (String = "image/svg+xml"))),
    (status = 400, description = "Malformed JSON, a wrong type, an unknown field, a head the model lacks, over the server's limits", body = ErrorBody),
    (status = 404, description = "Unknown model", body = ErrorBody),
    (status = 413, description = "Body over --max-body", body = ErrorBody),
    (status = 503, description = "Still loading, or --queue sentences already waiting", body = ErrorBody),
    (status = 504, description = "No answer within --timeout-s", body = ErrorBody),
))]
pub async fn heatmap(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<HeatmapRequest>,
) -> Result<Response, ApiError> {
    let names: Vec<Option<&str>> = match (&req.model, &req.models) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("give \"model\" or \"models\", not both")),
        (None, Some(list)) if list.is_empty() || list.len() > MAX_PANELS => {
            return Err(ApiError::bad_request(format!(
                "\"models\" must name 1 to {MAX_PANELS} models (it names {})",
                list.len()
            )))
        }
        (None, Some(list)) => list.iter().map(|n| Some(n.as_str())).collect(),
        (model, None) => vec![model.as_deref()],
    };
    let models = names.into_iter().map(|n| state.model(n)).collect::<Result<Vec<&Model>, ApiError>>()?;
    let lines = vec![req.text];
    check_lines(&lines, &state.limits, "\"text\"", |_| "\"text\"".to_string())?;
    let options = decode_options(req.beam, None, req.length_penalty, None, &state.limits)?;
    let mut panels = Vec::with_capacity(models.len());
    for model in models {
        let decoded = model.queue.translate(lines.clone(), options, state.limits.timeout).await?;
        let record = decoded.translations[0].record(0);
        if let Some(h) = req.head {
            match &record.head_weights {
                None => {
                    return Err(ApiError::bad_request(format!(
                    "\"head\" {h}: model {} has no per-head weights (only a multihead model has them, not an ensemble)",
                    model.name
                )))
                }
                Some(heads) if h >= heads.len() => {
                    return Err(ApiError::bad_request(format!(
                        "\"head\" {h}: model {} has {} heads, numbered 0 to {}",
                        model.name,
                        heads.len(),
                        heads.len() - 1
                    )))
                }
                Some(_) => {}
            }
        }
        panels.push((heatmap::panel_title(&model.info.config.model, &model.info.members), record));
    }
    let (format, content_type) = match req.format.unwrap_or(ImageFormat::Png) {
        ImageFormat::Png => (Format::Png, "image/png"),
        ImageFormat::Svg => (Format::Svg, "image/svg+xml"),
    };
    let style = Style { words: req.words, head: req.head, format, font: Font::embedded(), alignments: req.alignments };
    let drawn = tokio::task::spawn_blocking(move || match panels.as_slice() {
        [(_, record)] => heatmap::image(record, &style),
        _ => heatmap::image_panels(&panels, &style),
    })
    .await;
    let internal = |msg: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg);
    match drawn {
        Ok(Ok(bytes)) => Ok(counted(([(header::CONTENT_TYPE, content_type)], bytes), 1)),
        Ok(Err(nmt::Error::Usage(msg))) => Err(ApiError::bad_request(msg)),
        Ok(Err(e)) => Err(internal(format!("drawing failed: {e}"))),
        Err(_) => Err(internal("internal error: drawing panicked".into())),
    }
}

/// This API's OpenAPI 3 description, generated from the request and response types.
#[utoipa::path(get, path = "/openapi.json", responses(
    (status = 200, description = "The OpenAPI 3 description of every route", content_type = "application/json"),
))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
