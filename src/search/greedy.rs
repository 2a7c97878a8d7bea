//! Batched greedy search: every row takes its most probable token per step; a row leaves the batch once
//! its sentence is finished (EOS emitted or its length limit reached), so the recurrence runs only on
//! the sentences still decoding.

use super::{heads_by_head, worth_leaving, Ensemble, HostWeights, Hypothesis, MaxLen, Member};
use crate::data::tokenizer::{BOS, EOS};
use crate::error::Result;
use tch::{Kind, Tensor};

/// What one greedy step emitted for the rows still in the batch (`A` of them).
pub struct Emitted {
    /// The batch rows (positions in the caller's batch) these are, in tensor row order.
    pub rows: Vec<usize>,
    /// Tokens `[A]`.
    pub tokens: Tensor,
    /// Their log-probabilities `[A]` (an ensemble's: the members' mean).
    pub logp: Tensor,
    /// Attention weights `[A, S]` (an ensemble's: the members' mean).
    pub weights: Tensor,
    /// Per-head weights `[A, h, S]` (a single `multihead` model only).
    pub head_weights: Option<Tensor>,
}

/// The greedy loop of one model or an ensemble ([`Member`]s, see [the module](super)). src: `[B, S]`,
/// lengths: `[B]` (CPU i64), `limits`: the most tokens each row may emit. Runs `max(limits)` steps at
/// most; with `stop` a row leaves the batch once it has emitted EOS or reached its limit, and the loop
/// ends when none is left (benchmarks run every row for all steps) → what each step emitted.
pub fn run_greedy(
    members: &[Member],
    src: &Tensor,
    lengths: &Tensor,
    limits: &[usize],
    stop: bool,
) -> Result<Vec<Emitted>> {
    let _guard = tch::no_grad_guard();
    let device = src.device();
    // Longest source first, so that the decoder's plan groups rows of similar length.
    let (lengths, order) = lengths.sort(0, true);
    let mut active: Vec<usize> = Vec::<i64>::try_from(&order)?.into_iter().map(|i| i as usize).collect();
    let order = order.to_device(device);
    let steps = limits.iter().copied().max().unwrap_or(1);
    let mut ensemble = Ensemble::start(members, &src.index_select(0, &order), &lengths, 1, steps)?;
    let mut y = Tensor::full([src.size()[0]], BOS, (Kind::Int64, device));
    let mut done = vec![false; active.len()];
    let mut out = Vec::with_capacity(steps);
    for t in 0..steps {
        let step = ensemble.step(&y)?;
        let (best, arg) = step.scores.best();
        y = arg;
        out.push(Emitted {
            rows: active.clone(),
            tokens: y.shallow_clone(),
            logp: best,
            weights: step.weights,
            head_weights: step.head_weights,
        });
        if !stop {
            continue;
        }
        let tokens = Vec::<i64>::try_from(&y)?;
        for ((d, &tok), &i) in done.iter_mut().zip(&tokens).zip(&active) {
            *d |= tok == EOS || t + 1 >= limits[i];
        }
        if done.iter().all(|&d| d) {
            break;
        }
        if worth_leaving(done.iter().filter(|&&d| d).count(), done.len()) {
            let kept: Vec<i64> = (0..done.len() as i64).filter(|&r| !done[r as usize]).collect();
            let index = Tensor::from_slice(&kept).to(device);
            y = y.index_select(0, &index);
            ensemble.keep_keys(&kept, &index);
            ensemble.select_states(&index);
            active = kept.iter().map(|&r| active[r as usize]).collect();
            done = vec![false; active.len()];
        }
    }
    Ok(out)
}

/// Greedy decoding of a padded batch by one model or an ensemble ([`Member`]s); each sentence stops at
/// its EOS or its own length limit. src: `[B, S]`, lengths: `[B]` (CPU i64) → one hypothesis per row.
pub fn greedy(members: &[Member], src: &Tensor, lengths: &Tensor, max_len: MaxLen) -> Result<Vec<Hypothesis>> {
    let lens: Vec<i64> = Vec::try_from(lengths)?;
    let limits: Vec<usize> = lens.iter().map(|&l| max_len.limit(l as usize)).collect();
    let run = run_greedy(members, src, lengths, &limits, true)?;
    let cat = |f: fn(&Emitted) -> &Tensor| Tensor::cat(&run.iter().map(f).collect::<Vec<_>>(), 0);
    let tokens = Vec::<i64>::try_from(cat(|e| &e.tokens))?;
    let logp = Vec::<f32>::try_from(cat(|e| &e.logp))?;
    let weights: Vec<Tensor> = run.iter().map(|e| e.weights.shallow_clone()).collect();
    let heads: Vec<Tensor> = run.iter().filter_map(|e| e.head_weights.as_ref().map(Tensor::shallow_clone)).collect();
    let host = HostWeights::new(&weights, &heads)?;
    // Per row: its hypothesis, its per-step head weights `[T][heads][S]`, and whether it is finished.
    let empty = || Hypothesis { tokens: vec![], score: 0.0, weights: vec![], head_weights: None };
    let mut hyps: Vec<_> = (0..lens.len()).map(|_| (empty(), Vec::new(), false)).collect();
    let mut r = 0;
    for e in &run {
        for &i in &e.rows {
            let (h, heads, done) = &mut hyps[i];
            if !*done {
                let len = lens[i] as usize;
                h.tokens.push(tokens[r]);
                h.score += logp[r] as f64;
                h.weights.push(host.row(r, len));
                heads.extend(host.head_rows(r, len));
                *done = tokens[r] == EOS || h.tokens.len() >= limits[i];
            }
            r += 1;
        }
    }
    let has_heads = host.heads.is_some();
    Ok(hyps
        .into_iter()
        .map(|(mut h, heads, _)| {
            h.head_weights = has_heads.then(|| heads_by_head(heads));
            h
        })
        .collect())
}
