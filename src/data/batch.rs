//! Batching: length-bucketed, seeded-shuffled batches of token-id pairs, padded into tensors with the
//! source lengths, the decoder input (BOS + target) and the decoder target (target + EOS); and the
//! padding of source rows for decoding.

use crate::data::tokenizer::{BOS, EOS, PAD};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use tch::{Device, Tensor};

/// One training pair as ids: `src` ends with EOS (the encoder sees it), `tgt` has neither BOS nor EOS.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub src: Vec<i64>,
    pub tgt: Vec<i64>,
}

/// How big a batch is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BatchSize {
    /// At most this many sentence pairs.
    Sentences(usize),
    /// At most this many padded tokens on the longer side (max length × pairs).
    Tokens(usize),
}

/// A padded batch, batch-first.
#[derive(Debug)]
pub struct Batch {
    /// Source ids `[B, S]`, PAD-padded.
    pub src: Tensor,
    /// Source lengths `[B]` (CPU, i64).
    pub src_len: Tensor,
    /// Decoder input `[B, T]`: BOS + target, PAD-padded.
    pub tgt_in: Tensor,
    /// Decoder target `[B, T]`: target + EOS, PAD-padded.
    pub tgt_out: Tensor,
    /// Number of real target tokens (EOS included).
    pub ntokens: i64,
}

/// How many batches of sorted examples make one bucketing pool: big enough to group similar lengths,
/// small enough that batches stay random across the epoch.
const POOL_BATCHES: usize = 50;

/// Plans an epoch: shuffles with `seed`, sorts pools of examples by length, cuts them into batches and
/// shuffles the batches. Every example appears in exactly one batch.
pub fn plan_epoch(examples: &[Example], size: BatchSize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.shuffle(&mut rng);
    let pool = match size {
        BatchSize::Sentences(n) => n.max(1) * POOL_BATCHES,
        BatchSize::Tokens(t) => (t / 16).max(1) * POOL_BATCHES,
    };
    let mut batches = Vec::new();
    for chunk in order.chunks_mut(pool) {
        chunk.sort_by_key(|&i| (examples[i].src.len(), examples[i].tgt.len()));
        batches.extend(cut(examples, chunk, size));
    }
    batches.shuffle(&mut rng);
    batches
}

/// Plans batches over `order` as given, without shuffling (for translation, after sorting by length).
pub fn cut(examples: &[Example], order: &[usize], size: BatchSize) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut longest = 0;
    for &i in order {
        let len = examples[i].src.len().max(examples[i].tgt.len() + 1);
        let fits = match size {
            BatchSize::Sentences(n) => current.len() < n.max(1),
            BatchSize::Tokens(t) => current.is_empty() || longest.max(len) * (current.len() + 1) <= t,
        };
        if !fits {
            batches.push(std::mem::take(&mut current));
            longest = 0;
        }
        longest = longest.max(len);
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Pads the examples `indices` into a [`Batch`] on `device`.
pub fn collate(examples: &[Example], indices: &[usize], device: Device) -> Batch {
    let rows: Vec<&Example> = indices.iter().map(|&i| &examples[i]).collect();
    let b = rows.len() as i64;
    let t = rows.iter().map(|e| e.tgt.len() + 1).max().unwrap_or(0);
    let mut tgt_in = vec![PAD; rows.len() * t];
    let mut tgt_out = vec![PAD; rows.len() * t];
    for (r, e) in rows.iter().enumerate() {
        tgt_in[r * t] = BOS;
        tgt_in[r * t + 1..r * t + 1 + e.tgt.len()].copy_from_slice(&e.tgt);
        tgt_out[r * t..r * t + e.tgt.len()].copy_from_slice(&e.tgt);
        tgt_out[r * t + e.tgt.len()] = EOS;
    }
    let sources: Vec<&[i64]> = rows.iter().map(|e| e.src.as_slice()).collect();
    let (src, src_len) = pad(&sources, device);
    Batch {
        src,
        src_len,
        tgt_in: Tensor::from_slice(&tgt_in).view([b, t as i64]).to_device(device),
        tgt_out: Tensor::from_slice(&tgt_out).view([b, t as i64]).to_device(device),
        ntokens: rows.iter().map(|e| e.tgt.len() as i64 + 1).sum(),
    }
}

/// Pads id sequences into src `[B, S]` on `device` and lengths `[B]` on the CPU.
pub fn pad(seqs: &[&[i64]], device: Device) -> (Tensor, Tensor) {
    let s = seqs.iter().map(|x| x.len()).max().unwrap_or(0);
    let mut flat = vec![PAD; seqs.len() * s];
    for (r, x) in seqs.iter().enumerate() {
        flat[r * s..r * s + x.len()].copy_from_slice(x);
    }
    let lens: Vec<i64> = seqs.iter().map(|x| x.len() as i64).collect();
    (Tensor::from_slice(&flat).view([seqs.len() as i64, s as i64]).to_device(device), Tensor::from_slice(&lens))
}

/// Fraction of padded positions over both sides of the planned batches (for diagnostics and tests).
pub fn padding_fraction(examples: &[Example], batches: &[Vec<usize>]) -> f64 {
    let (mut real, mut total) = (0usize, 0usize);
    for batch in batches {
        let s = batch.iter().map(|&i| examples[i].src.len()).max().unwrap_or(0);
        let t = batch.iter().map(|&i| examples[i].tgt.len() + 1).max().unwrap_or(0);
        real += batch.iter().map(|&i| examples[i].src.len() + examples[i].tgt.len() + 1).sum::<usize>();
        total += batch.len() * (s + t);
    }
    if total == 0 {
        0.0
    } else {
        1.0 - real as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(n: usize, seed: u64) -> Vec<Example> {
        use rand::Rng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                // Like real parallel text: target length follows source length.
                let s: usize = rng.random_range(1..40);
                let t = (s + rng.random_range(0..6)).saturating_sub(2).max(1);
                Example {
                    src: (0..s).map(|k| 4 + k as i64).chain([EOS]).collect(),
                    tgt: (0..t).map(|k| 4 + k as i64).collect(),
                }
            })
            .collect()
    }

    #[test]
    fn every_example_is_in_exactly_one_batch() {
        let ex = examples(1000, 1);
        for size in [BatchSize::Sentences(32), BatchSize::Tokens(500)] {
            let mut seen: Vec<usize> = plan_epoch(&ex, size, 7).into_iter().flatten().collect();
            seen.sort();
            assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn batches_respect_their_size() {
        let ex = examples(500, 2);
        assert!(plan_epoch(&ex, BatchSize::Sentences(16), 1).iter().all(|b| b.len() <= 16));
        for b in plan_epoch(&ex, BatchSize::Tokens(400), 1) {
            let longest = b.iter().map(|&i| ex[i].src.len().max(ex[i].tgt.len() + 1)).max().unwrap();
            assert!(b.len() == 1 || longest * b.len() <= 400);
        }
    }

    #[test]
    fn same_seed_same_plan_other_seed_other_plan() {
        let ex = examples(300, 3);
        let size = BatchSize::Sentences(8);
        assert_eq!(plan_epoch(&ex, size, 5), plan_epoch(&ex, size, 5));
        assert_ne!(plan_epoch(&ex, size, 5), plan_epoch(&ex, size, 6));
    }

    #[test]
    fn bucketing_reduces_padding_against_random_batches() {
        let ex = examples(2000, 4);
        let bucketed = plan_epoch(&ex, BatchSize::Sentences(32), 1);
        let mut order: Vec<usize> = (0..ex.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(1));
        let random = cut(&ex, &order, BatchSize::Sentences(32));
        let (pb, pr) = (padding_fraction(&ex, &bucketed), padding_fraction(&ex, &random));
        assert!(pb < pr / 2.0, "bucketed {pb} vs random {pr}");
    }

    #[test]
    fn collate_pads_and_shifts_the_target() {
        let ex =
            vec![Example { src: vec![5, 6, EOS], tgt: vec![7, 8, 9] }, Example { src: vec![5, EOS], tgt: vec![7] }];
        let b = collate(&ex, &[0, 1], Device::Cpu);
        assert_eq!(Vec::<i64>::try_from(b.src.view(-1)).unwrap(), vec![5, 6, EOS, 5, EOS, PAD]);
        assert_eq!(Vec::<i64>::try_from(&b.src_len).unwrap(), vec![3, 2]);
        assert_eq!(Vec::<i64>::try_from(b.tgt_in.view(-1)).unwrap(), vec![BOS, 7, 8, 9, BOS, 7, PAD, PAD]);
        assert_eq!(Vec::<i64>::try_from(b.tgt_out.view(-1)).unwrap(), vec![7, 8, 9, EOS, 7, EOS, PAD, PAD]);
        assert_eq!(b.ntokens, 6);
    }
}
