//! `nmt bench --kernels`: the microbenchmark that decides which kernel a decoding product runs on. For
//! every matrix a decoding step multiplies by (shapes from a model config and its target vocabulary)
//! and several batch sizes, it times fp32 `matmul` with the decoder's contiguous `[in, out]` layout
//! (MKL on the CPU) against oneDNN's fp32 product with the `[out, in]` layout ([`onednn::product`],
//! where it runs) and against aten's `_weight_int8pack_mm` ([`Int8Matrix`]) with bf16 activations (the
//! vectorized kernel decoding uses) and with fp32 activations (the kernel's scalar loop), and prints
//! the medians and their ratios.

use crate::config::{AttentionKind, DecoderKind, ModelConfig};
use crate::error::Result;
use crate::model::int8::Int8Matrix;
use crate::model::onednn;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Batch rows timed: greedy at batch 1, beam 5 at batch 1 (5 rows), and the batched sizes.
pub const BATCHES: [i64; 6] = [1, 2, 4, 8, 16, 64];
/// Untimed calls of each variant before its timed ones.
const WARMUP: usize = 10;
/// Time the scalar fp32-activation kernel may take per table cell (it is 5–100× slower); at least
/// `MIN_REPS` repetitions are timed anyway.
const SCALAR_BUDGET_S: f64 = 0.3;
const MIN_REPS: usize = 3;

/// A matrix one decoding step multiplies by: `[B, inputs] → [B, outputs]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StepMatrix {
    pub name: &'static str,
    pub inputs: i64,
    pub outputs: i64,
}

/// The weight matrices of one decoding step of the model `cfg` builds for a target vocabulary of
/// `vocab` tokens (E embedding, H decoder state, D memory, A attention size, V vocabulary; the keys'
/// projections run once per batch and are not listed). The embedding's gate product is listed though
/// vocabulary tables replace it by a lookup where they are built.
pub fn step_matrices(cfg: &ModelConfig, vocab: i64) -> Vec<StepMatrix> {
    let (e, h, d, a) =
        (cfg.emb_size as i64, cfg.hidden_size as i64, cfg.memory_size() as i64, cfg.attention_dim() as i64);
    let m = |name, inputs, outputs| StepMatrix { name, inputs, outputs };
    let mut out = vec![m("gates: embedding", e, 3 * h)];
    match cfg.decoder {
        DecoderKind::Bahdanau => out.push(m("gates: context", d, 3 * h)),
        DecoderKind::Luong if cfg.input_feeding => out.push(m("gates: input feed", h, 3 * h)),
        DecoderKind::Luong => {}
    }
    out.push(m("gates: recurrent", h, 3 * h));
    if matches!(cfg.attention, AttentionKind::Bahdanau | AttentionKind::LuongConcat | AttentionKind::Multihead) {
        out.push(m("attention: query", h, a));
    }
    if cfg.attention == AttentionKind::Multihead {
        out.push(m("attention: heads out", a, d));
    }
    let features = match cfg.decoder {
        DecoderKind::Bahdanau => h + d + e,
        DecoderKind::Luong => {
            out.push(m("combine", d + h, h));
            h
        }
    };
    match cfg.tied_embeddings {
        true => out.extend([m("pre-output", features, e), m("output (tied)", e, vocab)]),
        false => out.push(m("output", features, vocab)),
    }
    out
}

/// One row of the table: medians in µs (`None` where the kernel cannot take the matrix).
#[derive(Clone, Debug)]
pub struct Timing {
    pub matrix: StepMatrix,
    pub batch: i64,
    pub f32_us: f64,
    pub dnn_us: Option<f64>,
    pub int8_us: Option<f64>,
    pub int8_f32_act_us: Option<f64>,
}

/// Times every matrix of `matrices` at every batch of [`BATCHES`] on the CPU with libtorch's current
/// threads: `reps` timed calls of fp32, oneDNN and int8 (bf16 activations) alternating, after a warm-up.
pub fn measure(matrices: &[StepMatrix], reps: usize) -> Result<Vec<Timing>> {
    let _guard = tch::no_grad_guard();
    tch::manual_seed(0);
    let mut rows = Vec::new();
    for matrix in matrices {
        let w = Tensor::randn([matrix.outputs, matrix.inputs], (Kind::Float, Device::Cpu)) * 0.05;
        let w_t = w.tr().contiguous();
        let int8 = Int8Matrix::quantize(&w);
        for &batch in &BATCHES {
            let x = Tensor::randn([batch, matrix.inputs], (Kind::Float, Device::Cpu));
            let mut f32_times = Vec::with_capacity(reps);
            let mut dnn_times = Vec::with_capacity(reps);
            let mut int8_times = Vec::with_capacity(reps);
            let dnn = || onednn::product(&x, &w, None);
            let has_dnn = dnn().is_some();
            for _ in 0..WARMUP {
                let _ = x.matmul(&w_t);
                let _ = dnn();
                if let Some(q) = &int8 {
                    let _ = q.matmul(&x);
                }
            }
            for _ in 0..reps.max(1) {
                f32_times.push(time(|| x.matmul(&w_t)));
                if has_dnn {
                    dnn_times.push(time(|| dnn().expect("oneDNN took this product before")));
                }
                if let Some(q) = &int8 {
                    int8_times.push(time(|| q.matmul(&x)));
                }
            }
            let int8_f32_act_us = int8.as_ref().map(|q| {
                let _ = q.matmul_f32(&x);
                let mut times = Vec::new();
                let start = Instant::now();
                while times.len() < reps.max(1)
                    && (times.len() < MIN_REPS || start.elapsed().as_secs_f64() < SCALAR_BUDGET_S)
                {
                    times.push(time(|| q.matmul_f32(&x)));
                }
                median(times)
            });
            rows.push(Timing {
                matrix: matrix.clone(),
                batch,
                f32_us: median(f32_times),
                dnn_us: has_dnn.then(|| median(dnn_times)),
                int8_us: int8.is_some().then(|| median(int8_times)),
                int8_f32_act_us,
            });
        }
    }
    Ok(rows)
}

/// Wall time of one call of `f` in µs (the CPU kernels are synchronous).
fn time(f: impl FnOnce() -> Tensor) -> f64 {
    let t0 = Instant::now();
    let out = f();
    let us = t0.elapsed().as_secs_f64() * 1e6;
    drop(out);
    us
}

/// The median of `v` (the mean of the middle two for an even count; 0 for none).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The table (Markdown) and, per batch, the step's matrices summed: the whole step's products in fp32
/// (`matmul`), with oneDNN from [`onednn::MIN_ROWS`] rows (as decoding multiplies where oneDNN is
/// [`onednn::preferred`]) and with int8 wherever its kernel takes the matrix.
pub fn table(rows: &[Timing]) -> String {
    let opt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.1}"));
    let ratio = |f32_us: f64, v: Option<f64>| v.map_or("—".to_string(), |v| format!("{:.2}", f32_us / v));
    let mut out = String::from(
        "| matrix | in → out | batch | fp32 µs | oneDNN µs | fp32 / oneDNN | int8 µs (bf16 act.) | fp32 / int8 | int8 µs (fp32 act.) |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        out += &format!(
            "| {} | {} → {} | {} | {:.1} | {} | {} | {} | {} | {} |\n",
            r.matrix.name,
            r.matrix.inputs,
            r.matrix.outputs,
            r.batch,
            r.f32_us,
            opt(r.dnn_us),
            ratio(r.f32_us, r.dnn_us),
            opt(r.int8_us),
            ratio(r.f32_us, r.int8_us),
            opt(r.int8_f32_act_us),
        );
    }
    out += &format!(
        "\n| batch | step's products, fp32 µs | with oneDNN from {} rows, µs | fp32 / oneDNN | with int8 where possible, µs | fp32 / int8 |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n",
        onednn::MIN_ROWS
    );
    for &batch in &BATCHES {
        let (f32_sum, dnn_sum, int8_sum) =
            rows.iter().filter(|r| r.batch == batch).fold((0.0, 0.0, 0.0), |(f, d, i), r| {
                let dnn = r.dnn_us.filter(|_| r.batch >= onednn::MIN_ROWS);
                (f + r.f32_us, d + dnn.unwrap_or(r.f32_us), i + r.int8_us.unwrap_or(r.f32_us))
            });
        out += &format!(
            "| {batch} | {f32_sum:.1} | {dnn_sum:.1} | {:.2} | {int8_sum:.1} | {:.2} |\n",
            f32_sum / dnn_sum,
            f32_sum / int8_sum
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipe_step_multiplies_by_the_luong_matrices() {
        let cfg = ModelConfig {
            emb_size: 256,
            hidden_size: 512,
            bidirectional: true,
            attention: AttentionKind::Bahdanau,
            decoder: DecoderKind::Luong,
            input_feeding: true,
            tied_embeddings: false,
            ..ModelConfig::default()
        };
        let shapes: Vec<(&str, i64, i64)> =
            step_matrices(&cfg, 4000).iter().map(|m| (m.name, m.inputs, m.outputs)).collect();
        assert_eq!(
            shapes,
            [
                ("gates: embedding", 256, 1536),
                ("gates: input feed", 512, 1536),
                ("gates: recurrent", 512, 1536),
                ("attention: query", 512, 512),
                ("combine", 1024, 512),
                ("output", 512, 4000),
            ]
        );
    }

    #[test]
    fn every_batch_of_every_matrix_is_timed_and_odd_inputs_have_no_int8() {
        let m = |name, inputs| StepMatrix { name, inputs, outputs: 24 };
        let rows = measure(&[m("a", 32), m("b", 20)], 3).unwrap();
        assert_eq!(rows.len(), 2 * BATCHES.len());
        assert!(rows.iter().all(|r| r.f32_us > 0.0));
        assert!(rows.iter().all(|r| r.int8_us.is_some() == (r.matrix.inputs == 32)));
        assert!(rows.iter().all(|r| r.dnn_us.is_some() == onednn::available()));
        let text = table(&rows);
        assert_eq!(text.lines().filter(|l| l.starts_with("| a |")).count(), BATCHES.len());
        assert!(text.contains("| b | 20 → 24 | 1 |") && text.contains("| — |"));
    }

    #[test]
    fn the_median_is_the_middle() {
        assert_eq!(median(vec![5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
