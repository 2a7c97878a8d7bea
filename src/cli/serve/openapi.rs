//! The OpenAPI 3 document `/openapi.json` serves, assembled by utoipa from the routes' `#[utoipa::path]`
//! attributes and the request/response types (nothing in it is written by hand).

use super::api::*;
use super::{page, routes};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "nmt serve",
        description = "Translation with attention-based NMT models: a JSON API with request batching."
    ),
    paths(
        routes::translate,
        routes::onmt_translate,
        routes::models,
        routes::health,
        routes::heatmap,
        routes::openapi,
        page::index,
        page::script,
        page::style
    ),
    components(schemas(
        TranslateRequest,
        Text,
        TranslateResponse,
        TranslationBody,
        Alternative,
        ModelsResponse,
        ModelBody,
        HealthResponse,
        HealthStatus,
        HeatmapRequest,
        ImageFormat,
        OnmtInput,
        OnmtOutput,
        ErrorBody
    ))
)]
pub struct ApiDoc;
