//! How far training is from the machine's matrix-multiply speed: the model's matmul FLOPs per
//! sentence pair, and the FLOP/s of one large fp32 sgemm on the same threads.

use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Sizes that determine the benchmark model's matmul work.
#[derive(Clone, Copy, Debug)]
pub struct FlopModel {
    /// Embedding size E.
    pub emb: f64,
    /// Encoder state size per direction H_e.
    pub enc: f64,
    /// Decoder state size H.
    pub hid: f64,
    /// Attention hidden size A.
    pub att: f64,
    /// Target vocabulary size V.
    pub vocab: f64,
}

impl FlopModel {
    /// Matmul FLOPs (2 per multiply-add) of forward + backward for one pair with `s` real source tokens
    /// and `t` real target tokens (after BOS, EOS included); padding is not useful work and not counted.
    /// With D = 2·H_e (bidirectional memory), the forward pass costs
    ///
    /// - encoder, per source token: `2 · 2·3H_e·(E + H_e)` (input and recurrent gates, both directions)
    ///   plus `2·D·A` (the attention keys);
    /// - bridge, once: `2·D·H`;
    /// - decoder, per target token: `2·3H·(E + D + H)` (GRU gates), `2·H·A` (query), `2·s·(A + D)`
    ///   (scores `v^T tanh(·)` and context), `2·(H + D + E)·V` (output layer);
    ///
    /// and backward costs twice the forward (a gradient for the input and one for the weight of every
    /// product), so the total is `3 ×` the forward.
    pub fn train_flops(&self, s: f64, t: f64) -> f64 {
        let FlopModel { emb: e, enc: he, hid: h, att: a, vocab: v } = *self;
        let d = 2.0 * he;
        let encoder = s * (2.0 * 2.0 * 3.0 * he * (e + he) + 2.0 * d * a);
        let bridge = 2.0 * d * h;
        let decoder = t * (2.0 * 3.0 * h * (e + d + h) + 2.0 * h * a + 2.0 * s * (a + d) + 2.0 * (h + d + e) * v);
        3.0 * (encoder + bridge + decoder)
    }
}

/// Size of the square sgemm that measures the machine's matmul speed.
const GEMM_N: i64 = 2048;
/// Timed repetitions (after one untimed); the fastest counts, as the bound the model is compared with.
const GEMM_REPS: usize = 5;

/// FLOP/s of a `GEMM_N³` fp32 matrix product on `device` with libtorch's current thread setting.
pub fn sgemm_flops_per_s(device: Device) -> f64 {
    let _guard = tch::no_grad_guard();
    let a = Tensor::randn([GEMM_N, GEMM_N], (Kind::Float, device));
    let b = Tensor::randn([GEMM_N, GEMM_N], (Kind::Float, device));
    let c = a.matmul(&b);
    let mut best = f64::INFINITY;
    for _ in 0..GEMM_REPS {
        super::sync(device);
        let t0 = Instant::now();
        let _ = a.matmul_out(&c, &b);
        super::sync(device);
        best = best.min(t0.elapsed().as_secs_f64());
    }
    2.0 * (GEMM_N as f64).powi(3) / best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_flops_is_three_forward_passes_of_the_counted_products() {
        // E = 1, H_e = 1 (D = 2), H = 1, A = 1, V = 1; s = 1, t = 1:
        // encoder 2·2·3·2 + 2·2 = 28, bridge 4, decoder 2·3·4 + 2 + 2·3 + 2·4 = 40 → 3 · 72.
        let m = FlopModel { emb: 1.0, enc: 1.0, hid: 1.0, att: 1.0, vocab: 1.0 };
        assert_eq!(m.train_flops(1.0, 1.0), 216.0);
    }
}
