//! The JSON the server reads and writes: one type per request and response body. `/openapi.json` is
//! generated from these types (utoipa), so the description cannot drift from what the routes do.
//! Bodies of the `/v1/*` routes refuse unknown fields; the OpenNMT-py route ignores them, as
//! OpenNMT-py's own server does.

use super::error::RequestBody;
use nmt::engine::ModelInfo;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/translate`'s body. Options left out come from the model's own decoding defaults, else
/// from `nmt translate`'s.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslateRequest {
    /// The model's name (default: the first model served).
    pub model: Option<String>,
    /// One sentence, or a list of sentences translated independently.
    pub text: Text,
    /// Beam size; 1 = greedy search.
    #[schema(minimum = 1)]
    pub beam: Option<usize>,
    /// Hypotheses returned per sentence (≤ beam); more than 1 adds the `n_best` list.
    #[schema(minimum = 1)]
    pub n_best: Option<usize>,
    /// GNMT length-penalty exponent α ≥ 0.
    #[schema(minimum = 0.0)]
    pub length_penalty: Option<f64>,
    /// Longest translation in tokens.
    #[schema(minimum = 1)]
    pub max_len: Option<usize>,
    /// Include the attention weights (`weights`, and `head_weights` for a multihead model).
    #[serde(default)]
    pub attention: bool,
    /// Merge subword pieces into words in `source`, `target` and the weights.
    #[serde(default)]
    pub words: bool,
}

impl RequestBody for TranslateRequest {
    const OBJECT: bool = true;
}

// `Serialize` is derived for its `untagged` shape, which the OpenAPI schema is generated from; reading it
// is hand-written below, for a clearer error message than serde's untagged enums give.
/// One sentence or a list of them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Text {
    One(String),
    Many(Vec<String>),
}

impl Text {
    pub fn into_lines(self) -> Vec<String> {
        match self {
            Text::One(s) => vec![s],
            Text::Many(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    /// A string or a list of strings, with an error message that says so (serde's untagged enums
    /// only say that no variant matched).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sentence or a list of sentences")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text::One(s.to_string()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text, E> {
                Ok(Text::One(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                let mut lines = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(line) = seq.next_element::<String>()? {
                    lines.push(line);
                }
                Ok(Text::Many(lines))
            }
        }
        d.deserialize_any(TextVisitor)
    }
}

/// `POST /v1/translate`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TranslateResponse {
    /// The model that translated.
    pub model: String,
    /// One per input sentence, in order.
    pub translations: Vec<TranslationBody>,
    /// Time from receiving the request to answering it, in milliseconds.
    pub elapsed_ms: f64,
}

/// The translation of one sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct TranslationBody {
    /// The sentence as sent.
    pub source_text: String,
    /// The best translation ("" for an empty sentence).
    pub translation: String,
    /// The best hypothesis' log-probability divided by its length penalty: the number
    /// `nmt translate --n-best` prints (0 for an empty sentence).
    pub score: f64,
    /// Source tokens as the encoder saw them (words with `"words": true`), end-of-sentence included.
    pub source: Vec<String>,
    /// Target tokens emitted (words with `"words": true`), end-of-sentence included.
    pub target: Vec<String>,
    /// With `"attention": true`: `[len(target)][len(source)]` attention weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<Vec<f32>>>,
    /// With `"attention": true` and a multihead model: `[heads][len(target)][len(source)]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_weights: Option<Vec<Vec<Vec<f32>>>>,
    /// With `n_best` > 1: the best hypotheses, best first (the first is `translation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_best: Option<Vec<Alternative>>,
}

/// One of the n best hypotheses.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alternative {
    pub translation: String,
    pub score: f64,
}

/// `GET /v1/models`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsResponse {
    /// In the order they were given to `nmt serve`.
    pub models: Vec<ModelBody>,
}

/// One model served.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelBody {
    /// The name requests use (`"model"`).
    pub name: String,
    /// The OpenNMT-py route's numeric id (100, 101, ...).
    pub id: u32,
    /// What `nmt info --json` prints for the model directory.
    #[schema(value_type = Object)]
    pub info: ModelInfo,
}

/// `GET /health`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    pub status: HealthStatus,
    /// Sentences waiting for a model now.
    pub waiting: usize,
    /// Sentences decoded since start.
    pub decoded: u64,
    /// Sentences dropped undecoded because their client went away or timed out.
    pub dropped: u64,
}

/// `ok` once every model has loaded (status 200), `loading` before (status 503).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Loading,
}

/// `POST /v1/heatmap`'s body: one sentence through one model, or through several side by side.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeatmapRequest {
    /// The model's name (default: the first model served); not with `models`.
    pub model: Option<String>,
    /// Models to draw side by side (1 to 4 names); not with `model`.
    pub models: Option<Vec<String>>,
    /// The sentence.
    pub text: String,
    /// Beam size; 1 = greedy search.
    #[schema(minimum = 1)]
    pub beam: Option<usize>,
    /// GNMT length-penalty exponent α ≥ 0.
    #[schema(minimum = 0.0)]
    pub length_penalty: Option<f64>,
    /// Merge subword pieces into words.
    #[serde(default)]
    pub words: bool,
    /// Draw this head (0-based) of a multihead model instead of the mean over heads.
    pub head: Option<usize>,
    /// `png` (default) or `svg`.
    pub format: Option<ImageFormat>,
}

impl RequestBody for HeatmapRequest {
    const OBJECT: bool = true;
}

/// A picture's file format.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Svg,
}

/// One sentence of `POST /translator/translate` (OpenNMT-py's REST request); other fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OnmtInput {
    /// The sentence.
    pub src: String,
    /// The model's numeric id (see `/v1/models`); the first sentence's id picks the model for all,
    /// as in OpenNMT-py. Default: the first model.
    pub id: Option<i64>,
}

impl RequestBody for Vec<OnmtInput> {
    const OBJECT: bool = false;
}

/// One hypothesis in OpenNMT-py's REST answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnmtOutput {
    /// The sentence as sent.
    pub src: String,
    /// Its translation.
    pub tgt: String,
    /// Hypotheses per sentence.
    pub n_best: usize,
    /// The hypothesis' score (as `score` of `/v1/translate`).
    pub pred_score: f64,
}

/// Every error: a status and this body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong, naming the field or limit.
    pub error: String,
}
