//! Batched beam search with its state in tensors. Each sentence owns `k` consecutive batch rows (its live
//! hypotheses; unused rows score −∞). Per step, each live row proposes its `2k` best tokens, the
//! sentence's candidates are ranked by total score, and walking them best first, a candidate ending in
//! EOS — or any candidate at the sentence's length limit — finishes, another one becomes a live
//! hypothesis, until `k` are live or `k` have finished (then the sentence is done). The walk is computed
//! with cumulative counts, not a host loop. Every step records its candidates (token, score, parent row)
//! and its rows' attention weights; finished hypotheses are rebuilt by backtracking once at the end.
//! Done sentences leave the batch (in groups, see [`LEAVE_SHARE`](super::LEAVE_SHARE)).

use super::{heads_by_head, worth_leaving, Ensemble, HostWeights, Hypothesis, MaxLen, Member};
use crate::data::tokenizer::{BOS, EOS};
use crate::error::Result;
use tch::{Kind, Tensor};

/// Beam-search settings.
#[derive(Clone, Copy, Debug)]
pub struct BeamConfig {
    /// Live hypotheses kept per sentence.
    pub beam: usize,
    /// How many hypotheses to return per sentence (≤ beam).
    pub n_best: usize,
    /// GNMT length-penalty exponent α (0 = off).
    pub alpha: f64,
    /// Decoding length limit per sentence.
    pub max_len: MaxLen,
}

/// One step's record, for backtracking: `A` sentences of `k` rows, `n` candidates kept per sentence.
struct StepRecord {
    /// The sentences (positions in the caller's batch) of this step's rows, `k` rows each.
    sentences: Vec<usize>,
    /// Per candidate `[A·n]`: its token, its total score (f64), whether it finished, and the row of this
    /// step that proposed it.
    tokens: Tensor,
    scores: Tensor,
    finished: Tensor,
    parents: Tensor,
    /// Per row `[A·k]`: the candidate of the previous step it continues (flat index there), −1 at the start.
    back: Tensor,
    /// Per row: attention weights `[A·k, S]`, and per head `[A·k, h, S]`.
    weights: Tensor,
    heads: Option<Tensor>,
}

/// Batched beam search by one model or an ensemble ([`Member`]s, ranking by their mean log-probability).
/// src: `[B, S]`, lengths: `[B]` (CPU i64) → up to `n_best` hypotheses per row, best first by
/// length-normalised score (ties: the earlier finished first).
pub fn beam_search(
    members: &[Member],
    src: &Tensor,
    lengths: &Tensor,
    cfg: BeamConfig,
) -> Result<Vec<Vec<Hypothesis>>> {
    let _guard = tch::no_grad_guard();
    let k = cfg.beam.max(1) as i64;
    let lens: Vec<i64> = Vec::try_from(lengths)?;
    let limits: Vec<usize> = lens.iter().map(|&l| cfg.max_len.limit(l as usize)).collect();
    let device = src.device();
    let long = (Kind::Int64, device);
    // Longest source first, so that the decoder's plan groups rows of similar length.
    let (sorted_lengths, order) = lengths.sort(0, true);
    let mut sentences: Vec<usize> = Vec::<i64>::try_from(&order)?.into_iter().map(|i| i as usize).collect();
    let order = order.to_device(device);
    let b = sentences.len() as i64;
    let steps = limits.iter().copied().max().unwrap_or(1);
    let mut ensemble = Ensemble::start(members, &src.index_select(0, &order), &sorted_lengths, k, steps)?;
    // Per sentence: its live rows' scores `[A, k]` (the first row 0, the others −∞ at the start) and how
    // many of its hypotheses have finished `[A]`.
    let mut scores = Tensor::full([b, k], f64::NEG_INFINITY, (Kind::Double, device));
    let _ = scores.narrow(1, 0, 1).fill_(0.0);
    let mut n_finished = Tensor::zeros([b], long);
    let mut y = Tensor::full([b * k], BOS, long);
    let mut back = Tensor::full([b * k], -1, long);
    let mut records: Vec<StepRecord> = Vec::new();
    for t in 0..steps {
        let a = sentences.len() as i64;
        let step = ensemble.step(&y)?;
        // Candidates per row: the 2k best tokens of each beam row, enough for k non-EOS continuations
        // (all of them when the vocabulary is smaller: `topk` refuses more than there are).
        let width = (2 * k).min(step.scores.vocabulary());
        let (top_lp, top_id) = step.scores.top(width);
        let cand = (scores.view([a, k, 1]) + top_lp.to_kind(Kind::Double).view([a, k, width])).view([a, k * width]);
        // Best first; among equal scores the earlier row and the better-ranked token first.
        let (cand, rank) = cand.sort_stable(true, 1, true);
        // Walking them stops after at most k live and k finished ones: the first 2k are enough.
        let n = (2 * k).min(k * width);
        let (cand, rank) = (cand.narrow(1, 0, n), rank.narrow(1, 0, n));
        let tokens = top_id.view([a, k * width]).gather(1, &rank, false);
        let parents = rank.divide_scalar_mode(width, "floor") + Tensor::arange(a, long).view([a, 1]) * k;
        let last: Vec<bool> = sentences.iter().map(|&i| t + 1 >= limits[i]).collect();
        let last = Tensor::from_slice(&last).to(device).view([a, 1]);
        let valid = cand.isfinite();
        let ends = tokens.eq(EOS).logical_or(&last);
        let fin = ends.logical_and(&valid);
        let live = ends.logical_not().logical_and(&valid);
        let before = |x: &Tensor| x.cumsum(1, Kind::Int64) - x.to_kind(Kind::Int64);
        let (fin_before, live_before) = (before(&fin), before(&live));
        let taken = valid.logical_and(&live_before.lt(k)).logical_and(&(fin_before + n_finished.view([a, 1])).lt(k));
        let (take_fin, take_live) = (taken.logical_and(&fin), taken.logical_and(&live));
        n_finished += take_fin.sum_dim_intlist(1, false, Kind::Int64);
        // The live candidates fill their sentence's rows in order; the others go to a spare column k.
        let slot = live_before.where_scalarother(&take_live, k);
        let fill = |init: Tensor, src: &Tensor| init.scatter(1, &slot, src).narrow(1, 0, k);
        let next_scores = fill(Tensor::full([a, k + 1], f64::NEG_INFINITY, (Kind::Double, device)), &cand);
        let next_y = fill(Tensor::full([a, k + 1], BOS, long), &tokens);
        let own_first = (Tensor::arange(a, long) * k).view([a, 1]).expand([a, k + 1], false);
        let origin = fill(own_first.contiguous(), &parents);
        let next_back = fill(Tensor::full([a, k + 1], -1, long), &Tensor::arange(a * n, long).view([a, n]));
        let done = n_finished.ge(k).logical_or(&take_live.any_dim(1, false).logical_not());
        records.push(StepRecord {
            sentences: sentences.clone(),
            tokens: tokens.reshape([-1]),
            scores: cand.reshape([-1]),
            finished: take_fin.reshape([-1]),
            parents: parents.reshape([-1]),
            back,
            weights: step.weights,
            heads: step.head_weights,
        });
        // A done sentence keeps no live hypothesis, so that it proposes nothing until its rows leave.
        let next_scores = next_scores.masked_fill(&done.view([a, 1]), f64::NEG_INFINITY);
        let done = Vec::<bool>::try_from(&done)?;
        let n_done = done.iter().filter(|&&d| d).count();
        if n_done == done.len() {
            break;
        }
        // Rows continue from their parents; the rows of done sentences leave the batch when enough are.
        let kept: Vec<i64> = match worth_leaving(n_done, done.len()) {
            true => (0..a).filter(|&s| !done[s as usize]).collect(),
            false => (0..a).collect(),
        };
        let (origin, next_scores, next_y, next_back) = if kept.len() as i64 == a {
            (origin, next_scores, next_y, next_back)
        } else {
            let index = Tensor::from_slice(&kept).to(device);
            ensemble.keep_keys(&kept, &index);
            n_finished = n_finished.index_select(0, &index);
            sentences = kept.iter().map(|&s| sentences[s as usize]).collect();
            let pick = |x: Tensor| x.index_select(0, &index);
            (pick(origin), pick(next_scores), pick(next_y), pick(next_back))
        };
        ensemble.select_states(&origin.reshape([-1]));
        scores = next_scores;
        y = next_y.reshape([-1]);
        back = next_back.reshape([-1]);
    }
    backtrack(&records, &lens, k as usize, cfg)
}

/// Rebuilds every sentence's finished hypotheses from the step records (one host copy of each kind),
/// then ranks them by length-normalised score, keeping the order they finished in among equals.
fn backtrack(records: &[StepRecord], lens: &[i64], k: usize, cfg: BeamConfig) -> Result<Vec<Vec<Hypothesis>>> {
    let cat = |f: fn(&StepRecord) -> &Tensor| Tensor::cat(&records.iter().map(f).collect::<Vec<_>>(), 0);
    let tokens = Vec::<i64>::try_from(cat(|r| &r.tokens))?;
    let scores = Vec::<f64>::try_from(cat(|r| &r.scores))?;
    let finished = Vec::<bool>::try_from(cat(|r| &r.finished))?;
    let parents = Vec::<i64>::try_from(cat(|r| &r.parents))?;
    let back = Vec::<i64>::try_from(cat(|r| &r.back))?;
    let weights: Vec<Tensor> = records.iter().map(|r| r.weights.shallow_clone()).collect();
    let heads: Vec<Tensor> = records.iter().filter_map(|r| r.heads.as_ref().map(Tensor::shallow_clone)).collect();
    let host = HostWeights::new(&weights, &heads)?;
    // Where each step's candidates and rows start in the concatenations.
    let (mut cand_at, mut row_at) = (vec![0usize], vec![0usize]);
    for r in records {
        let a = r.sentences.len();
        cand_at.push(cand_at.last().unwrap_or(&0) + r.tokens.size()[0] as usize);
        row_at.push(row_at.last().unwrap_or(&0) + a * k);
    }
    let mut out: Vec<Vec<Hypothesis>> = vec![Vec::new(); lens.len()];
    for (t, r) in records.iter().enumerate() {
        let n = (cand_at[t + 1] - cand_at[t]) / r.sentences.len().max(1);
        for (s, &i) in r.sentences.iter().enumerate() {
            for c in cand_at[t] + s * n..cand_at[t] + (s + 1) * n {
                if finished[c] {
                    let mut h = rebuild(&tokens, &parents, &back, &host, (&cand_at, &row_at), t, c, lens[i] as usize);
                    h.score = scores[c];
                    out[i].push(h);
                }
            }
        }
    }
    let n_best = cfg.n_best.clamp(1, k);
    let normalized = |h: &Hypothesis| h.score / super::length_penalty(h.tokens.len(), cfg.alpha);
    for hyps in &mut out {
        hyps.sort_by(|a, b| normalized(b).total_cmp(&normalized(a)));
        hyps.truncate(n_best);
    }
    Ok(out)
}

/// The hypothesis that ends with candidate `c` (flat index) of step `t`: its tokens and weights, found by
/// following parents back to the first step. `at`: where each step's candidates and rows start.
#[allow(clippy::too_many_arguments)]
fn rebuild(
    tokens: &[i64],
    parents: &[i64],
    back: &[i64],
    host: &HostWeights,
    at: (&[usize], &[usize]),
    t: usize,
    c: usize,
    len: usize,
) -> Hypothesis {
    let (cand_at, row_at) = at;
    let (mut toks, mut weights, mut heads) = (vec![], vec![], vec![]);
    let (mut t, mut c) = (t, c);
    loop {
        let row = row_at[t] + parents[c] as usize;
        toks.push(tokens[c]);
        weights.push(host.row(row, len));
        heads.extend(host.head_rows(row, len));
        if t == 0 {
            break;
        }
        t -= 1;
        c = cand_at[t] + back[row] as usize;
    }
    toks.reverse();
    weights.reverse();
    heads.reverse();
    let head_weights = host.heads.is_some().then(|| heads_by_head(heads));
    Hypothesis { tokens: toks, score: 0.0, weights, head_weights }
}
