//! What every handler shares: the server's limits and the models being served (set once they have all
//! loaded; until then the API answers 503).

use super::error::ApiError;
use super::worker::Queue;
use axum::http::StatusCode;
use nmt::engine::ModelInfo;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The limits a request must keep (the `--max-*` flags and `--timeout-s`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_sentences: usize,
    pub max_chars: usize,
    pub max_beam: usize,
    pub max_len: usize,
    /// Sentences per batch (`--max-batch`).
    pub max_batch: usize,
    pub max_body: usize,
    pub timeout: Duration,
}

/// A model being served.
pub struct Model {
    pub name: String,
    pub id: u32,
    pub info: ModelInfo,
    pub queue: Queue,
}

/// The handlers' state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub limits: Limits,
    models: OnceLock<Vec<Model>>,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(limits: Limits) -> AppState {
        AppState(Arc::new(Shared { limits, models: OnceLock::new() }))
    }
}

impl Shared {
    /// Makes the models available to the routes (once).
    pub fn set_models(&self, models: Vec<Model>) {
        // Called once, by the start-up sequence; a second call would be a bug and changes nothing.
        let _ = self.models.set(models);
    }

    /// The models, once every one has loaded; 503 before.
    pub fn models(&self) -> Result<&[Model], ApiError> {
        self.models
            .get()
            .map(Vec::as_slice)
            .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the models are still loading"))
    }

    /// The model named `name`, or the first one; 404 for a name not served.
    pub fn model(&self, name: Option<&str>) -> Result<&Model, ApiError> {
        let models = self.models()?;
        match name {
            None => first(models),
            Some(n) => models.iter().find(|m| m.name == n).ok_or_else(|| {
                let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
                ApiError::new(StatusCode::NOT_FOUND, format!("unknown model {n:?}; served: {}", names.join(", ")))
            }),
        }
    }

    /// The model with OpenNMT-py id `id`, or the first one; 404 for an id not served.
    pub fn model_by_id(&self, id: Option<i64>) -> Result<&Model, ApiError> {
        let models = self.models()?;
        match id {
            None => first(models),
            Some(id) => models.iter().find(|m| i64::from(m.id) == id).ok_or_else(|| {
                let ids: Vec<String> = models.iter().map(|m| m.id.to_string()).collect();
                ApiError::new(StatusCode::NOT_FOUND, format!("unknown model id {id}; served: {}", ids.join(", ")))
            }),
        }
    }
}

/// The first model (`nmt serve` needs at least one `--model`).
fn first(models: &[Model]) -> Result<&Model, ApiError> {
    models.first().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no model is served"))
}
