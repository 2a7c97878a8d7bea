//! Every answer that is not a success: a status and `{"error": "…"}` naming the field or limit. This
//! file also holds what turns axum's own refusals (its plain-text rejections, unknown routes, wrong
//! methods, a panic) into that shape, and the JSON body reader of the routes.

use super::api::ErrorBody;
use super::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }

    /// 400: the request asked for something impossible.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.message })).into_response()
    }
}

/// A type a request body is read into.
pub trait RequestBody: DeserializeOwned {
    /// The body must be a JSON object (serde would also read a struct from an array, by position).
    const OBJECT: bool;
}

/// A JSON request body read into `T`: 413 past `--max-body`, 400 for anything that is not a `T` (bad
/// JSON, an array for an object, a wrong type, an unknown field), the message naming the field's path.
/// The content type is not checked, so `curl -d` works without `-H`.
pub struct JsonBody<T>(pub T);

impl<T: RequestBody> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                let limit = state.limits.max_body;
                ApiError::new(rejection.status(), format!("request body over --max-body ({limit} bytes)"))
            } else {
                ApiError::bad_request(format!("request body could not be read: {}", rejection.body_text()))
            }
        })?;
        let opens_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if T::OBJECT && !opens_object && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
            return Err(ApiError::bad_request("request body: expected a JSON object"));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            match (inner.classify(), path.as_str()) {
                (serde_json::error::Category::Data, ".") => ApiError::bad_request(format!("request body: {inner}")),
                (serde_json::error::Category::Data, _) => ApiError::bad_request(format!("\"{path}\": {inner}")),
                _ => ApiError::bad_request(format!("request body is not valid JSON: {inner}")),
            }
        })?;
        Ok(JsonBody(value))
    }
}

/// 404 for a path no route serves.
pub async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no route {method} {}", uri.path()))
}

/// 405 for a route asked with a method it does not take.
pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("method {method} is not allowed on {}", uri.path()))
}

/// 500 for a handler that panicked (a bug): the connection still gets an answer.
pub fn panicked(_: Box<dyn std::any::Any + Send>) -> Response {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error: the request handler panicked").into_response()
}
