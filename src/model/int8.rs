//! Int8 weights for decoding (`--precision int8`): a matrix quantized symmetrically per output channel
//! and its product with activations through aten's `_weight_int8pack_mm` (tch's
//! `internal_weight_int8pack_mm`), the one int8 matrix kernel that tch 0.26 exposes.
//!
//! The quantization is hand-written (a few tensor ops) because tch has no weight-only per-channel
//! quantizer producing what that kernel takes: a row `w_o` of the fp32 weight `[out, in]` becomes
//! `q_o = round(w_o / s_o)` in −127..=127 with `s_o = max|w_o| / 127`, so every weight is off by at
//! most `s_o / 2`.
//!
//! The kernel's CPU code is vectorized (AVX2/AVX-512) only for bf16 (and fp16) activations; with fp32
//! activations it runs a scalar loop, 5–100× slower than fp32 `matmul` (`nmt bench --kernels` measures
//! both). So [`Int8Matrix::matmul`] rounds the activations and the per-channel scales to bf16, lets the
//! kernel accumulate in fp32, and widens its bf16 result back to fp32. The vectorized kernel reads
//! 16 inputs at a time with aligned loads and reads past the end of rows of other lengths (libtorch
//! crashes), so only matrices whose in-features are a multiple of [`IN_MULTIPLE`] are quantized.

use tch::{Device, Kind, Tensor};

/// In-features a quantized matrix must have a multiple of (see the module header).
pub const IN_MULTIPLE: i64 = 16;

/// A weight matrix `[out, in]` in int8 with one scale per output channel.
#[derive(Debug)]
pub struct Int8Matrix {
    /// Quantized weights `[out, in]` (int8, contiguous).
    q: Tensor,
    /// Per-output-channel scales `[out]` (fp32).
    scales: Tensor,
    /// The scales rounded to bf16 `[out]`, as the vectorized kernel takes them.
    scales_bf16: Tensor,
}

impl Int8Matrix {
    /// Quantizes `w`: `[out, in]` fp32 on the CPU. `None` when the kernel cannot take it: in-features
    /// not a multiple of [`IN_MULTIPLE`], or a device other than the CPU. A row of zeros gets scale 1.
    pub fn quantize(w: &Tensor) -> Option<Int8Matrix> {
        let (_, inputs) = w.size2().ok()?;
        if inputs % IN_MULTIPLE != 0 || w.device() != Device::Cpu || w.kind() != Kind::Float {
            return None;
        }
        let _guard = tch::no_grad_guard();
        let max = w.abs().amax([1i64], false);
        let scales = (&max / 127.0).where_self(&max.gt(0.0), &max.ones_like());
        let q = (w / scales.unsqueeze(1)).round().clamp(-127.0, 127.0).to_kind(Kind::Int8).contiguous();
        let scales_bf16 = scales.to_kind(Kind::BFloat16);
        Some(Int8Matrix { q, scales, scales_bf16 })
    }

    /// Output channels.
    pub fn out_features(&self) -> i64 {
        self.q.size()[0]
    }

    /// In-features.
    pub fn in_features(&self) -> i64 {
        self.q.size()[1]
    }

    /// `x · Wᵀ` through the vectorized kernel: x `[B, in]` fp32 → `[B, out]` fp32. The activations, the
    /// scales and the result pass through bf16 (relative rounding ≤ 2⁻⁹ each), the sums are fp32.
    pub fn matmul(&self, x: &Tensor) -> Tensor {
        x.to_kind(Kind::BFloat16)
            .contiguous()
            .internal_weight_int8pack_mm(&self.q, &self.scales_bf16)
            .to_kind(Kind::Float)
    }

    /// `x · Wᵀ` with fp32 activations and scales: x `[B, in]` → `[B, out]`; exact up to fp32 summation,
    /// but the kernel's scalar loop (measured by `nmt bench --kernels`, not used for decoding).
    pub fn matmul_f32(&self, x: &Tensor) -> Tensor {
        x.contiguous().internal_weight_int8pack_mm(&self.q, &self.scales)
    }

    /// The weights the int8 copy stands for, `q · s` → `[out, in]` fp32.
    pub fn dequantized(&self) -> Tensor {
        self.q.to_kind(Kind::Float) * self.scales.unsqueeze(1)
    }

    /// The largest error the quantization may make on a weight of each row, `s_o / 2` → `[out]` fp32.
    pub fn error_bound(&self) -> Tensor {
        &self.scales / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_abs(t: &Tensor) -> f64 {
        f64::try_from(t.abs().max()).unwrap()
    }

    fn random(rows: i64, cols: i64) -> Tensor {
        // Rows of very different magnitudes, so that a per-tensor scale would fail the per-row bound.
        let magnitudes = Tensor::logspace(-3.0, 1.0, rows, 10.0, (Kind::Float, Device::Cpu)).unsqueeze(1);
        Tensor::randn([rows, cols], (Kind::Float, Device::Cpu)) * magnitudes
    }

    #[test]
    fn every_weight_is_within_half_its_rows_scale_and_the_largest_is_exact() {
        tch::manual_seed(1);
        let w = random(40, 64);
        let m = Int8Matrix::quantize(&w).unwrap();
        let err = (m.dequantized() - &w).abs();
        // s/2 plus fp32 rounding of w/s and q·s.
        let slack = m.error_bound().unsqueeze(1) * (1.0 + 1e-5);
        assert!(bool::try_from(err.le_tensor(&slack).all()).unwrap(), "max error {}", max_abs(&err));
        let max_row = w.abs().amax([1i64], false);
        let max_deq = m.dequantized().abs().amax([1i64], false);
        assert!(max_abs(&((max_deq - &max_row) / &max_row)) < 1e-6);
        // Quantization is not the identity: the bound is reached within a factor 2 somewhere.
        assert!(bool::try_from(err.gt_tensor(&(m.error_bound().unsqueeze(1) / 2.0)).any()).unwrap());
        let zeros = Int8Matrix::quantize(&Tensor::zeros([3, 16], (Kind::Float, Device::Cpu))).unwrap();
        assert_eq!(max_abs(&zeros.dequantized()), 0.0);
    }

    /// Against PyTorch (`scripts/int8_fixtures.py`): the same int8 weights, scales within one fp32 ulp,
    /// the kernel's fp32 result within 1e-5 of the exact product of the dequantized weights and its
    /// bf16 result equal to PyTorch's.
    #[test]
    fn quantization_and_products_match_pytorch() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/int8/int8.safetensors");
        let named: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(&path).unwrap().into_iter().collect();
        let m = Int8Matrix::quantize(&named["w"]).unwrap();
        assert!(m.q.equal(&named["q"]), "int8 weights differ from PyTorch's");
        assert!(max_abs(&((&m.scales - &named["scales"]) / &named["scales"])) <= f64::from(f32::EPSILON));
        let x = &named["x"];
        let scale = max_abs(&named["y_f32"]);
        assert!(max_abs(&(m.matmul_f32(x) - &named["y_f32"])) <= 1e-5 * scale);
        assert!(max_abs(&(m.matmul(x) - &named["y_bf16"])) == 0.0);
    }

    #[test]
    fn matrices_the_kernel_cannot_take_are_refused() {
        assert!(Int8Matrix::quantize(&Tensor::ones([4, 24], (Kind::Float, Device::Cpu))).is_none());
        assert!(Int8Matrix::quantize(&Tensor::ones([4, 32], (Kind::Double, Device::Cpu))).is_none());
        assert!(Int8Matrix::quantize(&Tensor::ones([32], (Kind::Float, Device::Cpu))).is_none());
        let m = Int8Matrix::quantize(&Tensor::ones([4, 32], (Kind::Float, Device::Cpu))).unwrap();
        assert_eq!((m.out_features(), m.in_features()), (4, 32));
    }

    /// Both kernels against fp32 `matmul` with the dequantized weights. fp32 activations: summation
    /// order only (relative 1e-5 of the row's Σ|x·w|). bf16 activations: x, s and the result each
    /// rounded to bf16 (relative 2⁻⁹ each), so the error is within 3·2⁻⁹ of Σ|x|·|w| per entry.
    #[test]
    fn the_kernel_computes_x_times_the_dequantized_weights() {
        tch::manual_seed(2);
        for (rows, batch) in [(33, 1), (40, 5), (7, 64)] {
            let w = random(rows, 48);
            let m = Int8Matrix::quantize(&w).unwrap();
            let x = Tensor::randn([batch, 48], (Kind::Float, Device::Cpu));
            let exact = x.matmul(&m.dequantized().tr());
            let magnitude = x.abs().matmul(&m.dequantized().abs().tr());
            let f32_err = (m.matmul_f32(&x) - &exact).abs() - &magnitude * 1e-5;
            assert!(max_abs(&f32_err.clamp_min(0.0)) == 0.0, "fp32 activations, {rows}×{batch}");
            let bf16_err = (m.matmul(&x) - &exact).abs() - &magnitude * (3.0 / 512.0);
            assert!(max_abs(&bf16_err.clamp_min(0.0)) == 0.0, "bf16 activations, {rows}×{batch}");
            // The bf16 rounding shows: the two kernels do differ.
            assert!(max_abs(&(m.matmul(&x) - m.matmul_f32(&x))) > 0.0);
        }
    }
}
