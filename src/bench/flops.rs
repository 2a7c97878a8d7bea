//! How far training and decoding are from the machine's matrix-multiply speed: the model's matmul FLOPs
//! per sentence pair (training the benchmark model, or decoding any model), and the FLOP/s of one large
//! fp32 sgemm on the same threads — the faster of libtorch's `matmul` (MKL) and oneDNN, which decoding
//! also uses ([`crate::model::onednn`]), so that the bound is the machine's and not one library's.

use crate::config::{AttentionKind, DecoderKind, ModelConfig};
use crate::model::onednn;
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

/// Matmul FLOPs (2 per multiply-add) of decoding one sentence of `s` source tokens into `t` target
/// tokens (EOS included) with `rows` decoder rows per step (1 for greedy, the beam size for beam search)
/// with a model of config `m` and target vocabulary `v`: the model's own products, as if no table
/// replaced any (tables and projected memory make the real work smaller). With D the memory size, A the
/// attention size, E, H and V as in the config:
///
/// - encoder, per source token and direction: `2·3H_e·(in + H_e)` per layer (in = E, then D), plus
///   the keys and values the scorer precomputes (`2·D·A` Bahdanau and concat, `2·D·H` general,
///   `2·2·D·A` multihead); bridge once `2·D·H`;
/// - decoder, per row and step: the GRU `2·3H·(in + H)` (in = E + D for Bahdanau, E (+ H with input
///   feeding) for Luong), the scorer (query `2·H·A` where there is one, scores `2·s·A` or `2·s·D`,
///   context `2·s·D`; multihead also `2·s·A` and its output `2·A·D`), Luong's combine `2·(D + H)·H`,
///   and the output layer `2·F·V` (F = H + D + E Bahdanau, H Luong; tied: `2·F·E + 2·E·V`).
pub fn decode_flops(m: &ModelConfig, v: f64, s: f64, t: f64, rows: f64) -> f64 {
    let (e, h, he) = (m.emb_size as f64, m.hidden_size as f64, m.encoder_dir_size() as f64);
    let (d, a) = (m.memory_size() as f64, m.attention_dim() as f64);
    let dirs = if m.bidirectional { 2.0 } else { 1.0 };
    let layers = m.encoder_layers as f64;
    let rnn = dirs * (2.0 * 3.0 * he * (e + he) + (layers - 1.0) * 2.0 * 3.0 * he * (d + he));
    let (keys, step_attention) = match m.attention {
        AttentionKind::Bahdanau | AttentionKind::LuongConcat => (2.0 * d * a, 2.0 * h * a + 2.0 * s * (a + d)),
        AttentionKind::LuongGeneral => (2.0 * d * h, 2.0 * s * (h + d)),
        AttentionKind::LuongDot | AttentionKind::ScaledDot => (0.0, 2.0 * s * 2.0 * d),
        AttentionKind::Multihead => (2.0 * 2.0 * d * a, 2.0 * h * a + 2.0 * s * 2.0 * a + 2.0 * a * d),
    };
    let encoder = s * (rnn + keys) + if m.bridge { 2.0 * d * h } else { 0.0 };
    let (gru_in, combine, features) = match m.decoder {
        DecoderKind::Bahdanau => (e + d, 0.0, h + d + e),
        DecoderKind::Luong => (e + if m.input_feeding { h } else { 0.0 }, 2.0 * (d + h) * h, h),
    };
    let output = if m.tied_embeddings { 2.0 * features * e + 2.0 * e * v } else { 2.0 * features * v };
    let step = 2.0 * 3.0 * h * (gru_in + h) + step_attention + combine + output;
    encoder + t * rows * step
}

/// Size of the square sgemm that measures the machine's matmul speed.
const GEMM_N: i64 = 2048;
/// Timed repetitions (after one untimed); the fastest counts, as the bound the model is compared with.
const GEMM_REPS: usize = 5;

/// FLOP/s of a `GEMM_N³` fp32 matrix product on `device` with libtorch's current thread setting: the
/// faster of `matmul` and, on the CPU where it runs, oneDNN.
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
        let t0 = Instant::now();
        if onednn::linear(&a, &b, None).is_some() {
            best = best.min(t0.elapsed().as_secs_f64());
        }
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

    #[test]
    fn decode_flops_counts_the_encoder_once_and_the_decoder_per_row_and_step() {
        // E = 1, H = 2, H_e = 1 (D = 2), A = 2, V = 1, Bahdanau both, s = 1:
        // encoder 2·(2·3·1·2) + 2·2·2 = 32, bridge 8; step 2·3·2·(3 + 2) + 2·2·2 + 2·(2 + 2)
        // + 2·5·1 = 86; two steps of three rows → 40 + 6·86.
        let m = ModelConfig { emb_size: 1, hidden_size: 2, ..ModelConfig::default() };
        assert_eq!(m.memory_size(), 2);
        assert_eq!(decode_flops(&m, 1.0, 1.0, 2.0, 3.0), 40.0 + 6.0 * 86.0);
    }
}
