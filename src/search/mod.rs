//! Decoding: batched greedy search ([`greedy`], in `greedy.rs`) and batched beam search
//! ([`beam_search`], in `beam.rs`). Both run without autograd on the decoder's prepared weights
//! ([`DecodeWeights`](crate::model::decoder::DecodeWeights)) and a per-batch
//! [`StepPlan`], keep their per-step state in tensors, let rows whose
//! sentences are finished leave the batch, and copy to the host once at the end. They return, for every
//! sentence, the tokens, the model score and the attention weights of every emitted token.

mod beam;
mod greedy;

pub use beam::{beam_search, BeamConfig};
pub use greedy::{greedy, run_greedy, Emitted};

use crate::model::attention::Keys;
use crate::model::decoder::{DecoderState, StepPlan};
use crate::Result;
use tch::{Kind, Tensor};

/// A decoded sentence.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// Emitted target ids, EOS included when it was emitted.
    pub tokens: Vec<i64>,
    /// Sum of the log-probabilities of `tokens` (no length penalty).
    pub score: f64,
    /// Attention weights per emitted token, over the sentence's own source positions: `[T_out][S_i]`.
    pub weights: Vec<Vec<f32>>,
    /// Per-head weights `[heads][T_out][S_i]` (`multihead` only).
    pub head_weights: Option<Vec<Vec<Vec<f32>>>>,
}

/// Decoding length limit per sentence: `min(cap, ratio · source length + extra)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxLen {
    /// Output tokens allowed per source token.
    pub ratio: f64,
    /// Output tokens allowed on top of `ratio · source length`.
    pub extra: usize,
    /// Absolute limit.
    pub cap: usize,
}

impl Default for MaxLen {
    fn default() -> Self {
        MaxLen { ratio: 2.0, extra: 10, cap: 300 }
    }
}

impl MaxLen {
    /// The limit for a source of `src_len` tokens.
    pub fn limit(&self, src_len: usize) -> usize {
        ((self.ratio * src_len as f64) as usize + self.extra).min(self.cap).max(1)
    }
}

/// GNMT length penalty `((5 + len) / 6)^α`.
pub fn length_penalty(len: usize, alpha: f64) -> f64 {
    ((5.0 + len as f64) / 6.0).powf(alpha)
}

/// Rows leave the batch only once at least `1/LEAVE_SHARE` of them are done: each time they leave,
/// the keys are copied (about as much memory as one step's attention reads), so rows leave in groups.
const LEAVE_SHARE: usize = 4;

/// Whether `done` of `rows` rows are enough to leave the batch now (see [`LEAVE_SHARE`]).
fn worth_leaving(done: usize, rows: usize) -> bool {
    done > 0 && done * LEAVE_SHARE >= rows
}

/// What the decoder reads per batch row while a batch decodes: the attention keys, the recurrent state
/// and the step plan. Rows of finished sentences leave through [`Rows::keep`].
struct Rows {
    keys: Keys,
    state: DecoderState,
    plan: StepPlan,
}

impl Rows {
    /// Keeps the rows `kept` (ascending positions in the current batch; `index` is the same on the
    /// keys' device), in that order.
    fn keep(&mut self, kept: &[i64], index: &Tensor) {
        self.keys = self.keys.select_rows(index);
        self.state = self.state.index_select(index);
        self.plan = self.plan.select_rows(kept);
    }
}

/// Attention weights of many steps' rows, copied to the host once: `[N, S]` and optionally `[N, h, S]`.
struct HostWeights {
    data: Vec<f32>,
    heads: Option<Vec<f32>>,
    h: usize,
    s: usize,
}

impl HostWeights {
    /// Concatenates per-step weights `[N_t, S]` (and heads `[N_t, h, S]`) over the steps and copies them.
    fn new(weights: &[Tensor], heads: &[Tensor]) -> Result<HostWeights> {
        let to_vec = |parts: &[Tensor]| Vec::<f32>::try_from(Tensor::cat(parts, 0).to_kind(Kind::Float).flatten(0, -1));
        let s = weights.first().map_or(0, |w| w.size()[1] as usize);
        Ok(HostWeights {
            data: to_vec(weights)?,
            heads: (!heads.is_empty()).then(|| to_vec(heads)).transpose()?,
            h: heads.first().map_or(0, |x| x.size()[1] as usize),
            s,
        })
    }

    /// Weights of row `r` over its first `len` source positions.
    fn row(&self, r: usize, len: usize) -> Vec<f32> {
        self.data[r * self.s..r * self.s + len].to_vec()
    }

    /// Per-head weights of row `r`, `[heads][len]`, or none without heads.
    fn head_rows(&self, r: usize, len: usize) -> Option<Vec<Vec<f32>>> {
        let data = self.heads.as_ref()?;
        Some((0..self.h).map(|j| data[(r * self.h + j) * self.s..][..len].to_vec()).collect())
    }
}

/// Rows' per-step head weights `[T][heads][S]` in the public layout `[heads][T][S]`.
fn heads_by_head(steps: Vec<Vec<Vec<f32>>>) -> Vec<Vec<Vec<f32>>> {
    let h = steps.first().map_or(0, Vec::len);
    (0..h).map(|j| steps.iter().map(|step| step[j].clone()).collect()).collect()
}
