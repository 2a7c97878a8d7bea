//! Teacher forcing: the decoder fed given target prefixes, as training runs it. Only the real
//! positions (each row's first `lengths[r]` steps) are computed, and every output is packed over them.

use super::{Decoder, DecoderState};
use crate::model::attention::{Attention, Keys};
use crate::Result;
use tch::{nn::Module, Kind, TchError, Tensor};

/// What [`Decoder::teacher_forced`] computed at the N real positions of `tgt_in` `[B, T]` (step `k`
/// of row `r` for `k < lengths[r]`), one row per position in row-major order: for a PAD-padded batch
/// with `lengths` its non-PAD counts, the order of `tgt_in.ne(PAD).nonzero()`.
#[derive(Debug)]
pub struct TeacherForced {
    /// Inputs of the output layer `[N, D_out]`; project with [`Decoder::logits`].
    pub features: Tensor,
    /// Attention weights `[N, S]`.
    pub weights: Tensor,
    /// Per-head weights `[N, heads, S]` (`multihead` only).
    pub head_weights: Option<Tensor>,
}

impl Decoder {
    /// Teacher forcing over the real positions only. Rows run longest first and each step computes
    /// only the rows whose target is still going, so padding (about half of a random batch's
    /// positions) costs no recurrence work. tgt_in: `[B, T]` (BOS + target, padded), lengths: `[B]`
    /// (the real steps of each row; whatever ids follow them are never read), keys from
    /// [`Attention::prepare`] → features `[N, D_out]`, weights `[N, S]` and head weights
    /// `[N, heads, S]` of the N real positions (see [`TeacherForced`]). Fails if `tgt_in` is not 2-D
    /// or `lengths` does not fit it.
    pub fn teacher_forced(
        &self,
        tgt_in: &Tensor,
        lengths: &[i64],
        state: DecoderState,
        keys: &Keys,
        train: bool,
    ) -> Result<TeacherForced> {
        let (b, t) = tgt_in.size2()?;
        if lengths.len() as i64 != b || lengths.iter().any(|&l| !(0..=t).contains(&l)) {
            let msg = format!("teacher forcing: lengths {lengths:?} do not fit a target batch of shape [{b}, {t}]");
            return Err(TchError::Shape(msg).into());
        }
        let device = tgt_in.device();
        let mut order: Vec<i64> = (0..b).collect();
        order.sort_by_key(|&r| std::cmp::Reverse(lengths[r as usize]));
        // Rows sorted longest first: step k runs on the first `active[k]` of them, and the real positions
        // in time-major order (step by step) sit at `positions` in the row-major `[B·T]` layout.
        let active: Vec<i64> =
            (0..t).map(|k| lengths.iter().filter(|&&l| l > k).count() as i64).take_while(|&n| n > 0).collect();
        let positions: Vec<i64> = active
            .iter()
            .enumerate()
            .flat_map(|(k, &n)| order[..n as usize].iter().map(move |&r| r * t + k as i64))
            .collect();
        if positions.is_empty() {
            return Ok(self.no_positions(keys));
        }
        // Dropout on the whole `[B, T]` batch draws the masks a step-by-step pass over the padded batch
        // would; then the real positions are packed and split per step, so every step reads a contiguous
        // slice and the backward pass joins the slices' gradients in one op (no per-step scatter into a
        // zero tensor of the whole size).
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
        let (mut weights, mut heads) = (Vec::with_capacity(active.len()), Vec::new());
        for (k, &n) in active.iter().enumerate() {
            if n < state.h.size()[0] {
                // Narrowed only when rows finish, so a narrowing's backward runs once per distinct length.
                state = state.first_rows(n);
                keys = keys.first_rows(n);
            }
            let cell = self.cell(&gates[k], &state, &keys, &w, None);
            features.push(self.features(&cell, &emb[k]));
            weights.push(cell.attended.weights);
            heads.extend(cell.attended.head_weights);
            state = cell.state;
        }
        // From time-major, longest-first rows back to row-major.
        let mut perm: Vec<i64> = (0..positions.len() as i64).collect();
        perm.sort_by_key(|&i| positions[i as usize]);
        let perm = Tensor::from_slice(&perm).to_device(device);
        let unpack = |steps: &[Tensor]| Tensor::cat(steps, 0).index_select(0, &perm);
        Ok(TeacherForced {
            features: unpack(&features),
            weights: unpack(&weights),
            head_weights: (!heads.is_empty()).then(|| unpack(&heads)),
        })
    }

    /// The empty result, for a batch without real positions (no rows, or no steps).
    fn no_positions(&self, keys: &Keys) -> TeacherForced {
        let (s, options) = (keys.mask.size()[1], (Kind::Float, keys.mask.device()));
        TeacherForced {
            features: Tensor::zeros([0, self.feature_size()], options),
            weights: Tensor::zeros([0, s], options),
            head_weights: match &self.attention {
                Attention::Multihead { heads, .. } => Some(Tensor::zeros([0, *heads, s], options)),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{max_diff, setup, TGT_LENGTHS};
    use super::*;
    use crate::config::{AttentionKind, DecoderKind};
    use crate::data::tokenizer::PAD;

    fn copy(state: &DecoderState) -> DecoderState {
        DecoderState { h: state.h.copy(), feed: state.feed.as_ref().map(Tensor::copy) }
    }

    /// Plain inference steps over the whole padded batch, fed the gold tokens, are the reference: at
    /// the real positions they must give the packed pass's logits, weights and head weights (which
    /// catches a wrong row order, a wrong narrowing or a lost state row in the packing). What follows
    /// a row's length is never read: other ids there change nothing.
    #[test]
    fn teacher_forcing_gives_plain_steps_over_the_padded_batch_at_the_real_positions() {
        let _guard = tch::no_grad_guard();
        for (decoder, attention) in [
            (DecoderKind::Bahdanau, AttentionKind::Bahdanau),
            (DecoderKind::Luong, AttentionKind::LuongGeneral),
            (DecoderKind::Bahdanau, AttentionKind::Multihead),
            (DecoderKind::Luong, AttentionKind::Multihead),
        ] {
            let what = format!("{decoder:?} decoder, {attention:?} attention");
            let (_vs, dec, tgt_in, state, keys) = setup(decoder, attention);
            let mut step_state = copy(&state);
            let (mut logits, mut weights, mut heads) = (Vec::new(), Vec::new(), Vec::new());
            for k in 0..tgt_in.size()[1] {
                let step = dec.step(&tgt_in.select(1, k), &step_state, &keys);
                logits.push(step.logits);
                weights.push(step.attended.weights);
                heads.extend(step.attended.head_weights);
                step_state = step.state;
            }
            // [B, T, ...] → its real positions [N, ...], row-major.
            let real = tgt_in.ne(PAD).flatten(0, -1).nonzero().squeeze_dim(1);
            let at_real = |steps: &[Tensor]| Tensor::stack(steps, 1).flatten(0, 1).index_select(0, &real);
            let other_padding = tgt_in.masked_fill(&tgt_in.eq(PAD), 9);
            let elsewhere = dec.teacher_forced(&other_padding, &TGT_LENGTHS, copy(&state), &keys, false).unwrap();
            let forced = dec.teacher_forced(&tgt_in, &TGT_LENGTHS, state, &keys, false).unwrap();
            assert_eq!(max_diff(&forced.features, &elsewhere.features), 0.0, "{what}: padding ids were read");
            let n = real.size()[0];
            assert_eq!(n, 14, "{what}: the fixture's real positions");
            assert_eq!(forced.features.size()[0], n, "{what}: one feature row per real position");
            let diff = max_diff(&dec.logits(&forced.features, false), &at_real(&logits));
            assert!(diff < 1e-5, "{what}: logits differ by {diff:e}");
            let diff = max_diff(&forced.weights, &at_real(&weights));
            assert!(diff < 1e-6, "{what}: weights differ by {diff:e}");
            match &forced.head_weights {
                Some(forced_heads) => {
                    let diff = max_diff(forced_heads, &at_real(&heads));
                    assert!(diff < 1e-6, "{what}: head weights differ by {diff:e}");
                }
                None => assert!(heads.is_empty(), "{what}: head weights missing"),
            }
        }
    }

    #[test]
    fn teacher_forcing_a_batch_without_rows_gives_empty_outputs() {
        let (_vs, dec, tgt_in, state, keys) = setup(DecoderKind::Luong, AttentionKind::Multihead);
        let none = Tensor::zeros([0], (Kind::Int64, tch::Device::Cpu));
        let (tgt_in, state, keys) = (tgt_in.index_select(0, &none), state.index_select(&none), keys.select_rows(&none));
        let forced = dec.teacher_forced(&tgt_in, &[], state, &keys, false).unwrap();
        assert_eq!(forced.features.size(), [0, 10]);
        assert_eq!(forced.weights.size(), [0, 7]);
        assert_eq!(forced.head_weights.map(|h| h.size()), Some(vec![0, 2, 7]));
    }

    #[test]
    fn lengths_that_do_not_fit_the_batch_are_an_error() {
        let (_vs, dec, tgt_in, state, keys) = setup(DecoderKind::Bahdanau, AttentionKind::Bahdanau);
        for lengths in [&[3i64, 5, 1][..], &[3, 6, 1, 5], &[3, 5, -1, 5]] {
            let err = dec.teacher_forced(&tgt_in, lengths, copy(&state), &keys, false).unwrap_err();
            assert!(err.to_string().contains("do not fit a target batch of shape [4, 5]"), "{lengths:?}: {err}");
        }
    }
}
