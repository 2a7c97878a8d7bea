//! Attention: one interface, several scorers. Every scorer masks padded source positions to probability 0
//! and returns both the context vector and the weights. What does not change across decoding steps (the
//! projected keys and values) is computed once per batch by [`Attention::prepare`] and passed as a value.

use crate::config::{AttentionKind, ModelConfig};
use crate::model::onednn;
use tch::{nn, nn::Module, Kind, Tensor};

/// The output of one attention call.
#[derive(Debug)]
pub struct Attended {
    /// Weighted sum of the values `[B, D_enc]`.
    pub context: Tensor,
    /// Attention distribution over source positions `[B, S]`; rows sum to 1, padded positions are 0.
    pub weights: Tensor,
    /// Per-head distributions `[B, heads, S]` (`multihead` only).
    pub head_weights: Option<Tensor>,
}

/// Per-batch precomputation shared by every decoding step. Its `B` memory rows serve `B · queries`
/// query rows: `queries` consecutive query rows read the same memory row (beam search's `k` hypotheses
/// of one sentence), so the memory is never copied per hypothesis.
#[derive(Debug)]
pub struct Keys {
    /// Scorer-specific projection of the memory `[B, S, ·]`.
    pub keys: Tensor,
    /// What the weights average: the memory `[B, S, D_enc]`, or its value projection for `multihead`.
    pub values: Tensor,
    /// `true` at real positions `[B, S]`.
    pub mask: Tensor,
    /// Query rows per memory row (1 but in beam search).
    pub queries: i64,
}

impl Keys {
    /// The same memory read by `n` consecutive query rows per memory row (beam search); no copy.
    pub fn shared_by(&self, n: i64) -> Keys {
        Keys { queries: n, ..self.select(|t| t.shallow_clone()) }
    }

    /// The memory rows `index` (`[N]` i64), in that order: `[B, ...]` → `[N, ...]`.
    pub fn select_rows(&self, index: &Tensor) -> Keys {
        self.select(|t| t.index_select(0, index))
    }

    /// The first `n` memory rows, as views: `[B, ...]` → `[n, ...]`.
    pub fn first_rows(&self, n: i64) -> Keys {
        self.select(|t| t.narrow(0, 0, n))
    }

    /// `f` applied to the keys, the values and the mask.
    fn select(&self, f: impl Fn(&Tensor) -> Tensor) -> Keys {
        Keys { keys: f(&self.keys), values: f(&self.values), mask: f(&self.mask), queries: self.queries }
    }
}

/// The scorers, as a closed enum built from `model.attention`.
#[derive(Debug)]
pub enum Attention {
    /// `v^T tanh(W_k k + W_q q)`.
    Bahdanau { w_k: nn::Linear, w_q: nn::Linear, v: nn::Linear },
    /// `q^T k`.
    LuongDot,
    /// `q^T W k`.
    LuongGeneral { w: nn::Linear },
    /// `v^T tanh(W [q; k] + b)`, with `W = [W_q | W_k]` split so the key half is applied once per batch.
    LuongConcat { w_q: nn::Linear, w_k: nn::Linear, v: nn::Linear },
    /// `q^T k / sqrt(d)`.
    ScaledDot,
    /// Multi-head scaled dot-product over learned projections; weights averaged over heads.
    Multihead { heads: i64, w_q: nn::Linear, w_k: nn::Linear, w_v: nn::Linear, w_o: nn::Linear },
}

fn no_bias() -> nn::LinearConfig {
    nn::LinearConfig { bias: false, ..Default::default() }
}

impl Attention {
    /// Builds the scorer for queries of size `cfg.hidden_size` over memory of size `cfg.memory_size()`.
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Attention {
        let q = cfg.hidden_size as i64;
        let k = cfg.memory_size() as i64;
        let a = cfg.attention_dim() as i64;
        match cfg.attention {
            AttentionKind::Bahdanau => Attention::Bahdanau {
                w_k: nn::linear(p / "w_k", k, a, no_bias()),
                w_q: nn::linear(p / "w_q", q, a, no_bias()),
                v: nn::linear(p / "v", a, 1, no_bias()),
            },
            AttentionKind::LuongDot => Attention::LuongDot,
            AttentionKind::LuongGeneral => Attention::LuongGeneral { w: nn::linear(p / "w", k, q, no_bias()) },
            AttentionKind::LuongConcat => Attention::LuongConcat {
                w_q: nn::linear(p / "w_q", q, a, Default::default()),
                w_k: nn::linear(p / "w_k", k, a, no_bias()),
                v: nn::linear(p / "v", a, 1, no_bias()),
            },
            AttentionKind::ScaledDot => Attention::ScaledDot,
            AttentionKind::Multihead => Attention::Multihead {
                heads: cfg.heads as i64,
                w_q: nn::linear(p / "w_q", q, a, no_bias()),
                w_k: nn::linear(p / "w_k", k, a, no_bias()),
                w_v: nn::linear(p / "w_v", k, a, no_bias()),
                w_o: nn::linear(p / "w_o", a, k, no_bias()),
            },
        }
    }

    /// memory: `[B, S, D_enc]`, mask: `[B, S]` → the keys and values every step reuses.
    pub fn prepare(&self, memory: &Tensor, mask: &Tensor) -> Keys {
        let keys = match self {
            Attention::Bahdanau { w_k, .. } | Attention::LuongConcat { w_k, .. } => onednn::forward(w_k, memory),
            Attention::LuongGeneral { w } => onednn::forward(w, memory),
            Attention::Multihead { w_k, .. } => onednn::forward(w_k, memory),
            Attention::LuongDot | Attention::ScaledDot => memory.shallow_clone(),
        };
        let values = match self {
            Attention::Multihead { w_v, .. } => onednn::forward(w_v, memory),
            _ => memory.shallow_clone(),
        };
        Keys { keys, values, mask: mask.shallow_clone(), queries: 1 }
    }

    /// query: `[B·n, H_dec]` for keys of `B` memory rows read by `n` query rows each (`k.queries`) →
    /// context `[B·n, D_enc]`, weights `[B·n, S]` (and `[B·n, heads, S]` for multihead).
    pub fn attend(&self, query: &Tensor, k: &Keys) -> Attended {
        let (b, s) = (k.mask.size()[0], k.mask.size()[1]);
        let n = k.queries;
        // keys `[B, S, d]`, q `[B·n, d]` → `[B, n, S]`
        let dot = |keys: &Tensor, q: &Tensor| keys.bmm(&q.view([b, n, -1]).transpose(1, 2)).transpose(1, 2);
        let scores = match self {
            Attention::Bahdanau { w_q, v, .. } | Attention::LuongConcat { w_q, v, .. } => {
                let mut e = k.keys.unsqueeze(1) + onednn::forward(w_q, query).view([b, n, 1, -1]); // [B, n, S, A]
                v.forward(&e.tanh_()).squeeze_dim(3)
            }
            Attention::LuongDot | Attention::LuongGeneral { .. } => dot(&k.keys, query),
            Attention::ScaledDot => dot(&k.keys, query) / (query.size()[1] as f64).sqrt(),
            Attention::Multihead { heads, w_q, w_o, .. } => return multihead(*heads, w_q, w_o, query, k),
        };
        let weights = masked_softmax(&scores, &k.mask.unsqueeze(1)); // [B, n, S]
        let context = weights.bmm(&k.values).view([b * n, -1]);
        Attended { context, weights: weights.view([b * n, s]), head_weights: None }
    }
}

/// scores: `[..., S]`, mask: broadcastable `[..., S]` → softmax with padded positions exactly 0.
fn masked_softmax(scores: &Tensor, mask: &Tensor) -> Tensor {
    scores.masked_fill(&mask.logical_not(), f64::NEG_INFINITY).softmax(-1, Kind::Float)
}

/// query `[B·n, H_dec]`, keys/values `[B, S, A]` read by `n` query rows each → context `[B·n, D_enc]`,
/// mean weights `[B·n, S]`, heads `[B·n, h, S]`.
fn multihead(heads: i64, w_q: &nn::Linear, w_o: &nn::Linear, query: &Tensor, k: &Keys) -> Attended {
    let (b, s, a) = k.keys.size3().expect("keys must be [B, S, A]");
    let (n, d) = (k.queries, a / heads);
    let split = |t: &Tensor| t.view([b, s, heads, d]).transpose(1, 2); // [B, h, S, d]
    let q = onednn::forward(w_q, query).view([b, n, heads, d]).permute([0, 2, 3, 1]); // [B, h, d, n]
    let scores = split(&k.keys).matmul(&q).transpose(2, 3) / (d as f64).sqrt(); // [B, h, n, S]
    let head_weights = masked_softmax(&scores, &k.mask.view([b, 1, 1, s]));
    let ctx = head_weights.matmul(&split(&k.values)).permute([0, 2, 1, 3]).reshape([b * n, a]); // [B·n, h·d]
    Attended {
        context: onednn::forward(w_o, &ctx),
        weights: head_weights.mean_dim(1, false, Kind::Float).view([b * n, s]),
        head_weights: Some(head_weights.transpose(1, 2).reshape([b * n, heads, s])),
    }
}
