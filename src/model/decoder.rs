//! The GRU decoder in its two wirings (Bahdanau and Luong). One function, [`Decoder::cell`], is the
//! recurrence; teacher-forced training loops over it and then projects every step at once, inference calls
//! it one step at a time through [`Decoder::step`].

use crate::config::{DecoderKind, ModelConfig};
use crate::model::attention::{Attended, Attention, Keys};
use crate::data::tokenizer::PAD;
use tch::{nn, nn::Module, Kind, Tensor};

/// Largest `[B, S, V]` table [`Decoder::project_memory`] builds: 8 MiB of fp32, so that it stays in cache.
const PROJECTION_MAX: i64 = 1 << 21;

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
    /// The context's part of the logits `[B, V]`, when it came from a [`ProjectedMemory`].
    ctx_logits: Option<Tensor>,
}

/// Greedy decoding's per-batch precomputation for Bahdanau decoders (see [`Decoder::project_memory`]):
/// every memory position's contribution to the GRU input gates and to the logits, `[B, S, 3H + V]`.
#[derive(Debug)]
pub struct ProjectedMemory(Tensor);

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

    /// One recurrence step. gi_emb: `[B, 3H]` (from [`Self::embedding_gates`]) → the next state, the
    /// attention of this step and, for Luong, the attentional vector. With a [`ProjectedMemory`] the
    /// context's gate and logit contributions come from its table.
    fn cell(&self, gi_emb: &Tensor, state: &DecoderState, keys: &Keys, projected: Option<&ProjectedMemory>) -> Cell {
        let rest = self.w_ih.narrow(1, self.emb_size, self.w_ih.size()[1] - self.emb_size);
        match self.kind {
            DecoderKind::Bahdanau => {
                let attended = self.attention.attend(&state.h, keys);
                let (gi, ctx_logits) = match projected {
                    Some(ProjectedMemory(table)) => {
                        let mixed = attended.weights.unsqueeze(1).bmm(table).squeeze_dim(1);
                        let g = gi_emb.size()[1];
                        (gi_emb + mixed.narrow(1, 0, g), Some(mixed.narrow(1, g, table.size()[2] - g)))
                    }
                    None => (gi_emb.addmm(&attended.context, &rest.tr()), None),
                };
                let h = self.gru(&gi, &state.h);
                Cell { state: DecoderState { h, feed: None }, attended, vec: None, ctx_logits }
            }
            DecoderKind::Luong => {
                let gi = match &state.feed {
                    Some(feed) => gi_emb.addmm(feed, &rest.tr()),
                    None => gi_emb.shallow_clone(),
                };
                let h = self.gru(&gi, &state.h);
                let attended = self.attention.attend(&h, keys);
                let combine = self.combine.as_ref().expect("Luong decoder has a combine layer");
                let vec = combine.forward(&Tensor::cat(&[&attended.context, &h], 1)).tanh();
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

    /// GRU update from precomputed input gates. gi: `[B, 3H]`, h: `[B, H]` → `[B, H]`.
    /// Few, fused ops (the step runs once per target position, forward and backward): r and z in one
    /// sigmoid, `gi_n + r·gh_n` as one addcmul, and `n + z·(h − n)` as one lerp.
    fn gru(&self, gi: &Tensor, h: &Tensor) -> Tensor {
        if crate::bench::xp("OLDGRU") {
            let gh = h.matmul(&self.w_hh.tr()) + &self.b_hh;
            let gi = gi.chunk(3, 1);
            let gh = gh.chunk(3, 1);
            let r = (&gi[0] + &gh[0]).sigmoid();
            let z = (&gi[1] + &gh[1]).sigmoid();
            let n = (&gi[2] + r * &gh[2]).tanh();
            return &n + z * (h - &n);
        }
        let hs = h.size()[1];
        let gh = self.b_hh.addmm(h, &self.w_hh.tr());
        let rz = (gi.narrow(1, 0, 2 * hs) + gh.narrow(1, 0, 2 * hs)).sigmoid();
        let n = gi.narrow(1, 2 * hs, hs).addcmul(&rz.narrow(1, 0, hs), &gh.narrow(1, 2 * hs, hs)).tanh();
        n.lerp_tensor(h, &rz.narrow(1, hs, hs))
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
            let cell = self.cell(&gates.select(1, t), &state, keys, None);
            features.push(self.features(&cell, &emb.select(1, t)));
            weights.push(cell.attended.weights);
            heads.extend(cell.attended.head_weights);
            state = cell.state;
        }
        DecoderOutput {
            features: Tensor::stack(&features, 1),
            weights: Tensor::stack(&weights, 1),
            head_weights: (!heads.is_empty()).then(|| Tensor::stack(&heads, 1)),
        }
    }

    /// Teacher forcing over the real (non-PAD) positions only. Rows run longest first and each step
    /// computes only the rows whose target is still going, so padding (about half of a random batch's
    /// positions) costs no recurrence work. tgt_in: `[B, T]` (BOS + target, PAD-padded), keys from
    /// [`Attention::prepare`] → features `[N, D_out]` of the N real positions in row-major order (that of
    /// `tgt_in.ne(PAD).nonzero()`): those positions of [`Self::forward_t`]'s features up to float rounding,
    /// with the same dropout masks.
    pub fn forward_real(&self, tgt_in: &Tensor, state: DecoderState, keys: &Keys, train: bool) -> Tensor {
        let (b, t) = tgt_in.size2().expect("tgt_in must be [B, T]");
        let device = tgt_in.device();
        let lens = Vec::<i64>::try_from(tgt_in.ne(PAD).sum_dim_intlist(1, false, Kind::Int64)).unwrap_or_default();
        let mut order: Vec<i64> = (0..b).collect();
        order.sort_by_key(|&r| std::cmp::Reverse(lens[r as usize]));
        let index = Tensor::from_slice(&order).to_device(device);
        // Dropout before the reordering draws the masks of `forward_t`. Time-major and unbound, so each
        // step reads a contiguous `[B, ·]` slice and the backward pass stacks the slices' gradients once
        // (a `select` per step would scatter each into a zero tensor of the whole size).
        let emb = self.embed.forward(tgt_in).dropout(self.dropout, train).index_select(0, &index).transpose(0, 1).contiguous();
        let gates = self.embedding_gates(&emb).unbind(0);
        let emb = emb.unbind(0);
        let keys = keys.select_rows(&index);
        let mut state = state.index_select(&index);
        let (mut features, mut positions) = (Vec::new(), Vec::new());
        for step in 0..t {
            // Rows are sorted longest first, so the ones still going are a prefix.
            let n = order.iter().take_while(|&&r| lens[r as usize] > step).count() as i64;
            if n == 0 {
                break;
            }
            if n < state.h.size()[0] {
                state = state.first_rows(n);
            }
            let cell = self.cell(&gates[step as usize].narrow(0, 0, n), &state, &keys.first_rows(n), None);
            features.push(self.features(&cell, &emb[step as usize].narrow(0, 0, n)));
            positions.extend(order[..n as usize].iter().map(|&r| r * t + step));
            state = cell.state;
        }
        let mut perm: Vec<i64> = (0..positions.len() as i64).collect();
        perm.sort_by_key(|&i| positions[i as usize]);
        let perm = Tensor::from_slice(&perm).to_device(device);
        match features.is_empty() {
            true => Tensor::zeros([0, self.feature_size()], (Kind::Float, device)),
            false => Tensor::cat(&features, 0).index_select(0, &perm),
        }
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

    /// One inference step. y_prev: `[B]` previous tokens, state `[B, H]`, keys over `[B, S]` → logits
    /// `[B, V]`, next state `[B, H]`, attention (weights `[B, S]`).
    pub fn step(&self, y_prev: &Tensor, state: &DecoderState, keys: &Keys) -> DecoderStep {
        self.step_with(y_prev, state, keys, None)
    }

    /// Greedy decoding's per-batch precomputation for Bahdanau decoders with their own output layer.
    /// The context `c = Σ_s a_s m_s` enters the step only through linear maps, the GRU input gates
    /// `W_ic c` and the logits `W_c c`, so `W c = Σ_s a_s (W m_s)`: with `W m_s` computed once per batch
    /// (values `[B, S, D]` → table `[B, S, 3H + V]`) each step costs `[S]×[S, 3H + V]` instead of
    /// `[D]×[D, 3H + V]` — at batch 1 mostly weights not read from memory. `None` where that does not
    /// pay: other wirings, multihead (whose context is not a weighted sum of the memory), no more `steps`
    /// than source positions, or a table of over `PROJECTION_MAX` entries (every step reads all of it).
    pub fn project_memory(&self, keys: &Keys, steps: usize) -> Option<ProjectedMemory> {
        let out = self.output.as_ref()?;
        let (b, s, d) = keys.values.size3().ok()?;
        let (h, v) = (self.w_hh.size()[1], out.ws.size()[0]);
        let fits = b * s * (3 * h + v) <= crate::bench::xp_i64("PROJMAX", PROJECTION_MAX) && steps as i64 > s;
        let linear = self.kind == DecoderKind::Bahdanau && !matches!(self.attention, Attention::Multihead { .. });
        if !(fits && linear) || crate::bench::xp("NOPROJ") {
            return None;
        }
        let gates = keys.values.matmul(&self.w_ih.narrow(1, self.emb_size, d).tr());
        let logits = keys.values.matmul(&out.ws.narrow(1, h, d).tr());
        Some(ProjectedMemory(Tensor::cat(&[gates, logits], 2)))
    }

    /// [`Self::step`], with the table of [`Self::project_memory`] when there is one.
    pub fn step_with(&self, y_prev: &Tensor, state: &DecoderState, keys: &Keys, projected: Option<&ProjectedMemory>) -> DecoderStep {
        let emb = self.embed.forward(y_prev);
        let cell = self.cell(&self.embedding_gates(&emb), state, keys, projected);
        let logits = match (&cell.ctx_logits, &self.output) {
            // W [h; c; e] + b = W_h h + W_e e + b + W_c c.
            (Some(ctx_logits), Some(out)) => {
                let (h, w) = (&cell.state.h, &out.ws);
                let w_h = w.narrow(1, 0, h.size()[1]).tr();
                let w_e = w.narrow(1, w.size()[1] - self.emb_size, self.emb_size).tr();
                let x = ctx_logits.addmm(h, &w_h).addmm(&emb, &w_e);
                match &out.bs {
                    Some(bias) => x + bias,
                    None => x,
                }
            }
            _ => self.logits(&self.features(&cell, &emb), false),
        };
        DecoderStep { logits, state: cell.state, attended: cell.attended }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AttentionKind;

    /// A small random model's decoder inputs: a padded target batch, an initial state and keys.
    fn setup(decoder: DecoderKind, attention: AttentionKind) -> (nn::VarStore, Decoder, Tensor, DecoderState, Keys) {
        tch::set_num_threads(1);
        tch::manual_seed(3);
        let cfg = ModelConfig { emb_size: 6, hidden_size: 10, decoder, attention, heads: 2, ..ModelConfig::default() };
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let dec = Decoder::new(&vs.root(), &cfg, 17);
        // Rows of lengths 3, 5, 1 and 5 (BOS + target, PAD after): unsorted, with ties.
        let tgt_in = Tensor::from_slice(&[
            2i64, 5, 6, 0, 0, //
            2, 7, 8, 9, 4, //
            2, 0, 0, 0, 0, //
            2, 4, 4, 11, 16,
        ])
        .view([4, 5]);
        let memory = Tensor::randn([4, 7, 10], (Kind::Float, tch::Device::Cpu));
        let mask = Tensor::from_slice(&[7i64, 3, 5, 1]).unsqueeze(1).gt_tensor(&Tensor::arange(7, (Kind::Int64, tch::Device::Cpu)));
        let memory = memory * mask.unsqueeze(2);
        let keys = dec.attention().prepare(&memory, &mask);
        let state = dec.initial_state(Tensor::randn([4, 10], (Kind::Float, tch::Device::Cpu)).tanh());
        (vs, dec, tgt_in, state, keys)
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        f64::try_from((a - b).abs().max()).unwrap()
    }

    #[test]
    fn forward_real_equals_forward_t_at_the_real_positions_for_both_wirings() {
        for decoder in [DecoderKind::Bahdanau, DecoderKind::Luong] {
            let (_vs, dec, tgt_in, state, keys) = setup(decoder, AttentionKind::Bahdanau);
            let full = dec.forward_t(&tgt_in, DecoderState { h: state.h.copy(), feed: state.feed.as_ref().map(Tensor::copy) }, &keys, false);
            let real = tgt_in.ne(PAD).flatten(0, -1).nonzero().squeeze_dim(1);
            let expected = full.features.reshape([-1, full.features.size()[2]]).index_select(0, &real);
            let packed = dec.forward_real(&tgt_in, state, &keys, false);
            assert_eq!(packed.size(), expected.size());
            assert!(max_diff(&packed, &expected) < 1e-5, "{decoder:?}: {}", max_diff(&packed, &expected));
        }
    }

    #[test]
    fn projected_memory_step_gives_the_plain_step_logits() {
        let (_vs, dec, _, state, keys) = setup(DecoderKind::Bahdanau, AttentionKind::Bahdanau);
        let table = dec.project_memory(&keys, 50).expect("a small Bahdanau batch is projected");
        let y = Tensor::from_slice(&[2i64, 5, 9, 16]);
        let plain = dec.step(&y, &state, &keys);
        let fast = dec.step_with(&y, &state, &keys, Some(&table));
        assert!(max_diff(&plain.logits, &fast.logits) < 1e-5);
        assert!(max_diff(&plain.state.h, &fast.state.h) < 1e-6);
    }

    #[test]
    fn memory_is_projected_only_where_the_context_is_a_weighted_sum_and_it_pays() {
        let (_vs, dec, _, _, keys) = setup(DecoderKind::Bahdanau, AttentionKind::Bahdanau);
        assert!(dec.project_memory(&keys, 7).is_none(), "no more steps than source positions");
        let (_vs, dec, _, _, keys) = setup(DecoderKind::Luong, AttentionKind::Bahdanau);
        assert!(dec.project_memory(&keys, 50).is_none());
        let (_vs, dec, _, _, keys) = setup(DecoderKind::Bahdanau, AttentionKind::Multihead);
        assert!(dec.project_memory(&keys, 50).is_none());
    }
}
