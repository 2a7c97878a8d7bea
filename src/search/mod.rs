//! Decoding: batched greedy search ([`greedy`], in `greedy.rs`) and batched beam search
//! ([`beam_search`], in `beam.rs`). Both run without autograd on the decoder's prepared weights
//! ([`DecodeWeights`]) and a per-batch
//! [`StepPlan`], keep their per-step state in tensors, let rows whose
//! sentences are finished leave the batch, and copy to the host once at the end. They return, for every
//! sentence, the tokens, the model score and the attention weights of every emitted token.
//!
//! Both search over one network or an ensemble: a list of [`Member`]s sharing both vocabularies. Every
//! member steps on the same tokens with its own keys, state and plan; a token's score is the mean of the
//! members' log-probabilities (`mean_m log_softmax(logits_m)`), which greedy search maximises and beam
//! search ranks by, and the attention weights recorded are the members' mean. Per-head weights are kept
//! for a single member only (an ensemble's members may have different heads, or none). With one member
//! nothing is averaged: the search does exactly what it does without ensembles.

mod beam;
mod greedy;

pub use beam::{beam_search, BeamConfig};
pub use greedy::{greedy, run_greedy, Emitted};

use crate::model::attention::Keys;
use crate::model::decoder::{DecodeWeights, DecoderState, StepPlan};
use crate::model::{EncodedSource, Seq2Seq};
use crate::{Error, Result};
use tch::{Kind, Tensor};

/// One network of a search: a model and its decoder weights prepared once
/// ([`Decoder::decode_weights`](crate::model::decoder::Decoder::decode_weights)). The members of one
/// search may differ in architecture but must share both vocabularies.
#[derive(Clone, Copy)]
pub struct Member<'a> {
    pub model: &'a Seq2Seq,
    pub weights: &'a DecodeWeights,
}

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
/// and the step plan.
struct Rows {
    keys: Keys,
    state: DecoderState,
    plan: StepPlan,
}

/// The members of a search and the rows each decodes (the same batch rows for all). Rows of finished
/// sentences leave through [`Ensemble::keep_keys`] and [`Ensemble::select_states`].
struct Ensemble<'a> {
    members: &'a [Member<'a>],
    rows: Vec<Rows>,
}

/// One step of every member.
struct Step {
    scores: Scores,
    /// Attention weights `[A, S]`: the members' mean.
    weights: Tensor,
    /// Per-head weights `[A, h, S]` (a single `multihead` member only).
    head_weights: Option<Tensor>,
}

/// A step's token scores for `A` rows over the target vocabulary `[A, V]`.
enum Scores {
    /// A single member's logits, normalised only as far as a search needs.
    Logits(Tensor),
    /// Several members' mean log-probability.
    MeanLogProbs(Tensor),
}

impl Scores {
    /// The target vocabulary's size V.
    fn vocabulary(&self) -> i64 {
        match self {
            Scores::Logits(t) | Scores::MeanLogProbs(t) => t.size()[1],
        }
    }

    /// Each row's best token and its score → (scores `[A]` f32, tokens `[A]` i64).
    fn best(&self) -> (Tensor, Tensor) {
        match self {
            // The best token's log-probability without normalising the whole row: max − logsumexp.
            Scores::Logits(logits) => {
                let (best, arg) = logits.max_dim(-1, false);
                (best - logits.logsumexp([-1i64], false), arg)
            }
            Scores::MeanLogProbs(logp) => logp.max_dim(-1, false),
        }
    }

    /// Each row's `n` best tokens, best first, and their scores → (scores `[A, n]` f32, tokens `[A, n]`).
    fn top(&self, n: i64) -> (Tensor, Tensor) {
        match self {
            // Log-probabilities of the best logits only (the order is the logits' order): top − logsumexp.
            Scores::Logits(logits) => {
                let (top, ids) = logits.topk(n, -1, true, true);
                (top - logits.logsumexp([-1i64], true), ids)
            }
            Scores::MeanLogProbs(logp) => logp.topk(n, -1, true, true),
        }
    }
}

impl<'a> Ensemble<'a> {
    /// Encodes the batch with every member and plans `steps` steps: src `[B, S]` and lengths `[B]` sorted
    /// longest first; for beam search each sentence's state repeated for its `k` consecutive rows, which
    /// read its keys ([`Keys::shared_by`]). An empty list of members is refused.
    fn start(members: &'a [Member<'a>], src: &Tensor, lengths: &Tensor, k: i64, steps: usize) -> Result<Self> {
        if members.is_empty() {
            return Err(Error::Usage("a search needs at least one model".into()));
        }
        let mut rows = Vec::with_capacity(members.len());
        for m in members {
            let EncodedSource { mut keys, mut state } = m.model.encode(src, lengths, false);
            if k > 1 {
                let b = src.size()[0];
                keys = keys.shared_by(k);
                let each = Tensor::arange(b, (Kind::Int64, src.device())).repeat_interleave_self_int(k, 0, None);
                state = state.index_select(&each);
            }
            let plan = m.model.decoder.plan(m.weights, &keys, steps)?;
            rows.push(Rows { keys, state, plan });
        }
        Ok(Ensemble { members, rows })
    }

    /// Every member steps from tokens `y` `[A]` and keeps its new state. Members whose vocabularies
    /// differ in size are refused.
    fn step(&mut self, y: &Tensor) -> Result<Step> {
        let mut logits = Vec::with_capacity(self.members.len());
        let mut weights = Vec::with_capacity(self.members.len());
        let mut head_weights = None;
        for (m, rows) in self.members.iter().zip(&mut self.rows) {
            let step = m.model.decoder.step_with(y, &rows.state, &rows.keys, m.weights, &rows.plan);
            rows.state = step.state;
            logits.push(step.logits);
            weights.push(step.attended.weights);
            head_weights = step.attended.head_weights;
        }
        if logits.len() == 1 {
            let (logits, weights) = (logits.remove(0), weights.remove(0));
            return Ok(Step { scores: Scores::Logits(logits), weights, head_weights });
        }
        if logits.iter().any(|l| l.size() != logits[0].size()) {
            let sizes: Vec<i64> = logits.iter().map(|l| l.size()[1]).collect();
            return Err(Error::Usage(format!(
                "ensemble members have target vocabularies of different sizes {sizes:?}"
            )));
        }
        let logp: Vec<Tensor> = logits.iter().map(|l| l.log_softmax(-1, Kind::Float)).collect();
        Ok(Step {
            scores: Scores::MeanLogProbs(Tensor::stack(&logp, 0).mean_dim(0, false, Kind::Float)),
            weights: Tensor::stack(&weights, 0).mean_dim(0, false, Kind::Float),
            head_weights: None,
        })
    }

    /// Keeps the keys and plans of the sentences `kept` (ascending positions in the current batch, each
    /// read by its `k` beam rows; `index` is the same on the keys' device), in that order.
    fn keep_keys(&mut self, kept: &[i64], index: &Tensor) {
        for rows in &mut self.rows {
            rows.keys = rows.keys.select_rows(index);
            rows.plan = rows.plan.select_rows(kept);
        }
    }

    /// Every member's state of the rows `index` `[A']`, in that order (rows may repeat).
    fn select_states(&mut self, index: &Tensor) {
        for rows in &mut self.rows {
            rows.state = rows.state.index_select(index);
        }
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
