//! The GRU decoder in its two wirings (Bahdanau and Luong): its parameters, the recurrence and the
//! output layer. One function, `Decoder::cell`, is the recurrence; its two drivers live beside it:
//! teacher forcing ([`Decoder::teacher_forced`], in `teacher.rs`) loops over it on the real target
//! positions and leaves the output layer ([`Decoder::logits`]) to be applied to every step at once;
//! inference (`prepared.rs`) calls it one step at a time through [`Decoder::step`], or through
//! [`Decoder::step_with`] with weights laid out for decoding ([`Decoder::decode_weights`]) and a
//! per-batch [`StepPlan`] ([`Decoder::plan`]); `products.rs` picks the kernel of each matrix product.

mod prepared;
mod products;
mod quantized;
mod teacher;

pub use prepared::{DecodeWeights, StepPlan};
pub use quantized::INT8_MAX_ROWS;
pub use teacher::TeacherForced;

use crate::config::{DecoderKind, ModelConfig};
use crate::model::attention::{Attended, Attention, Keys};
use crate::model::gru;
use prepared::RowGroup;
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
    /// Selects batch rows (`index`: `[N]` i64), `[B, H]` → `[N, H]` — for beam search reordering and repetition.
    pub fn index_select(&self, index: &Tensor) -> DecoderState {
        DecoderState { h: self.h.index_select(0, index), feed: self.feed.as_ref().map(|f| f.index_select(0, index)) }
    }

    /// The first `n` batch rows, as views: `[B, H]` → `[n, H]`.
    pub fn first_rows(&self, n: i64) -> DecoderState {
        DecoderState { h: self.h.narrow(0, 0, n), feed: self.feed.as_ref().map(|f| f.narrow(0, 0, n)) }
    }
}

/// One inference step.
#[derive(Debug)]
pub struct DecoderStep {
    /// Unnormalised scores over the target vocabulary `[B, V]`.
    pub logits: Tensor,
    /// The state after this step (`[B, H]`).
    pub state: DecoderState,
    /// This step's attention: context `[B, D_enc]`, weights `[B, S]`.
    pub attended: Attended,
}

/// What one recurrence step produced, before the output layer.
struct Cell {
    state: DecoderState,
    attended: Attended,
    /// Luong: the attentional vector; Bahdanau: none (its features are assembled only where needed).
    vec: Option<Tensor>,
    /// The context's part of the logits `[B, V]`, when it came from a [`StepPlan`]'s projected memory.
    ctx_logits: Option<Tensor>,
}

/// The GRU's weights in the orientation the products use (`x · w`, w: `[in, 3H]`): views of the
/// parameters in a training pass, made once so that every step shares them (a view made per step would
/// cost a full-size gradient scatter per step), or contiguous copies in [`DecodeWeights`].
struct GateWeights {
    /// Embedding part of the input weights `[E, 3H]`.
    emb: Tensor,
    /// Context (Bahdanau) or input-feed (Luong) part `[D_in − E, 3H]` (empty for Luong without feeding).
    rest: Tensor,
    /// Recurrent weights `[H, 3H]`.
    hh: Tensor,
    /// Int8 copies of the step's large matrices (`--precision int8`, see `quantized.rs`).
    int8: Option<quantized::Int8Step>,
    /// The `[out, in]` copies oneDNN multiplies by (decoding on the CPU, see `products.rs`).
    dnn: Option<products::DnnStep>,
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
        // Tied to the output layer, the embedding's dot products are the logits: initialised with variance
        // 1/E they start near 0 (with the default N(0, 1) they would start at ±√E and training diverges).
        let ws_init = match cfg.tied_embeddings {
            true => nn::Init::Randn { mean: 0.0, stdev: 1.0 / (e as f64).sqrt() },
            false => nn::EmbeddingConfig::default().ws_init,
        };
        let embed = nn::embedding(path / "embed", vocab, e, nn::EmbeddingConfig { ws_init, ..Default::default() });
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

    /// The GRU weights as views of the parameters.
    fn gate_weights(&self) -> GateWeights {
        let e = self.emb_size;
        GateWeights {
            emb: self.w_ih.narrow(1, 0, e).tr(),
            rest: self.w_ih.narrow(1, e, self.w_ih.size()[1] - e).tr(),
            hh: self.w_hh.tr(),
            int8: None,
            dnn: None,
        }
    }

    /// Input-gate contribution of the embeddings, for any leading shape: emb `[..., E]` → `[..., 3H]`.
    fn embedding_gates(&self, emb: &Tensor, w: &GateWeights) -> Tensor {
        emb.matmul(&w.emb) + &self.b_ih
    }

    /// One recurrence step. gi_emb: `[B, 3H]` (from [`Self::embedding_gates`]) → the next state, the
    /// attention of this step and, for Luong, the attentional vector. With projected memory `groups`
    /// the context's gate and logit contributions come from their tables.
    fn cell(
        &self,
        gi_emb: &Tensor,
        state: &DecoderState,
        keys: &Keys,
        w: &GateWeights,
        groups: Option<&[RowGroup]>,
    ) -> Cell {
        match self.kind {
            DecoderKind::Bahdanau => {
                let attended = self.attention.attend(&state.h, keys);
                let (gi, ctx_logits) = match groups {
                    Some(groups) => {
                        let mixed = RowGroup::mix(groups, &attended.weights, keys.queries);
                        let g = gi_emb.size()[1];
                        (gi_emb + mixed.narrow(1, 0, g), Some(mixed.narrow(1, g, mixed.size()[1] - g)))
                    }
                    None => (w.add_rest(gi_emb, &attended.context), None),
                };
                let h = self.gru(&gi, &state.h, w);
                Cell { state: DecoderState { h, feed: None }, attended, vec: None, ctx_logits }
            }
            DecoderKind::Luong => {
                let gi = match &state.feed {
                    Some(feed) => w.add_rest(gi_emb, feed),
                    None => gi_emb.shallow_clone(),
                };
                let h = self.gru(&gi, &state.h, w);
                let attended = self.attention.attend(&h, keys);
                let combine = self.combine.as_ref().expect("Luong decoder has a combine layer");
                let vec = w.combine(combine, &Tensor::cat(&[&attended.context, &h], 1)).tanh();
                let feed = self.input_feeding.then(|| vec.shallow_clone());
                Cell { state: DecoderState { h, feed }, attended, vec: Some(vec), ctx_logits: None }
            }
        }
    }

    /// Output-layer input of a step: Luong's attentional vector, or Bahdanau's `[h; context; emb]`
    /// with emb `[B, E]` → `[B, D_out]`.
    fn features(&self, cell: &Cell, emb: &Tensor) -> Tensor {
        match &cell.vec {
            Some(vec) => vec.shallow_clone(),
            None => Tensor::cat(&[&cell.state.h, &cell.attended.context, emb], 1),
        }
    }

    /// GRU update from precomputed input gates. gi: `[B, 3H]`, h: `[B, H]` → `[B, H]` (w.hh: `[H, 3H]`).
    fn gru(&self, gi: &Tensor, h: &Tensor, w: &GateWeights) -> Tensor {
        gru::update(gi, &w.recurrent(&self.b_hh, h), h)
    }

    /// Size of the output layer's input, D_out.
    fn feature_size(&self) -> i64 {
        let h = self.w_hh.size()[1];
        match self.kind {
            DecoderKind::Bahdanau => h + self.w_ih.size()[1],
            DecoderKind::Luong => h,
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
}

/// Inputs shared by the decoder's unit tests.
#[cfg(test)]
mod fixture {
    use super::*;
    use crate::config::AttentionKind;
    use tch::Kind;

    /// The lengths of [`setup`]'s target rows.
    pub(super) const TGT_LENGTHS: [i64; 4] = [3, 5, 1, 5];

    /// A small random model's decoder inputs: a padded target batch, an initial state and keys.
    pub(super) fn setup(
        decoder: DecoderKind,
        attention: AttentionKind,
    ) -> (nn::VarStore, Decoder, Tensor, DecoderState, Keys) {
        tch::set_num_threads(1);
        tch::manual_seed(3);
        let cfg = ModelConfig { emb_size: 6, hidden_size: 10, decoder, attention, heads: 2, ..ModelConfig::default() };
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let dec = Decoder::new(&vs.root(), &cfg, 17);
        // Rows of `TGT_LENGTHS` (BOS + target, PAD after): unsorted, with ties.
        let tgt_in = Tensor::from_slice(&[
            2i64, 5, 6, 0, 0, //
            2, 7, 8, 9, 4, //
            2, 0, 0, 0, 0, //
            2, 4, 4, 11, 16,
        ])
        .view([4, 5]);
        let memory = Tensor::randn([4, 7, 10], (Kind::Float, tch::Device::Cpu));
        let positions = Tensor::arange(7, (Kind::Int64, tch::Device::Cpu));
        let mask = Tensor::from_slice(&[7i64, 3, 5, 1]).unsqueeze(1).gt_tensor(&positions);
        let memory = memory * mask.unsqueeze(2);
        let keys = dec.attention().prepare(&memory, &mask);
        let state = dec.initial_state(Tensor::randn([4, 10], (Kind::Float, tch::Device::Cpu)).tanh());
        (vs, dec, tgt_in, state, keys)
    }

    /// The largest absolute difference between `a` and `b`.
    pub(super) fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        f64::try_from((a - b).abs().max()).unwrap()
    }
}
