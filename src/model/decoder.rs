//! The GRU decoder in its two wirings (Bahdanau and Luong). One function, `Decoder::cell`, is the
//! recurrence; teacher-forced training loops over it (over the real target positions only, in
//! [`Decoder::forward_real`]) and then projects every step at once; inference calls it one step at a time
//! through [`Decoder::step`], or through [`Decoder::step_with`] with weights laid out for decoding
//! ([`Decoder::decode_weights`]) and a per-batch [`StepPlan`].

use crate::config::{DecoderKind, ModelConfig};
use crate::data::tokenizer::PAD;
use crate::model::attention::{Attended, Attention, Keys};
use tch::{nn, nn::Module, Kind, Tensor};

/// Largest projected memory [`Decoder::plan`] builds, in entries: 64 MiB of fp32, which every step
/// reads whole (a batch of 128 Multi30k sentences needs about 50 MiB).
const PROJECTION_MAX: i64 = 1 << 24;
/// Rows per [`RowGroup`] of the projected memory: fewer rows leave less padding in the tables, more
/// make fewer and larger products; 4–16 measured alike at batch 128.
const PROJECTION_ROWS: usize = 8;

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
}

/// The decoder's weights laid out for decoding with fixed parameters (see [`Decoder::decode_weights`]).
pub struct DecodeWeights {
    /// Contiguous `[in, out]` copies: a matrix–vector product (batch 1) reads them about twice as fast
    /// as the `[out, in]` parameters.
    gates: GateWeights,
    /// Per target token, its embedding's contribution to the input gates, bias included `[V, 3H]`.
    emb_gates: Option<Tensor>,
    output: OutputWeights,
}

/// The output layer of [`DecodeWeights`].
enum OutputWeights {
    /// The transposed weight `[D_out, V]`, the bias, and for Bahdanau optionally, per target token, its
    /// embedding's contribution to the logits, bias included `[V, V]` (the features `[h; c; e]` then
    /// need only `[h; c]`).
    Transposed { w: Tensor, bias: Option<Tensor>, emb_logits: Option<Tensor> },
    /// Tied embeddings: through [`Decoder::logits`].
    Module,
}

impl std::fmt::Debug for DecodeWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeWeights").field("vocabulary_tables", &self.emb_gates.is_some()).finish()
    }
}

/// What decoding one batch prepares (see [`Decoder::plan`]): for Bahdanau, where it pays, the memory
/// projected through the linear maps the context enters. With `c = Σ_s a_s m_s` the context reaches a
/// step only through `W_ic c` (input gates) and `W_c c` (logits), so `W c = Σ_s a_s (W m_s)`: the
/// groups' tables hold `W m_s` for every memory position and a step costs `[S]×[S, 3H + V]` per row
/// instead of `[D]×[D, 3H + V]`.
#[derive(Debug)]
pub struct StepPlan {
    groups: Option<Vec<RowGroup>>,
}

/// Consecutive batch rows `start..start + rows` with sources of at most `len` tokens, and their projected
/// memory `[rows, len, 3H + V]`: grouping rows sorted by length keeps the padding out of the tables,
/// which every step reads whole.
#[derive(Debug)]
struct RowGroup {
    start: i64,
    rows: i64,
    len: i64,
    table: Tensor,
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
                        let parts: Vec<Tensor> = groups
                            .iter()
                            .map(|g| {
                                let a = attended.weights.narrow(0, g.start, g.rows).narrow(1, 0, g.len);
                                a.unsqueeze(1).bmm(&g.table).squeeze_dim(1)
                            })
                            .collect();
                        let mixed = Tensor::cat(&parts, 0);
                        let g = gi_emb.size()[1];
                        (gi_emb + mixed.narrow(1, 0, g), Some(mixed.narrow(1, g, mixed.size()[1] - g)))
                    }
                    None => (gi_emb.addmm(&attended.context, &w.rest), None),
                };
                let h = self.gru(&gi, &state.h, &w.hh);
                Cell { state: DecoderState { h, feed: None }, attended, vec: None, ctx_logits }
            }
            DecoderKind::Luong => {
                let gi = match &state.feed {
                    Some(feed) => gi_emb.addmm(feed, &w.rest),
                    None => gi_emb.shallow_clone(),
                };
                let h = self.gru(&gi, &state.h, &w.hh);
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

    /// GRU update from precomputed input gates. gi: `[B, 3H]`, h: `[B, H]`, w_hh: `[H, 3H]` → `[B, H]`.
    /// Few, fused ops (the step runs once per target position, forward and backward): r and z in one
    /// sigmoid, `gi_n + r·gh_n` as one addcmul, and `n + z·(h − n)` as one lerp.
    fn gru(&self, gi: &Tensor, h: &Tensor, w_hh: &Tensor) -> Tensor {
        let hs = h.size()[1];
        let gh = self.b_hh.addmm(h, w_hh);
        let rz = (gi.narrow(1, 0, 2 * hs) + gh.narrow(1, 0, 2 * hs)).sigmoid();
        let n = gi.narrow(1, 2 * hs, hs).addcmul(&rz.narrow(1, 0, hs), &gh.narrow(1, 2 * hs, hs)).tanh();
        n.lerp_tensor(h, &rz.narrow(1, hs, hs))
    }

    /// Teacher forcing. tgt_in: `[B, T]` (BOS + target), keys from [`Attention::prepare`]
    /// → features `[B, T, D_out]`, weights `[B, T, S]`.
    pub fn forward_t(&self, tgt_in: &Tensor, state: DecoderState, keys: &Keys, train: bool) -> DecoderOutput {
        let emb = self.embed.forward(tgt_in).dropout(self.dropout, train);
        let w = self.gate_weights();
        let gates = self.embedding_gates(&emb, &w);
        let steps = tgt_in.size()[1];
        let mut state = state;
        let (mut features, mut weights, mut heads) = (Vec::new(), Vec::new(), Vec::new());
        for t in 0..steps {
            let cell = self.cell(&gates.select(1, t), &state, keys, &w, None);
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
        // Rows sorted longest first: step k runs on the first `active[k]` of them, and the real positions
        // in time-major order (step by step) sit at `positions` in the row-major `[B·T]` layout.
        let active: Vec<i64> =
            (0..t).map(|k| lens.iter().filter(|&&l| l > k).count() as i64).take_while(|&n| n > 0).collect();
        let positions: Vec<i64> = active
            .iter()
            .enumerate()
            .flat_map(|(k, &n)| order[..n as usize].iter().map(move |&r| r * t + k as i64))
            .collect();
        if positions.is_empty() {
            return Tensor::zeros([0, self.feature_size()], (Kind::Float, device));
        }
        // Dropout on the whole batch draws the masks of `forward_t`; then the real positions are packed
        // and split per step, so every step reads a contiguous slice and the backward pass joins the
        // slices' gradients in one op (no per-step scatter into a zero tensor of the whole size).
        let e = self.emb_size;
        let emb = self.embed.forward(tgt_in).dropout(self.dropout, train).reshape([b * t, e]);
        let emb = emb.index_select(0, &Tensor::from_slice(&positions).to_device(device));
        let w = self.gate_weights();
        let gates = self.embedding_gates(&emb, &w).split_with_sizes(&active, 0);
        let emb = emb.split_with_sizes(&active, 0);
        let index = Tensor::from_slice(&order).to_device(device);
        let mut keys = keys.select_rows(&index);
        let mut state = state.index_select(&index);
        let mut features = Vec::with_capacity(active.len());
        for (k, &n) in active.iter().enumerate() {
            if n < state.h.size()[0] {
                // Narrowed only when rows finish, so a narrowing's backward runs once per distinct length.
                state = state.first_rows(n);
                keys = keys.first_rows(n);
            }
            let cell = self.cell(&gates[k], &state, &keys, &w, None);
            features.push(self.features(&cell, &emb[k]));
            state = cell.state;
        }
        let mut perm: Vec<i64> = (0..positions.len() as i64).collect();
        perm.sort_by_key(|&i| positions[i as usize]);
        Tensor::cat(&features, 0).index_select(0, &Tensor::from_slice(&perm).to_device(device))
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

    /// One inference step. y_prev: `[B]` previous tokens → logits `[B, V]`, next state, attention.
    pub fn step(&self, y_prev: &Tensor, state: &DecoderState, keys: &Keys) -> DecoderStep {
        let emb = self.embed.forward(y_prev);
        let w = self.gate_weights();
        let cell = self.cell(&self.embedding_gates(&emb, &w), state, keys, &w, None);
        DecoderStep {
            logits: self.logits(&self.features(&cell, &emb), false),
            state: cell.state,
            attended: cell.attended,
        }
    }

    /// The weights laid out for decoding (inference only: copies, valid while the parameters do not
    /// change). With `vocabulary_tables` it also tabulates, per target token, the embedding's
    /// contributions to the input gates `[V, 3H]` and (Bahdanau) to the logits `[V, V]`, so a step looks
    /// rows up instead of multiplying: worth its `V·E·(V + 3H)` multiply-adds and `4·V·(V + 3H)` bytes
    /// only when reused over many batches.
    pub fn decode_weights(&self, vocabulary_tables: bool) -> DecodeWeights {
        let _guard = tch::no_grad_guard();
        let views = self.gate_weights();
        let gates =
            GateWeights { emb: views.emb.contiguous(), rest: views.rest.contiguous(), hh: views.hh.contiguous() };
        let emb_gates = vocabulary_tables.then(|| self.embedding_gates(&self.embed.ws, &gates));
        let output = match &self.output {
            Some(out) => {
                let w = out.ws.tr().contiguous();
                let bias = out.bs.as_ref().map(Tensor::shallow_clone);
                let emb_logits = (vocabulary_tables && self.kind == DecoderKind::Bahdanau).then(|| {
                    let w_e = w.narrow(0, w.size()[0] - self.emb_size, self.emb_size);
                    let table = self.embed.ws.matmul(&w_e);
                    match &bias {
                        Some(b) => table + b,
                        None => table,
                    }
                });
                OutputWeights::Transposed { w, bias, emb_logits }
            }
            None => OutputWeights::Module,
        };
        DecodeWeights { gates, emb_gates, output }
    }

    /// Prepares decoding the batch behind `keys` for `steps` steps. The memory is projected (see
    /// [`StepPlan`]) where that pays: Bahdanau wiring with its own output layer and an attention whose
    /// context is a weighted sum of the memory (not multihead), more `steps` than source positions, and
    /// tables of at most `PROJECTION_MAX` entries. Rows sorted by source length (longest first) make the
    /// tables smallest.
    pub fn plan(&self, weights: &DecodeWeights, keys: &Keys, steps: usize) -> StepPlan {
        let _guard = tch::no_grad_guard();
        let OutputWeights::Transposed { w, .. } = &weights.output else { return StepPlan { groups: None } };
        let projectable = self.kind == DecoderKind::Bahdanau && !matches!(self.attention, Attention::Multihead { .. });
        let (h, d, v) = (self.w_hh.size()[1], weights.gates.rest.size()[0], w.size()[1]);
        let lens = Vec::<i64>::try_from(keys.mask.sum_dim_intlist(1, false, Kind::Int64)).unwrap_or_default();
        let spans: Vec<(i64, i64, i64)> = lens
            .chunks(PROJECTION_ROWS)
            .enumerate()
            .map(|(i, c)| ((i * PROJECTION_ROWS) as i64, c.len() as i64, c.iter().copied().max().unwrap_or(0).max(1)))
            .collect();
        let entries: i64 = spans.iter().map(|&(_, rows, len)| rows * len * (3 * h + v)).sum();
        let longest = spans.iter().map(|s| s.2).max().unwrap_or(0);
        if !projectable || steps as i64 <= longest || entries > PROJECTION_MAX {
            return StepPlan { groups: None };
        }
        let w_ctx = w.narrow(0, h, d);
        let groups = spans
            .into_iter()
            .map(|(start, rows, len)| {
                let m = keys.values.narrow(0, start, rows).narrow(1, 0, len);
                RowGroup { start, rows, len, table: Tensor::cat(&[m.matmul(&weights.gates.rest), m.matmul(&w_ctx)], 2) }
            })
            .collect();
        StepPlan { groups: Some(groups) }
    }

    /// [`Self::step`] with prepared weights and this batch's plan: the same result up to float rounding.
    pub fn step_with(
        &self,
        y_prev: &Tensor,
        state: &DecoderState,
        keys: &Keys,
        weights: &DecodeWeights,
        plan: &StepPlan,
    ) -> DecoderStep {
        let w = &weights.gates;
        // The embedding itself is needed only where no table replaces its products.
        let emb = || self.embed.forward(y_prev);
        let gi_emb = match &weights.emb_gates {
            Some(table) => table.index_select(0, y_prev),
            None => self.embedding_gates(&emb(), w),
        };
        let cell = self.cell(&gi_emb, state, keys, w, plan.groups.as_deref());
        let with_bias = |x: Tensor, bias: &Option<Tensor>| match bias {
            Some(b) => x + b,
            None => x,
        };
        let logits = match (&weights.output, &cell.vec) {
            // Bahdanau: W [h; c; e] + b as W_h h + W_c c + (W_e e + b), parts from tables where there are.
            (OutputWeights::Transposed { w, bias, emb_logits }, None) => {
                let h = &cell.state.h;
                let hc_rows = w.size()[0] - self.emb_size;
                let hc = match &cell.ctx_logits {
                    Some(ctx) => ctx.addmm(h, &w.narrow(0, 0, h.size()[1])),
                    None => Tensor::cat(&[h, &cell.attended.context], 1).matmul(&w.narrow(0, 0, hc_rows)),
                };
                match emb_logits {
                    Some(table) => hc + table.index_select(0, y_prev),
                    None => with_bias(hc.addmm(&emb(), &w.narrow(0, hc_rows, self.emb_size)), bias),
                }
            }
            (OutputWeights::Transposed { w, bias, .. }, Some(vec)) => with_bias(vec.matmul(w), bias),
            (OutputWeights::Module, _) => self.logits(&self.features(&cell, &emb()), false),
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
        let positions = Tensor::arange(7, (Kind::Int64, tch::Device::Cpu));
        let mask = Tensor::from_slice(&[7i64, 3, 5, 1]).unsqueeze(1).gt_tensor(&positions);
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
            let copy = DecoderState { h: state.h.copy(), feed: state.feed.as_ref().map(Tensor::copy) };
            let full = dec.forward_t(&tgt_in, copy, &keys, false);
            let real = tgt_in.ne(PAD).flatten(0, -1).nonzero().squeeze_dim(1);
            let expected = full.features.reshape([-1, full.features.size()[2]]).index_select(0, &real);
            let packed = dec.forward_real(&tgt_in, state, &keys, false);
            assert_eq!(packed.size(), expected.size());
            assert!(max_diff(&packed, &expected) < 1e-5, "{decoder:?}: {}", max_diff(&packed, &expected));
        }
    }

    #[test]
    fn planned_steps_give_the_plain_step_for_both_wirings_projected_or_not() {
        let y = Tensor::from_slice(&[2i64, 5, 9, 16]);
        for (decoder, steps, projected) in
            [(DecoderKind::Bahdanau, 50, true), (DecoderKind::Bahdanau, 7, false), (DecoderKind::Luong, 50, false)]
        {
            let (_vs, dec, _, state, keys) = setup(decoder, AttentionKind::Bahdanau);
            let plain = dec.step(&y, &state, &keys);
            for tables in [false, true] {
                let weights = dec.decode_weights(tables);
                let plan = dec.plan(&weights, &keys, steps);
                assert_eq!(plan.groups.is_some(), projected, "{decoder:?}, {steps} steps");
                let fast = dec.step_with(&y, &state, &keys, &weights, &plan);
                let what = format!("{decoder:?}, {steps} steps, tables {tables}");
                assert!(max_diff(&plain.logits, &fast.logits) < 1e-5, "{what}");
                assert!(max_diff(&plain.state.h, &fast.state.h) < 1e-6, "{what}");
            }
        }
    }

    #[test]
    fn memory_is_not_projected_for_multihead_whose_context_is_not_a_weighted_sum_of_the_memory() {
        let (_vs, dec, _, _, keys) = setup(DecoderKind::Bahdanau, AttentionKind::Multihead);
        assert!(dec.plan(&dec.decode_weights(false), &keys, 50).groups.is_none());
    }
}
