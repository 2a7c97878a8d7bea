//! `--precision int8` inside the decoder: int8 copies ([`Int8Matrix`]) of the large matrices of a
//! decoding step — the GRU's input-feed (Luong) or context (Bahdanau) gates and its recurrent gates,
//! Luong's combine layer, and the output layer (`products.rs` multiplies by them).
//!
//! The kernel beats fp32 `matmul` only on few rows (`nmt bench --kernels`, README "int8 decoding"):
//! about 1.3× on these matrices at 1–4 rows, slower from 8 rows on, and slower at every batch on the
//! smaller matrices left in fp32 (the embedding's gates, the attention query). So a product uses its
//! int8 copy only for batches of at most [`INT8_MAX_ROWS`] rows and fp32 otherwise. Bahdanau's output
//! layer is quantized in its `[h; context]` columns, which a step multiplies by only when the memory is
//! not projected (see [`StepPlan`](super::StepPlan)).

use super::{DecodeWeights, Decoder};
use crate::model::int8::Int8Matrix;
use tch::Tensor;

/// Most batch rows a product computes in int8 (the crossover measured by `nmt bench --kernels`).
pub const INT8_MAX_ROWS: i64 = 4;

/// The int8 copies of a decoder's step matrices; `None` where the kernel cannot take a matrix.
#[derive(Debug)]
pub(super) struct Int8Step {
    /// The GRU's input weights after the embedding's columns `[3H, D_in − E]`.
    pub(super) rest: Option<Int8Matrix>,
    /// The GRU's recurrent weights `[3H, H]`.
    pub(super) hh: Option<Int8Matrix>,
    /// Luong's combine layer `[H, D + H]`.
    pub(super) combine: Option<Int8Matrix>,
    /// The output layer `[V, D_out]` (Luong) or its `[h; context]` columns `[V, H + D]` (Bahdanau).
    pub(super) output: Option<Int8Matrix>,
}

impl Int8Step {
    /// Number of matrices quantized.
    fn count(&self) -> usize {
        [&self.rest, &self.hh, &self.combine, &self.output].iter().filter(|m| m.is_some()).count()
    }
}

/// `q`'s product with `x` (`[B, in]` → `[B, out]`) when there is a `q` and `x` has few enough rows.
pub(super) fn int8_product(q: &Option<Int8Matrix>, x: &Tensor) -> Option<Tensor> {
    q.as_ref().filter(|_| x.size()[0] <= INT8_MAX_ROWS).map(|q| q.matmul(x))
}

impl Decoder {
    /// Adds int8 copies of the step matrices to `weights` (quantized per output channel); returns how
    /// many were quantized (0 when none has in-features the kernel takes, or off the CPU).
    pub fn quantize(&self, weights: &mut DecodeWeights) -> usize {
        let _guard = tch::no_grad_guard();
        let e = self.emb_size;
        let rest = self.w_ih.narrow(1, e, self.w_ih.size()[1] - e).contiguous();
        let output = self.output.as_ref().map(|out| match self.combine {
            Some(_) => out.ws.shallow_clone(),
            None => out.ws.narrow(1, 0, out.ws.size()[1] - e).contiguous(),
        });
        let int8 = Int8Step {
            rest: (rest.size()[1] > 0).then(|| Int8Matrix::quantize(&rest)).flatten(),
            hh: Int8Matrix::quantize(&self.w_hh),
            combine: self.combine.as_ref().and_then(|c| Int8Matrix::quantize(&c.ws)),
            output: output.and_then(|w| Int8Matrix::quantize(&w)),
        };
        let count = int8.count();
        weights.gates.int8 = Some(int8);
        count
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::max_diff;
    use super::*;
    use crate::config::{AttentionKind, DecoderKind, ModelConfig};
    use crate::model::attention::Keys;
    use tch::{nn, Device, Kind};

    /// A random decoder with sizes the kernel takes (E 16, H 32, D 32, V 40), its keys and a state
    /// for `rows` batch rows.
    fn setup(decoder: DecoderKind, rows: i64) -> (nn::VarStore, Decoder, Keys, super::super::DecoderState) {
        tch::manual_seed(5);
        let cfg = ModelConfig {
            emb_size: 16,
            hidden_size: 32,
            decoder,
            attention: AttentionKind::Bahdanau,
            input_feeding: true,
            ..ModelConfig::default()
        };
        let vs = nn::VarStore::new(Device::Cpu);
        let dec = Decoder::new(&vs.root(), &cfg, 40);
        let memory = Tensor::randn([rows, 6, 32], (Kind::Float, Device::Cpu));
        let mask = Tensor::ones([rows, 6], (Kind::Bool, Device::Cpu));
        let keys = dec.attention().prepare(&memory, &mask);
        let mut state = dec.initial_state(Tensor::randn([rows, 32], (Kind::Float, Device::Cpu)).tanh());
        state.feed = state.feed.map(|f| f.rand_like().tanh());
        (vs, dec, keys, state)
    }

    /// One step in int8 against fp32: the logits differ by the quantization and bf16 rounding (a few
    /// hundredths here, where logits are of order 1), but by something — the int8 path did run.
    #[test]
    fn an_int8_step_is_near_the_fp32_step_and_wide_batches_stay_fp32() {
        for decoder in [DecoderKind::Luong, DecoderKind::Bahdanau] {
            for (rows, int8_runs) in [(1, true), (INT8_MAX_ROWS, true), (INT8_MAX_ROWS + 1, false)] {
                let (_vs, dec, keys, state) = setup(decoder, rows);
                let y = Tensor::arange(rows, (Kind::Int64, Device::Cpu)) + 4;
                let fp32 = dec.decode_weights(false);
                let mut int8 = dec.decode_weights(false);
                assert_eq!(dec.quantize(&mut int8), if decoder == DecoderKind::Luong { 4 } else { 3 });
                // Few steps: the memory is not projected, so Bahdanau's output runs in int8 too.
                let plan = dec.plan(&fp32, &keys, 2).unwrap();
                let a = dec.step_with(&y, &state, &keys, &fp32, &plan);
                let b = dec.step_with(&y, &state, &keys, &int8, &plan);
                let what = format!("{decoder:?}, {rows} rows");
                let scale = f64::try_from(a.logits.abs().max()).unwrap();
                let diff = max_diff(&a.logits, &b.logits);
                assert!(diff < 0.02 * scale, "{what}: logits differ by {diff} (largest {scale})");
                assert!(max_diff(&a.state.h, &b.state.h) < 0.02, "{what}");
                assert_eq!(diff > 0.0, int8_runs, "{what}: {diff}");
            }
        }
    }

    #[test]
    fn sizes_the_kernel_cannot_take_stay_fp32() {
        // The shared fixture's sizes (E 6, H 10): no in-features is a multiple of 16.
        let (_vs, dec, _, _, _) = super::super::fixture::setup(DecoderKind::Luong, AttentionKind::Bahdanau);
        assert_eq!(dec.quantize(&mut dec.decode_weights(false)), 0);
    }
}
