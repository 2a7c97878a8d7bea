//! Decoding: batched greedy search and batched beam search. Both run without autograd and return, for
//! every sentence, the tokens, the model score and the attention weights of every emitted token.

use crate::data::tokenizer::{BOS, EOS};
use crate::error::Result;
use crate::model::decoder::DecodeWeights;
use crate::model::{EncodedSource, Seq2Seq};
use tch::{Kind, Tensor};

/// A decoded sentence.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// Emitted target ids, EOS included when it was emitted.
    pub tokens: Vec<i64>,
    /// Sum of the log-probabilities of `tokens` (no length penalty).
    pub score: f64,
    /// Attention weights per emitted token, over the sentence's own source positions: `[T_out][S_i]`.
    pub weights: Vec<Vec<f32>>,
    /// Per-head weights `[heads][T_out][S_i]` (`multihead` only).
    pub head_weights: Option<Vec<Vec<Vec<f32>>>>,
}

/// Decoding length limit per sentence: `min(cap, ratio · source length + extra)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxLen {
    /// Output tokens allowed per source token.
    pub ratio: f64,
    /// Output tokens allowed on top of `ratio · source length`.
    pub extra: usize,
    /// Absolute limit.
    pub cap: usize,
}

impl Default for MaxLen {
    fn default() -> Self {
        MaxLen { ratio: 2.0, extra: 10, cap: 300 }
    }
}

impl MaxLen {
    /// The limit for a source of `src_len` tokens.
    pub fn limit(&self, src_len: usize) -> usize {
        ((self.ratio * src_len as f64) as usize + self.extra).min(self.cap).max(1)
    }
}

/// GNMT length penalty `((5 + len) / 6)^α`.
pub fn length_penalty(len: usize, alpha: f64) -> f64 {
    ((5.0 + len as f64) / 6.0).powf(alpha)
}

/// Per-step outputs of [`run_greedy`], stacked: tokens/logp `[B, T]`, weights `[B, T, S]`, heads `[B, T, h, S]`.
pub struct GreedyRun {
    pub tokens: Tensor,
    pub logp: Tensor,
    pub weights: Tensor,
    pub head_weights: Option<Tensor>,
}

/// The greedy loop with decoder weights prepared once for many batches
/// ([`Decoder::decode_weights`](crate::model::decoder::Decoder::decode_weights)). src: `[B, S]`,
/// lengths: `[B]` (CPU i64). Runs at most `steps` steps; with `stop_when_done` it stops once every row
/// has emitted EOS (benchmarks run all `steps`).
pub fn run_greedy(
    model: &Seq2Seq,
    prepared: &DecodeWeights,
    src: &Tensor,
    lengths: &Tensor,
    steps: usize,
    stop_when_done: bool,
) -> Result<GreedyRun> {
    let _guard = tch::no_grad_guard();
    // Longest source first, so that the decoder's plan groups rows of similar length; undone at the end.
    let (lengths, order) = lengths.sort(0, true);
    let order = order.to_device(src.device());
    let EncodedSource { keys, mut state } = model.encode(&src.index_select(0, &order), &lengths, false);
    let b = src.size()[0];
    let mut y = Tensor::full([b], BOS, (Kind::Int64, src.device()));
    let mut done = Tensor::zeros([b], (Kind::Bool, src.device()));
    let plan = model.decoder.plan(prepared, &keys, steps)?;
    let (mut tokens, mut logps, mut weights, mut heads) = (vec![], vec![], vec![], vec![]);
    for _ in 0..steps {
        let step = model.decoder.step_with(&y, &state, &keys, prepared, &plan);
        // The best token's log-probability without normalising the whole row: max − logsumexp.
        let (best, arg) = step.logits.max_dim(-1, false);
        let best = best - step.logits.logsumexp([-1i64], false);
        y = arg;
        tokens.push(y.shallow_clone());
        logps.push(best);
        weights.push(step.attended.weights);
        heads.extend(step.attended.head_weights);
        state = step.state;
        if stop_when_done {
            done = done.logical_or(&y.eq(EOS));
            if bool::try_from(done.all())? {
                break;
            }
        }
    }
    let unorder = order.argsort(0, false);
    let stack = |steps: &[Tensor]| Tensor::stack(steps, 1).index_select(0, &unorder);
    Ok(GreedyRun {
        tokens: stack(&tokens),
        logp: stack(&logps),
        weights: stack(&weights),
        head_weights: (!heads.is_empty()).then(|| stack(&heads)),
    })
}

/// Greedy decoding of a padded batch with prepared decoder weights; each sentence stops at its EOS or its
/// own length limit. src: `[B, S]`, lengths: `[B]` (CPU i64) → one hypothesis per row.
pub fn greedy(
    model: &Seq2Seq,
    prepared: &DecodeWeights,
    src: &Tensor,
    lengths: &Tensor,
    max_len: MaxLen,
) -> Result<Vec<Hypothesis>> {
    let lens: Vec<i64> = Vec::try_from(lengths)?;
    let limits: Vec<usize> = lens.iter().map(|&l| max_len.limit(l as usize)).collect();
    let steps = limits.iter().copied().max().unwrap_or(1);
    let run = run_greedy(model, prepared, src, lengths, steps, true)?;
    let t = run.tokens.size()[1] as usize;
    let tokens: Vec<i64> = Vec::try_from(run.tokens.flatten(0, -1))?;
    let logp: Vec<f32> = Vec::try_from(run.logp.flatten(0, -1))?;
    let host = HostWeights::new(&run.weights, run.head_weights.as_ref())?;
    Ok((0..lens.len())
        .map(|i| {
            let row = &tokens[i * t..(i + 1) * t];
            let n = row.iter().position(|&x| x == EOS).map_or(t, |p| p + 1).min(limits[i]);
            Hypothesis {
                tokens: row[..n].to_vec(),
                score: logp[i * t..i * t + n].iter().map(|&x| x as f64).sum(),
                weights: (0..n).map(|k| host.row(i, k, lens[i] as usize)).collect(),
                head_weights: host.heads(i, n, lens[i] as usize),
            }
        })
        .collect())
}

/// Attention weights copied to the host once: `[B, T, S]` and optionally `[B, T, h, S]`.
struct HostWeights {
    data: Vec<f32>,
    heads: Option<Vec<f32>>,
    t: usize,
    h: usize,
    s: usize,
}

impl HostWeights {
    fn new(weights: &Tensor, heads: Option<&Tensor>) -> Result<HostWeights> {
        let size = weights.size();
        let (t, s) = (size[1] as usize, size[2] as usize);
        let to_vec = |x: &Tensor| Vec::<f32>::try_from(x.to_kind(Kind::Float).flatten(0, -1));
        Ok(HostWeights {
            data: to_vec(weights)?,
            heads: heads.map(to_vec).transpose()?,
            t,
            h: heads.map_or(0, |x| x.size()[2] as usize),
            s,
        })
    }

    /// Weights of sentence `i` at step `k`, over its first `len` source positions.
    fn row(&self, i: usize, k: usize, len: usize) -> Vec<f32> {
        let at = (i * self.t + k) * self.s;
        self.data[at..at + len].to_vec()
    }

    /// Per-head weights of sentence `i` for its first `n` steps: `[heads][n][len]`.
    fn heads(&self, i: usize, n: usize, len: usize) -> Option<Vec<Vec<Vec<f32>>>> {
        let data = self.heads.as_ref()?;
        Some(
            (0..self.h)
                .map(|h| {
                    (0..n)
                        .map(|k| {
                            let at = ((i * self.t + k) * self.h + h) * self.s;
                            data[at..at + len].to_vec()
                        })
                        .collect()
                })
                .collect(),
        )
    }
}

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

/// A live or finished beam entry on the host.
#[derive(Clone)]
struct Entry {
    tokens: Vec<i64>,
    score: f64,
    weights: Vec<Vec<f32>>,
    heads: Vec<Vec<Vec<f32>>>,
}

impl Entry {
    fn normalized(&self, alpha: f64) -> f64 {
        self.score / length_penalty(self.tokens.len(), alpha)
    }

    fn into_hypothesis(self, has_heads: bool) -> Hypothesis {
        // Stored per step as [T][heads][S]; the public layout is [heads][T][S].
        let head_weights = has_heads.then(|| {
            let h = self.heads.first().map_or(0, |x| x.len());
            (0..h).map(|j| self.heads.iter().map(|step| step[j].clone()).collect()).collect()
        });
        Hypothesis { tokens: self.tokens, score: self.score, weights: self.weights, head_weights }
    }
}

/// Batched beam search. src: `[B, S]`, lengths: `[B]` (CPU i64) → up to `n_best` hypotheses per row,
/// best first by length-normalised score.
pub fn beam_search(model: &Seq2Seq, src: &Tensor, lengths: &Tensor, cfg: BeamConfig) -> Result<Vec<Vec<Hypothesis>>> {
    let _guard = tch::no_grad_guard();
    let k = cfg.beam.max(1);
    let n_best = cfg.n_best.clamp(1, k);
    let lens: Vec<i64> = Vec::try_from(lengths)?;
    let b = lens.len();
    let device = src.device();
    let limits: Vec<usize> = lens.iter().map(|&l| cfg.max_len.limit(l as usize)).collect();
    let EncodedSource { keys, state } = model.encode(src, lengths, false);
    let rows = Tensor::arange(b as i64, (Kind::Int64, device)).repeat_interleave_self_int(k as i64, 0, None);
    let keys = keys.repeat_rows(k as i64);
    let mut state = state.index_select(&rows);
    let empty = Entry { tokens: vec![], score: 0.0, weights: vec![], heads: vec![] };
    // live[i]: the sentence's live hypotheses, at most k; row i·k + j of the tensors is live[i][j].
    let mut live: Vec<Vec<Entry>> = vec![vec![empty]; b];
    let mut finished: Vec<Vec<Entry>> = vec![vec![]; b];
    let mut y = vec![BOS; b * k];
    let mut has_heads = false;
    for t in 0..limits.iter().copied().max().unwrap_or(1) {
        if live.iter().all(|l| l.is_empty()) {
            break;
        }
        let step = model.decoder.step(&Tensor::from_slice(&y).to(device), &state, &keys);
        let logp = step.logits.log_softmax(-1, Kind::Float);
        // Candidates per row: the 2k best tokens of each beam row, enough for k non-EOS continuations
        // (all of them when the vocabulary is smaller: `topk` refuses more than there are).
        let width = (2 * k).min(logp.size()[1] as usize);
        let (top_lp, top_id) = logp.topk(width as i64, -1, true, true);
        let top_lp: Vec<f32> = Vec::try_from(top_lp.flatten(0, -1))?;
        let top_id: Vec<i64> = Vec::try_from(top_id.flatten(0, -1))?;
        let host = HostWeights::new(
            &step.attended.weights.unsqueeze(1),
            step.attended.head_weights.as_ref().map(|h| h.unsqueeze(1)).as_ref(),
        )?;
        has_heads = host.heads.is_some();
        // Rows left empty keep pointing at their own sentence's first row; they are computed but unused.
        let mut origin: Vec<i64> = (0..b * k).map(|r| (r - r % k) as i64).collect();
        for i in 0..b {
            let mut cands: Vec<(f64, usize, i64)> = Vec::new();
            for (j, e) in live[i].iter().enumerate() {
                for c in 0..width {
                    let at = (i * k + j) * width + c;
                    cands.push((e.score + top_lp[at] as f64, j, top_id[at]));
                }
            }
            cands.sort_by(|a, b| b.0.total_cmp(&a.0));
            let last_step = t + 1 >= limits[i];
            let mut next = Vec::with_capacity(k);
            for (score, j, tok) in cands {
                if next.len() == k || finished[i].len() >= k {
                    break;
                }
                let parent = &live[i][j];
                let src_len = lens[i] as usize;
                let mut e = parent.clone();
                e.tokens.push(tok);
                e.score = score;
                e.weights.push(host.row(i * k + j, 0, src_len));
                if let Some(h) = host.heads(i * k + j, 1, src_len) {
                    e.heads.push(h.into_iter().map(|mut x| x.remove(0)).collect());
                }
                if tok == EOS || last_step {
                    finished[i].push(e);
                } else {
                    origin[i * k + next.len()] = (i * k + j) as i64;
                    y[i * k + next.len()] = tok;
                    next.push(e);
                }
            }
            if finished[i].len() >= k {
                next.clear();
            }
            live[i] = next;
        }
        state = step.state.index_select(&Tensor::from_slice(&origin).to(device));
    }
    Ok(finished
        .into_iter()
        .zip(live)
        .map(|(mut fin, rest)| {
            fin.extend(rest);
            fin.sort_by(|a, b| b.normalized(cfg.alpha).total_cmp(&a.normalized(cfg.alpha)));
            fin.truncate(n_best);
            fin.into_iter().map(|e| e.into_hypothesis(has_heads)).collect()
        })
        .collect())
}
