//! Inference steps: the plain [`Decoder::step`], and [`Decoder::step_with`], which reads the weights
//! laid out once for decoding ([`Decoder::decode_weights`]) and a per-batch [`StepPlan`]
//! ([`Decoder::plan`]) that, where it pays, projects the memory so the context costs less per step.

use super::{Decoder, DecoderState, DecoderStep, GateWeights};
use crate::config::DecoderKind;
use crate::model::attention::{Attention, Keys};
use crate::model::onednn;
use crate::Result;
use tch::{nn::Module, Kind, Tensor};

/// Largest projected memory [`Decoder::plan`] builds, in entries: 64 MiB of fp32, which every step
/// reads whole (a batch of 128 Multi30k sentences needs about 50 MiB).
const PROJECTION_MAX: i64 = 1 << 24;
/// Rows per [`RowGroup`] of the projected memory: fewer rows leave less padding in the tables, more
/// make fewer and larger products; 4–16 measured alike at batch 128.
const PROJECTION_ROWS: usize = 8;

/// The decoder's weights laid out for decoding with fixed parameters (see [`Decoder::decode_weights`]).
pub struct DecodeWeights {
    /// Contiguous `[in, out]` copies: a matrix–vector product (batch 1) reads them about twice as fast
    /// as the `[out, in]` parameters. Where oneDNN runs, also `[out, in]` copies for it (`products.rs`);
    /// with `--precision int8` also the int8 copies ([`Decoder::quantize`]).
    pub(super) gates: GateWeights,
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
    /// The row groups covering the batch in order, or none when the memory is not projected.
    groups: Option<Vec<RowGroup>>,
}

/// Consecutive batch rows `start..start + rows` with sources of at most `len` tokens, and their projected
/// memory `[rows, len, 3H + V]`: grouping rows sorted by length keeps the padding out of the tables,
/// which every step reads whole.
#[derive(Debug)]
pub(super) struct RowGroup {
    start: i64,
    rows: i64,
    len: i64,
    table: Tensor,
}

impl StepPlan {
    /// The plan for the batch rows `kept` (ascending positions in this plan's batch), in that order:
    /// each group keeps its own rows' tables (no projection is redone), empty groups vanish.
    pub fn select_rows(&self, kept: &[i64]) -> StepPlan {
        let Some(groups) = &self.groups else { return StepPlan { groups: None } };
        let mut start = 0;
        let mut selected = Vec::with_capacity(groups.len());
        for g in groups {
            let local: Vec<i64> =
                kept.iter().filter(|&&r| r >= g.start && r < g.start + g.rows).map(|r| r - g.start).collect();
            let rows = local.len() as i64;
            if rows == 0 {
                continue;
            }
            let table = match rows == g.rows {
                true => g.table.shallow_clone(),
                false => g.table.index_select(0, &Tensor::from_slice(&local).to(g.table.device())),
            };
            selected.push(RowGroup { start, rows, len: g.len, table });
            start += rows;
        }
        StepPlan { groups: Some(selected) }
    }
}

impl RowGroup {
    /// The groups' tables weighted by one step's attention weights `[B·n, S]` (`n` query rows per
    /// memory row, see [`Keys::queries`]) and summed over the memory → `[B·n, 3H + V]`: the context's
    /// contributions to the input gates (first 3H columns) and to the logits.
    pub(super) fn mix(groups: &[RowGroup], weights: &Tensor, n: i64) -> Tensor {
        let weights = weights.view([-1, n, weights.size()[1]]);
        let parts: Vec<Tensor> = groups
            .iter()
            .map(|g| {
                let a = weights.narrow(0, g.start, g.rows).narrow(2, 0, g.len);
                a.bmm(&g.table).view([g.rows * n, -1])
            })
            .collect();
        Tensor::cat(&parts, 0)
    }
}

impl Decoder {
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
        let gates = GateWeights {
            emb: views.emb.contiguous(),
            rest: views.rest.contiguous(),
            hh: views.hh.contiguous(),
            int8: None,
            dnn: if onednn::preferred() { self.dnn_step() } else { None },
        };
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
    /// tables smallest. Fails only if libtorch cannot copy the source lengths to the host.
    pub fn plan(&self, weights: &DecodeWeights, keys: &Keys, steps: usize) -> Result<StepPlan> {
        let _guard = tch::no_grad_guard();
        let OutputWeights::Transposed { w, .. } = &weights.output else { return Ok(StepPlan { groups: None }) };
        let projectable = self.kind == DecoderKind::Bahdanau && !matches!(self.attention, Attention::Multihead { .. });
        if !projectable {
            return Ok(StepPlan { groups: None });
        }
        let (h, d, v) = (self.w_hh.size()[1], weights.gates.rest.size()[0], w.size()[1]);
        let lens = Vec::<i64>::try_from(keys.mask.sum_dim_intlist(1, false, Kind::Int64))?;
        let spans: Vec<(i64, i64, i64)> = lens
            .chunks(PROJECTION_ROWS)
            .enumerate()
            .map(|(i, c)| ((i * PROJECTION_ROWS) as i64, c.len() as i64, c.iter().copied().max().unwrap_or(0).max(1)))
            .collect();
        let entries: i64 = spans.iter().map(|&(_, rows, len)| rows * len * (3 * h + v)).sum();
        let longest = spans.iter().map(|s| s.2).max().unwrap_or(0);
        if steps as i64 <= longest || entries > PROJECTION_MAX {
            return Ok(StepPlan { groups: None });
        }
        let w_ctx = w.narrow(0, h, d);
        let groups = spans
            .into_iter()
            .map(|(start, rows, len)| {
                let m = keys.values.narrow(0, start, rows).narrow(1, 0, len);
                RowGroup { start, rows, len, table: Tensor::cat(&[m.matmul(&weights.gates.rest), m.matmul(&w_ctx)], 2) }
            })
            .collect();
        Ok(StepPlan { groups: Some(groups) })
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
                    None => {
                        weights.gates.output(&Tensor::cat(&[h, &cell.attended.context], 1), &w.narrow(0, 0, hc_rows))
                    }
                };
                match emb_logits {
                    Some(table) => hc + table.index_select(0, y_prev),
                    None => with_bias(hc.addmm(&emb(), &w.narrow(0, hc_rows, self.emb_size)), bias),
                }
            }
            (OutputWeights::Transposed { w, bias, .. }, Some(vec)) => with_bias(weights.gates.output(vec, w), bias),
            (OutputWeights::Module, _) => self.logits(&self.features(&cell, &emb()), false),
        };
        DecoderStep { logits, state: cell.state, attended: cell.attended }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{max_diff, setup};
    use super::*;
    use crate::config::AttentionKind;

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
                let plan = dec.plan(&weights, &keys, steps).unwrap();
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
        assert!(dec.plan(&dec.decode_weights(false), &keys, 50).unwrap().groups.is_none());
    }
}
