//! The matrix products of a decoding step and the kernel each runs on: the int8 copies for few rows
//! (`--precision int8`, `quantized.rs`), oneDNN from [`onednn::MIN_ROWS`] rows where it is
//! [`onednn::preferred`] (the `[out, in]` copies of [`DnnStep`], see [`crate::model::onednn`]), else
//! libtorch's `matmul` with the `[in, out]` layout (MKL's matrix–vector code is the fastest at batch
//! 1). In a training pass there are no copies and every product is a `matmul` of views of the
//! parameters.

use super::quantized::{int8_product, Int8Step};
use super::{Decoder, GateWeights};
use crate::config::DecoderKind;
use crate::model::int8::Int8Matrix;
use crate::model::onednn;
use tch::{nn, nn::Module, Device, Tensor};

/// The step's large matrices in the `[out, in]` layout oneDNN takes, without gradients.
#[derive(Debug)]
pub(super) struct DnnStep {
    /// The GRU's input weights after the embedding's columns `[3H, D_in − E]` (none when empty).
    rest: Option<Tensor>,
    /// The GRU's recurrent weights `[3H, H]`.
    hh: Tensor,
    /// Luong's combine layer `[H, D + H]`.
    combine: Option<Tensor>,
    /// The output layer `[V, D_out]` (Luong) or its `[h; context]` columns `[V, H + D]` (Bahdanau).
    output: Option<Tensor>,
}

impl Decoder {
    /// The oneDNN copies of the step matrices, where oneDNN runs (on the CPU, see
    /// [`onednn::available`]); decoding makes them where it is [`onednn::preferred`].
    pub(super) fn dnn_step(&self) -> Option<DnnStep> {
        if self.w_hh.device() != Device::Cpu || !onednn::available() {
            return None;
        }
        let e = self.emb_size;
        let rest_cols = self.w_ih.size()[1] - e;
        let output = self.output.as_ref().map(|out| match self.kind {
            DecoderKind::Luong => out.ws.detach(),
            DecoderKind::Bahdanau => out.ws.narrow(1, 0, out.ws.size()[1] - e).detach().contiguous(),
        });
        Some(DnnStep {
            rest: (rest_cols > 0).then(|| self.w_ih.narrow(1, e, rest_cols).detach().contiguous()),
            hh: self.w_hh.detach().contiguous(),
            combine: self.combine.as_ref().map(|c| c.ws.detach().contiguous()),
            output,
        })
    }
}

impl GateWeights {
    /// `x · Wᵀ` for the step matrix that `int8` and `dnn` pick from the copies: int8 for few rows,
    /// oneDNN for enough rows; `None` when neither takes x (the caller multiplies in fp32).
    fn copies_product(
        &self,
        x: &Tensor,
        int8: fn(&Int8Step) -> &Option<Int8Matrix>,
        dnn: fn(&DnnStep) -> Option<&Tensor>,
    ) -> Option<Tensor> {
        self.int8
            .as_ref()
            .and_then(|q| int8_product(int8(q), x))
            .or_else(|| self.dnn.as_ref().and_then(dnn).and_then(|w| onednn::linear(x, w, None)))
    }

    /// `acc + x · rest`: acc `[B, 3H]`, x `[B, D_in − E]` (context or input feed) → `[B, 3H]`.
    pub(super) fn add_rest(&self, acc: &Tensor, x: &Tensor) -> Tensor {
        match self.copies_product(x, |q| &q.rest, |d| d.rest.as_ref()) {
            Some(p) => p + acc,
            None => acc.addmm(x, &self.rest),
        }
    }

    /// `bias + h · hh`: bias `[3H]`, h `[B, H]` → `[B, 3H]`.
    pub(super) fn recurrent(&self, bias: &Tensor, h: &Tensor) -> Tensor {
        match self.copies_product(h, |q| &q.hh, |d| Some(&d.hh)) {
            Some(p) => p + bias,
            None => bias.addmm(h, &self.hh),
        }
    }

    /// Luong's combine layer (no bias) over `[context; h]` `[B, D + H]` → `[B, H]`.
    pub(super) fn combine(&self, layer: &nn::Linear, x: &Tensor) -> Tensor {
        self.copies_product(x, |q| &q.combine, |d| d.combine.as_ref()).unwrap_or_else(|| layer.forward(x))
    }

    /// The output layer's product without bias: features `[B, F]` times `w_t` (`[F, V]`, the fp32 layout)
    /// → `[B, V]`.
    pub(super) fn output(&self, features: &Tensor, w_t: &Tensor) -> Tensor {
        self.copies_product(features, |q| &q.output, |d| d.output.as_ref()).unwrap_or_else(|| features.matmul(w_t))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{max_diff, setup};
    use super::*;
    use crate::config::AttentionKind;
    use tch::Tensor;

    #[test]
    fn steps_through_the_onednn_copies_equal_steps_without_them() {
        for decoder in [DecoderKind::Luong, DecoderKind::Bahdanau] {
            let (_vs, dec, _, state, keys) = setup(decoder, AttentionKind::Bahdanau);
            let y = Tensor::from_slice(&[2i64, 5, 9, 16]);
            let mut with = dec.decode_weights(false);
            assert_eq!(with.gates.dnn.is_some(), onednn::preferred(), "{decoder:?}");
            with.gates.dnn = dec.dnn_step();
            assert_eq!(with.gates.dnn.is_some(), onednn::available(), "{decoder:?}");
            let mut without = dec.decode_weights(false);
            without.gates.dnn = None;
            // Few steps: Bahdanau's memory is not projected, so its output layer's copy is used too.
            let plan = dec.plan(&with, &keys, 2).unwrap();
            let a = dec.step_with(&y, &state, &keys, &with, &plan);
            let b = dec.step_with(&y, &state, &keys, &without, &plan);
            assert!(max_diff(&a.logits, &b.logits) < 1e-5, "{decoder:?}");
            assert!(max_diff(&a.state.h, &b.state.h) < 1e-6, "{decoder:?}");
        }
    }
}
