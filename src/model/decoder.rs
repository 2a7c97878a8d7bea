//! The GRU decoder in its two wirings (Bahdanau and Luong). One function, [`Decoder::cell`], is the
//! recurrence; teacher-forced training loops over it and then projects every step at once, inference calls
//! it one step at a time through [`Decoder::step`].

use crate::config::{DecoderKind, ModelConfig};
use crate::model::attention::{Attended, Attention, Keys};
use tch::{nn, nn::Module, Tensor};

/// The recurrent state carried between steps.
#[derive(Debug)]
pub struct DecoderState {
    /// GRU state `[B, H]`.
    pub h: Tensor,
    /// Luong input feeding: the previous attentional vector `[B, H]`.
    pub feed: Option<Tensor>,
}

impl DecoderState {
    /// Selects batch rows (`index`: `[N]` i64) — for beam search reordering and repetition.
    pub fn index_select(&self, index: &Tensor) -> DecoderState {
        DecoderState { h: self.h.index_select(0, index), feed: self.feed.as_ref().map(|f| f.index_select(0, index)) }
    }
}

/// One inference step.
#[derive(Debug)]
pub struct DecoderStep {
    /// Unnormalised scores over the target vocabulary `[B, V]`.
    pub logits: Tensor,
    pub state: DecoderState,
    pub attended: Attended,
}

/// Teacher-forced pass over a whole target prefix.
#[derive(Debug)]
pub struct DecoderOutput {
    /// Inputs of the output layer for every step `[B, T, D_out]`; project with [`Decoder::logits`].
    pub features: Tensor,
    /// Attention weights of every step `[B, T, S]`.
    pub weights: Tensor,
    /// Per-head weights `[B, T, heads, S]` (`multihead` only).
    pub head_weights: Option<Tensor>,
}

/// GRU decoder with attention and an output layer.
#[derive(Debug)]
pub struct Decoder {
    kind: DecoderKind,
    embed: nn::Embedding,
    attention: Attention,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    emb_size: i64,
    /// Luong: `W_c` of `tanh(W_c [context; h])`.
    combine: Option<nn::Linear>,
    input_feeding: bool,
    /// Tied embeddings: projection of the features to `emb_size` before the embedding matrix.
    pre_output: Option<nn::Linear>,
    output: Option<nn::Linear>,
    output_bias: Option<Tensor>,
    dropout: f64,
}

impl Decoder {
    /// Builds the decoder under `path` for a target vocabulary of `vocab` tokens.
    pub fn new(path: &nn::Path, cfg: &ModelConfig, vocab: i64) -> Decoder {
        let (e, h, d) = (cfg.emb_size as i64, cfg.hidden_size as i64, cfg.memory_size() as i64);
        let embed = nn::embedding(path / "embed", vocab, e, Default::default());
        let input_feeding = cfg.decoder == DecoderKind::Luong && cfg.input_feeding;
        let input = match cfg.decoder {
            DecoderKind::Bahdanau => e + d,
            DecoderKind::Luong if input_feeding => e + h,
            DecoderKind::Luong => e,
        };
        let rnn = path / "rnn";
        let bound = 1.0 / (h as f64).sqrt();
        let init = nn::Init::Uniform { lo: -bound, up: bound };
        let features = match cfg.decoder {
            DecoderKind::Bahdanau => h + d + e,
            DecoderKind::Luong => h,
        };
        let combine = (cfg.decoder == DecoderKind::Luong)
            .then(|| nn::linear(path / "combine", d + h, h, nn::LinearConfig { bias: false, ..Default::default() }));
        let (pre_output, output, output_bias) = if cfg.tied_embeddings {
            let no_bias = nn::LinearConfig { bias: false, ..Default::default() };
            (
                Some(nn::linear(path / "pre_output", features, e, no_bias)),
                None,
                Some((path / "output").zeros("bias", &[vocab])),
            )
        } else {
            (None, Some(nn::linear(path / "output", features, vocab, Default::default())), None)
        };
        Decoder {
            kind: cfg.decoder,
            embed,
            attention: Attention::new(&(path / "attention"), cfg),
            w_ih: rnn.var("weight_ih", &[3 * h, input], init),
            w_hh: rnn.var("weight_hh", &[3 * h, h], init),
            b_ih: rnn.var("bias_ih", &[3 * h], init),
            b_hh: rnn.var("bias_hh", &[3 * h], init),
            emb_size: e,
            combine,
            input_feeding,
            pre_output,
            output,
            output_bias,
            dropout: cfg.dropout,
        }
    }

    /// The scorer, for callers that precompute keys.
    pub fn attention(&self) -> &Attention {
        &self.attention
    }

    /// The state before the first step: h0 `[B, H]` from the bridge.
    pub fn initial_state(&self, h0: Tensor) -> DecoderState {
        let feed = self.input_feeding.then(|| h0.zeros_like());
        DecoderState { h: h0, feed }
    }

    /// Input-gate contribution of the embeddings, for any leading shape: emb `[..., E]` → `[..., 3H]`.
    fn embedding_gates(&self, emb: &Tensor) -> Tensor {
        emb.matmul(&self.w_ih.narrow(1, 0, self.emb_size).tr()) + &self.b_ih
    }

    /// One recurrence step. gi_emb: `[B, 3H]` (from [`Self::embedding_gates`]), emb: `[B, E]`
    /// → output-layer features `[B, D_out]`, the next state, and the attention of this step.
    fn cell(&self, gi_emb: &Tensor, emb: &Tensor, state: &DecoderState, keys: &Keys) -> (Tensor, DecoderState, Attended) {
        let rest = self.w_ih.narrow(1, self.emb_size, self.w_ih.size()[1] - self.emb_size);
        match self.kind {
            DecoderKind::Bahdanau => {
                let att = self.attention.attend(&state.h, keys);
                let h = self.gru(&(gi_emb + att.context.matmul(&rest.tr())), &state.h);
                let features = Tensor::cat(&[&h, &att.context, emb], 1);
                (features, DecoderState { h, feed: None }, att)
            }
            DecoderKind::Luong => {
                let gi = match &state.feed {
                    Some(feed) => gi_emb + feed.matmul(&rest.tr()),
                    None => gi_emb.shallow_clone(),
                };
                let h = self.gru(&gi, &state.h);
                let att = self.attention.attend(&h, keys);
                let combine = self.combine.as_ref().expect("Luong decoder has a combine layer");
                let vec = combine.forward(&Tensor::cat(&[&att.context, &h], 1)).tanh();
                let feed = self.input_feeding.then(|| vec.shallow_clone());
                (vec, DecoderState { h, feed }, att)
            }
        }
    }

    /// GRU update from precomputed input gates. gi: `[B, 3H]`, h: `[B, H]` → `[B, H]`.
    fn gru(&self, gi: &Tensor, h: &Tensor) -> Tensor {
        let gh = h.matmul(&self.w_hh.tr()) + &self.b_hh;
        let gi = gi.chunk(3, 1);
        let gh = gh.chunk(3, 1);
        let r = (&gi[0] + &gh[0]).sigmoid();
        let z = (&gi[1] + &gh[1]).sigmoid();
        let n = (&gi[2] + r * &gh[2]).tanh();
        &n + z * (h - &n)
    }

    /// Teacher forcing. tgt_in: `[B, T]` (BOS + target), keys from [`Attention::prepare`]
    /// → features `[B, T, D_out]`, weights `[B, T, S]`.
    pub fn forward_t(&self, tgt_in: &Tensor, state: DecoderState, keys: &Keys, train: bool) -> DecoderOutput {
        let emb = self.embed.forward(tgt_in).dropout(self.dropout, train);
        let gates = self.embedding_gates(&emb);
        let steps = tgt_in.size()[1];
        let mut state = state;
        let (mut features, mut weights, mut heads) = (Vec::new(), Vec::new(), Vec::new());
        for t in 0..steps {
            let (f, next, att) = self.cell(&gates.select(1, t), &emb.select(1, t), &state, keys);
            features.push(f);
            weights.push(att.weights);
            heads.extend(att.head_weights);
            state = next;
        }
        DecoderOutput {
            features: Tensor::stack(&features, 1),
            weights: Tensor::stack(&weights, 1),
            head_weights: (!heads.is_empty()).then(|| Tensor::stack(&heads, 1)),
        }
    }

    /// Output layer (dropout, then projection) over features of any leading shape `[..., D_out]` → `[..., V]`.
    pub fn logits(&self, features: &Tensor, train: bool) -> Tensor {
        let x = features.dropout(self.dropout, train);
        match (&self.output, &self.pre_output, &self.output_bias) {
            (Some(out), _, _) => out.forward(&x),
            (None, Some(pre), Some(bias)) => pre.forward(&x).matmul(&self.embed.ws.tr()) + bias,
            _ => unreachable!("the decoder has either an output layer or tied embeddings"),
        }
    }

    /// One inference step. y_prev: `[B]` previous tokens → logits `[B, V]`, next state, attention.
    pub fn step(&self, y_prev: &Tensor, state: &DecoderState, keys: &Keys) -> DecoderStep {
        let emb = self.embed.forward(y_prev);
        let (features, state, attended) = self.cell(&self.embedding_gates(&emb), &emb, state, keys);
        DecoderStep { logits: self.logits(&features, false), state, attended }
    }
}
